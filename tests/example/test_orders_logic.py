"""The orders service end to end in memory: routes through run_route, the consumer, the tasks.

Each function gets a Context holding only what app.py declares for it, as the cloud wiring does.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from orders import api, consumer, tasks
from orders.models import Order
from pydantic import ValidationError
from runtime.contracts import MAX_BODY_BYTES, Message, Request, Response, TaskError
from runtime.http import run_route
from runtime.memory import MemoryResources, memory_context

from app import SERVICE

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


def order_body(**changes: Any) -> dict[str, Any]:
    body = {
        "customer_id": "cust_42",
        "items": [{"sku": "blue-mug", "quantity": 2, "unit_price_cents": 1250}, {"sku": "tea-100g", "quantity": 1, "unit_price_cents": 799}],
        "currency": "EUR",
        "payment_token": "tok_visa",
    }
    return body | changes


@pytest.fixture
def svc(monkeypatch: pytest.MonkeyPatch) -> MemoryResources:
    monkeypatch.setattr("orders.models.now", lambda: NOW)
    return MemoryResources.from_spec(SERVICE, {"payment-api-key": "sk_test_123"})


def post(svc: MemoryResources, body: Any, *, content_type: str = "application/json", key: str | None = None) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": content_type} | ({"idempotency-key": key} if key is not None else {})
    req = Request(method="POST", path="/orders", request_id="req-post", headers=headers, body=raw)
    return run_route(api.create_order, req, svc.context("create-order", "req-post"), svc.idempotency)


def get(svc: MemoryResources, order_id: str) -> Response:
    req = Request(method="GET", path=f"/orders/{order_id}", request_id="req-get", path_params={"order_id": order_id})
    return run_route(api.get_order, req, svc.context("get-order", "req-get"))


def stored(svc: MemoryResources, order_id: str) -> dict[str, Any]:
    item = svc.tables["orders"].get({"order_id": order_id})
    assert item is not None
    return item


def deliver(svc: MemoryResources, index: int = 0) -> None:
    consumer.process_order(svc.queues["orders"].sent[index].message(), svc.context("process-order"))


def placed(svc: MemoryResources, index: int = -1) -> None:
    """The orders table's stream delivers change `index` to order-placed."""
    consumer.order_placed(svc.tables["orders"].changes[index].message(), svc.context("order-placed"))


def run_task(svc: MemoryResources, function: str, state: dict[str, Any]) -> Any:
    handler = getattr(tasks, function.replace("-", "_"))
    return handler(state, svc.context(function))


def created(svc: MemoryResources, **changes: Any) -> tuple[str, dict[str, Any]]:
    """A created and dispatched order: (order_id, the workflow's start state)."""
    resp = post(svc, order_body(**changes))
    assert resp.status == 202
    placed(svc)
    deliver(svc, len(svc.queues["orders"].sent) - 1)
    order_id = resp.body["order_id"]
    return order_id, svc.workflows["fulfil-order"].executions[order_id]


# ------------------------------------------------------------------------ create


def test_create_stores_the_order_and_only_that(svc: MemoryResources) -> None:
    resp = post(svc, order_body())
    assert resp.status == 202
    order_id = resp.body["order_id"]
    assert resp.body == {"order_id": order_id, "status": "PENDING"}
    assert uuid.UUID(order_id).version == 4
    assert resp.headers["location"] == f"/orders/{order_id}"
    item = stored(svc, order_id)
    assert item["total_cents"] == 2 * 1250 + 799
    assert item["status"] == "PENDING" and item["payment_token"] == "tok_visa"
    assert item["created_at"] == item["updated_at"] == "2025-05-01T12:00:00.000000Z"
    assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
    assert item["expires_at"] == int((NOW + timedelta(days=365)).timestamp())
    assert "failure_reason" not in item and "shipment" not in item
    assert svc.queues["orders"].bodies == []  # one write: the change stream queues it (order-placed)
    placed(svc)
    assert svc.queues["orders"].bodies == [{"order_id": order_id}]


