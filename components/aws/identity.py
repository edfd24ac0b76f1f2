"""One IAM role per function, holding exactly the declared verbs on exactly the named ARNs.

Statements are collected while the service is rendered (declared uses, queue consumption,
the function's own logs and traces) and written once per role as an inline policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .context import AwsContext
from .iam import assume_role, document, statement

TABLE_READ = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query"]
TABLE_WRITE = TABLE_READ + ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
QUEUE_SEND = ["sqs:SendMessage"]
QUEUE_CONSUME = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
WORKFLOW_START = ["states:StartExecution"]
SECRET_READ = ["secretsmanager:GetSecretValue"]
TRACE_WRITE = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]


@dataclass
class Identity:
    """A role and the statements it will hold."""

    name: str
    role: aws.iam.Role
    parent: pulumi.Resource
    statements: list[dict[str, Any]] = field(default_factory=list)
    policy: aws.iam.RolePolicy | None = None

    def allow(self, *statements: dict[str, Any] | None) -> None:
        self.statements += [s for s in statements if s is not None]

    def write(self, ctx: AwsContext) -> aws.iam.RolePolicy:
        """Create the role's one inline policy (once)."""
        if self.policy is None:
            self.policy = aws.iam.RolePolicy(
                f"{self.name}-policy",
                role=self.role.id,
                policy=document(self.statements),
                opts=ctx.opts(self.parent),
            )
        return self.policy


def role(ctx: AwsContext, name: str, service: str, parent: pulumi.Resource, description: str) -> Identity:
    """A role only `service` may assume; Step Functions also proves the source account."""
    source_account = ctx.account if service == "states.amazonaws.com" else None
    created = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=assume_role(service, source_account),
        description=description,
        max_session_duration=3600,
        opts=ctx.opts(parent),
    )
    return Identity(name=name, role=created, parent=parent)


def key_use(ctx: AwsContext, sid: str, actions: list[str], via: str, context: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Use of the service key only through the `via` service; None without a customer key."""
    if ctx.key is None:
        return None
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": ctx.service_principal(via), **(context or {})}}
    return statement(sid, actions, [ctx.key.arn], condition)
