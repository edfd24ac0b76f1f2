"""A table's change stream on AWS (TableSpec.stream): DynamoDB Streams, the event source mapping,
the dead letters kept whole and alarmed, the consumer's least privilege; and the pack clean."""

from __future__ import annotations

import inspect
import json

import pytest

import components.aws.observability as observability
import components.aws.stream as stream
from components.export import to_export
from components.mock_engine import Rendering
from components.spec import FunctionSpec, ServiceSpec, StreamSpec
from policy.offline import evaluate
from tests.conftest import DEV, PROD, policy_of, render_config
from tests.services import REFERENCE

TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LAMBDA = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CONSUMER = "order-changes"


def with_stream(stream: StreamSpec) -> ServiceSpec:
    """The reference service, its orders table streamed to a new consumer that queues jobs."""
    data = REFERENCE.model_dump()
    orders = REFERENCE.table("orders").model_copy(update={"stream": stream})
    consumer = FunctionSpec(name=CONSUMER, handler="reference.consumer:process_order", uses=(REFERENCE.queues[0].send(),))
    return ServiceSpec.model_validate({
        **data,
        "tables": [orders.model_dump() if t["name"] == "orders" else t for t in data["tables"]],
        "functions": [*data["functions"], consumer.model_dump()],
    })


WRITES = with_stream(StreamSpec(consumer=CONSUMER))
EVERYTHING = with_stream(StreamSpec(consumer=CONSUMER, deletes=True, batch_size=100, max_receives=100))


@pytest.fixture(scope="module")
def streamed() -> Rendering:
    return render_config(DEV, "dev", spec=WRITES)


@pytest.fixture(scope="module")
def streamed_prod() -> Rendering:
    return render_config(PROD, "prod", spec=EVERYTHING)


def statements(r: Rendering, function: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy_of(r.named(ROLE_POLICY, f"{function}-policy"))["Statement"]}


def test_the_table_writes_new_images_and_only_the_streamed_one(streamed):
    orders, idempotency, attempts = (streamed.named(TABLE, n) for n in ("orders", "idempotency", "orders-changes-attempts"))
    assert (orders.inputs["streamEnabled"], orders.inputs["streamViewType"]) == (True, "NEW_IMAGE")
    assert "streamEnabled" not in idempotency.inputs and "streamEnabled" not in attempts.inputs


def test_the_mapping_reads_from_the_start_bisects_reports_and_keeps_its_dead_letters(streamed):
    (mapping,) = [m for m in streamed.of_type(MAPPING) if m.name == f"orders-changes-to-{CONSUMER}"]
    orders, dlq = streamed.named(TABLE, "orders"), streamed.named(QUEUE, "orders-changes-dlq")
    consumer = streamed.named(LAMBDA, CONSUMER)
    assert mapping.inputs["eventSourceArn"] == orders.outputs["streamArn"]
    assert mapping.inputs["functionName"] == consumer.outputs["arn"]
    assert mapping.inputs["startingPosition"] == "TRIM_HORIZON"
    assert mapping.inputs["batchSize"] == 10
    assert mapping.inputs["bisectBatchOnFunctionError"] is True
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["maximumRetryAttempts"] == 10 * 5  # batch_size x max_receives (components/aws/stream.py)
    assert mapping.inputs["destinationConfig"] == {"onFailure": {"destinationArn": dlq.outputs["arn"]}}
    (only,) = mapping.inputs["filterCriteria"]["filters"]
    assert json.loads(only["pattern"]) == {"eventName": ["INSERT", "MODIFY"]}  # no deletes declared: REMOVE filtered out
    assert streamed.named(ROLE_POLICY, f"{CONSUMER}-policy").urn in mapping.dependencies


def test_every_stream_field_renders(streamed_prod):
    mapping = streamed_prod.named(MAPPING, f"orders-changes-to-{CONSUMER}")
    assert mapping.inputs["batchSize"] == 100
    assert mapping.inputs["maximumRetryAttempts"] == 10_000  # Lambda's maximum, never above it
    assert "filterCriteria" not in mapping.inputs  # deletes: REMOVE records (TTL deletes too) are delivered
    env = streamed_prod.named(LAMBDA, CONSUMER).inputs["environment"]["variables"]
    wiring = json.loads(env["ANYCLOUD_CHANGES"])
    assert wiring == {"table": "orders", "deadLetters": streamed_prod.named(QUEUE, "orders-changes-dlq").outputs["url"],
                      "attempts": streamed_prod.named(TABLE, "orders-changes-attempts").outputs["name"], "maxReceives": 100}