def test_order_placed_queues_pending_orders_only(svc: MemoryResources) -> None:
    order_id = post(svc, order_body()).body["order_id"]
    svc.tables["orders"].update({"order_id": order_id}, {"status": "RESERVED"})
    svc.tables["orders"].delete({"order_id": order_id})
    for index in range(len(svc.tables["orders"].changes)):  # the insert, the update, the delete
        placed(svc, index)
    placed(svc, 0)  # at least once: the insert again
    assert svc.queues["orders"].bodies == [{"order_id": order_id}, {"order_id": order_id}]


def test_a_retry_after_a_crash_between_the_write_and_the_response_makes_no_second_order(svc: MemoryResources) -> None:
    """The process died after the order's write, before its response was stored: the retry with
    the same key (once the in-progress claim is gone) writes the same id and finds the order."""
    first = post(svc, order_body(), key="attempt-7")
    svc.idempotency._records.clear()  # what a crash before the stored response leaves behind, once it expires
    again = post(svc, order_body(), key="attempt-7")
    assert again.status == 202 and again.body == first.body
    assert len(svc.tables["orders"]) == 1 and len(svc.tables["orders"].changes) == 1
    svc.idempotency._records.clear()
    other = post(svc, order_body(currency="USD"), key="attempt-7")  # another body under the key: another order
    assert other.body["order_id"] != first.body["order_id"] and len(svc.tables["orders"]) == 2


