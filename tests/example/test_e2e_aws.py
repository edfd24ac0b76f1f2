"""The orders service end to end on moto, from the rendered dev stack.

The dev stack is rendered under the mock engine; its tables (the orders table with its DynamoDB
stream), queues and DLQs (with the rendered redrive), secret and state machine (the rendered
definition) are created in moto with the rendered names (tests/support/moto_stack.py), so every
function runs with its rendered environment unchanged. Routes get HTTP API 2.0 events; order-placed
gets the orders table's changes through the stream mapping stand-in (tests/support/aws_streams.py:
batches, filter, partial failures, bisection, retries, on-failure destination, as Lambda runs them);
process-order gets SQS batches received from the moto queue (deleted on success, left for
redelivery on a reported failure); moto's Step Functions interpreter invokes the task functions in
this process. Every function is `runtime.aws.entry.handler`.

The faults of issue 21 are at the end: each injects a process death, a refusal, a lost answer or a
concurrent duplicate at a real boundary (the adapter's table, queue and workflow clients, the
consumer, the task's answer) and asserts every accepted order final, every effect once, every
poison change kept.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from orders import consumer
from runtime.aws import entry
from runtime.aws.resources import DynamoTable, SqsQueue, StepFunctionsWorkflow
from tests.example.orders_requests import INVALID, JSON, ORDER, PUBLIC_FIELDS
from tests.support.aws_streams import lambda_record, read_records, records
from tests.support.inprocess_lambda import fast_step_functions
from tests.support.lambda_events import sqs_event_from_messages
from tests.support.faults import ProcessDied
from tests.support.moto_stack import RUNTIME_ENV, MotoStack



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
    """Deliver the orders table's changes to order-placed, the queue to process-order, then let
    every execution finish."""
    stack.changes["orders"].drain()
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
    stack.changes["orders"].drain()
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

    other = place(stack, {**ORDER, "customer_id": "cust-2"}, headers=headers, sub="user-1")
    assert other["statusCode"] == 409 and other["json"]["error"] == "IdempotencyKeyReused"
    assert len(stack.items("orders")) == 1
    assert len(stack.changes["orders"].pending()) == 1  # one write, one change

    (execution,) = fulfil(stack)
    assert execution["status"] == "SUCCEEDED"


# ------------------------------------------------------------------- faults (issue 21)
# Each ends with every accepted order in a final state, every effect once (the orders table's own
# stream is the ledger: one reservation, one charge, one shipment is one write of that status),
# and every poison item in a kept dead letter.

ORDER_PLACED = "orders-dev-order-placed"
PROCESS_ORDER = "orders-dev-process-order"


def refused(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "refused for a while"}}, operation)


def status_writes(stack: MotoStack) -> dict[str, Counter]:
    """Per order, how many times each status was written, from every record of the orders stream."""
    writes: dict[str, Counter] = defaultdict(Counter)
    for record in records(stack.streams["orders"]):
        image = record["dynamodb"].get("NewImage")
        if image:
            writes[image["order_id"]["S"]][image["status"]["S"]] += 1
    return writes


def taken(stack: MotoStack, url: str) -> list[dict]:
    """Everything a queue holds, removed from it (the test reads the dead letters)."""
    sqs, out = boto3.client("sqs"), []
    while batch := stack.receive(url):
        for m in batch:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def delivered(monkeypatch) -> list[tuple[str, str, int]]:
    """(order id, change id, receive count) of each change order-placed is given, in order."""
    seen: list[tuple[str, str, int]] = []
    placed = consumer.order_placed

    def recording(message, ctx):
        seen.append((message.body["key"]["order_id"], message.id, message.receive_count))
        return placed(message, ctx)

    monkeypatch.setattr(consumer, "order_placed", recording)
    return seen


def assert_settled(stack: MotoStack, accepted: set[str], declined: frozenset[str] = frozenset()) -> None:
    """Every accepted order, and only those, is final through one execution: COMPLETED, or (the
    `declined` ones) FAILED with its stock released; each status written once; nothing waits in a
    queue or a dead letter."""
    final = {o: "FAILED" if o in declined else "COMPLETED" for o in accepted}
    assert {o["order_id"]: o["status"] for o in stack.items("orders")} == final
    executions = stack.executions()
    assert sorted(e["name"] for e in executions) == sorted(accepted)
    assert {e["name"]: stack.wait(e["executionArn"])["status"] for e in executions} == {
        o: "FAILED" if o in declined else "SUCCEEDED" for o in accepted}
    for order_id, counts in status_writes(stack).items():
        path = ("RESERVED", "RELEASED", "FAILED") if order_id in declined else ("RESERVED", "PAID", "SHIPPED", "COMPLETED")
        assert counts == Counter(("PENDING", *path)), (order_id, counts)  # one reservation, charge, shipment, release
    stack.changes["orders"].drain()  # the later writes' changes: order-placed queues nothing for them
    for url in (stack.queues["orders"]["url"], stack.queues["orders"]["dlq_url"], stack.dead_letters["orders"]):
        assert stack.queue_depth(url) == 0, url


def test_a_process_dying_after_the_write_loses_no_order_and_makes_none_twice(stack, monkeypatch):
    """(a) create-order dies after the order's write, before answering: the client retries with
    its Idempotency-Key (refused while the dead invocation's claim holds, then answered with the
    same order), or never retries; the stream carries both orders to COMPLETED."""
    put = DynamoTable.put
    deaths = []

    def put_then_die(self, item, **kwargs):
        put(self, item, **kwargs)
        if self.table_name == stack.tables["orders"] and not deaths:
            deaths.append(item["order_id"])
            raise ProcessDied("killed after the order's write")

    monkeypatch.setattr(DynamoTable, "put", put_then_die)
    headers = {**JSON, "idempotency-key": "checkout-42"}
    with pytest.raises(ProcessDied):
        place(stack, headers=headers, sub="user-1")
    (written,) = deaths
    assert [o["order_id"] for o in stack.items("orders")] == [written]

    early = place(stack, headers=headers, sub="user-1")  # the dead invocation's claim still holds
    assert early["statusCode"] == 409 and early["json"]["error"] == "IdempotencyKeyReused"
    assert stack.deadlines_pass() == 1
    retried = place(stack, headers=headers, sub="user-1")
    assert retried["statusCode"] == 202 and retried["json"] == {"order_id": written, "status": "PENDING"}

    deaths.clear()
    with pytest.raises(ProcessDied):  # no key, and the client never retries
        place(stack, {**ORDER, "customer_id": "cust-2"})
    (abandoned,) = deaths

    fulfil(stack)
    assert_settled(stack, {written, abandoned})


def test_refusals_for_a_while_are_retried_through_the_stream_and_the_queue(stack, monkeypatch):
    """(b) the queue refuses order-placed's sends for three deliveries of the change, then the
    workflow start refuses process-order twice: both are retried (the change keeps its id, its
    receive count grows) and the order completes once."""
    send, start = SqsQueue.send, StepFunctionsWorkflow.start
    refusals = {"send": 3, "start": 2}

    def refusing_send(self, body, **kwargs):
        if refusals["send"]:
            refusals["send"] -= 1
            raise refused("SendMessage")
        return send(self, body, **kwargs)

    def refusing_start(self, execution_id, state):
        if refusals["start"]:
            refusals["start"] -= 1
            raise refused("StartExecution")
        return start(self, execution_id, state)

    seen = delivered(monkeypatch)
    monkeypatch.setattr(SqsQueue, "send", refusing_send)
    monkeypatch.setattr(StepFunctionsWorkflow, "start", refusing_start)
    order_id = place(stack)["json"]["order_id"]

    fulfil(stack)
    assert [(order, count) for order, _, count in seen] == [(order_id, n) for n in (1, 2, 3, 4)]
    assert len({change for _, change, _ in seen}) == 1  # the same change, redelivered
    assert [i.outcome for i in stack.calls(PROCESS_ORDER)] == ["ok"] * 3  # two reported failures, then the start
    assert refusals == {"send": 0, "start": 0}
    assert_settled(stack, {order_id})


def test_a_change_refused_past_max_receives_is_kept_whole_then_redriven(stack, monkeypatch):
    """(b, longer) the queue refuses every send: after max_receives deliveries the change goes to
    the stream's dead-letter queue whole (the stream record, its count, the error) and the shard
    moves on; the operator redrives it by invoking the consumer with the record."""
    mapping = stack.rendering.named("aws:lambda/eventSourceMapping:EventSourceMapping", "orders-changes-to-order-placed")
    max_receives = 5
    assert mapping.inputs["maximumRetryAttempts"] >= max_receives - 1
    send = SqsQueue.send
    down = [True]

    def refusing_send(self, body, **kwargs):
        if down[0]:
            raise refused("SendMessage")
        return send(self, body, **kwargs)

    monkeypatch.setattr(SqsQueue, "send", refusing_send)
    seen = delivered(monkeypatch)
    first = place(stack)["json"]["order_id"]
    second = place(stack, {**ORDER, "customer_id": "cust-2"})["json"]["order_id"]
    stack.changes["orders"].drain()
    # Each change five times, the second only once the first was dead-lettered (in the same batch).
    assert [(order, count) for order, _, count in seen] == [(first, n) for n in range(1, 6)] + [(second, n) for n in range(1, 6)]
    assert len(stack.calls(ORDER_PLACED)) == 2 * max_receives - 1
    letters = taken(stack, stack.dead_letters["orders"])
    assert [(x["kind"], x["table"], x["receiveCount"]) for x in letters] == [("anycloud.change", "orders", max_receives)] * 2
    assert [x["record"]["dynamodb"]["NewImage"]["order_id"]["S"] for x in letters] == [first, second]
    assert all(x["error"].startswith("ClientError") and x["id"] == x["record"]["eventID"] for x in letters)
    assert {o["order_id"]: o["status"] for o in stack.items("orders")} == {first: "PENDING", second: "PENDING"}

    down[0] = False  # the queue is back: the operator redrives what was kept
    for letter in letters:
        assert stack.invoke(ORDER_PLACED, {"Records": [letter["record"]]}) == {"batchItemFailures": []}
    fulfil(stack)
    assert_settled(stack, {first, second})


def test_a_consumer_dying_mid_batch_loses_nothing_and_does_nothing_twice(stack, monkeypatch):
    """(c) order-placed's process dies on the second change of its first batch (the first change's
    message already sent), then process-order's dies on the second message of its first batch:
    the stream mapping bisects and retries, SQS redelivers; every order completes once."""
    placed, process = consumer.order_placed, consumer.process_order
    calls = {"placed": 0, "process": 0}

    def dying(name, handler):
        def run(message, ctx):
            calls[name] += 1
            if calls[name] == 2:
                raise ProcessDied(f"{name} killed mid-batch")
            return handler(message, ctx)
        return run

    monkeypatch.setattr(consumer, "order_placed", dying("placed", placed))
    monkeypatch.setattr(consumer, "process_order", dying("process", process))
    ids = {place(stack, {**ORDER, "customer_id": f"cust-{n}"})["json"]["order_id"] for n in range(3)}

    stack.changes["orders"].drain()
    assert [i.outcome for i in stack.calls(ORDER_PLACED)][0] == "ProcessDied"
    assert stack.queue_depth(stack.queues["orders"]["url"]) == 4  # the first order's message twice: at least once
    with pytest.raises(ProcessDied):
        stack.deliver("orders")
    assert stack.deadlines_pass() == 1  # the dead invocation's claim on its message, by the time SQS redelivers
    fulfil(stack)
    assert_settled(stack, ids)


def test_lost_task_answers_are_retried_without_a_second_charge_or_release(stack):
    """(d) charge-payment charges, and its answer is lost on the way back to Step Functions: the
    task runs again, finds the order paid, and answers with the same payment. A declined order's
    compensation loses its answer too: release-stock runs again and releases once."""
    stack.lose_answers.update({"orders-dev-charge-payment": 1, "orders-dev-release-stock": 1})
    order_id = place(stack)["json"]["order_id"]
    declined = place(stack, {**ORDER, "customer_id": "cust-2", "payment_token": "tok_chargeDeclined"})["json"]["order_id"]
    fulfil(stack)
    outcomes = task_outcomes(stack)
    assert outcomes.count(("charge-payment", "ok")) == 2 and outcomes.count(("charge-payment", "PaymentDeclined")) == 1
    assert outcomes.count(("release-stock", "ok")) == 2
    (execution,) = [e for e in stack.executions() if e["name"] == order_id]
    payment = json.loads(stack.wait(execution["executionArn"])["output"])["payment"]
    assert payment["payment_id"].startswith("pay_") and payment["amount_cents"] == 3499
    assert stack.api("GET", f"/orders/{declined}")["json"]["failure_reason"] == "PaymentDeclined"
    assert_settled(stack, {order_id, declined}, declined=frozenset({declined}))


def test_the_same_change_and_message_delivered_twice_at_once_run_once_in_effect(stack, monkeypatch):
    """(e) while order-placed sends, a second execution environment gets the same change; while
    process-order starts the workflow, a second one gets the same message (its idempotency claim
    is held: reported failed, redelivered, then found done)."""
    order_id = place(stack)["json"]["order_id"]
    arn = stack.streams["orders"]
    event = {"Records": [lambda_record(r, arn) for r in stack.changes["orders"].pending()]}
    send, start = SqsQueue.send, StepFunctionsWorkflow.start
    overlapped: list[dict] = []

    overlapping = []

    def send_while_the_same_change_runs(self, body, **kwargs):
        if not overlapping:
            overlapping.append(ORDER_PLACED)
            overlapped.append(stack.invoke(ORDER_PLACED, event, instance=2))
        return send(self, body, **kwargs)

    monkeypatch.setattr(SqsQueue, "send", send_while_the_same_change_runs)
    assert stack.invoke(ORDER_PLACED, event) == {"batchItemFailures": []}
    assert overlapped == [{"batchItemFailures": []}]
    stack.changes["orders"].drain()  # the mapping delivers it too: three deliveries, three messages
    assert stack.queue_depth(stack.queues["orders"]["url"]) == 3

    (message,) = stack.receive(stack.queues["orders"]["url"], batch_size=1)
    duplicate = sqs_event_from_messages([message], stack.queues["orders"]["arn"])

    def start_while_the_same_message_runs(self, execution_id, state):
        if len(overlapping) == 1:
            overlapping.append(PROCESS_ORDER)
            overlapped.append(stack.invoke(PROCESS_ORDER, duplicate, instance=2))
        return start(self, execution_id, state)

    monkeypatch.setattr(StepFunctionsWorkflow, "start", start_while_the_same_message_runs)
    assert stack.invoke(PROCESS_ORDER, duplicate) == {"batchItemFailures": []}
    assert overlapped[1] == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}  # claim held: retried
    fulfil(stack)
    assert_settled(stack, {order_id})


def test_a_change_that_kills_its_consumer_every_time_is_kept_by_the_mapping_then_redriven(stack, monkeypatch):
    """(c, poison) order-placed's process dies on one order's change every time, so the adapter
    never counts it: the mapping bisects down to that change, retries it its budget, and sends
    Lambda's invocation record (metadata: shard, sequence numbers) to the stream's dead-letter
    queue; the other orders go on. Within the stream's 24 hours the operator reads the record back
    by its sequence numbers and redrives it."""
    placed = consumer.order_placed
    poison: list[str] = []

    def dies_on_the_poison(message, ctx):
        if message.body["key"]["order_id"] in poison:
            raise ProcessDied("out of memory on this order")
        return placed(message, ctx)

    monkeypatch.setattr(consumer, "order_placed", dies_on_the_poison)
    ids = [place(stack, {**ORDER, "customer_id": f"cust-{n}"})["json"]["order_id"] for n in range(3)]
    poison.append(ids[1])
    mapping = stack.changes["orders"]
    mapping.drain()
    budget = stack.rendering.named("aws:lambda/eventSourceMapping:EventSourceMapping",
                                   "orders-changes-to-order-placed").inputs["maximumRetryAttempts"]
    deaths = [i for i in stack.calls(ORDER_PLACED) if i.outcome == "ProcessDied"]
    assert len(deaths) == 2 + 1 + budget  # the batch of 3, its half of 2 (bisected), then the change alone and its retries

    (record,) = taken(stack, stack.dead_letters["orders"])
    info = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted" and record["responseContext"]["functionError"] == "Unhandled"
    assert (info["batchSize"], info["streamArn"]) == (1, stack.streams["orders"]) and "Records" not in json.dumps(record)
    kept = read_records(info["streamArn"], info["startSequenceNumber"], info["endSequenceNumber"])
    assert [r["dynamodb"]["NewImage"]["order_id"]["S"] for r in kept] == [ids[1]]

    poison.clear()  # fixed: the operator redrives what the stream still holds
    assert stack.invoke(ORDER_PLACED, {"Records": kept}) == {"batchItemFailures": []}
    fulfil(stack)
    assert_settled(stack, set(ids))
