"""The portable runtime: route semantics (runtime/http.py) and in-memory resources (runtime/memory.py).

Every adapter calls run_route, so these are the error, validation and idempotency rules a
client sees on any cloud.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
from pydantic import BaseModel, ConfigDict, Field
from runtime.contracts import MAX_BODY_BYTES, ConditionFailed, Context, HttpError, Request, Response, idempotent
from runtime.http import body_hash, load_handler, parse_body, run_route
from runtime.memory import IdempotencyStore, MemoryResources, Queue, Table, Workflow, memory_context
from runtime.secrets import CachedSecret as Secret

from tests.services import REFERENCE

CTX = Context(request_id="req-1")


def request(body: bytes | str = b"{}", *, headers: dict[str, str] | None = None, content_type: str = "application/json") -> Request:
    raw = body.encode() if isinstance(body, str) else body
    hdrs = {"content-type": content_type, **(headers or {})}
    return Request(method="POST", path="/things", request_id="req-1", headers=hdrs, body=raw)


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1)
    count: int = Field(ge=1)


def make_thing(req: Request, ctx: Context) -> Response:
    thing = parse_body(req, Thing)
    return Response(201, {"name": thing.name})


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# ------------------------------------------------------------------ error mapping


def test_http_error_becomes_its_status_and_body() -> None:
    def handler(req: Request, ctx: Context) -> Response:
        raise HttpError(404, "NotFound", "no such thing")

    resp = run_route(handler, request(), CTX)
    assert resp.status == 404
    assert resp.body == {"error": "NotFound", "message": "no such thing", "request_id": "req-1"}
    assert resp.headers["content-type"] == "application/json"


def test_unexpected_error_is_500_without_internal_text_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def handler(req: Request, ctx: Context) -> Response:
        raise RuntimeError("db password is hunter2")

    with caplog.at_level(logging.ERROR, logger="anycloud"):
        resp = run_route(handler, request(), CTX)
    assert resp.status == 500
    assert resp.body == {"error": "InternalError", "message": "internal error", "request_id": "req-1"}
    assert "hunter2" not in resp.encoded()
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


def test_a_validation_error_from_the_services_own_models_is_500_not_400() -> None:
    """Only `parse_body` turns a model mismatch into the client's 400; a server-side model that
    fails is a bug, and its field names are internal."""

    def handler(req: Request, ctx: Context) -> Response:
        Thing.model_validate({"name": "", "count": 0})
        return Response(200)

    resp = run_route(handler, request(), CTX)
    assert resp.status == 500
    assert resp.body == {"error": "InternalError", "message": "internal error", "request_id": "req-1"}


def test_a_handler_returning_something_else_is_500() -> None:
    assert run_route(lambda req, ctx: {"status": 200}, request(), CTX).status == 500
    assert run_route(lambda req, ctx: Response(200, {"when": object()}), request(), CTX).status == 500


def test_validation_error_is_400_with_fields_and_no_values() -> None:
    body = {"name": "", "count": "SECRET-VALUE-7", "extra_field": "SECRET-VALUE-8"}
    resp = run_route(make_thing, request(json.dumps(body)), CTX)
    assert resp.status == 400
    assert resp.body["error"] == "ValidationFailed"
    assert resp.body["request_id"] == "req-1"
    assert {f["field"] for f in resp.body["fields"]} == {"name", "count", "extra_field"}
    assert all(set(f) == {"field", "message"} for f in resp.body["fields"])
    assert "SECRET-VALUE" not in resp.encoded()


def test_a_top_level_value_of_the_wrong_type_names_the_body() -> None:
    resp = run_route(make_thing, request("[1, 2]"), CTX)
    assert resp.status == 400 and resp.body["fields"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"x" * (MAX_BODY_BYTES + 1), "application/json", 413, "PayloadTooLarge"),
        (b'{"name": "a", "count": 1}', "text/plain", 415, "UnsupportedMediaType"),
        (b'{"name": "a", "count": 1}', "", 415, "UnsupportedMediaType"),
        (b'{"name": "a",', "application/json", 400, "MalformedJson"),
        (b"", "application/json", 400, "MalformedJson"),
        (b"\xff\xfe", "application/json", 400, "MalformedJson"),
        (b"[" * 60_000, "application/json", 400, "MalformedJson"),
        (b'{"count": ' + b"9" * 5000 + b"}", "application/json", 400, "MalformedJson"),
    ],
)
def test_body_errors(body: bytes, content_type: str, status: int, error: str) -> None:
    resp = run_route(make_thing, request(body, content_type=content_type), CTX)
    assert (resp.status, resp.body["error"]) == (status, error)


def test_json_with_charset_is_accepted() -> None:
    resp = run_route(make_thing, request('{"name": "a", "count": 1}', content_type="application/json; charset=utf-8"), CTX)
    assert resp.status == 201


# -------------------------------------------------------------------- idempotency


class Counting:
    """An @idempotent route that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        idempotent(self)

    def __call__(self, req: Request, ctx: Context) -> Response:
        self.calls += 1
        make_thing(req, ctx)
        return Response(202, {"n": self.calls}, {"location": f"/things/{self.calls}"})


