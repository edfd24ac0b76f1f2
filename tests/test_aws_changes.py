"""The AWS adapter's consumer of a table's changes (functions/runtime/aws/changes.py): DynamoDB
stream records in, portable Messages out, in order, counted, and kept whole after max_receives.
The orders service's stream runs end to end in tests/example/test_e2e_aws.py."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from runtime.aws import entry
from runtime.aws.changes import ATTEMPTS_KEPT_S, ChangeConsumer, change_message
from runtime.aws.events import STREAM, kind_of
from runtime.contracts import Message
from tests.support.inprocess_lambda import LambdaContext

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-1a2b3c/stream/2026-01-01T00:00:00.000"
SEEN: list[Message] = []


def consumer(message: Message, ctx) -> None:
    """Fails for an item with `fail`; records what it was given."""
    SEEN.append(message)
    if (message.body["item"] or {}).get("fail"):
        raise RuntimeError("cannot process this change")


def record(seq: int, key: str, item: dict | None, *, name: str = "INSERT") -> dict:
    """A DynamoDB stream record as Lambda delivers it ("Example event", Lambda's DynamoDB page)."""
    dump = TypeSerializer().serialize
    dynamodb = {"ApproximateCreationDateTime": 1767225600, "Keys": {"order_id": dump(key)},
                "SequenceNumber": str(seq), "SizeBytes": 26, "StreamViewType": "NEW_IMAGE"}
    if item is not None:
        dynamodb["NewImage"] = {k: dump(v) for k, v in {"order_id": key, **item}.items()}
    return {"eventID": f"change-{seq}", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1", "eventSourceARN": STREAM_ARN, "dynamodb": dynamodb}


@pytest.fixture
def aws(monkeypatch):
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1", "POWERTOOLS_TRACE_DISABLED": "1"}.items():
        monkeypatch.setenv(var, value)
    SEEN.clear()
    entry.reset()
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName="attempts", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        dlq = boto3.client("sqs").create_queue(QueueName="orders-changes-dlq")["QueueUrl"]
        yield {"dlq": dlq, "ddb": ddb}
    entry.reset()


def env(dlq: str, max_receives: int = 3) -> dict[str, str]:
    return {
        "ANYCLOUD_SERVICE": "svc", "ANYCLOUD_FUNCTION": "order-placed", "ANYCLOUD_ENVIRONMENT": "test",
        "ANYCLOUD_HANDLER": f"{__name__}:consumer", "POWERTOOLS_SERVICE_NAME": "svc",
        "POWERTOOLS_METRICS_NAMESPACE": "anycloud/svc",
        "ANYCLOUD_CHANGES": json.dumps({"table": "orders", "deadLetters": dlq, "attempts": "attempts", "maxReceives": max_receives}),
    }


def deliver(environment: dict[str, str], *records: dict) -> dict:
    context = LambdaContext(function_name="order-placed", invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:order-placed")
    return entry.instance(environment).handle({"Records": list(records)}, context)


def failures(*seqs: int) -> dict:
    return {"batchItemFailures": [{"itemIdentifier": str(s)} for s in seqs]}


def dead_letters(url: str) -> list[dict]:
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_record_becomes_the_portable_message():
    item = {"total": Decimal("34.99"), "count": Decimal("2"), "lines": [{"qty": Decimal("1")}], "status": "PENDING", "paid": False}
    message = change_message(record(7, "o-1", item), "orders", receive_count=3)
    assert message.id == "change-7" and message.receive_count == 3
    assert message.body == {"table": "orders", "key": {"order_id": "o-1"},
                            "item": {"order_id": "o-1", "total": 34.99, "count": 2, "lines": [{"qty": 1}], "status": "PENDING", "paid": False}}
    assert type(message.body["item"]["count"]) is int
    gone = change_message(record(8, "o-1", None, name="REMOVE"), "orders")
    assert gone.body == {"table": "orders", "key": {"order_id": "o-1"}, "item": None} and gone.receive_count == 1
    assert kind_of({"Records": [record(1, "o-1", {})]}) == STREAM


def test_a_batch_stops_at_its_first_failure_and_resumes_there_counted(aws):
    environment = env(aws["dlq"])
    out = deliver(environment, record(1, "a", {}), record(2, "b", {"fail": True}), record(3, "c", {}))
    assert out == failures(2, 3)  # c waits behind b: reported, not run
    assert [m.id for m in SEEN] == ["change-1", "change-2"]
    SEEN.clear()
    assert deliver(environment, record(2, "b", {"fail": True}), record(3, "c", {})) == failures(2, 3)
    assert [(m.id, m.receive_count) for m in SEEN] == [("change-2", 2)]  # the count read for the batch's first record
    (count,) = aws["ddb"].scan(TableName="attempts")["Items"]
    assert count["id"] == {"S": "change-2"} and count["attempts"] == {"N": "2"}
    assert ATTEMPTS_KEPT_S > 24 * 3600  # outlives the stream's record
    assert dead_letters(aws["dlq"]) == []


def test_the_last_failure_is_kept_whole_and_the_batch_goes_on(aws):
    environment = env(aws["dlq"], max_receives=2)
    poison = record(2, "b", {"fail": True})
    assert deliver(environment, record(1, "a", {}), poison, record(3, "c", {})) == failures(2, 3)
    SEEN.clear()
    assert deliver(environment, poison, record(3, "c", {})) == failures()  # b kept, c processed
    assert [(m.id, m.receive_count) for m in SEEN] == [("change-2", 2), ("change-3", 1)]
    (letter,) = dead_letters(aws["dlq"])
    assert letter == {"kind": "anycloud.change", "table": "orders", "id": "change-2", "receiveCount": 2,
                      "error": "RuntimeError: cannot process this change", "record": poison}
    SEEN.clear()  # the operator's redrive: the kept record, to the consumer again
    assert deliver(environment, letter["record"]) == failures()  # dead-lettered again at once: it still fails
    assert [m.receive_count for m in SEEN] == [3] and len(dead_letters(aws["dlq"])) == 1


def test_deletes_arrive_as_no_item(aws):
    assert deliver(env(aws["dlq"]), record(1, "a", {"status": "PENDING"}), record(2, "a", None, name="REMOVE")) == failures()
    assert [m.body["item"] for m in SEEN] == [{"order_id": "a", "status": "PENDING"}, None]


def test_a_stream_batch_for_a_function_that_consumes_no_stream_is_an_error(aws):
    environment = {k: v for k, v in env(aws["dlq"]).items() if k != "ANYCLOUD_CHANGES"}
    with pytest.raises(RuntimeError, match="ANYCLOUD_CHANGES"):
        deliver(environment, record(1, "a", {}))


def test_a_failure_that_cannot_be_counted_still_holds_the_rest_of_the_batch(aws, monkeypatch):
    def throttled(self, change):
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(ChangeConsumer, "_failed", throttled)  # the count fails: the change is retried uncounted
    out = deliver(env(aws["dlq"]), record(1, "a", {}), record(2, "b", {"fail": True}), record(3, "c", {}))
    assert out == failures(2, 3) and [m.id for m in SEEN] == ["change-1", "change-2"]
