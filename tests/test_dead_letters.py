"""Dead letters for every asynchronous path: what the corpus and fixtures don't pin down - the catalogue
against the installed SDKs, paths that need no store, values unknown during preview, and which queues
count as dead-letter stores."""

from __future__ import annotations

import json
from pathlib import Path

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import async_paths, dead_letters, resilience
from policy.offline import evaluate
from tests.support.derivations import derived_once, load_script

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, REGION = "111122223333", "us-east-1"
POLICIES = dead_letters.POLICIES + [p for p in resilience.POLICIES if p.name == "queues-dead-lettered"]


def resource(typ: str, name: str, inputs: dict, deps: dict | None = None, outputs: dict | None = None) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": {**inputs, **(outputs or {})}, "propertyDependencies": deps or {}}


def sqs(name: str, **inputs) -> dict:
    return resource("aws:sqs/queue:Queue", name, {"name": name, **inputs},
                    outputs={"arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"})


def found(resources: list[dict]) -> list[tuple[str, str]]:
    return sorted((v.policy, v.urn.rsplit("::", 1)[1]) for v in evaluate(resources, policies=POLICIES).violations)


def test_the_catalogue_is_what_the_installed_sdks_say(pytestconfig):
    sources = [ROOT / "scripts" / "async_paths.py", ROOT / "scripts" / "sdk_inputs.py", ROOT / "policy" / "async_paths.py"]
    with derived_once(pytestconfig, "async-paths", sources):
        assert load_script("async_paths").catalogue() == async_paths.DEAD_LETTER_SETTINGS, "run python scripts/async_paths.py"


def test_every_catalogued_type_is_judged_by_one_of_the_two_policies():
    read = {t for p in POLICIES for t in p.resource_types}
    assert set(async_paths.DEAD_LETTER_SETTINGS) <= read