BODY = '{"name": "a", "count": 1}'


def test_body_hash_is_sha256_of_the_body() -> None:
    assert body_hash(request(BODY)) == hashlib.sha256(BODY.encode()).hexdigest()


def test_same_key_same_body_replays_the_first_response() -> None:
    route, store = Counting(), IdempotencyStore()
    first = run_route(route, request(BODY, headers={"idempotency-key": "k-1"}), CTX, store)
    again = run_route(route, request(BODY, headers={"idempotency-key": "k-1"}), CTX, store)
    assert first == again and first.status == 202 and route.calls == 1
    again.body["n"] = 99  # a replay is a copy
    assert run_route(route, request(BODY, headers={"idempotency-key": "k-1"}), CTX, store).body == {"n": 1}


def test_same_key_other_body_is_409() -> None:
    route, store = Counting(), IdempotencyStore()
    run_route(route, request(BODY, headers={"idempotency-key": "k-1"}), CTX, store)
    resp = run_route(route, request('{"name": "b", "count": 1}', headers={"idempotency-key": "k-1"}), CTX, store)
    assert (resp.status, resp.body["error"]) == (409, "IdempotencyKeyReused")
    assert route.calls == 1


def test_a_request_in_progress_with_the_same_key_is_409() -> None:
    store = IdempotencyStore()
    seen: list[Response] = []

    @idempotent
    def slow(req: Request, ctx: Context) -> Response:
        seen.append(run_route(slow, req, ctx, store))  # the same request arrives meanwhile
        return Response(202, {"ok": True})

    first = run_route(slow, request(BODY, headers={"idempotency-key": "k"}), CTX, store)
    assert first.status == 202
    assert (seen[0].status, seen[0].body["error"]) == (409, "IdempotencyKeyReused")


def test_a_failed_request_stores_nothing_so_the_key_can_be_retried() -> None:
    route, store = Counting(), IdempotencyStore()
    bad = run_route(route, request('{"name": ""}', headers={"idempotency-key": "k"}), CTX, store)
    assert bad.status == 400 and len(store) == 0
    good = run_route(route, request(BODY, headers={"idempotency-key": "k"}), CTX, store)
    assert good.status == 202


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\there", "new\nline", "caf\u00e9"])
def test_bad_idempotency_key_is_400(key: str) -> None:
    route = Counting()
    resp = run_route(route, request(BODY, headers={"idempotency-key": key}), CTX, IdempotencyStore())
    assert (resp.status, resp.body["error"]) == (400, "InvalidIdempotencyKey")
    assert route.calls == 0


def test_keys_are_only_for_idempotent_routes_and_optional() -> None:
    store = IdempotencyStore()
    plain = run_route(make_thing, request(BODY, headers={"idempotency-key": ""}), CTX, store)
    assert plain.status == 201 and len(store) == 0
    route = Counting()
    run_route(route, request(BODY), CTX, store)
    run_route(route, request(BODY), CTX, store)
    assert route.calls == 2


