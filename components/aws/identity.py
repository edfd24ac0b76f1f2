"""One IAM role per function, holding exactly the declared verbs on exactly the named ARNs.

Statements are collected while the service is rendered (declared uses, queue consumption,
the function's own logs and traces) and written once per role as an inline policy that the
role's user depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
import pulumi_aws as aws

from .context import AwsContext
from .iam import assume_role, document, statement

TABLE_READ = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query"]
TABLE_WRITE = TABLE_READ + ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
QUEUE_SEND = ["sqs:SendMessage"]
QUEUE_CONSUME = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
#: A table stream's consumer: the mapping reads the stream with the function's role
#: ("Lambda execution role permissions" for DynamoDB event sources); the adapter counts failed
#: deliveries in the stream's attempts table (stream.py).
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
STREAM_ATTEMPTS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
WORKFLOW_START = ["states:StartExecution"]
SECRET_READ = ["secretsmanager:GetSecretValue"]
TRACE_WRITE = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]


@dataclass
class Identity:
    """A role and its one inline policy.

    The policy resource exists from the start, so whatever the role runs (a Lambda, a state
    machine) can depend on it and is never created with a role that holds nothing yet (Lambda
    checks its role, e.g. for X-Ray, at create). Its document is resolved once every grant is
    in: `seal()`, after the service's grants are rendered.
    """

    name: str
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    _resolve: Callable[[pulumi.Output[str]], None] = field(repr=False)
    statements: list[dict[str, Any]] = field(default_factory=list)
    sealed: bool = False

    def allow(self, *statements: dict[str, Any] | None) -> None:
        if self.sealed:
            raise RuntimeError(f"{self.name}: the role's policy is already written; grant before seal()")
        self.statements += [s for s in statements if s is not None]

    def seal(self) -> aws.iam.RolePolicy:
        """Write the collected statements into the policy document (once)."""
        if not self.sealed:
            self.sealed = True
            self._resolve(document(self.statements))
        return self.policy


def role(ctx: AwsContext, name: str, service: str, parent: pulumi.Resource, description: str) -> Identity:
    """A role only `service` may assume (Step Functions also proves the source account), with
    its inline policy to be sealed once its grants are known."""
    source_account = ctx.account if service == "states.amazonaws.com" else None
    created = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=assume_role(service, source_account),
        description=description,
        max_session_duration=3600,
        opts=ctx.opts(parent),
    )
    body, resolve = pulumi.deferred_output()
    policy = aws.iam.RolePolicy(f"{name}-policy", role=created.id, policy=body, opts=ctx.opts(parent))
    return Identity(name=name, role=created, policy=policy, _resolve=resolve)


def key_use(ctx: AwsContext, sid: str, actions: list[str], via: str, context: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Use of the service key only through the `via` service; None without a customer key."""
    if ctx.key is None:
        return None
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": ctx.service_principal(via), **(context or {})}}
    return statement(sid, actions, [ctx.key.arn], condition)
