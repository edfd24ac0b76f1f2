"""The orders service end to end on moto, from the rendered dev stack.

The dev stack is rendered under the mock engine; its tables, queue and DLQ (with the rendered
redrive), secret and state machine (the rendered definition) are created in moto with the
rendered names (tests/support/moto_stack.py), so every function runs with its rendered
environment unchanged. Routes get HTTP API 2.0 events, the consumer gets SQS batches received
from the moto queue (deleted on success, left for redelivery on a reported failure), and moto's
Step Functions interpreter invokes the task functions in this process. Every function is
`runtime.aws.entry.handler`.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from moto import mock_aws

from runtime.aws import entry
from tests.support.inprocess_lambda import fast_step_functions
from tests.support.moto_stack import RUNTIME_ENV, MotoStack
from tests.example.orders_requests import INVALID, JSON, ORDER, PUBLIC_FIELDS



@pytest.fixture
def stack(example_dev, monkeypatch):
    for var, value in RUNTIME_ENV.items():
        monkeypatch.setenv(var, value)
    entry.reset()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), fast_step_functions():
        moto_stack = MotoStack.create(example_dev)
        statuses: list[tuple[str, str | None]] = []

        def status_after(function: str, state: dict) -> None:
            order_id = state["order"]["order_id"]
            item = boto3.client("dynamodb").get_item(TableName=moto_stack.tables["orders"], Key={"order_id": {"S": order_id}})
            statuses.append((function.removeprefix("orders-dev-"), item.get("Item", {}).get("status", {}).get("S")))

        moto_stack.after_task = status_after
        moto_stack.statuses = statuses
        with moto_stack.running():
            yield moto_stack
    entry.reset()


def place(stack: MotoStack, order=ORDER, headers=JSON, **kwargs) -> dict:
    return stack.api("POST", "/orders", order, headers=headers, **kwargs)


def fulfil(stack: MotoStack) -> list[dict]:
    """Deliver the queue to the consumer, then let every execution finish."""
    stack.drain("orders")
    return [stack.wait(e["executionArn"]) for e in stack.executions()]


def task_outcomes(stack: MotoStack) -> list[tuple[str, str]]:
    return [(i.function.removeprefix("orders-dev-"), i.outcome) for i in stack.invocations if i.kind == "task"]


# ---------------------------------------------------------------------------------- cases


def test_happy_path_ends_completed(stack):
    assert stack.api("GET", "/health")["json"] == {"status": "ok"}
    created = place(stack)
    assert created["statusCode"] == 202
    order_id = created["json"]["order_id"]
    assert created["json"] == {"order_id": order_id, "status": "PENDING"}
    assert created["headers"]["location"] == f"/orders/{order_id}"
    assert uuid.UUID(order_id).version == 4
    assert stack.api("GET", f"/orders/{order_id}")["json"]["status"] == "PENDING"

    (execution,) = fulfil(stack)
    assert execution["status"] == "SUCCEEDED"
    assert execution["name"] == order_id
    output = json.loads(execution["output"])
    assert output["payment"]["amount_cents"] == 3499 and output["payment"]["payment_id"].startswith("pay_")
    # The status after each task; ship and notify are parallel branches, in either order.
    assert stack.statuses[:2] == [("reserve-stock", "RESERVED"), ("charge-payment", "PAID")]
    assert {f for f, _ in stack.statuses[2:4]} == {"ship", "notify"} and ("ship", "SHIPPED") in stack.statuses
    assert stack.statuses[4:] == [("mark-completed", "COMPLETED")]

    got = stack.api("GET", f"/orders/{order_id}")
    assert got["statusCode"] == 200
    view = got["json"]
    assert view["status"] == "COMPLETED" and view["total_cents"] == 3499 and view["currency"] == "EUR"
    assert view["shipment"]["tracking_id"] == output["fulfilment"][0]["shipment"]["tracking_id"]
    assert set(view) == PUBLIC_FIELDS | {"shipment"}  # never payment_token, never expires_at
    assert stack.queue_depth(stack.queues["orders"]["url"]) == 0
    assert stack.queue_depth(stack.queues["orders"]["dlq_url"]) == 0


def test_declined_payment_releases_stock_and_fails(stack):
    created = place(stack, {**ORDER, "payment_token": "tok_chargeDeclined"})
    order_id = created["json"]["order_id"]
    (execution,) = fulfil(stack)
    assert execution["status"] == "FAILED" and execution["error"] == "OrderFailed"
    assert task_outcomes(stack) == [
        ("reserve-stock", "ok"),
        ("charge-payment", "PaymentDeclined"),  # the Lambda errorType the Catch matched; not retried
        ("release-stock", "ok"),
        ("mark-failed", "ok"),
    ]
    assert stack.statuses == [("reserve-stock", "RESERVED"), ("release-stock", "RELEASED"), ("mark-failed", "FAILED")]
    view = stack.api("GET", f"/orders/{order_id}")["json"]
    assert view["status"] == "FAILED" and view["failure_reason"] == "PaymentDeclined"
    assert "shipment" not in view


def test_out_of_stock_fails_without_charging(stack):
    order = {**ORDER, "items": [{"sku": "out-of-stock", "quantity": 1, "unit_price_cents": 100}]}
    order_id = place(stack, order)["json"]["order_id"]
    (execution,) = fulfil(stack)
    assert execution["status"] == "FAILED" and execution["error"] == "OrderFailed"
    assert task_outcomes(stack) == [("reserve-stock", "OutOfStock"), ("mark-failed", "ok")]
    view = stack.api("GET", f"/orders/{order_id}")["json"]
    assert view["status"] == "FAILED" and view["failure_reason"] == "OutOfStock"




def test_invalid_bodies_get_4xx_and_leave_no_trace(stack):
    for name, (body, headers, status) in INVALID.items():
        out = place(stack, body, headers)
        assert out["statusCode"] == status, (name, out["body"])
        assert set(out["json"]) >= {"error", "message", "request_id"}, name
        assert "Traceback" not in out["body"] and "pydantic" not in out["body"], name
    bad_value = place(stack, {**ORDER, "payment_token": "4111111111111111"})
    assert "4111111111111111" not in bad_value["body"]  # field names only, never values
    assert [f["field"] for f in bad_value["json"]["fields"]] == ["payment_token"]
    assert stack.items("orders") == [] and stack.items("idempotency") == []
    assert stack.queue_depth(stack.queues["orders"]["url"]) == 0
    assert stack.api("GET", "/orders/not-a-uuid")["statusCode"] == 404
    assert stack.api("GET", f"/orders/{uuid.uuid4()}")["json"]["error"] == "NotFound"


def test_poison_messages_are_retried_then_dead_lettered(stack):
    queue = stack.queues["orders"]
    max_receives = json.loads(stack.rendering.named("aws:sqs/queue:Queue", "orders").inputs["redrivePolicy"])["maxReceiveCount"]
    assert max_receives == 5
    poison = ["not json {", json.dumps({"order_id": "not-a-uuid"}), json.dumps({"order_id": str(uuid.uuid4())}), json.dumps({"id": 1})]
    sqs = boto3.client("sqs")
    for body in poison:
        sqs.send_message(QueueUrl=queue["url"], MessageBody=body)

    stack.drain("orders")
    consumer = [i for i in stack.invocations if i.kind == "sqs"]
    assert len(consumer) == max_receives  # each batch held all four; each was received five times
    assert all(i.outcome == "ok" for i in consumer)  # partial failures, never a function error
    assert stack.queue_depth(queue["url"]) == 0
    dead = []
    while batch := stack.receive(queue["dlq_url"]):
        dead += batch
        for m in batch:
            sqs.delete_message(QueueUrl=queue["dlq_url"], ReceiptHandle=m["ReceiptHandle"])
    assert sorted(m["Body"] for m in dead) == sorted(poison)
    assert stack.executions() == [] and stack.items("orders") == []


def test_the_same_message_twice_starts_one_execution_and_writes_one_order(stack):
    order_id = place(stack)["json"]["order_id"]
    queue = stack.queues["orders"]
    (message,) = stack.receive(queue["url"], visibility=0)
    boto3.client("sqs").send_message(QueueUrl=queue["url"], MessageBody=message["Body"])  # a producer's retry

    assert stack.deliver("orders", delete=False) == {"batchItemFailures": []}  # processed, the delete is lost
    stack.drain("orders")  # the redelivery, and the copy
    assert len([i for i in stack.invocations if i.kind == "sqs"]) >= 2
    (execution,) = stack.executions()
    assert execution["name"] == order_id
    assert stack.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    assert [o["order_id"] for o in stack.items("orders")] == [order_id]
    assert [f for f, _ in task_outcomes(stack)].count("reserve-stock") == 1


def test_the_same_post_with_the_same_key_creates_one_order(stack):
    headers = {**JSON, "idempotency-key": "order-attempt-1"}
    first = place(stack, headers=headers, sub="user-1")
    again = place(stack, headers=headers, sub="user-1")
    assert first["statusCode"] == again["statusCode"] == 202
    assert first["json"] == again["json"]
    assert first["headers"]["location"] == again["headers"]["location"]
    assert len(stack.items("orders")) == 1
    assert stack.queue_depth(stack.queues["orders"]["url"]) == 1

    other = place(stack, {**ORDER, "customer_id": "cust-2"}, headers=headers, sub="user-1")
    assert other["statusCode"] == 409 and other["json"]["error"] == "IdempotencyKeyReused"
    assert len(stack.items("orders")) == 1 and stack.queue_depth(stack.queues["orders"]["url"]) == 1

    (execution,) = fulfil(stack)
    assert execution["status"] == "SUCCEEDED"