def test_the_dead_letter_queue_is_kept_encrypted_tls_only_and_alarmed(streamed):
    dlq = streamed.named(QUEUE, "orders-changes-dlq")
    assert dlq.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    assert dlq.inputs["kmsMasterKeyId"] == streamed.of_type("aws:kms/key:Key")[0].outputs["arn"]
    (deny,) = policy_of(streamed.named(QUEUE_POLICY, "orders-changes-dlq-tls-only"))["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == dlq.outputs["arn"]
    alarms = {a.name: a.inputs for a in streamed.of_type(ALARM)}
    depth = alarms["orders-changes-dlq-depth-alarm"]
    assert (depth["namespace"], depth["metricName"], depth["dimensions"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dlq.outputs["name"]})
    assert depth["threshold"] == 1 and depth["alarmActions"]
    lag = alarms["orders-changes-iterator-age-alarm"]
    assert (lag["namespace"], lag["metricName"], lag["dimensions"]) == (
        "AWS/Lambda", "IteratorAge", {"FunctionName": streamed.named(LAMBDA, CONSUMER).outputs["name"]})
    assert lag["threshold"] == 900_000 and lag["alarmActions"]


def test_the_attempts_table_is_encrypted_expiring_and_recoverable(streamed, streamed_prod):
    for r in (streamed, streamed_prod):
        attempts = r.named(TABLE, "orders-changes-attempts")
        assert attempts.inputs["hashKey"] == "id" and attempts.inputs["ttl"] == {"attributeName": "expires", "enabled": True}
        assert attempts.inputs["serverSideEncryption"]["kmsKeyArn"] == r.of_type("aws:kms/key:Key")[0].outputs["arn"]
        assert attempts.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert streamed_prod.named(TABLE, "orders-changes-attempts").inputs["deletionProtectionEnabled"] is True


def test_the_consumer_reads_this_stream_and_writes_only_its_own_stores(streamed):
    orders = streamed.named(TABLE, "orders")
    dlq, attempts = streamed.named(QUEUE, "orders-changes-dlq"), streamed.named(TABLE, "orders-changes-attempts")
    got = statements(streamed, CONSUMER)
    read = got["ReadChangesOfOrders"]
    assert read["Action"] == ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    assert read["Resource"] == [orders.outputs["streamArn"]]  # this stream's ARN, not table/*/stream/*
    assert (got["DeadLetterChangesOfOrders"]["Action"], got["DeadLetterChangesOfOrders"]["Resource"]) == (
        ["sqs:SendMessage"], [dlq.outputs["arn"]])
    assert (got["CountChangesOfOrders"]["Action"], got["CountChangesOfOrders"]["Resource"]) == (
        ["dynamodb:GetItem", "dynamodb:UpdateItem"], [attempts.outputs["arn"]])
    via = {sid: s["Condition"]["StringEquals"]["kms:ViaService"] for sid, s in got.items() if "ChangesOf" in sid and sid.endswith("Key")}
    assert via == {"ReadChangesOfOrdersKey": "dynamodb.eu-west-1.amazonaws.com",
                   "DeadLetterChangesOfOrdersKey": "sqs.eu-west-1.amazonaws.com",
                   "CountChangesOfOrdersKey": "dynamodb.eu-west-1.amazonaws.com"}
    for other in ("create-order", "process-order", "get-order"):  # nobody else touches the stream or its stores
        text = json.dumps(policy_of(streamed.named(ROLE_POLICY, f"{other}-policy")))
        assert "/stream/" not in text and dlq.outputs["arn"] not in text and attempts.outputs["arn"] not in text


@pytest.mark.parametrize("fixture", ["streamed", "streamed_prod"])
def test_the_pack_finds_nothing_to_report(fixture, request):
    rendering = request.getfixturevalue(fixture)
    environment = "prod" if fixture.endswith("prod") else "dev"
    report = evaluate(to_export(rendering)["deployment"]["resources"], environment, config={"publicRoutes": ["GET /health"]})
    # advisory ones (dead letters alarmed) too; the unreviewed types are the queue rendering's, not the stream's
    assert [(v.policy, v.message) for v in report.violations if v.policy != "resource-types-reviewed"] == []


# --------------------------------------------------------------- the pack on a broken renderer


def reported(monkeypatch, patch) -> dict[str, set[str]]:
    """{level: policies} the pack reports on the streamed dev stack rendered with `patch` applied."""
    patch(monkeypatch)
    rendering = render_config(DEV, "dev", spec=WRITES.model_copy())  # not cached: rendered with the patch
    report = evaluate(to_export(rendering)["deployment"]["resources"], "dev", config={"publicRoutes": ["GET /health"]})
    return {level: {v.policy for v in report.violations if v.level == level} for level in ("mandatory", "advisory")}


def without_dlq_alarms(mp):
    real = observability._alarm
    mp.setattr(observability, "_alarm", lambda ctx, topic, name, *a, **k: None if name.endswith("dlq-depth") else real(ctx, topic, name, *a, **k))


def mapping_without(*dropped: str):
    def patch(mp):
        real = stream.aws.lambda_.EventSourceMapping
        mp.setattr(stream.aws.lambda_, "EventSourceMapping", lambda name, **kw: real(name, **{k: v for k, v in kw.items() if k not in dropped}))
    return patch


def test_dead_letter_queues_without_alarms_are_reported(monkeypatch):
    assert "aws-dead-letter-queues-alarmed" in reported(monkeypatch, without_dlq_alarms)["advisory"]


def test_a_mapping_without_its_on_failure_destination_is_reported(monkeypatch):
    assert "async-paths-dead-lettered" in reported(monkeypatch, mapping_without("destination_config"))["mandatory"]


def test_a_mapping_without_partial_batch_responses_is_reported(monkeypatch):
    assert "event-sources-report-batch-failures" in reported(monkeypatch, mapping_without("function_response_types"))["mandatory"]


def test_the_renderer_and_the_adapter_agree_on_the_wiring_and_the_attempts_layout():
    from runtime.aws import changes

    assert stream.CHANGES == changes.CHANGES
    source = inspect.getsource(changes.ChangeConsumer)
    assert f'{{"{stream.ATTEMPTS_KEY}": {{"S": change}}}}' in source and f'"#expires": "{stream.ATTEMPTS_EXPIRY}"' in source
