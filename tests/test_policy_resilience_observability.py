"""Resilience and observability policies: what the fixtures don't pin down.

Unknown values (the engine's preview), config overrides, dev vs prod, the correlation fallbacks
(names and ARNs instead of property dependencies, outputs as the engine passes them to stack
policies), and the rendered AWS service broken on purpose.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from components.export import to_export
from policy import observability, resilience
from policy.offline import evaluate, load_export
from policy.resilience import _function_name_of

FIXTURES = Path(__file__).parent / "policy_fixtures"
STACK = "urn:pulumi:prod::anycloud::pulumi:pulumi:Stack::anycloud-prod"
ACCOUNT, REGION = "123456789012", "eu-west-1"
BY_NAME = {p.name: p for p in resilience.POLICIES + observability.POLICIES}


def only(*names: str) -> list:
    return [BY_NAME[n] for n in names]


def fixture(policy: str, name: str) -> list[dict]:
    return load_export(FIXTURES / policy / f"{name}.json")


def resource(typ: str, name: str, inputs: dict, deps: dict | None = None, outputs: dict | None = None) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": outputs or {}, "parent": STACK, "protect": False,
            "dependencies": sorted({u for us in (deps or {}).values() for u in us}),
            "propertyDependencies": deps or {}}


def queue(name: str, **inputs) -> dict:
    return resource("aws:sqs/queue:Queue", name, {"name": name, **inputs})


def arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def redrive(target: str, count: int = 5) -> str:
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count})


def set_prop(r: dict, key: str, value) -> None:
    """Change a property as a new deployment would: in the inputs and, when recorded, the outputs."""
    for side in ("inputs", "outputs"):
        if side == "inputs" or r.get(side):
            r[side][key] = value


def drop_prop(r: dict, key: str) -> None:
    for side in ("inputs", "outputs", "propertyDependencies"):
        (r.get(side) or {}).pop(key, None)


def messages(report, policy: str) -> list[str]:
    return [v.message for v in report.violations if v.policy == policy]


# ------------------------------------------------------------------ unknown values


def test_an_unknown_redrive_policy_skips_that_queue_only_and_leaves_a_note():
    pending = queue("orders", redrivePolicy=UNKNOWN_STRING_VALUE)
    bare = queue("audit")
    report = evaluate([pending, bare], policies=only("queues-dead-lettered"))
    assert [v.urn for v in report.violations] == [bare["urn"]]
    assert len(report.notes) == 1 and report.notes[0].startswith("queues-dead-lettered: can't run")


def test_a_dead_letter_queue_is_recognised_through_dependencies_while_its_source_is_unknown():
    dlq = queue("orders-dlq")
    source = queue("orders", redrivePolicy=UNKNOWN_STRING_VALUE)
    source["propertyDependencies"] = {"redrivePolicy": [dlq["urn"]]}
    report = evaluate([dlq, source], policies=only("queues-dead-lettered"))
    assert report.violations == [] and len(report.notes) == 1


def test_an_unknown_function_timeout_is_a_note_not_a_pass_or_a_crash():
    resources = fixture("sqs-visibility-covers-consumer", "aws-bad")
    for r in resources:
        if r["type"] == "aws:lambda/function:Function":
            set_prop(r, "timeout", UNKNOWN_NUMBER_VALUE)
    report = evaluate(resources, policies=only("sqs-visibility-covers-consumer"))
    assert report.violations == []
    assert report.notes and "sqs-visibility-covers-consumer: can't run" in report.notes[0]


def test_an_unknown_event_source_needs_no_value_when_batch_failures_are_reported():
    mapping = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "m",
                       {"eventSourceArn": UNKNOWN_STRING_VALUE, "functionName": "orders-prod-process-order",
                        "functionResponseTypes": ["ReportBatchItemFailures"]})
    assert evaluate([mapping], policies=only("event-sources-report-batch-failures")).notes == []
    del mapping["inputs"]["functionResponseTypes"]
    report = evaluate([mapping], policies=only("event-sources-report-batch-failures"))
    assert report.violations == [] and len(report.notes) == 1


# ------------------------------------------------------------------ config, environment, levels


def test_visibility_multiplier_is_configurable_pack_wide_or_per_policy():
    ok = fixture("sqs-visibility-covers-consumer", "aws-ok")  # 180 s for a 30 s function
    (message,) = messages(evaluate(ok, config={"visibilityTimeoutMultiplier": 7}), "sqs-visibility-covers-consumer")
    assert "visibilityTimeoutSeconds is 180" in message and ">= 7 x 30 + 0 = 210" in message
    windowed = fixture("sqs-visibility-covers-consumer", "aws-bad-batching-window")  # 180 s < 6 x 30 + 20
    relaxed = {"sqs-visibility-covers-consumer": {"visibilityTimeoutMultiplier": 5}}
    assert messages(evaluate(windowed, config=relaxed), "sqs-visibility-covers-consumer") == []


@pytest.mark.parametrize("policy, name", [
    ("prod-tables-recoverable", "aws-bad"),
    ("prod-tables-recoverable", "gcp-bad"),
    ("prod-tables-recoverable", "azure-bad"),
    ("prod-cosmos-delete-locked", "azure-bad"),
])
def test_dev_does_not_require_backups_or_deletion_protection(policy, name):
    resources = fixture(policy, name)
    assert messages(evaluate(resources, "prod"), policy)
    assert messages(evaluate(resources, "dev"), policy) == []


def test_observability_violations_are_advisory_unless_raised():
    resources = fixture("tracing-enabled", "aws-bad")
    report = evaluate(resources, policies=only("tracing-enabled"))
    assert {v.level for v in report.violations} == {"advisory"} and report.mandatory == []
    raised = evaluate(resources, levels={"tracing-enabled": "mandatory"}, policies=only("tracing-enabled"))
    assert {v.level for v in raised.violations} == {"mandatory"}


def test_log_retention_accepts_a_numeric_string_and_refuses_never_expire():
    group = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/x", "retentionInDays": "30"})
    assert evaluate([group], policies=only("log-retention-set")).violations == []
    group["inputs"]["retentionInDays"] = 0
    (violation,) = evaluate([group], policies=only("log-retention-set")).violations
    assert "retentionInDays is 0" in violation.message


# ------------------------------------------------------------------ correlation


@pytest.mark.parametrize("reference, name", [
    ("orders-prod-process-order", "orders-prod-process-order"),
    ("orders-prod-process-order:live", "orders-prod-process-order"),
    (f"{ACCOUNT}:function:orders-prod-process-order", "orders-prod-process-order"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-process-order", "orders-prod-process-order"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-process-order:live", "orders-prod-process-order"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-prod-process-order:7", "orders-prod-process-order"),
])
def test_function_references_name_the_function(reference, name):
    assert _function_name_of(reference) == name


def test_stack_policies_correlate_on_outputs_without_property_dependencies():
    """Stack policies see the outputs (arn, url, name), enough to correlate when dependencies are absent."""
    for policy, name in [("sqs-visibility-covers-consumer", "aws-bad"), ("sqs-visibility-covers-consumer", "aws-ok-alias"),
                         ("queues-dead-lettered", "aws-ok"), ("queues-dead-lettered", "aws-ok-side-resource"),
                         ("queues-dead-lettered", "gcp-ok"), ("prod-cosmos-delete-locked", "azure-ok")]:
        resources = copy.deepcopy(fixture(policy, name))
        for r in resources:
            r["propertyDependencies"] = {}
        found = messages(evaluate(resources), policy)
        assert bool(found) == ("bad" in name), (policy, name, found)


def test_consumers_or_queues_outside_the_stack_are_not_guessed():
    mapping = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "m",
                       {"eventSourceArn": arn("elsewhere"), "functionName": "orders-prod-process-order",
                        "functionResponseTypes": ["ReportBatchItemFailures"]})
    function = resource("aws:lambda/function:Function", "f", {"name": "orders-prod-process-order", "timeout": 900})
    assert evaluate([mapping, function], policies=only("sqs-visibility-covers-consumer")).violations == []


def test_a_queue_redriving_to_an_arn_outside_the_stack_is_fine_but_an_unused_dlq_is_not():
    source = queue("orders", redrivePolicy=redrive(arn("shared-dlq")))
    orphan = queue("orders-dlq")
    report = evaluate([source, orphan], policies=only("queues-dead-lettered"))
    assert [v.urn for v in report.violations] == [orphan["urn"]]
    source["inputs"]["redrivePolicy"] = redrive(arn("orders-dlq"))
    assert evaluate([source, orphan], policies=only("queues-dead-lettered")).violations == []


def test_redrive_policy_needs_a_target_and_a_receive_count_in_range():
    bad = queue("orders", redrivePolicy=json.dumps({"deadLetterTargetArn": "orders-dlq", "maxReceiveCount": 0}))
    (message,) = messages(evaluate([bad], policies=only("queues-dead-lettered")), "queues-dead-lettered")
    assert "deadLetterTargetArn is 'orders-dlq'" in message and "maxReceiveCount is 0" in message


def test_pubsub_dead_letter_subscription_is_recognised_by_topic_name():
    main = resource("gcp:pubsub/subscription:Subscription", "main", {
        "name": "orders", "project": "p", "topic": "orders",
        "deadLetterPolicy": {"deadLetterTopic": "projects/p/topics/orders-dlq"}})
    hold = resource("gcp:pubsub/subscription:Subscription", "hold", {"name": "orders-dlq-hold", "project": "p", "topic": "orders-dlq",
                                                                      "expirationPolicy": {"ttl": ""}})
    assert evaluate([main, hold], policies=only("queues-dead-lettered")).violations == []
    hold["inputs"]["project"] = "other"
    # hold no longer reads main's dead-letter topic: it has no dead letters of its own, and main's are dropped
    assert sorted(v.urn for v in evaluate([main, hold], policies=only("queues-dead-lettered")).violations) == sorted(
        [hold["urn"], main["urn"]])


@pytest.mark.parametrize("scope, covered", [
    ("/subscriptions/s/resourceGroups/orders-prod-rg", True),
    ("/subscriptions/s/resourceGroups/ORDERS-PROD-RG/", True),
    ("/subscriptions/s", True),
    ("/subscriptions/s/resourceGroups/orders-prod-rg/providers/Microsoft.DocumentDB/databaseAccounts/orders-prod-cosmos", True),
    ("/subscriptions/s/resourceGroups/other-rg", False),
    ("/subscriptions/s/resourceGroups/orders-prod-rg/providers/Microsoft.DocumentDB/databaseAccounts/other", False),
])
def test_a_delete_lock_by_scope_covers_the_account_its_group_or_subscription(scope, covered):
    resources = fixture("prod-cosmos-delete-locked", "azure-bad")
    lock = resource("azure-native:authorization:ManagementLockByScope", "lock", {"scope": scope, "level": "CanNotDelete"})
    found = messages(evaluate([*resources, lock], policies=only("prod-cosmos-delete-locked")), "prod-cosmos-delete-locked")
    assert (found == []) == covered


# ------------------------------------------------------------------ the rendered AWS service


@pytest.fixture(scope="module")
def rendered(prod) -> list[dict]:
    return to_export(prod)["deployment"]["resources"]


def test_the_rendered_service_passes_every_resilience_and_observability_policy(rendered):
    report = evaluate(rendered, policies=resilience.POLICIES + observability.POLICIES)
    assert report.violations == [] and report.notes == []


def test_breaking_the_rendered_service_fails_on_the_right_policy(rendered):
    broken = copy.deepcopy(rendered)
    dlq = next(r["urn"] for r in broken if r["urn"].endswith("aws:sqs/queue:Queue::orders-dlq"))
    for r in broken:
        if r["type"] == "aws:sqs/queue:Queue":
            drop_prop(r, "redrivePolicy")
        if r["type"] == "aws:lambda/function:Function" and r["urn"].endswith("::process-order"):
            set_prop(r, "timeout", 60)
        if r["type"] == "aws:lambda/eventSourceMapping:EventSourceMapping":
            drop_prop(r, "functionResponseTypes")
    # the DLQ goes, with what exists only for it (its TLS policy, redrive allow policy, depth alarm)
    broken = [r for r in broken if r["urn"] != dlq and dlq not in json.dumps(r.get("propertyDependencies", {}))]
    report = evaluate(broken, policies=resilience.POLICIES)
    assert sorted(report.by_policy()) == ["event-sources-report-batch-failures", "queues-dead-lettered",
                                          "sqs-visibility-covers-consumer"]
    (visibility,) = messages(report, "sqs-visibility-covers-consumer")
    assert "visibilityTimeoutSeconds is 180" in visibility and "= 360" in visibility
