"""The orders service end to end on GCP, from the rendered dev stack (tests/support/gcp_stack.py).

Every function runs as the GCP entrypoint with exactly its rendered environment; Firestore is
the emulator, Pub/Sub and Secret Manager a REST stand-in, the orders table's changes reach
order-placed as the rendered Eventarc trigger delivers them (tests/support/eventarc_standin.py),
Pub/Sub's delivery and dead-lettering are played by the harness from the rendered subscription,
and the workflow is the deployed program on the Workflows interpreter, claiming its execution id
in Firestore. Then the faults of issue 21: each ends with every accepted order in a final state,
nothing done twice in effect (one PAID and one SHIPPED transition, one execution that runs
tasks), and every poison item kept in a dead-letter store.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time

import pytest

from runtime.gcp.entry import Instance
from tests.conftest import SECRET_VALUE
from tests.example.orders_requests import JSON, ORDER
from tests.support.faults import Dying, ProcessDied
from tests.support.firestore_emulator import emulator_client, firestore_emulator  # noqa: F401 (fixture)
from tests.support.gcp_stack import PROJECT, GcpStack, Pending


@pytest.fixture
def stack(example_gcp_dev, firestore_emulator, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    running = GcpStack.create(example_gcp_dev, SECRET_VALUE)
    instances = [i for i in running.instances.values() if isinstance(i, Instance)]
    stores = {(t.database, t.collection) for i in instances for t in i.resources.tables.values()}
    stores |= {(s.deliveries, "items") for i in instances for s in i.streams}
    yield running
    running.close()
    # the emulator keeps state for the session: empty the rendered databases for the next test
    for database, collection in stores:
        for doc in emulator_client(database).collection(collection).stream():
            doc.reference.delete()


def instance(stack: GcpStack, name: str) -> Instance:
    return stack.instances[name]


def orders(stack: GcpStack):
    return instance(stack, "get-order").resources.tables["orders"]


def place(stack: GcpStack, order=ORDER, key: str | None = None) -> dict:
    headers = {**JSON, **({"idempotency-key": key} if key else {})}
    return stack.api("POST", "/orders", order, headers=headers)


def task_calls(stack: GcpStack) -> list[str]:
    return [stack.urls[c.url] for e in stack.executions for c in e.calls if c.method == "POST"]


def ran(stack: GcpStack) -> list:
    """Executions that ran the workflow (not ended at once as a duplicate of a claimed id)."""
    return [e for e in stack.executions if not (isinstance(e.result, dict) and "duplicate" in e.result)]


def transitions(stack: GcpStack, order_id: str, status: str) -> int:
    """How many committed writes moved the order into `status` (one charge is one move to PAID)."""
    count = 0
    for _, document, data in stack.eventarc.log:
        if not document.startswith("orders/") or "value" not in data or not data.value.name:
            continue
        new = data.value.fields
        old = data.old_value.fields if "old_value" in data and data.old_value.name else {}
        if new["order_id"].string_value == order_id and new["status"].string_value == status and \
                ("status" not in old or old["status"].string_value != status):
            count += 1
    return count


def completed_once(stack: GcpStack, order_id: str) -> None:
    assert orders(stack).get({"order_id": order_id})["status"] == "COMPLETED"
    assert transitions(stack, order_id, "PAID") == 1 and transitions(stack, order_id, "SHIPPED") == 1
    assert [e.status for e in ran(stack) if e.calls and order_id in json.dumps(e.calls[0].body)] == ["SUCCEEDED"]
    assert stack.eventarc.discarded == [] and stack.dead_letters == [] and stack.kept == []



def crash_after_order_write(stack: GcpStack) -> Instance:
    """create-order's process dies right after it writes the order (before storing its response)."""
    creator = instance(stack, "create-order")
    state = {"dead": False}
    tables = {name: Dying(t, "put" if name == "orders" else "", state) for name, t in creator.resources.tables.items()}
    creator.resources = dataclasses.replace(creator.resources, tables=tables)
    creator.idempotency = tables["idempotency"]
    return creator


# ----------------------------------------------------------------------------- the service


def test_happy_path_ends_completed(stack):
    assert stack.api("GET", "/health")["json"] == {"status": "ok"}
    created = place(stack)
    assert created["status"] == 202
    order_id = created["json"]["order_id"]
    stack.deliver()
    completed_once(stack, order_id)
    assert stack.api("GET", f"/orders/{order_id}")["json"]["status"] == "COMPLETED"
    assert {"reserve-stock", "charge-payment", "ship", "notify", "mark-completed"} <= set(task_calls(stack))
    # order-placed saw the order's writes through Eventarc; only the PENDING one queued anything
    assert [e.answers for e in stack.eventarc.delivered][0] == [204]
    assert len([r for r in stack.standin.received if r.path.endswith("-orders:publish")]) == 1


