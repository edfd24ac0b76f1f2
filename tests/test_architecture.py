"""The architecture read back from a render (components/architecture.py and each cloud's reader):
every arrow stands for a grant in the render, every declared verb has its arrow, and taking a grant
out of the render takes its arrow out (adding one adds it).

The reference test service (tests/services) on the three clouds, prod.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.architecture import Architecture, ArchitectureError, read
from components.export import to_export
from tests.services import REFERENCE

SETTINGS = ("dead-letter", "encrypts")
#: The grant resources an arrow may rest on, per cloud.
GRANT_TYPES = {
    "aws": {"aws:iam/rolePolicy:RolePolicy", "aws:lambda/permission:Permission",
            "aws:lambda/eventSourceMapping:EventSourceMapping"},
    "gcp": {"gcp:projects/iAMMember:IAMMember", "gcp:pubsub/topicIAMMember:TopicIAMMember",
            "gcp:secretmanager/secretIamMember:SecretIamMember", "gcp:cloudrun/iamMember:IamMember",
            "gcp:apigateway/apiConfig:ApiConfig"},
    "azure": {"azure-native:authorization:RoleAssignment", "azure-native:cosmosdb:SqlResourceSqlRoleAssignment",
              "azure-native:web:WebAppAuthSettingsV2"},
}
SERVICES = {
    "aws": {"table": "DynamoDB table", "queue": "SQS queue", "workflow": "Step Functions state machine",
            "function": "Lambda function", "secret": "Secrets Manager secret"},
    "gcp": {"table": "Firestore database", "queue": "Pub/Sub topic", "workflow": "Workflows workflow",
            "function": "Cloud Functions gen2 function", "secret": "Secret Manager secret"},
    "azure": {"table": "Cosmos DB container", "queue": "Storage queue", "workflow": "Durable Functions app (Flex Consumption)",
              "function": "Function app (Flex Consumption)", "secret": "Key Vault secret"},
}


def resources_of(rendering) -> list[dict[str, Any]]:
    return to_export(rendering)["deployment"]["resources"]


@pytest.fixture(scope="module", params=["aws", "gcp", "azure"])
def cloud_render(request, prod, gcp_prod, azure_prod) -> tuple[str, list[dict[str, Any]]]:
    return request.param, resources_of({"aws": prod, "gcp": gcp_prod, "azure": azure_prod}[request.param])


def declared() -> set[tuple[str, str, str]]:
    """The arrows the declaration asks for: its verbs, consumers, tasks and routes."""
    arrows = {(f"function:{f.name}", f"{'workflow' if a.kind == 'workflow' else a.kind}:{a.resource}",
               a.verb if a.kind != "workflow" else "start") for f in REFERENCE.functions for a in f.uses}
    arrows |= {(f"queue:{q.name}", f"function:{q.consumer}", "consume") for q in REFERENCE.queues}
    for workflow in REFERENCE.workflows:
        tasks = set()

        def walk(steps):
            for step in steps.values():
                if getattr(step, "function", None):
                    tasks.add(step.function)
                for branch in getattr(step, "branches", ()) or ():
                    walk(branch.steps)
        walk(workflow.steps)
        arrows |= {(f"workflow:{workflow.name}", f"function:{t}", "invoke") for t in tasks}
    arrows |= {(f"route:{r.key}", f"function:{r.function}", "invoke") for r in REFERENCE.api.routes}
    return arrows


def grants(arch: Architecture) -> set[tuple[str, str, str]]:
    return {(a.source, a.target, a.verb) for a in arch.arrows if a.verb not in SETTINGS}


def test_every_declared_verb_is_an_arrow_and_every_arrow_is_declared(cloud_render):
    cloud, resources = cloud_render
    arch = read(resources)
    assert arch.cloud == cloud
    assert grants(arch) == declared()


def test_every_arrow_rests_on_grant_resources_of_the_render(cloud_render):
    cloud, resources = cloud_render
    by_urn = {r["urn"]: r for r in resources}
    for arrow in read(resources).arrows:
        assert arrow.evidence, arrow
        if arrow.verb in SETTINGS:
            continue
        types = {by_urn[urn.split("#", 1)[0]]["type"] for urn in arrow.evidence}
        assert types & GRANT_TYPES[cloud], (arrow, types)


def test_blocks_say_what_they_are_on_the_cloud(cloud_render):
    cloud, resources = cloud_render
    arch = read(resources)
    for kind, service in SERVICES[cloud].items():
        assert {b.service for b in arch.of_kind(kind)} == {service}, kind
    assert arch.blocks["table:orders"].label == f"orders · {SERVICES[cloud]['table']}"
    assert arch.blocks["table:orders"].protected  # prod protects tables
    assert {b.name for b in arch.of_kind("route")} == {r.key for r in REFERENCE.api.routes}
    assert {b.note for b in arch.of_kind("route") if b.name == "GET /health"} == {"public"}
    assert [b.key for b in arch.of_kind("dead-letters")] == ["dead-letters:orders"]
    assert len(arch.of_kind("key")) == 1
    assert ("queue:orders", "dead-letters:orders", "dead-letter") in {(a.source, a.target, a.verb) for a in arch.arrows}
    encrypted = {a.target for a in arch.arrows if a.verb == "encrypts"}
    assert {"table:orders", "table:idempotency", "queue:orders", "dead-letters:orders"} <= encrypted


def _without(resources: list[dict[str, Any]], drop) -> list[dict[str, Any]]:
    return [r for r in copy.deepcopy(resources) if not drop(r)]


def _name(resource: dict[str, Any]) -> str:
    return resource["urn"].rsplit("::", 1)[-1]


def test_dropping_a_grant_drops_its_arrow_aws(prod):
    resources = resources_of(prod)
    for r in resources:
        if _name(r) == "create-order-policy":
            document = json.loads(r["inputs"]["policy"])
            document["Statement"] = [s for s in document["Statement"] if not s["Sid"].startswith("SendQueue")]
            r["inputs"]["policy"] = json.dumps(document)
    assert grants(read(resources)) == declared() - {("function:create-order", "queue:orders", "send")}
    no_invoke = _without(resources_of(prod), lambda r: _name(r) == "get-orders-order_id-invoke")
    assert grants(read(no_invoke)) == declared() - {("route:GET /orders/{order_id}", "function:get-order", "invoke")}


def test_a_grant_added_to_the_render_is_an_arrow_aws(prod):
    resources = resources_of(prod)
    table = next(r for r in resources if r["type"] == "aws:dynamodb/table:Table" and _name(r) == "idempotency")
    for r in resources:
        if _name(r) == "get-order-policy":
            document = json.loads(r["inputs"]["policy"])
            document["Statement"].append({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": table["outputs"]["arn"]})
            r["inputs"]["policy"] = json.dumps(document)
    assert grants(read(resources)) == declared() | {("function:get-order", "table:idempotency", "write")}


def test_dropping_a_grant_drops_its_arrow_gcp(gcp_prod):
    resources = _without(resources_of(gcp_prod), lambda r: _name(r) == "charge-payment-read-secret-payment-api-key")
    assert grants(read(resources)) == declared() - {("function:charge-payment", "secret:payment-api-key", "read")}
    resources = _without(resources_of(gcp_prod), lambda r: _name(r) == "fulfil-order-calls-ship-invoker")
    assert grants(read(resources)) == declared() - {("workflow:fulfil-order", "function:ship", "invoke")}


def test_dropping_a_grant_drops_its_arrow_azure(azure_prod):
    resources = _without(resources_of(azure_prod), lambda r: _name(r) == "get-order-read-table-orders")
    assert grants(read(resources)) == declared() - {("function:get-order", "table:orders", "read")}
    resources = resources_of(azure_prod)
    for r in resources:  # the task app no longer admits the orchestrator's identity
        if _name(r) == "ship-callers":
            validation = r["inputs"]["identityProviders"]["azureActiveDirectory"]["validation"]
            validation["defaultAuthorizationPolicy"]["allowedPrincipals"]["identities"] = []
    assert grants(read(resources)) == declared() - {("workflow:fulfil-order", "function:ship", "invoke")}


def test_resources_of_no_cloud_or_two_are_refused():
    with pytest.raises(ArchitectureError, match="exactly one of"):
        read([{"urn": "urn:pulumi:s::p::random:index/randomString:RandomString::x", "type": "random:index/randomString:RandomString"}])
    two = [{"urn": f"urn:pulumi:s::p::{t}::x", "type": t} for t in ("aws:sqs/queue:Queue", "gcp:pubsub/topic:Topic")]
    with pytest.raises(ArchitectureError, match="aws, gcp"):
        read(two)