def test_idempotency_records_expire() -> None:
    clock = Clock()
    route, store = Counting(), IdempotencyStore(ttl_s=60, clock=clock)
    run_route(route, request(BODY, headers={"idempotency-key": "k"}), CTX, store)
    clock.t += 61
    assert run_route(route, request('{"name": "b", "count": 2}', headers={"idempotency-key": "k"}), CTX, store).status == 202
    assert route.calls == 2


# --------------------------------------------------------------------- handlers


def test_load_handler() -> None:
    import reference.api

    assert load_handler("reference.api:create_order") is reference.api.create_order
    with pytest.raises(ValueError):
        load_handler("reference.api.create_order")
    with pytest.raises(ImportError):
        load_handler("reference.nope:create_order")
    with pytest.raises(AttributeError):
        load_handler("reference.api:nope")


# ------------------------------------------------------------------ memory Table


@pytest.fixture
def table() -> Table:
    return Table("order_id", indexes={"by-customer": ("customer_id", "created_at")})


def test_put_get_and_if_absent(table: Table) -> None:
    table.put({"order_id": "a", "v": 1})
    assert table.get({"order_id": "a"}) == {"order_id": "a", "v": 1}
    assert table.get({"order_id": "b"}) is None
    with pytest.raises(ConditionFailed):
        table.put({"order_id": "a", "v": 2}, if_absent=True)
    table.put({"order_id": "a", "v": 3})
    assert table.get({"order_id": "a"}) == {"order_id": "a", "v": 3}


def test_keys_are_checked(table: Table) -> None:
    for bad in ({}, {"order_id": ""}, {"order_id": None}, {"order_id": True}):
        with pytest.raises(ValueError):
            table.put({**bad, "v": 1})
    with pytest.raises(ValueError):
        table.get({"order_id": "a", "other": 1})
    with pytest.raises(TypeError):
        table.put({"order_id": "a", "when": object()})


def test_update_conditions(table: Table) -> None:
    with pytest.raises(ConditionFailed):
        table.update({"order_id": "a"}, {"status": "X"})
    table.put({"order_id": "a", "status": "PENDING", "n": 1})
    assert table.update({"order_id": "a"}, {"status": "RESERVED"}, expect={"status": "PENDING"}) == {
        "order_id": "a",
        "status": "RESERVED",
        "n": 1,
    }
    with pytest.raises(ConditionFailed):
        table.update({"order_id": "a"}, {"status": "PAID"}, expect={"status": "PENDING"})
    with pytest.raises(ConditionFailed):
        table.update({"order_id": "a"}, {"status": "PAID"}, expect={"reason": "x"})
    assert table.update({"order_id": "a"}, {"n": 2}, expect={"reason": None})["n"] == 2
    assert table.get({"order_id": "a"})["status"] == "RESERVED"
    with pytest.raises(ValueError):
        table.update({"order_id": "a"}, {"order_id": "b"})


def test_delete_conditions(table: Table) -> None:
    table.delete({"order_id": "missing"})
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "missing"}, expect={"status": "X"})
    table.put({"order_id": "a", "status": "PENDING"})
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "a"}, expect={"status": "PAID"})
    table.delete({"order_id": "a"}, expect={"status": "PENDING"})
    assert table.get({"order_id": "a"}) is None


def test_query_index_orders_by_sort_key(table: Table) -> None:
    for oid, customer, created in [("1", "c1", "2024-03"), ("2", "c1", "2024-01"), ("3", "c2", "2024-02"), ("4", "c1", "2024-02")]:
        table.put({"order_id": oid, "customer_id": customer, "created_at": created})
    table.put({"order_id": "5", "customer_id": "c1"})  # no sort key: not in the index

    def ids(items: list[dict]) -> list[str]:
        return [i["order_id"] for i in items]

    assert ids(table.query({"customer_id": "c1"}, index="by-customer")) == ["2", "4", "1"]
    assert ids(table.query({"customer_id": "c1"}, index="by-customer", descending=True)) == ["1", "4", "2"]
    assert ids(table.query({"customer_id": "c1"}, index="by-customer", limit=2)) == ["2", "4"]
    assert ids(table.query({"order_id": "3"})) == ["3"]
    with pytest.raises(ValueError):
        table.query({"customer_id": "c1"})
    with pytest.raises(ValueError):
        table.query({"customer_id": "c1"}, index="nope")