def test_a_declined_payment_releases_the_stock_and_fails(stack):
    order_id = place(stack, {**ORDER, "payment_token": "tok_chargeDeclined"})["json"]["order_id"]
    stack.deliver()
    (execution,) = stack.executions
    assert execution.status == "FAILED" and execution.error["error"] == "OrderFailed"
    assert orders(stack).get({"order_id": order_id})["status"] == "FAILED"
    calls = task_calls(stack)
    assert calls.count("charge-payment") == 1 and "release-stock" in calls and "ship" not in calls
    assert transitions(stack, order_id, "RELEASED") == 1 and transitions(stack, order_id, "PAID") == 0


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
    assert stack.eventarc.poll() == [] and stack.queued() == [] and stack.published == 0


def test_a_poison_message_is_dead_lettered_after_max_receives(stack):
    topic = next(t for t, (fn, _) in stack.consumers.items() if fn == "process-order")
    stack.deliver([Pending(topic, {"order_id": "7d0c0a1e-0000-4000-8000-000000000099"}, "poison-1")])
    (dead,) = stack.dead_letters
    assert dead.attempts == 5 and stack.executions == []


def test_the_same_post_with_the_same_key_creates_one_order(stack):
    first = place(stack, key="key-123")
    again = place(stack, key="key-123")
    assert first["status"] == again["status"] == 202 and first["json"] == again["json"]
    stack.deliver()
    completed_once(stack, first["json"]["order_id"])


def test_a_delete_is_not_delivered_without_deletes(stack):
    """The orders stream does not ask for deletes: the delete event is acknowledged, nothing sent."""
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    sent = stack.published
    orders(stack).delete({"order_id": order_id})
    stack.deliver()
    assert stack.eventarc.delivered[-1].answers == [204] and stack.published == sent


# ------------------------------------------------------------------------ faults (issue 21)


def test_a_the_process_dies_after_the_write_and_the_client_never_retries(stack):
    crash_after_order_write(stack)
    with pytest.raises(ProcessDied):
        place(stack, key="key-a1")
    (order,) = [d.to_dict() for d in emulator_client(orders(stack).database).collection("orders").stream()]
    stack.deliver()
    completed_once(stack, order["order_id"])


def test_a_the_process_dies_after_the_write_and_the_client_retries_with_its_key(stack):
    creator = instance(stack, "create-order")
    original_tables, original_idempotency = creator.resources, creator.idempotency
    crash_after_order_write(stack)
    with pytest.raises(ProcessDied):
        place(stack, key="key-a2")
    creator.resources, creator.idempotency = original_tables, original_idempotency  # a new process
    assert place(stack, key="key-a2")["status"] == 409  # the dead request's record holds the key for its timeout
    (record,) = [d for d in emulator_client(creator.idempotency.database).collection("idempotency").stream()
                 if d.to_dict()["id"].startswith("create-order#")]
    creator.idempotency.update({"id": record.to_dict()["id"]}, {"expiration": int(time.time()) - 1})  # its time passes
    retried = place(stack, key="key-a2")
    assert retried["status"] == 202
    assert len(list(emulator_client(orders(stack).database).collection("orders").stream())) == 1
    stack.deliver()
    completed_once(stack, retried["json"]["order_id"])


def test_b_the_queue_refuses_for_a_while(stack):
    """order-placed's publish is refused (403: IAM not yet propagated) three times: Eventarc retries the
    change with back-off until it is sent."""
    stack.standin.refuse("-orders:publish", 3, 403)
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    first = stack.eventarc.delivered[0]
    assert first.answers == [500, 500, 500, 204]
    completed_once(stack, order_id)


def test_b_the_workflow_start_refuses_for_a_while(stack):
    stack.standin.refuse("/executions", 2, 503)
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    completed_once(stack, order_id)


def test_b_a_queue_refusing_past_max_receives_keeps_the_change(stack):
    """The change is delivered max_receives (5) times, then kept in the stream's dead-letter topic and
    acknowledged; Eventarc discards nothing."""
    stack.standin.refuse("-orders:publish", 5, 403)
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    (event,) = [e for e in stack.eventarc.delivered if e.answers[0] != 204]
    assert event.answers == [500, 500, 500, 500, 204]
    (kept,) = stack.kept
    assert kept.topic.endswith("-orders-changes-dlq") and kept.message_id == event.id
    record = kept.body
    assert record["change"] == event.id and record["key"] == {"order_id": order_id} and record["attempts"] == 5
    assert record["item"]["status"] == "PENDING" and record["error"] == "Forbidden"
    assert stack.eventarc.discarded == [] and stack.executions == []


