"""Mutation tests: break the AWS renderer on purpose and the pack must name the right policy.

Each case patches one piece of the renderer, renders the prod stack under mocks and runs
the whole pack over the result, as `python -m components check --stack prod` does.
"""

from __future__ import annotations

import json

from typing import Any, Callable

import pulumi
import pytest

import components.aws.context as context
import components.aws.function as function
import components.aws.keys as keys
import components.aws.observability as observability
import components.aws.platform as platform
import components.aws.queue as queue
import components.aws.secret as secret
import components.aws.workflow as workflow
from components.export import to_export
from components.mock_engine import render
from policy.offline import evaluate
from tests.conftest import PROD, program
from tests.support.mutations import overriding


def unguarded_statement(sid, actions, resources, condition=None) -> dict[str, Any]:
    """The renderer's statement() without its own wildcard guard, as a careless renderer would be."""
    body = {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}
    return {**body, "Condition": condition} if condition else body


def violated(monkeypatch, patches: Callable[[pytest.MonkeyPatch], None]) -> set[str]:
    patches(monkeypatch)
    rendering = render(program(), PROD, ["anycloud:paymentApiKey"], stack="prod")
    report = evaluate(to_export(rendering)["deployment"]["resources"], "prod", config={"publicRoutes": ["GET /health"]})
    return {v.policy for v in report.mandatory}


def drop_key(mp):
    mp.setattr(platform, "service_key", lambda ctx: None)


def widen_table_grants(mp):
    mp.setattr(platform, "statement", unguarded_statement)
    mp.setattr(platform, "TABLE_READ", ["dynamodb:*"])


def resource_star_helper(mp):
    mp.setattr(platform, "statement", unguarded_statement)
    mp.setattr(platform, "index_arns", lambda table, spec: ["*"])


def managed_full_access(mp):
    original = function.role

    def role_with_full_access(ctx, name, service, parent, description):
        identity = original(ctx, name, service, parent, description)
        function.aws.iam.RolePolicyAttachment(f"{name}-full", role=identity.role.name,
                                              policy_arn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess", opts=ctx.opts(parent))
        return identity

    mp.setattr(function, "role", role_with_full_access)


def remove_dlq(mp):
    real_queue = queue.aws.sqs.Queue

    def no_redrive(name, **kwargs):
        kwargs.pop("redrive_policy", None)
        return real_queue(name, **kwargs)

    mp.setattr(queue.aws.sqs, "Queue", no_redrive)
    mp.setattr(queue.aws.sqs, "RedriveAllowPolicy", lambda *a, **k: None)


def short_visibility(mp):
    mp.setattr(queue, "VISIBILITY_FACTOR", 1)


def no_tls_policy(mp):
    mp.setattr(queue, "_tls_only", lambda ctx, name, q: None)


def open_routes(mp):
    mp.setattr(platform, "effective_auth", lambda spec, settings: None)


def listed_tls_deny(mp):
    """The TLS deny as it was first written: every SQS action by name (19, over the quota of 7)."""
    mp.setattr(queue, "TLS_DENY_ACTION", sorted(f"sqs:{a}" for a in (
        "AddPermission", "CancelMessageMoveTask", "ChangeMessageVisibility", "CreateQueue", "DeleteMessage", "DeleteQueue",
        "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "ListMessageMoveTasks", "ListQueueTags",
        "PurgeQueue", "ReceiveMessage", "RemovePermission", "SendMessage", "SetQueueAttributes", "StartMessageMoveTask",
        "TagQueue", "UntagQueue")))


def no_alias_administration(mp):
    mp.setattr(keys, "ADMIN_ACTIONS", tuple(a for a in keys.ADMIN_ACTIONS if "Alias" not in a))


def workflow_key_through_states_only(mp):
    """The execution role's key use under kms:ViaService, and no log-delivery data keys."""
    mp.setattr(workflow, "_key_statements", lambda ctx, arn: [
        platform.key_use(ctx, "UseServiceKey", ["kms:Decrypt", "kms:GenerateDataKey"], "states")])


def protected_secret_version(mp):
    real = secret.aws.secretsmanager.SecretVersion

    def protected(name, opts=None, **kwargs):
        return real(name, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)), **kwargs)

    mp.setattr(secret.aws.secretsmanager, "SecretVersion", protected)