def test_orders_are_found_by_customer_newest_first(svc: MemoryResources, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = []
    for minutes in (0, 1, 2):
        monkeypatch.setattr("orders.models.now", lambda m=minutes: NOW + timedelta(minutes=m, microseconds=500 * m))
        ids.append(post(svc, order_body()).body["order_id"])
    found = svc.tables["orders"].query({"customer_id": "cust_42"}, index="by-customer", descending=True)
    assert [i["order_id"] for i in found] == ids[::-1]


def test_same_idempotency_key_creates_one_order(svc: MemoryResources) -> None:
    first = post(svc, order_body(), key="order-attempt-1")
    again = post(svc, order_body(), key="order-attempt-1")
    assert first == again
    assert len(svc.tables["orders"]) == 1 and len(svc.tables["orders"].changes) == 1
    other = post(svc, order_body(currency="USD"), key="order-attempt-1")
    assert (other.status, other.body["error"]) == (409, "IdempotencyKeyReused")
    assert len(svc.tables["orders"]) == 1


def _items(n: int) -> list[dict[str, Any]]:
    return [{"sku": f"sku-{i}", "quantity": 1, "unit_price_cents": 100} for i in range(n)]


INVALID = {
    "missing customer": {k: v for k, v in order_body().items() if k != "customer_id"},
    "missing items": {k: v for k, v in order_body().items() if k != "items"},
    "no items": order_body(items=[]),
    "51 items": order_body(items=_items(51)),
    "quantity as text": order_body(items=[{"sku": "a", "quantity": "2", "unit_price_cents": 100}]),
    "quantity as float": order_body(items=[{"sku": "a", "quantity": 2.0, "unit_price_cents": 100}]),
    "quantity as bool": order_body(items=[{"sku": "a", "quantity": True, "unit_price_cents": 100}]),
    "negative quantity": order_body(items=[{"sku": "a", "quantity": -1, "unit_price_cents": 100}]),
    "quantity over 100": order_body(items=[{"sku": "a", "quantity": 101, "unit_price_cents": 100}]),
    "free item": order_body(items=[{"sku": "a", "quantity": 1, "unit_price_cents": 0}]),
    "price too high": order_body(items=[{"sku": "a", "quantity": 1, "unit_price_cents": 1_000_001}]),
    "bad sku": order_body(items=[{"sku": "Blue Mug", "quantity": 1, "unit_price_cents": 100}]),
    "extra item field": order_body(items=[{"sku": "a", "quantity": 1, "unit_price_cents": 100, "discount": 5}]),
    "client total": order_body(total_cents=1),
    "client order id": order_body(order_id="0b7c6f1e-8a4d-4c52-9f3e-2d1a5b6c7d8f"),
    "client status": order_body(status="PAID"),
    "bad currency": order_body(currency="JPY"),
    "customer id as int": order_body(customer_id=42),
    "customer id with spaces": order_body(customer_id="cust 42"),
    "long customer id": order_body(customer_id="c" * 65),
    "raw card number": order_body(payment_token="4242424242424242"),
    "card number in a token": order_body(payment_token="tok_4242424242424242"),
    "spaced card number in a token": order_body(payment_token="tok_4242-4242-4242-4242"),
    "token without prefix": order_body(payment_token="visa"),
    "long token": order_body(payment_token="tok_" + "a" * 125),
    "body is a list": [order_body()],
    "body is null": None,
}


@pytest.mark.parametrize("body", INVALID.values(), ids=INVALID.keys())
def test_invalid_bodies_are_400_with_fields_and_leave_no_trace(svc: MemoryResources, body: Any) -> None:
    resp = post(svc, body, key="k-invalid")
    assert resp.status == 400, resp.body
    assert resp.body["error"] == "ValidationFailed" and resp.body["request_id"] == "req-post"
    assert resp.body["fields"] and all(set(f) == {"field", "message"} for f in resp.body["fields"])
    assert "4242" not in resp.encoded()
    assert list(svc.written()) == [] and len(svc.idempotency) == 0


def test_field_paths_point_at_the_bad_value(svc: MemoryResources) -> None:
    resp = post(svc, order_body(items=[{"sku": "a", "quantity": 1, "unit_price_cents": 1}, {"sku": "b", "quantity": -1, "unit_price_cents": 1}]))
    assert [f["field"] for f in resp.body["fields"]] == ["items.1.quantity"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"customer_id": "c", ' + b" " * MAX_BODY_BYTES + b"}", "application/json", 413),
        (json.dumps(order_body()).encode(), "text/plain", 415),
        (json.dumps(order_body()).encode(), "application/x-www-form-urlencoded", 415),
        (b'{"customer_id": ', "application/json", 400),
        (b"[" * 50_000, "application/json", 400),
        (b"", "application/json", 400),
    ],
)
def test_bad_bodies_are_4xx_and_leave_no_trace(svc: MemoryResources, body: bytes, content_type: str, status: int) -> None:
    resp = post(svc, body, content_type=content_type)
    assert resp.status == status
    assert list(svc.written()) == []


def test_a_bad_idempotency_key_is_400_and_leaves_no_trace(svc: MemoryResources) -> None:
    resp = post(svc, order_body(), key="x" * 129)
    assert (resp.status, resp.body["error"]) == (400, "InvalidIdempotencyKey")
    assert list(svc.written()) == []


# --------------------------------------------------------------- get and health


def test_get_returns_the_public_view(svc: MemoryResources) -> None:
    order_id = post(svc, order_body()).body["order_id"]
    resp = get(svc, order_id)
    assert resp.status == 200
    assert resp.body == {
        "order_id": order_id,
        "customer_id": "cust_42",
        "items": order_body()["items"],
        "total_cents": 3299,
        "currency": "EUR",
        "status": "PENDING",
        "created_at": "2025-05-01T12:00:00.000000Z",
        "updated_at": "2025-05-01T12:00:00.000000Z",
    }


UNKNOWN_ID = "0b7c6f1e-8a4d-4c52-9f3e-2d1a5b6c7d8e"


@pytest.mark.parametrize("order_id", [UNKNOWN_ID, "not-a-uuid", "", UNKNOWN_ID.upper(), "1 OR 1=1"])
def test_get_unknown_or_malformed_id_is_404(svc: MemoryResources, order_id: str) -> None:
    resp = get(svc, order_id)
    assert (resp.status, resp.body["error"]) == (404, "NotFound")
    assert "fields" not in resp.body


