"""The orders service end to end on Azure, from the rendered dev stack (tests/support/azure_stack.py).

Every Function App runs the Azure entry's registered functions with exactly its rendered app
settings (endpoints mapped to local stand-ins, Key Vault references resolved as App Service
does); queues are Azurite, with the Functions host's queue listener (retries, `maxDequeueCount`,
the poison queue) played from each app's settings; Cosmos DB is the REST stand-in under the real
azure-cosmos client; API Management and App Service authentication are played from the rendered
policies and auth settings; the workflow is the generic orchestrator replayed on the real
azure-functions-durable SDK, started by the orchestrator app's start trigger through a real
Durable client. Cases as on AWS and GCP.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest

from tests.conftest import SECRET_VALUE
from tests.support.azure_stack import AzureStack, bearer
from tests.support.azurite import azurite  # noqa: F401 (fixture)
from tests.example.orders_requests import INVALID as INVALID_ORDERS
from tests.example.orders_requests import INVALID_WITH_A_KEY, JSON, ORDER, PUBLIC_FIELDS

ALL_QUEUES = ("orders", "orders-poison", "fulfil-order-start", "fulfil-order-start-poison")


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
    assert len(orders(stack)) == 1 and len(stack.peek("orders")) == 1

    other = place(stack, {**ORDER, "customer_id": "cust-2"}, headers=headers)
    assert other["status"] == 409 and other["json"]["error"] == "IdempotencyKeyReused"
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