def test_paths_that_need_no_store():
    email = resource("aws:sns/topicSubscription:TopicSubscription", "mail",
                     {"topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "protocol": "email", "endpoint": "a@example.com"})
    bus = resource("aws:cloudwatch/eventBus:EventBus", "bus", {"name": "shop"})
    from_queue = resource("aws:lambda/eventSourceMapping:EventSourceMapping", "m",
                          {"eventSourceArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", "functionName": "f"})
    synchronous = resource("aws:lambda/function:Function", "api", {"name": "api"})
    gateway = resource("aws:lambda/permission:Permission", "from-api",
                       {"function": "api", "principal": "apigateway.amazonaws.com", "action": "lambda:InvokeFunction"})
    assert found([email, bus, from_queue, synchronous, gateway]) == []


def test_a_function_invoked_asynchronously_through_a_dependency_only():
    function = resource("aws:lambda/function:Function", "worker", {"name": UNKNOWN_STRING_VALUE})
    permission = resource("aws:lambda/permission:Permission", "from-bus",
                          {"function": UNKNOWN_STRING_VALUE, "principal": "events.amazonaws.com"},
                          deps={"function": [function["urn"]]})
    assert found([function, permission]) == [("async-paths-dead-lettered", "worker")]
    function["inputs"]["deadLetterConfig"] = function["outputs"]["deadLetterConfig"] = {
        "targetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:worker-dlq"}
    assert found([function, permission]) == []


def test_a_function_dead_letter_config_covers_its_invocation_configuration():
    function = resource("aws:lambda/function:Function", "worker",
                        {"name": "worker", "deadLetterConfig": {"targetArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:failed"}})
    config = resource("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "async",
                      {"functionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker", "maximumRetryAttempts": 0})
    assert found([function, config]) == []


def test_a_store_unknown_during_preview_is_matched_by_its_dependency_and_not_guessed():
    dlq = sqs("failed", messageRetentionSeconds=60)
    target = resource("aws:cloudwatch/eventTarget:EventTarget", "t",
                      {"rule": "r", "arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:s",
                       "deadLetterConfig": {"arn": UNKNOWN_STRING_VALUE}}, deps={"deadLetterConfig": [dlq["urn"]]})
    # the DLQ is a dead-letter store (no redrive of its own asked), and it keeps less than the target's 24 h
    assert found([dlq, target]) == [("async-paths-dead-lettered", "t")]


def test_a_schedule_targeting_a_queue_does_not_make_it_a_dead_letter_queue():
    work = sqs("reminders")
    schedule = resource("aws:scheduler/schedule:Schedule", "s", {
        "scheduleExpression": "rate(1 hour)", "flexibleTimeWindow": {"mode": "OFF"},
        "target": {"arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:reminders", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/s",
                   "deadLetterConfig": {"arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:elsewhere"}}},
        deps={"target": ["urn:pulumi:prod::anycloud::aws:sqs/queue:Queue::reminders"]})
    assert found([work, schedule]) == [("queues-dead-lettered", "reminders")]


def test_event_grid_dead_letters_need_a_container():
    base = {"resourceGroupName": "rg", "topicName": "t",
            "destination": {"endpointType": "WebHook", "endpointUrl": "https://example.com/events"}}
    full = {"endpointType": "StorageBlob", "resourceId": "/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.Storage/storageAccounts/a", "blobContainerName": "dl"}
    ok = resource("azure-native:eventgrid:TopicEventSubscription", "ok",
                  {**base, "deadLetterWithResourceIdentity": {"identity": {"type": "SystemAssigned"}, "deadLetterDestination": full}})
    empty = resource("azure-native:eventgrid:TopicEventSubscription", "empty",
                     {**base, "deadLetterWithResourceIdentity": {"identity": {"type": "SystemAssigned"}}})
    assert found([ok, empty]) == [("async-paths-dead-lettered", "empty")]


def test_sns_redrive_policy_as_a_json_string_or_object():
    sub = {"topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "protocol": "SQS", "endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}
    target = {"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:undelivered"}
    as_text = resource("aws:sns/topicSubscription:TopicSubscription", "a", {**sub, "redrivePolicy": json.dumps(target)})
    as_object = resource("aws:sns/topicSubscription:TopicSubscription", "b", {**sub, "redrivePolicy": target})
    assert found([as_text, as_object]) == []


def test_cloud_tasks_unlimited_attempts_with_a_zero_retry_duration():
    queue = resource("gcp:cloudtasks/queue:Queue", "q", {"name": "q", "location": "europe-west1",
                                                         "retryConfig": {"maxAttempts": "-1", "maxRetryDuration": "0s"}})
    assert found([queue]) == []


def test_service_bus_never_is_the_largest_time_span():
    never = "P10675199DT2H48M5.4775807S"
    queue = resource("azure-native:servicebus:Queue", "q", {"queueName": "q", "namespaceName": "n", "maxDeliveryCount": 10,
                                                           "deadLetteringOnMessageExpiration": True, "autoDeleteOnIdle": never})
    assert found([queue]) == []


def test_the_dead_letter_queue_lets_its_source_redrive_there():
    source = sqs("orders", redrivePolicy=json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq",
                                                     "maxReceiveCount": 5}))
    dlq = sqs("orders-dlq", messageRetentionSeconds=1209600)
    allow = resource("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "allow", {
        "queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders-dlq",
        "redriveAllowPolicy": json.dumps({"redrivePermission": "byQueue",
                                          "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"]})})
    assert found([source, dlq, allow]) == []
    allow["inputs"]["redriveAllowPolicy"] = allow["outputs"]["redriveAllowPolicy"] = json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{ACCOUNT}:other"]})
    assert found([source, dlq, allow]) == [("queues-dead-lettered", "orders")]
    dlq["inputs"]["redriveAllowPolicy"] = dlq["outputs"]["redriveAllowPolicy"] = {"redrivePermission": "denyAll"}
    assert found([source, dlq]) == [("queues-dead-lettered", "orders")]