def test_a_corrupt_stored_order_is_500_not_400(svc: MemoryResources) -> None:
    order_id = str(uuid.uuid4())
    svc.tables["orders"].put({"order_id": order_id, "payment_token": "tok_secret"})
    resp = get(svc, order_id)
    assert resp.status == 500 and "tok_secret" not in resp.encoded()


def test_health_says_ok_and_nothing_else(svc: MemoryResources) -> None:
    req = Request(method="GET", path="/health", request_id="r")
    resp = run_route(api.health, req, svc.context("health"))
    assert (resp.status, resp.body) == (200, {"status": "ok"})


# --------------------------------------------------------------------- consumer


def test_process_order_starts_the_workflow_once(svc: MemoryResources) -> None:
    order_id = post(svc, order_body()).body["order_id"]
    placed(svc)
    deliver(svc)
    deliver(svc)  # at-least-once delivery
    wf = svc.workflows["fulfil-order"]
    assert list(wf.executions) == [order_id] and wf.start_calls == 2
    assert wf.executions[order_id] == {
        "order": {
            "order_id": order_id,
            "customer_id": "cust_42",
            "total": 3299,
            "currency": "EUR",
            "payment_token": "tok_visa",
            "items": order_body()["items"],
        }
    }
    assert len(svc.tables["orders"]) == 1


@pytest.mark.parametrize("body", [{}, {"order_id": "nope"}, {"order_id": UNKNOWN_ID, "x": 1}, "text", None, [1]])
def test_poison_messages_raise(svc: MemoryResources, body: Any) -> None:
    with pytest.raises(ValidationError):
        consumer.process_order(Message(id="m", body=body), svc.context("process-order"))
    assert svc.workflows["fulfil-order"].executions == {}


def test_a_message_for_an_unknown_order_raises(svc: MemoryResources) -> None:
    with pytest.raises(consumer.OrderNotFound):
        consumer.process_order(Message(id="m", body={"order_id": UNKNOWN_ID}), svc.context("process-order"))


# ------------------------------------------------------------------------ tasks


def test_happy_path(svc: MemoryResources) -> None:
    order_id, state = created(svc)
    statuses = []
    assert run_task(svc, "reserve-stock", state) == {"skus": ["blue-mug", "tea-100g"]}
    statuses.append(stored(svc, order_id)["status"])
    payment = run_task(svc, "charge-payment", state)
    assert payment["payment_id"].startswith("pay_") and payment["amount_cents"] == 3299
    statuses.append(stored(svc, order_id)["status"])
    shipment = run_task(svc, "ship", state)
    assert shipment["tracking_id"].startswith("trk_")
    assert run_task(svc, "notify", state) == {"notified": True}
    statuses.append(stored(svc, order_id)["status"])
    run_task(svc, "mark-completed", state)
    statuses.append(stored(svc, order_id)["status"])
    assert statuses == ["RESERVED", "PAID", "SHIPPED", "COMPLETED"]
    view = get(svc, order_id).body
    assert view["status"] == "COMPLETED" and view["shipment"] == shipment
    assert "failure_reason" not in view


def test_tasks_can_run_again(svc: MemoryResources) -> None:
    _, state = created(svc)
    for function in ("reserve-stock", "charge-payment", "ship", "mark-completed"):
        first = run_task(svc, function, state)
        assert run_task(svc, function, state) == first


