"""The orders service end to end on Azure, from the rendered dev stack (tests/support/azure_stack.py).

Every Function App runs the Azure entry's registered functions with exactly its rendered app
settings (endpoints mapped to local stand-ins, Key Vault references resolved as App Service
does); queues are Azurite, with the Functions host's queue listener (retries, `maxDequeueCount`,
the poison queue) played from each app's settings; Cosmos DB is the REST stand-in under the real
azure-cosmos client, and the orders table's changes reach order-placed as its registered Cosmos
DB trigger gets them from the stand-in's change feed (leases in the rendered lease container,
the registered retry policy, checkpoints: tests/support/azure_change_feed.py); API Management and
App Service authentication are played from the rendered policies and auth settings; the workflow
is the generic orchestrator replayed on the real azure-functions-durable SDK, started by the
orchestrator app's start trigger through a real Durable client. Cases as on AWS and GCP, then
the faults of issue 21: each ends with every accepted order in a final state, nothing done twice
in effect (one PAID and one SHIPPED write, one orchestration that runs tasks) and every poison
item kept in a dead-letter queue.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import SECRET_VALUE
from tests.support.faults import Dying, ProcessDied
from tests.support.azure_stack import AzureStack, bearer
from tests.support.azurite import azurite  # noqa: F401 (fixture)
from tests.example.orders_requests import INVALID as INVALID_ORDERS
from tests.example.orders_requests import INVALID_WITH_A_KEY, JSON, ORDER, PUBLIC_FIELDS

ALL_QUEUES = ("orders", "orders-poison", "fulfil-order-start", "fulfil-order-start-poison", "orders-changes-poison")


@pytest.fixture
def stack(example_azure_dev, azurite):  # noqa: F811
    running = AzureStack.create(example_azure_dev, azurite)
    yield running
    running.close()


def place(stack: AzureStack, order=ORDER, headers=JSON) -> dict:
    return stack.api("POST", "/orders", order, headers=headers)


def orders(stack: AzureStack) -> list[dict]:
    return stack.cosmos.documents("tables", "orders")


def idempotency(stack: AzureStack) -> list[dict]:
    return stack.cosmos.documents("tables", "idempotency")


def audience(stack: AzureStack) -> str:
    (application,) = stack.rendering.of_type("azuread:index/application:Application")
    return application.outputs["clientId"]


def test_happy_path_ends_completed(stack):
    health = stack.api("GET", "/health")
    assert health["status"] == 200 and health["json"] == {"status": "ok"}
    assert health["headers"]["x-request-id"] == health["request_id"]  # API Management's request id
    created = place(stack)
    assert created["status"] == 202
    order_id = created["json"]["order_id"]
    assert created["json"] == {"order_id": order_id, "status": "PENDING"}
    assert created["headers"]["location"] == f"/orders/{order_id}" and uuid.UUID(order_id).version == 4
    assert stack.api("GET", f"/orders/{order_id}")["json"]["status"] == "PENDING"
    assert stack.peek("orders") == []  # create-order made one write: the order
    assert stack.cosmos.documents("tables", "orders_leases") == []  # order-placed's trigger never ran yet

    stack.deliver_changes()  # its first start reads the feed from the beginning: the order is there
    (invocation,) = stack.invocations
    (stored,) = orders(stack)
    assert (invocation.app, invocation.changes, invocation.retry_count, invocation.outcome) == \
        ("order-placed", [f"{stored['id']}:1"], 0, "ok")
    (lease,) = stack.cosmos.documents("tables", "orders_leases")
    assert (lease["LeaseToken"], lease["ContinuationToken"]) == ("0", '"1"')  # checkpointed after the change
    assert [json.loads(t) for t in stack.peek("orders")] == [{"order_id": order_id}]
    (queued,) = stack.queue_client("orders").peek_messages()
    assert queued.expires_on - queued.inserted_on == timedelta(days=4)  # the queue's declared retention

    stack.deliver()
    (run,) = stack.orchestrations
    assert run.instance_id == order_id and run.status == "Completed", run.error
    assert run.execution.output["payment"]["amount_cents"] == 3499
    calls = run.task_calls
    assert calls[:2] == ["reserve-stock", "charge-payment"] and sorted(calls[2:4]) == ["notify", "ship"]
    assert calls[4:] == ["mark-completed"]
    # Every durable HTTP call carried a token for the backends' audience, and each task app's
    # App Service authentication admitted the orchestrator's identity.
    assert run.execution.tokens == [audience(stack)] * len(calls)
    assert {status for caller, _, _, status in stack.http_calls if caller == "fulfil-order-run"} == {200}

    got = stack.api("GET", f"/orders/{order_id}")
    assert got["status"] == 200
    view = got["json"]
    assert view["status"] == "COMPLETED" and view["total_cents"] == 3499 and view["currency"] == "EUR"
    assert view["shipment"]["tracking_id"] == run.execution.output["fulfilment"][0]["shipment"]["tracking_id"]
    assert set(view) == PUBLIC_FIELDS | {"shipment"}
    (stored,) = orders(stack)
    assert stored["status"] == "COMPLETED" and stored["ttl"] > 0  # the TTL attribute as Cosmos' per-item ttl
    assert all(stack.peek(q) == [] for q in ALL_QUEUES)
    assert [(d.app, d.outcome) for d in stack.deliveries] == [("process-order", "ok"), ("fulfil-order-run", "ok")]
    # every later write of the order reached order-placed too (the state, not the delta), queueing nothing
    assert {i.outcome for i in stack.invocations} == {"ok"} and len(stack.invocations) > 1


def principal(stack: AzureStack, identity: str) -> str:
    (found,) = [i for i in stack.rendering.of_type("azure-native:managedidentity:UserAssignedIdentity")
                if i.name == f"{identity}-identity"]
    return found.outputs["principalId"]


def test_were_app_service_authentication_to_let_everyone_through_the_apps_refuse_all_but_their_callers(stack):
    """The second layer alone: each app verifies the token itself (Flex Consumption may not block
    callers at App Service authentication)."""
    gateway, orchestrator = principal(stack, "gateway"), principal(stack, "fulfil-order-run")
    token = stack.managed_identity_token
    assert stack.direct("health", "GET", "/health", token(gateway, audience(stack)))["status"] == 200
    for authorization in (None, token(orchestrator, audience(stack)), token(gateway, "api://another-app"),
                          stack.entra.bearer(gateway, audience(stack), iss="https://sts.windows.net/other/")):
        refused = stack.direct("create-order", "POST", "/orders", authorization, ORDER)
        assert refused == {"status": 401, "json": {"error": "Unauthorized", "message":
                                                   "the caller is not allowed to call this app", "request_id": ""}}
    assert orders(stack) == [] and stack.peek("orders") == []
    for authorization in (None, token(gateway, audience(stack))):  # a task answers its orchestrator only
        assert stack.direct("charge-payment", "POST", "/task", authorization, {"order": ORDER})["status"] == 401
    assert [status for caller, _, _, status in stack.http_calls if caller == "direct"] == [200] + [401] * 6


def test_the_payment_task_reads_the_key_vault_secret_app_service_resolved(stack):
    charge = stack.apps["charge-payment"]
    assert charge.settings["ANYCLOUD_SECRET_PAYMENT_API_KEY"].startswith("@Microsoft.KeyVault(SecretUri=https://")
    assert charge.instance.resources.secrets["payment-api-key"].get() == SECRET_VALUE


def test_a_declined_payment_releases_the_stock_and_fails(stack):
    order_id = place(stack, {**ORDER, "payment_token": "tok_chargeDeclined"})["json"]["order_id"]
    stack.deliver()
    (run,) = stack.orchestrations
    assert run.status == "Failed" and run.error["error"] == "OrderFailed"
    assert run.task_calls == ["reserve-stock", "charge-payment", "release-stock", "mark-failed"]  # not retried
    charge = [s for c, app, _, s in stack.http_calls if app == "charge-payment"]
    assert charge == [422]
    view = stack.api("GET", f"/orders/{order_id}")["json"]
    assert view["status"] == "FAILED" and view["failure_reason"] == "PaymentDeclined" and "shipment" not in view
    (start,) = [d.text for d in stack.deliveries if d.app == "fulfil-order-run"]
    stack.send("fulfil-order-start", start)  # a failed instance is not started again either
    stack.deliver()
    assert len(stack.orchestrations) == 1


def test_out_of_stock_fails_without_charging(stack):
    order = {**ORDER, "items": [{"sku": "out-of-stock", "quantity": 1, "unit_price_cents": 100}]}
    order_id = place(stack, order)["json"]["order_id"]
    stack.deliver()
    (run,) = stack.orchestrations
    assert run.status == "Failed" and run.error["error"] == "OrderFailed"
    assert run.task_calls == ["reserve-stock", "mark-failed"]
    assert stack.api("GET", f"/orders/{order_id}")["json"]["failure_reason"] == "OutOfStock"


INVALID = {**INVALID_ORDERS, "invalid with a key": INVALID_WITH_A_KEY}


def test_invalid_bodies_get_4xx_and_leave_no_trace(stack):
    for name, (body, headers, status) in INVALID.items():
        out = place(stack, body, headers)
        assert out["status"] == status, (name, out["body"])
        assert set(out["json"]) >= {"error", "message", "request_id"}, name
        assert out["json"]["request_id"] == out["request_id"], name
        assert "Traceback" not in out["body"] and "4111111111111111" not in out["body"], name
    assert orders(stack) == [] and idempotency(stack) == []
    assert stack.peek("orders") == []
    stack.deliver()
    assert stack.deliveries == [] and stack.orchestrations == []
    assert stack.api("GET", "/orders/not-a-uuid")["status"] == 404
    assert stack.api("GET", f"/orders/{uuid.uuid4()}")["json"]["error"] == "NotFound"


def test_a_poison_message_ends_in_the_poison_queue_after_max_receives(stack):
    max_receives = int(stack.apps["process-order"].settings["AzureFunctionsJobHost__extensions__queues__maxDequeueCount"])
    assert max_receives == 5
    unknown = json.dumps({"order_id": str(uuid.uuid4())})
    not_an_order = json.dumps({"order_id": "not-a-uuid"})
    for text in (unknown, not_an_order, "not json {"):
        stack.send("orders", text)
    stack.send("fulfil-order-start", json.dumps({"instance_id": "a/b", "input": {}}))
    stack.deliver()

    tries = {}
    for d in stack.deliveries:
        tries.setdefault(d.text, []).append((d.dequeue_count, d.outcome))
    assert tries[unknown] == [(n, "OrderNotFound") for n in range(1, max_receives + 1)]
    assert tries[not_an_order] == [(n, "ValidationError") for n in range(1, max_receives + 1)]
    assert tries["not json {"] == [(1, "ok")]  # never readable: the adapter moves it at once
    assert sorted(stack.peek("orders-poison")) == sorted([unknown, not_an_order, "not json {"])
    assert stack.peek("fulfil-order-start-poison") == ['{"instance_id": "a/b", "input": {}}']
    assert stack.peek("orders") == [] and stack.peek("fulfil-order-start") == []
    assert stack.orchestrations == [] and idempotency(stack) == []  # a failed run keeps no record


def test_the_same_message_twice_starts_one_orchestration(stack):
    """Twice on the orders queue (a producer's retry): the consumer's idempotency completes the
    copy. Twice on the start queue: the start trigger finds the instance and starts nothing."""
    order_id = place(stack)["json"]["order_id"]
    stack.deliver_changes()
    (text,) = stack.peek("orders")
    stack.send("orders", text)
    stack.deliver()
    (run,) = stack.orchestrations
    assert run.status == "Completed" and run.instance_id == order_id
    assert [d.outcome for d in stack.deliveries if d.app == "process-order"] == ["ok", "ok"]
    (record,) = [d for d in idempotency(stack) if d["~id"].startswith("process-order#message#")]
    assert record["status"] == "COMPLETED"  # the copy found it and was completed without running

    (start,) = [d.text for d in stack.deliveries if d.app == "fulfil-order-run"]
    assert json.loads(start)["instance_id"] == order_id
    stack.send("fulfil-order-start", start)  # redelivered
    stack.deliver()
    assert len(stack.orchestrations) == 1
    assert [d.outcome for d in stack.deliveries if d.app == "fulfil-order-run"] == ["ok", "ok"]
    assert run.task_calls.count("reserve-stock") == 1
    assert [o["order_id"] for o in orders(stack)] == [order_id]
    assert stack.peek("fulfil-order-start-poison") == []


def test_the_same_post_with_the_same_key_creates_one_order(stack):
    headers = {**JSON, "Idempotency-Key": "order-attempt-1"}
    first = place(stack, headers=headers)
    again = place(stack, headers=headers)
    assert first["status"] == again["status"] == 202 and first["json"] == again["json"]
    assert first["headers"]["location"] == again["headers"]["location"]
    stack.deliver_changes()
    assert len(orders(stack)) == 1 and len(stack.peek("orders")) == 1

    other = place(stack, {**ORDER, "customer_id": "cust-2"}, headers=headers)
    assert other["status"] == 409 and other["json"]["error"] == "IdempotencyKeyReused"
    stack.deliver_changes()
    assert len(orders(stack)) == 1 and len(stack.peek("orders")) == 1

    stack.deliver()
    (run,) = stack.orchestrations
    assert run.status == "Completed"


@pytest.fixture
def prod_stack(example_azure_prod, azurite):  # noqa: F811
    running = AzureStack.create(example_azure_prod, azurite)
    yield running
    running.close()


def test_behind_api_auth_the_validated_caller_scopes_the_idempotency_key(prod_stack):
    """The prod stack declares apiAuth: API Management validates the caller's JWT and forwards
    it in X-Anycloud-User-Token; the same key from two callers is two requests."""
    claims = {"iss": "https://auth.example.com/", "aud": "orders-api", "exp": time.time() + 600}
    alice = {**JSON, "Idempotency-Key": "k-1", "Authorization": bearer({**claims, "sub": "alice"})}
    bob = {**alice, "Authorization": bearer({**claims, "sub": "bob"})}
    first, again = place(prod_stack, headers=alice), place(prod_stack, headers=alice)
    other = place(prod_stack, headers=bob)
    assert first["status"] == again["status"] == other["status"] == 202
    assert first["json"] == again["json"] != other["json"]
    assert len(orders(prod_stack)) == 2
    scopes = sorted(d["~id"].split("#")[1] for d in idempotency(prod_stack))
    assert scopes == ["alice", "bob"]

    forged = {**alice, "X-Anycloud-User-Token": bearer({**claims, "sub": "eve"})}  # API Management replaces it
    assert place(prod_stack, headers=forged)["json"] == first["json"]
    wrong_audience = {**alice, "Authorization": bearer({**claims, "aud": "another-api", "sub": "eve"})}
    expired = {**alice, "Authorization": bearer({**claims, "exp": time.time() - 1, "sub": "eve"})}
    for headers in (JSON, wrong_audience, expired):
        assert place(prod_stack, headers=headers)["status"] == 401  # refused by API Management
    assert prod_stack.api("GET", "/health")["status"] == 200  # public
    assert [app for _, app, _, _ in prod_stack.http_calls] == ["create-order"] * 4 + ["health"]
    assert len(orders(prod_stack)) == 2


# ------------------------------------------------------------------------ faults (issue 21)


def writes(stack: AzureStack, order_id: str) -> list[dict]:
    """Every write of the order, in order (the stand-in's log of the container)."""
    return [w.document for w in stack.cosmos.writes("tables", "orders")
            if w.document is not None and w.document["order_id"] == order_id]


def transitions(stack: AzureStack, order_id: str, status: str) -> int:
    """How many writes moved the order into `status` (one charge is one move to PAID)."""
    states = [None] + [d["status"] for d in writes(stack, order_id)]
    return sum(1 for before, after in zip(states, states[1:]) if after == status != before)


def runs(stack: AzureStack, order_id: str) -> list:
    return [o for o in stack.orchestrations if o.instance_id == order_id]


def dead_letters(stack: AzureStack) -> list[dict]:
    return [json.loads(t) for t in stack.peek("orders-changes-poison")]


def completed_once(stack: AzureStack, order_id: str) -> None:
    """COMPLETED, charged and shipped once, by one orchestration; nothing left in any queue."""
    (stored,) = [d for d in orders(stack) if d["order_id"] == order_id]
    assert stored["status"] == "COMPLETED"
    assert transitions(stack, order_id, "PAID") == 1 and transitions(stack, order_id, "SHIPPED") == 1
    (run,) = runs(stack, order_id)
    assert run.status == "Completed", run.error
    assert all(stack.peek(q) == [] for q in ALL_QUEUES)



def crash_after_order_write(stack: AzureStack) -> None:
    """create-order's process dies right after it writes the order (before storing its response)."""
    creator = stack.apps["create-order"].instance
    state = {"dead": False}
    tables = {name: Dying(t, "put" if name == "orders" else "", state) for name, t in creator.resources.tables.items()}
    creator.resources = dataclasses.replace(creator.resources, tables=tables)
    creator.idempotency = tables["idempotency"]


def test_a_the_process_dies_after_the_write_and_the_client_never_retries(stack):
    crash_after_order_write(stack)
    with pytest.raises(ProcessDied):
        place(stack, headers={**JSON, "Idempotency-Key": "key-a1"})
    stack.restart(stack.apps["create-order"])
    (order,) = orders(stack)
    assert order["status"] == "PENDING" and stack.peek("orders") == []  # written, nothing sent
    stack.deliver()
    completed_once(stack, order["order_id"])


def test_a_the_process_dies_after_the_write_and_the_client_retries_with_its_key(stack):
    headers = {**JSON, "Idempotency-Key": "key-a2"}
    crash_after_order_write(stack)
    with pytest.raises(ProcessDied):
        place(stack, headers=headers)
    stack.restart(stack.apps["create-order"])  # a new process
    assert place(stack, headers=headers)["status"] == 409  # the dead request's record holds the key for its timeout
    records = stack.apps["create-order"].instance.idempotency
    (record,) = [d["~id"] for d in idempotency(stack) if d["~id"].startswith("create-order#")]
    records.update({"id": record}, {"expiration": int(time.time()) - 1})  # its time passes
    retried = place(stack, headers=headers)
    assert retried["status"] == 202
    (order,) = orders(stack)
    assert retried["json"]["order_id"] == order["order_id"]  # the retry found the order the dead request wrote
    stack.deliver()
    completed_once(stack, order["order_id"])


def test_b_the_queue_refuses_for_a_while(stack):
    """order-placed's sends are refused (its role not yet propagated) three times: the trigger's
    retry policy delivers the batch again until the send goes through, and only then checkpoints."""
    stack.refuse("order-placed", "orders", 3)
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    first = [i for i in stack.invocations if i.changes == stack.invocations[0].changes]
    assert [(i.retry_count, i.outcome) for i in first] == [(0, "ChangesFailed"), (1, "ChangesFailed"),
                                                            (2, "ChangesFailed"), (3, "ok")]
    completed_once(stack, order_id)
    assert dead_letters(stack) == []


def test_b_the_workflow_start_refuses_for_a_while(stack):
    stack.refuse("process-order", "fulfil-order-start", 2)
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    assert [(d.dequeue_count, d.outcome) for d in stack.deliveries if d.app == "process-order"] == \
        [(1, "ClientAuthenticationError"), (2, "ClientAuthenticationError"), (3, "ok")]
    completed_once(stack, order_id)


def test_b_a_queue_refusing_past_max_receives_keeps_the_change(stack, caplog):
    """The change is delivered max_receives (5) times, then kept in the stream's dead-letter queue,
    never expiring, with the log line its alert watches; the batch is then checkpointed."""
    stack.refuse("order-placed", "orders", 5)
    order_id = place(stack)["json"]["order_id"]
    with caplog.at_level(logging.ERROR, logger="anycloud"):
        stack.deliver()
    (stored,) = orders(stack)
    assert [(i.retry_count, i.outcome) for i in stack.invocations] == \
        [(0, "ChangesFailed"), (1, "ChangesFailed"), (2, "ChangesFailed"), (3, "ChangesFailed"), (4, "ok")]
    (record,) = dead_letters(stack)
    assert record == {"change": f"{stored['id']}:1", "table": "orders", "key": {"order_id": order_id},
                      "item": {k: v for k, v in stored.items() if not k.startswith("_") and k not in ("id", "ttl")},
                      "attempts": 5, "error": "ClientAuthenticationError"}
    assert record["item"]["status"] == "PENDING"
    (kept,) = stack.queue_client("orders-changes-poison").peek_messages()
    assert kept.expires_on > datetime.now(timezone.utc) + timedelta(days=3650)  # kept: it never expires
    queue = stack.queues["orders-changes-poison"]
    assert [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()] == [
        f"anycloud change dead-lettered to '{queue}': table orders, change {stored['id']}:1, 5 deliveries, "
        "ClientAuthenticationError"]
    assert stack.orchestrations == [] and stack.peek("orders") == []
    (lease,) = stack.cosmos.documents("tables", "orders_leases")
    assert lease["ContinuationToken"] == '"1"'  # settled: the stream goes on


def test_c_the_consumers_crash_mid_batch(stack):
    """Three orders in one batch: order-placed's host dies after sending the second one's message,
    process-order's after starting the third one's workflow. The lease expires, a new host reads the
    batch again from the last checkpoint; the message a dead host held shows again. Each order
    completes once."""
    placed = [place(stack, {**ORDER, "customer_id": f"cust-{i}"})["json"]["order_id"] for i in range(3)]
    sender = stack.apps["order-placed"].instance
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
    starter = stack.apps["process-order"].instance
    real_start = starter.resources.workflows["fulfil-order"]

    class DiesAfterStarting:
        def start(self, execution_id, state):
            real_start.start(execution_id, state)
            if execution_id == placed[2]:
                raise ProcessDied
            return True

    starter.resources = dataclasses.replace(starter.resources, workflows={"fulfil-order": DiesAfterStarting()})
    stack.deliver()
    first, again = stack.invocations[:2]
    assert (first.host, first.outcome, len(first.changes)) == ("order-placed-host-1", "died", 3)
    assert (again.host, again.retry_count, again.outcome) == ("order-placed-host-2", 0, "ok")
    # the same three items again, from the last checkpoint: each at its latest state (the first one's
    # workflow already wrote it in between: folded into one change, after the others)
    items = lambda invocation: sorted(c.split(":")[0] for c in invocation.changes)  # noqa: E731
    assert items(again) == items(first) and again.changes[:2] == first.changes[1:]
    assert "died" in [d.outcome for d in stack.deliveries if d.app == "process-order"]
    for order_id in placed:
        completed_once(stack, order_id)


def test_d_a_tasks_answer_is_lost_and_the_task_is_retried(stack):
    stack.lost_answers["charge-payment"] = 1
    order_id = place(stack)["json"]["order_id"]
    stack.deliver()
    (run,) = runs(stack, order_id)
    assert run.task_calls.count("charge-payment") == 2  # it ran twice: its first answer never arrived
    assert [s for _, app, _, s in stack.http_calls if app == "charge-payment"] == [200, 200]
    completed_once(stack, order_id)


def test_e_the_same_change_and_the_same_message_twice_at_once(stack):
    """The change reaches two hosts of order-placed at once (its lease taken over while the first
    still worked); both queue the order; each message reaches two hosts of process-order at once;
    the start message reaches two starters at once. One orchestration."""
    order_id = place(stack)["json"]["order_id"]
    assert stack.changes_twice_at_once("order-placed") == ["ok", "ok"]
    assert [json.loads(t) for t in stack.peek("orders")] == [{"order_id": order_id}] * 2
    outcomes = stack.same_message_twice_at_once("process-order", "orders")
    assert "ok" in outcomes
    stack.deliver_changes()
    assert len(stack.peek("fulfil-order-start")) >= 1
    stack.same_message_twice_at_once("fulfil-order-run", "fulfil-order-start")
    stack.deliver()
    completed_once(stack, order_id)
    assert [o for o in stack.orchestrations if o.execution.calls] == runs(stack, order_id)