def test_query_with_a_table_sort_key() -> None:
    t = Table("pk", "sk")
    for sk in (3, 1, 2):
        t.put({"pk": "p", "sk": sk})
    t.put({"pk": "q", "sk": 0})
    assert [i["sk"] for i in t.query({"pk": "p"})] == [1, 2, 3]
    assert t.get({"pk": "p", "sk": 2}) == {"pk": "p", "sk": 2}
    with pytest.raises(ValueError):
        t.get({"pk": "p"})


def test_stored_items_are_isolated_from_callers(table: Table) -> None:
    item = {"order_id": "a", "items": [{"sku": "x"}]}
    table.put(item)
    item["items"][0]["sku"] = "changed"
    got = table.get({"order_id": "a"})
    got["items"].append("more")
    table.update({"order_id": "a"}, {"tags": ["t"]})["tags"].append("u")
    queried = table.query({"order_id": "a"})
    queried[0]["items"].clear()
    assert table.get({"order_id": "a"}) == {"order_id": "a", "items": [{"sku": "x"}], "tags": ["t"]}


# ------------------------------------------------------- queue, workflow, secret


def test_queue_records_messages() -> None:
    q = Queue("orders")
    body = {"order_id": "a"}
    ids = [q.send(body), q.send({"order_id": "b"}, delay_s=5)]
    body["order_id"] = "changed"
    assert len(set(ids)) == 2
    assert q.bodies == [{"order_id": "a"}, {"order_id": "b"}]
    message = q.sent[1].message(receive_count=2)
    assert (message.id, message.body, message.receive_count, q.sent[1].delay_s) == (ids[1], {"order_id": "b"}, 2, 5)
    with pytest.raises(ValueError):
        q.send({}, delay_s=901)


def test_workflow_start_is_once_per_id() -> None:
    wf = Workflow("fulfil-order")
    state = {"order": {"order_id": "a"}}
    assert wf.start("a", state) is True
    state["order"]["order_id"] = "changed"
    assert wf.start("a", {"other": 1}) is False
    assert wf.executions == {"a": {"order": {"order_id": "a"}}}
    assert wf.start_calls == 2


def test_secret_is_cached_for_its_ttl() -> None:
    clock, values = Clock(), ["v1", "v2"]
    secret = Secret(lambda: values[0], ttl_s=300, clock=clock)
    assert secret.get() == "v1"
    values[0] = "v2"
    clock.t += 299
    assert secret.get() == "v1" and secret.loads == 1
    clock.t += 1
    assert secret.get() == "v2" and secret.loads == 2
    assert Secret("plain").get() == "plain"


# ------------------------------------------------------------------- contexts


def test_memory_context_shares_resources() -> None:
    t = Table("id")
    ctx = memory_context(tables={"things": t}, request_id="r")
    ctx.tables["things"].put({"id": "x"})
    assert len(t) == 1 and ctx.request_id == "r" and dict(ctx.queues) == {}


def test_contexts_from_the_spec_hold_only_declared_resources() -> None:
    res = MemoryResources.from_spec(REFERENCE, {"payment-api-key": "k"})
    create = res.context("create-order")
    assert (set(create.tables), set(create.queues), set(create.workflows), set(create.secrets)) == (
        {"orders", "idempotency"},
        {"orders"},
        set(),
        set(),
    )
    charge = res.context("charge-payment")
    assert set(charge.tables) == {"orders"} and charge.secrets["payment-api-key"].get() == "k"
    assert set(res.context("process-order").workflows) == {"fulfil-order"}
    assert res.context("health") == Context(request_id="req-memory")
    assert res.tables["orders"].indexes == {"by-customer": ("customer_id", "created_at")}
    assert list(res.written()) == []