def test_declined_payment_releases_stock_and_fails_the_order(svc: MemoryResources) -> None:
    order_id, state = created(svc, payment_token="tok_chargeDeclined")
    run_task(svc, "reserve-stock", state)
    with pytest.raises(TaskError) as caught:
        run_task(svc, "charge-payment", state)
    assert caught.value.name == "PaymentDeclined"
    assert stored(svc, order_id)["status"] == "RESERVED"
    state = state | {"error": {"error": caught.value.name, "cause": "{...}"}}
    run_task(svc, "release-stock", state)
    assert stored(svc, order_id)["status"] == "RELEASED"
    run_task(svc, "release-stock", state)  # idempotent
    assert run_task(svc, "mark-failed", state) == {"status": "FAILED", "failure_reason": "PaymentDeclined"}
    view = get(svc, order_id).body
    assert (view["status"], view["failure_reason"]) == ("FAILED", "PaymentDeclined")


def test_out_of_stock_fails_the_order(svc: MemoryResources) -> None:
    items = [{"sku": "out-of-stock", "quantity": 1, "unit_price_cents": 100}]
    order_id, state = created(svc, items=items)
    with pytest.raises(TaskError) as caught:
        run_task(svc, "reserve-stock", state)
    assert caught.value.name == "OutOfStock"
    assert stored(svc, order_id)["status"] == "PENDING"
    run_task(svc, "mark-failed", state | {"error": {"error": "OutOfStock", "cause": "x"}})
    assert get(svc, order_id).body["failure_reason"] == "OutOfStock"


@pytest.mark.parametrize("error", [None, {}, {"error": 3}, {"error": "<script>"}, "OutOfStock"])
def test_mark_failed_without_a_usable_error_says_unknown(svc: MemoryResources, error: Any) -> None:
    order_id, state = created(svc)
    if error is not None:
        state = state | {"error": error}
    run_task(svc, "mark-failed", state)
    assert stored(svc, order_id)["failure_reason"] == "Unknown"


def test_charge_without_the_secret_is_misconfigured(svc: MemoryResources) -> None:
    order_id, state = created(svc)
    run_task(svc, "reserve-stock", state)
    for ctx in (svc.context("reserve-stock"), memory_context(tables=svc.tables, secrets={"payment-api-key": _Empty()})):
        with pytest.raises(TaskError) as caught:
            tasks.charge_payment(state, ctx)
        assert caught.value.name == "PaymentMisconfigured"
    assert stored(svc, order_id)["status"] == "RESERVED"


class _Empty:
    def get(self) -> str:
        return " "


def test_a_task_out_of_order_is_a_conflict(svc: MemoryResources) -> None:
    order_id, state = created(svc)
    with pytest.raises(TaskError) as caught:
        run_task(svc, "ship", state)
    assert caught.value.name == "OrderStateConflict"
    assert stored(svc, order_id)["status"] == "PENDING"


def test_a_task_for_a_missing_order_fails_by_name(svc: MemoryResources) -> None:
    _, state = created(svc)
    svc.tables["orders"].delete({"order_id": state["order"]["order_id"]})
    for function in ("reserve-stock", "notify"):
        with pytest.raises(TaskError) as caught:
            run_task(svc, function, state)
        assert caught.value.name == "OrderNotFound"


def test_stored_orders_read_back_from_a_store_with_decimal_numbers(svc: MemoryResources) -> None:
    from decimal import Decimal

    order_id = post(svc, order_body()).body["order_id"]
    item = stored(svc, order_id)
    item["total_cents"] = Decimal(item["total_cents"])
    item["items"][0]["quantity"] = Decimal(2)
    assert Order.from_item(item).public_view()["total_cents"] == 3299


def test_two_callers_with_the_same_key_and_body_make_two_orders(svc: MemoryResources) -> None:
    """The id is scoped to the verified caller, as the idempotency record is: never someone else's order."""
    def as_caller(sub: str) -> Response:
        headers = {"content-type": "application/json", "idempotency-key": "k-1"}
        req = Request(method="POST", path="/orders", request_id="r", headers=headers, body=json.dumps(order_body()).encode(),
                      caller=sub)
        return run_route(api.create_order, req, svc.context("create-order", "r"))
    alice, bob = as_caller("alice"), as_caller("bob")
    assert alice.body["order_id"] != bob.body["order_id"] and len(svc.tables["orders"]) == 2
