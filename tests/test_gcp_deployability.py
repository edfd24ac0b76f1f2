"""What a real GCP `pulumi up` needs beyond meaning: ids, key locations, agents' key grants, forwarding.

The rendered stack passes each rule, and taking away one grant or one creation-order edge makes
it fail on exactly the resources that need it: the renderer's grants are what satisfy Google.
"""

from __future__ import annotations

import copy

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.export import to_export
from policy import gcp_deployability
from policy.offline import evaluate
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
    assert len(NAMES) == 5
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
