"""What a real `pulumi up` needs beyond meaning: quotas, key-policy permissions, creation order.

Mocks accept any input, so these assert the rendered inputs and dependencies against what AWS
documents (the policies in policy/deployability.py check the same limits on any stack).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from components.aws.function import POWERTOOLS_VERSION, powertools_parameter
from components.mock_engine import Rendering
from policy.deployability import sqs_policy_problems
from policy.offline import evaluate
from components.export import to_export
from tests.conftest import DEV, policy_of, render_config

ROOT = Path(__file__).resolve().parent.parent
KEY = "aws:kms/key:Key"
LAMBDA = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
MACHINE = "aws:sfn/stateMachine:StateMachine"


def statements_by_sid(resource) -> dict:
    return {s["Sid"]: s for s in policy_of(resource)["Statement"]}


def test_queue_policies_fit_the_sqs_quotas_and_deny_every_action_over_plain_http(prod):
    policies = prod.of_type(QUEUE_POLICY)
    assert len(policies) == 2
    for policy in policies:
        assert sqs_policy_problems(policy.inputs["policy"]) == []
        (deny,) = policy_of(policy)["Statement"]
        assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:*")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_key_policy_lets_administrators_manage_the_alias_and_pull_the_incident_levers(prod):
    admin = statements_by_sid(prod.of_type(KEY)[0])["KeyAdministration"]
    assert {"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:DisableKey", "kms:DisableKeyRotation",
            "kms:PutKeyPolicy"} <= set(admin["Action"])
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert not {a for a in admin["Action"] if a in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")}


def test_step_functions_uses_the_key_as_aws_documents_without_via_service(prod):
    """Execution role: Decrypt + GenerateDataKey bound to the machine's ARN, GenerateDataKey for
    log delivery; key policy: the same without kms:ViaService, and delivery.logs may decrypt."""
    key = statements_by_sid(prod.of_type(KEY)[0])
    execution = key["StepFunctionsExecutionRoles"]
    assert execution["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert execution["Condition"] == {
        "StringEquals": {"kms:CallerAccount": "123456789012"},
        "ArnLike": {"kms:EncryptionContext:aws:states:stateMachineArn":
                    "arn:aws:states:eu-west-1:123456789012:stateMachine:orders-prod-*"}}
    delivery_keys = key["StepFunctionsLogDeliveryDataKeys"]
    assert delivery_keys["Condition"]["StringEquals"]["kms:EncryptionContext:SourceArn"] == "arn:aws:logs:eu-west-1:123456789012:*"
    assert key["LogDeliveryReadsWorkflowData"]["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert key["LogDeliveryReadsWorkflowData"]["Action"] == ["kms:Decrypt"]

    (machine,) = prod.of_type(MACHINE)
    role = {r.name: r for r in prod.of_type(ROLE_POLICY)}["fulfil-order-policy"]
    grants = statements_by_sid(role)
    assert grants["UseServiceKey"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine.outputs["arn"]}}
    assert grants["EncryptLogDelivery"]["Action"] == ["kms:GenerateDataKey"]
    assert grants["EncryptLogDelivery"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:SourceArn": "arn:aws:logs:eu-west-1:123456789012:*"}}
    assert machine.inputs["loggingConfiguration"]["level"] == "ERROR"


def test_starting_the_workflow_needs_no_key_permission(prod):
    """StartExecution on a CMK-encrypted machine requires no KMS permission of the caller."""
    process = {r.name: r for r in prod.of_type(ROLE_POLICY)}["process-order-policy"]
    start = [s for s in policy_of(process)["Statement"] if "states:StartExecution" in s["Action"]]
    assert len(start) == 1
    assert not [s for s in policy_of(process)["Statement"] if "states" in json.dumps(s.get("Condition", {}))]


def test_the_secret_is_protected_in_prod_and_its_version_is_not(prod):
    (secret,) = prod.of_type("aws:secretsmanager/secret:Secret")
    (version,) = prod.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert secret.protect is True
    assert version.protect is False


def test_each_lambda_waits_for_its_own_role_policy(dev):
    policies = {p.inputs["role"]: p for p in dev.of_type(ROLE_POLICY)}
    roles = {r.outputs["arn"]: r.outputs["name"] for r in dev.of_type("aws:iam/role:Role")}
    for fn in dev.of_type(LAMBDA):
        own = policies[roles[fn.inputs["role"]]]
        assert own.urn in fn.dependencies, fn.name
        assert json.loads(own.inputs["policy"])["Statement"], fn.name


def test_routes_go_live_after_their_lambda_permission(dev):
    permissions = {p.name: p for p in dev.of_type("aws:lambda/permission:Permission")}
    for route in dev.of_type("aws:apigatewayv2/route:Route"):
        permission = permissions[route.name.removesuffix("-route") + "-invoke"]
        assert permission.urn in route.dependencies, route.name
        method, path = route.inputs["routeKey"].split(" ")
        assert permission.inputs["sourceArn"].endswith(f"/$default/{method}{re.sub(r'{[^/]+}', '*', path)}")


def test_vended_logs_live_under_aws_vendedlogs_and_the_key_policy_covers_them(prod):
    groups = {g.inputs["name"] for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert "/aws/vendedlogs/anycloud/orders-prod/workflows/fulfil-order" in groups
    assert "/aws/vendedlogs/anycloud/orders-prod/api/access" in groups
    assert all(g.startswith("/anycloud/orders-prod/functions/") for g in groups if "vendedlogs" not in g)
    (machine,) = prod.of_type(MACHINE)
    assert ":log-group:/aws/vendedlogs/anycloud/orders-prod/workflows/fulfil-order:*" in machine.inputs["loggingConfiguration"]["logDestination"]


def test_the_powertools_layer_is_the_release_the_tests_run_against():
    from tests.support.pins import pinned

    assert POWERTOOLS_VERSION == pinned()["aws-lambda-powertools"]
    assert powertools_parameter() == f"/aws/service/powertools/python/arm64/python3.13/{POWERTOOLS_VERSION}"


def test_names_fit_every_limit_with_a_long_stack_name():
    """The renderer shortens `service-stack` so every physical name fits, whatever the stack is called."""
    rendering: Rendering = render_config(DEV, "a-very-long-stack-name-for-the-eu-west-one-production-account")
    report = evaluate(to_export(rendering)["deployment"]["resources"], "dev")
    assert [v for v in report.violations if v.policy == "aws-names-within-limits"] == []
    (fn, *_) = rendering.of_type(LAMBDA)
    assert fn.inputs["name"].startswith("orders-a-very-long-stac-") and len(fn.inputs["name"]) <= 64
