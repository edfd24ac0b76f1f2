"""The orders service end to end on GCP, from the rendered dev stack (tests/support/gcp_stack.py).

Every function runs as the GCP entrypoint with exactly its rendered environment; Firestore is
the emulator, Pub/Sub and Secret Manager a REST stand-in, Pub/Sub's delivery and dead-lettering
are played by the harness from the rendered subscription, and the workflow is the deployed
program on the Workflows interpreter, claiming its execution id in Firestore. Cases as on AWS.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import SECRET_VALUE
from tests.support.firestore_emulator import emulator_client, firestore_emulator  # noqa: F401 (fixture)
from runtime.gcp.entry import Instance
from tests.support.gcp_stack import PROJECT, GcpStack, Pending
from tests.example.orders_requests import JSON, ORDER



@pytest.fixture
def stack(example_gcp_dev, firestore_emulator, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    running = GcpStack.create(example_gcp_dev, SECRET_VALUE)
    yield running
    running.close()
    # the emulator keeps state for the session: empty the rendered databases for the next test
    tables = {(t.database, t.collection) for i in running.instances.values() if isinstance(i, Instance) for t in i.resources.tables.values()}
    for database, collection in tables:
        for doc in emulator_client(database).collection(collection).stream():
            doc.reference.delete()


def orders(stack: GcpStack):
    env = next(i for i in stack.instances.values() if isinstance(i, Instance) and "orders" in i.resources.tables).resources.tables
    return env["orders"]


def place(stack: GcpStack, order=ORDER, key: str | None = None) -> dict:
    headers = {**JSON, **({"idempotency-key": key} if key else {})}
    return stack.api("POST", "/orders", order, headers=headers)


def task_calls(stack: GcpStack) -> list[str]:
    names = {url: name for url, name in stack.urls.items()}
    return [names[c.url] for e in stack.executions for c in e.calls if c.method == "POST"]


def test_happy_path_ends_completed(stack):
    assert stack.api("GET", "/health")["json"] == {"status": "ok"}
    created = place(stack)
    assert created["status"] == 202
    order_id = created["json"]["order_id"]
    stack.deliver()
    (execution,) = stack.executions
    assert execution.status == "SUCCEEDED", execution.error
    assert orders(stack).get({"order_id": order_id})["status"] == "COMPLETED"
    assert stack.api("GET", f"/orders/{order_id}")["json"]["status"] == "COMPLETED"
    assert {"reserve-stock", "charge-payment", "ship", "notify", "mark-completed"} <= set(task_calls(stack))


def test_a_declined_payment_releases_the_stock_and_fails(stack):
    order_id = place(stack, {**ORDER, "payment_token": "tok_chargeDeclined"})["json"]["order_id"]
    stack.deliver()
    (execution,) = stack.executions
    assert execution.status == "FAILED" and execution.error["error"] == "OrderFailed"
    assert orders(stack).get({"order_id": order_id})["status"] == "FAILED"
    calls = task_calls(stack)
    assert calls.count("charge-payment") == 1 and "release-stock" in calls and "ship" not in calls


@pytest.mark.parametrize("body, headers, status", [
    (b"{not json", JSON, 400),
    ({**ORDER, "items": []}, JSON, 400),
    ({**ORDER, "total_cents": 1}, JSON, 400),
    (b"x" * (64 * 1024 + 1), JSON, 413),
    ({**ORDER}, {"content-type": "text/plain"}, 415),
])
def test_invalid_bodies_get_4xx_and_leave_no_trace(stack, body, headers, status):
    answer = stack.api("POST", "/orders", body, headers=headers)
    assert answer["status"] == status and answer["json"]["error"]
    assert stack.queued() == [] and stack.published == 0


def test_a_poison_message_is_dead_lettered_after_max_receives(stack):
    topic = next(t for t, (fn, _) in stack.consumers.items() if fn == "process-order")
    stack.deliver([Pending(topic, {"order_id": "7d0c0a1e-0000-4000-8000-000000000099"}, "poison-1")])
    (dead,) = stack.dead_letters
    assert dead.attempts == 5 and stack.executions == []


def test_the_same_message_twice_starts_one_execution(stack):
    """Twice at the queue: the consumer's idempotency acknowledges the copy. Twice at the start
    topic (Eventarc redelivers, or a consumer published twice): the workflow's claim ends the
    second execution before any task."""
    place(stack)
    (message,) = stack.queued()
    stack.deliver([message, Pending(message.topic, message.body, "twin")])
    (execution,) = stack.executions
    assert execution.status == "SUCCEEDED"
    start = next(r for r in stack.standin.received if r.path.endswith("-start:publish"))
    topic = start.path[len("/v1/"):-len(":publish")]
    body = json.loads(base64.b64decode(start.body["messages"][0]["data"]))
    stack.deliver([Pending(topic, body, "redelivered")])
    assert stack.executions[1].result == {"duplicate": body["execution_id"]}
    assert task_calls(stack).count("reserve-stock") == 1


def test_the_same_post_with_the_same_key_creates_one_order(stack):
    first = place(stack, key="key-123")
    again = place(stack, key="key-123")
    assert first["status"] == again["status"] == 202 and first["json"] == again["json"]
    assert len(stack.queued()) == 1