def test_c_the_consumers_crash_mid_batch(stack):
    """Three orders; order-placed dies after sending the second one's message, process-order dies
    after starting the third one's workflow: each is redelivered and each order completes once."""
    placed = [place(stack, {**ORDER, "customer_id": f"cust-{i}"})["json"]["order_id"] for i in range(3)]
    sender = instance(stack, "order-placed")
    real_queue = sender.resources.queues["orders"]

    class DiesAfterSecond:
        sent = 0

        def send(self, body, **kwargs):
            result = real_queue.send(body, **kwargs)
            DiesAfterSecond.sent += 1
            if DiesAfterSecond.sent == 2:
                raise ProcessDied
            return result

    sender.resources = dataclasses.replace(sender.resources, queues={"orders": DiesAfterSecond()})
    starter = instance(stack, "process-order")
    real_start = starter.resources.workflows["fulfil-order"]

    class DiesAfterStarting:
        def start(self, execution_id, state):
            real_start.start(execution_id, state)
            if execution_id == placed[2] and not getattr(self, "died", False):
                self.died = True
                raise ProcessDied
            return True

    starter.resources = dataclasses.replace(starter.resources, workflows={"fulfil-order": DiesAfterStarting()})
    stack.deliver()
    assert any(0 in e.answers for e in stack.eventarc.delivered)  # the crash was seen and retried
    for order_id in placed:
        completed_once(stack, order_id)


def test_d_a_tasks_answer_is_lost_and_the_task_is_retried(stack):
    stack.lost_answers["charge-payment"] = 1
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    assert task_calls(stack).count("charge-payment") == 2
    completed_once(stack, order_id)


def test_e_the_same_change_and_the_same_message_twice_at_once(stack):
    order_id = place(stack)["json"]["order_id"]
    (event,) = stack.eventarc.poll()
    answers = stack.eventarc.twice_at_once(event)
    assert 204 in answers
    (message, *more) = stack.queued()
    twin = Pending(message.topic, message.body, "twin")
    stack.deliver([message, twin, *more])
    completed_once(stack, order_id)
    assert len([e for e in stack.executions if e.calls]) == 1


def test_e_a_start_redelivered_ends_at_the_claim(stack):
    """Twice at the start topic (a consumer published twice): the workflow's claim ends the second
    execution before any task."""
    place(stack)
    stack.deliver()
    start = next(r for r in stack.standin.received if r.path.endswith("-start:publish"))
    topic = start.path[len("/v1/"):-len(":publish")]
    body = json.loads(base64.b64decode(start.body["messages"][0]["data"]))
    stack.deliver([Pending(topic, body, "redelivered")])
    assert stack.executions[-1].result == {"duplicate": body["execution_id"]}
    assert task_calls(stack).count("reserve-stock") == 1


def test_an_older_state_delivered_late_is_superseded(stack):
    """Eventarc keeps no order: the PENDING state arriving after a newer one was delivered is
    acknowledged without queueing anything."""
    order_id = place(stack)["json"]["order_id"]
    (created,) = stack.eventarc.poll()
    stack.eventarc.pending.remove(created)
    orders(stack).update({"order_id": order_id}, {"status": "FAILED", "failure_reason": "cancelled"})
    stack.eventarc.run()
    stack.eventarc.pending.append(created)
    stack.eventarc.run()
    assert created.answers == [204] and stack.published == 0


def test_a_delayed_send_is_published_when_its_time_comes(stack):
    """queue.send(delay_s=...) from a deployed function: a Cloud Tasks task scheduled then, pinned by the
    rendered delays queue to the orders topic; the clock reaches it and the order is processed."""
    order_id = place(stack)["json"]["order_id"]
    sender = instance(stack, "order-placed").resources.queues["orders"]
    sent_at = stack.clock()
    task = sender.send({"order_id": order_id}, delay_s=600)
    assert task.startswith(sender.delays + "/tasks/")
    (pending,) = stack.tasks.tasks
    assert pending.due == pytest.approx(sent_at + 600)
    stack.deliver()
    (dispatched,) = stack.tasks.dispatched
    assert dispatched.answers == [200] and stack.clock() >= sent_at + 600
    assert json.loads(base64.b64decode(json.loads(base64.b64decode(dispatched.request["body"]))["messages"][0]["data"])) \
        == {"order_id": order_id}
    completed_once(stack, order_id)


def test_an_unreadable_change_event_is_kept_at_once(stack):
    """Data that is no DocumentEventData can never be read: kept in the stream's dead-letter topic on the
    first delivery, not retried for a day and discarded."""
    (trigger,) = stack.eventarc.triggers
    headers = {"ce-id": "garbled-1", "ce-type": trigger.event_type, "ce-database": trigger.database,
               "ce-document": "orders/sx", "ce-time": "2026-01-01T00:00:00Z", "content-type": "application/protobuf"}
    status, _, _ = instance(stack, "order-placed").handle("POST", "/", {}, headers, b"\xff\x00 not protobuf")
    assert status == 204
    assert stack.queued() == []
    (kept,) = stack.kept
    assert kept.body["error"] == "MalformedEvent" and kept.body["attributes"]["ce-id"] == "garbled-1"
    assert base64.b64decode(kept.body["data"]) == b"\xff\x00 not protobuf"