def short_dlq_retention(mp):
    mp.setattr(queue, "DLQ_RETENTION_S", 24 * 3600)


def index_wildcard(mp):
    mp.setattr(platform, "index_arns", lambda table, spec: [table.arn, table.arn.apply(lambda a: a.rsplit("/", 1)[0] + "/*/index/*")])


def public_queue_policy(mp):
    """The TLS deny with an Allow for everyone beside it."""
    real = queue.aws.sqs.QueuePolicy

    def with_public_allow(name, queue_url=None, policy=None, opts=None):
        def widen(text):
            doc = json.loads(text)
            doc["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"})
            return json.dumps(doc)
        return real(name, queue_url=queue_url, policy=policy.apply(widen), opts=opts)

    mp.setattr(queue.aws.sqs, "QueuePolicy", with_public_allow)


def secret_value_in_environment(mp):
    """The functions' environment gets a secret's value instead of its ARN."""
    real = platform.AwsPlatform._wiring_value

    def value(self, kind, name):
        if kind != "secret":
            return real(self, kind, name)
        return self.ctx.settings.secret(next(s.config_key for s in self.ctx.spec.secrets if s.name == name))

    mp.setattr(platform.AwsPlatform, "_wiring_value", value)


def short_log_retention(mp):
    mp.setattr(context.AwsContext, "log_retention", property(lambda self: 1))


CASES = {
    "drop the key": (drop_key, {"tables-encrypted", "queues-encrypted", "logs-encrypted", "secrets-encrypted", "workflows-encrypted"}),
    "widen a grant to dynamodb:*": (widen_table_grants, {"aws-iam-no-wildcard-actions"}),
    "Resource * helper statement": (resource_star_helper, {"aws-iam-scoped-resources"}),
    "managed FullAccess attachment": (managed_full_access, {"aws-iam-no-broad-managed-policies"}),
    "remove the DLQ": (remove_dlq, {"queues-dead-lettered"}),
    "visibility below 6x the consumer timeout": (short_visibility, {"sqs-visibility-covers-consumer"}),
    "no TLS-only queue policy": (no_tls_policy, {"aws-deny-insecure-transport"}),
    "routes without the authorizer in prod": (open_routes, {"api-routes-require-auth"}),
    "TLS deny listing 19 actions": (listed_tls_deny, {"aws-sqs-policy-quotas"}),
    "key policy without alias administration": (no_alias_administration, {"aws-kms-key-policy-allows-dependents"}),
    "workflow key use under kms:ViaService": (workflow_key_through_states_only, {"aws-kms-key-policy-allows-dependents"}),
    "protected secret version": (protected_secret_version, {"protected-resources-replaced-by-routine-changes"}),
    "DLQ kept shorter than its queue": (short_dlq_retention, {"queues-dead-lettered"}),
    "table grants on table/*/index/*": (index_wildcard, {"aws-iam-scoped-resources"}),
    "queue policy allowing everyone": (public_queue_policy, {"aws-resource-policies-not-public"}),
    "secrets deleted without a recovery window": (
        overriding(secret.aws.secretsmanager, "Secret", recovery_window_in_days=0), {"prod-secrets-recoverable"}),
    "the secret's value in the functions' environment": (secret_value_in_environment, {"no-plaintext-secrets-in-config"}),
    "log groups kept a day": (short_log_retention, {"prod-log-retention-minimum"}),
    "alarms muted": (overriding(observability.aws.cloudwatch, "MetricAlarm", actions_enabled=False),
                     {"prod-alerts-reach-someone"}),
    "workflow execution logging off": (
        overriding(workflow.aws.sfn, "StateMachineLoggingConfigurationArgs", level="OFF"),
        {"prod-audit-logging-not-switched-off"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_breaking_the_renderer_fails_the_right_policy(monkeypatch, case):
    patches, expected = CASES[case]
    found = violated(monkeypatch, patches)
    assert expected <= found, f"{case}: expected {expected}, got {found}"


def test_the_unbroken_renderer_passes(monkeypatch):
    assert violated(monkeypatch, lambda mp: None) == set()
