"""What a real GCP `pulumi up` needs beyond meaning: ids, key locations, agents' key grants, forwarding.

The rendered stack passes each rule, and taking away one grant or one creation-order edge makes
it fail on exactly the resources that need it: the renderer's grants are what satisfy Google.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.export import to_export
from policy import gcp_deployability
from policy.offline import evaluate, load_export
from tests.conftest import GCP_PROD, render_config

FUNCTION = "gcp:cloudfunctionsv2/function:Function"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
NAMES = [p.name for p in gcp_deployability.POLICIES]


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    return to_export(render_config(GCP_PROD, "prod"))["deployment"]["resources"]


def reported(resources: list[dict]) -> dict[str, set[str]]:
    """policy -> names of the resources it reported."""
    report = evaluate(resources, "prod", policies=gcp_deployability.POLICIES)
    out: dict[str, set[str]] = {}
    for v in report.violations:
        out.setdefault(v.policy, set()).add(v.urn.rsplit("::", 1)[-1])
    return out


def without(resources: list[dict], urn_suffix: str) -> list[dict]:
    return [r for r in resources if not r["urn"].endswith(urn_suffix)]


def test_the_rendered_stack_is_deployable_by_every_gcp_rule(resources):
    assert len(NAMES) == 11
    assert reported(resources) == {}


def test_without_the_eventarc_agents_grant_every_function_is_refused(resources):
    found = reported(without(resources, "::key-eventarc-agent"))
    functions = {r["urn"].rsplit("::", 1)[-1] for r in resources if r["type"] == FUNCTION}
    assert len(functions) == 12  # the declared functions and the workflow's starter
    assert found == {"gcp-cmek-service-agents-can-use-key": functions}


def test_without_the_firestore_agents_grant_only_the_databases_are_refused(resources):
    found = reported(without(resources, "::key-firestore-agent"))
    assert found == {"gcp-cmek-service-agents-can-use-key": {"orders", "idempotency", "workflow-starts"}}


def test_a_resource_created_alongside_its_grant_is_refused(resources):
    changed = copy.deepcopy(resources)
    grant = next(r["urn"] for r in changed if r["urn"].endswith("::key-firestore-agent"))
    database = next(r for r in changed if r["type"] == "gcp:firestore/database:Database" and r["urn"].endswith("::orders"))
    database["dependencies"] = [u for u in database["dependencies"] if u != grant]
    report = evaluate(changed, "prod", policies=gcp_deployability.POLICIES)
    (violation,) = report.violations
    assert violation.urn == database["urn"]
    assert "gcp-sa-firestore (granted, but the resource does not depend on the grant)" in violation.message


def test_a_grant_whose_member_is_unknown_in_preview_is_not_guessed_at(resources):
    changed = copy.deepcopy(resources)
    for r in changed:
        if r["type"] == KEY_MEMBER and r["urn"].endswith("::key-pubsub-agent"):
            r["inputs"]["member"] = r["outputs"]["member"] = UNKNOWN_STRING_VALUE
    changed = without(changed, "::key-firestore-agent")
    found = reported(changed)
    assert found == {}  # an unknown member on the same key may be any agent


def test_without_forwarding_permission_poison_messages_would_cycle(resources):
    forwarder = next(r["urn"] for r in resources if r["type"].endswith("subscriptionIAMMember:SubscriptionIAMMember"))
    report = evaluate(without(resources, forwarder), "prod", policies=gcp_deployability.POLICIES)
    (violation,) = report.violations
    assert violation.policy == "gcp-pubsub-dead-letter-agent-permissions"
    assert "may not acknowledge on this subscription; required: roles/pubsub.subscriber" in violation.message


def test_a_key_in_another_region_is_named_with_both_locations(resources):
    changed = copy.deepcopy(resources)
    repo = next(r for r in changed if r["type"] == "gcp:artifactregistry/repository:Repository")
    repo["inputs"]["location"] = "us-central1"
    report = evaluate(changed, "prod", policies=gcp_deployability.POLICIES)
    messages = [v.message for v in report.violations if v.policy == "gcp-cmek-key-in-resource-location"]
    assert len(messages) == 1
    assert "kmsKeyName is in 'europe-west1' but the resource is in 'us-central1'" in messages[0]


# ------------------------------------------------------------------ issue 17: creation order and run time

FIXTURES = Path(__file__).parent / "policy_fixtures"


def fixture(policy: str, stem: str) -> list[dict]:
    return load_export(FIXTURES / policy / f"{stem}.json")


def by_policy(resources: list[dict], **kwargs) -> dict[str, set[str]]:
    report = evaluate(resources, "prod", policies=gcp_deployability.POLICIES, **kwargs)
    out: dict[str, set[str]] = {}
    for v in report.violations:
        out.setdefault(v.policy, set()).add(v.urn.rsplit("::", 1)[-1])
    return out


def test_every_resource_that_loses_its_api_wait_is_named(resources):
    changed = copy.deepcopy(resources)
    services = {r["urn"] for r in changed if r["type"] == "gcp:projects/service:Service"}
    gateway = [r for r in changed if r["type"].startswith("gcp:apigateway/")]
    for r in gateway:
        r["dependencies"] = [u for u in r["dependencies"] if u not in services]
    assert len(gateway) == 3
    assert by_policy(changed) == {"gcp-resources-wait-for-their-api": {"api", "api-config", "gateway"}}


def test_a_service_enabled_in_another_project_is_not_waited_for():
    resources = fixture("gcp-resources-wait-for-their-api", "gcp-bad")
    for r in resources:
        if r["type"] == "gcp:projects/service:Service":
            r["inputs"]["project"] = r["outputs"]["project"] = "shared-services-1234"
    # the account names its project; the grant names none, so it is in the provider's, which may be that one
    assert by_policy(resources) == {"gcp-resources-wait-for-their-api": {"worker-agent-mints"}}


def test_a_grant_to_a_requested_agent_waits_for_its_identity_not_its_api():
    resources = fixture("gcp-agent-grants-wait-for-their-agent", "gcp-bad")
    (violation,) = evaluate(resources, "prod", policies=gcp_deployability.POLICIES).violations
    assert violation.urn.endswith("::worker-pubsub-agent-mints")
    assert "required: the grant depending on 'agent-pubsub'" in violation.message
    resources = fixture("gcp-agent-grants-wait-for-their-agent", "gcp-bad-not-requested")
    (violation,) = evaluate(resources, "prod", policies=gcp_deployability.POLICIES).violations
    assert "only on request: a gcp.projects.ServiceIdentity for pubsub.googleapis.com" in violation.message


@pytest.mark.parametrize("expression, covers", [
    ('resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")', True),
    ("resource.name.startsWith('projects/_/buckets/')", True),
    ('resource.name.startsWith("projects/_/buckets/own") || (resource.name.startsWith("projects/_/buckets/gcf-"))',
     True),
    ('resource.name.startsWith("projects/_/buckets/gcf-v2-sources-123-europe-west1")', False),
    ('resource.name.startsWith("projects/_/buckets/gcf-v2-sources-") '
     '&& resource.type == "storage.googleapis.com/Object"', False),
    ('resource.type == "storage.googleapis.com/Bucket"', False),
])
def test_only_a_condition_that_surely_covers_the_source_buckets_counts(expression, covers):
    assert gcp_deployability._covers_sources({"title": "t", "expression": expression}) is covers
    assert gcp_deployability._covers_sources(None) is True


def test_a_storage_grant_to_a_domain_does_not_stand_in_for_the_build_account():
    resources = fixture("gcp-build-account-reads-function-sources", "gcp-bad")
    grant = copy.deepcopy(next(r for r in resources if r["urn"].endswith("::build-writes-logs")))
    grant["urn"] = grant["urn"].replace("build-writes-logs", "domain-reads-sources")
    sources = {"title": "sources", "expression": 'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")'}
    grant["inputs"] = grant["outputs"] = {"project": "orders-prod-4711", "role": "roles/storage.objectViewer",
                                          "member": "domain:example.com", "condition": sources}
    grant["dependencies"], grant["propertyDependencies"] = [], {}
    assert by_policy([*resources, grant]) == {"gcp-build-account-reads-function-sources": {"get-order"}}


def test_a_build_grant_whose_member_is_unknown_in_preview_is_not_guessed_at():
    resources = fixture("gcp-build-account-reads-function-sources", "gcp-bad-condition")
    for r in resources:
        if r["urn"].endswith("::build-reads-function-sources"):
            r["inputs"]["member"] = r["outputs"]["member"] = UNKNOWN_STRING_VALUE
            r["propertyDependencies"]["member"] = []
    assert by_policy(resources) == {}


def test_a_trigger_named_in_config_is_accepted_without_a_dead_letter():
    resources = fixture("gcp-event-paths-dead-lettered", "gcp-bad")
    assert by_policy(resources) == {"gcp-event-paths-dead-lettered": {"fulfil-order-start"}}
    for name in ("fulfil-order-start", "orders-prod-fulfil-order-start"):  # logical or physical
        config = {"gcp-event-paths-dead-lettered": {"eventPathsWithoutDeadLetters": [name]}}
        assert by_policy(resources, config=config) == {}
