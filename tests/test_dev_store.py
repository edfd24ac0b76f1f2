"""components.dev.store's Table has runtime.memory.Table's semantics, in a file and in memory:
the shared conformance cases, a long random sequence of calls answered exactly as memory
answers it, JSON round trips, and TTL expiry on an injected clock.
(The file itself, threads and processes: tests/test_dev_store_file.py.)"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from components.dev.store import Store, Table
from components.spec import TableSpec
from runtime import memory
from runtime.contracts import ConditionFailed, Response
from runtime.idempotency import EXPIRES_AFTER_S, TableIdempotency
from tests.support.dev_store import EVENTS, ORDERS, Clock
from tests.support.table_conformance import (
    assert_bad_arguments_fail_as_in_memory,
    assert_expecting_an_absent_attribute,
    assert_index_queries_order_by_the_sort_key,
    assert_updating_a_missing_item_fails,
)

NOW = 1_800_000_000


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / ".anycloud" / "dev.sqlite" if request.param == "file" else None, clock=clock) as opened:
        yield opened


@pytest.fixture
def orders(store: Store) -> Table:
    return store.table(ORDERS)


@pytest.fixture
def events(store: Store) -> Table:
    return store.table(EVENTS)


# ------------------------------------------------------------- the shared conformance cases


@pytest.mark.parametrize("case", [
    assert_bad_arguments_fail_as_in_memory,
    assert_index_queries_order_by_the_sort_key,
    assert_expecting_an_absent_attribute,
    assert_updating_a_missing_item_fails,
])
def test_conformance(case: Callable[[Any], None], orders: Table) -> None:
    case(orders)


# ------------------------------------------------------------------- as memory answers


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except (ConditionFailed, ValueError) as err:
        return (type(err).__name__, str(err))


def test_random_calls_are_answered_as_memory_answers_them(events: Table) -> None:
    """2,000 random calls on a table with a sort key and two indexes, the same on memory.Table:
    every result, error and message is the same. Keys 1 and 1.0 are one key, "1" is another;
    kinds True and 1 equal as in Python; items miss index attributes; sort ties fall back to
    insertion order, which a replaced item keeps and a deleted and re-put item loses."""
    reference = memory.Table("stream", "seq", {"by-kind": ("kind", "at"), "by-owner": ("owner", None)})
    rng = random.Random(19)
    absent = object()

    def pick(*choices: Any) -> Any:
        return rng.choice(choices)

    def key() -> dict[str, Any]:
        return {"stream": pick("a", "b", "1", 1, 1.0, 2), "seq": pick(1, 2, 2.0, 3, 10)}

    def attributes() -> dict[str, Any]:
        drawn = {"kind": pick("x", "y", 1, True, None, absent), "at": pick("2024-01", "2024-02", "2024-03", absent),
                 "owner": pick("p", "q", absent), "status": pick(0, 1, 2), "note": pick({"n": [1, 2.5]}, [], absent)}
        return {k: v for k, v in drawn.items() if v is not absent}

    def expect() -> dict[str, Any] | None:
        return pick(None, None, {"status": pick(0, 1, 2)}, {"note": None}, {"status": 1, "owner": "p"})

    calls: list[Callable[[Any], Any]] = []
    for _ in range(2000):
        op, k = pick("put", "put", "put_if_absent", "update", "delete", "get", "query", "query"), key()
        if op == "put":
            calls.append(lambda t, item={**k, **attributes()}: t.put(item))
        elif op == "put_if_absent":
            calls.append(lambda t, item={**k, **attributes()}: t.put(item, if_absent=True))
        elif op == "update":
            changes = {a: v for a, v in attributes().items() if rng.random() < 0.4}
            calls.append(lambda t, k=k, c=changes, e=expect(): t.update(k, c, expect=e))
        elif op == "delete":
            calls.append(lambda t, k=k, e=expect(): t.delete(k, expect=e))
        elif op == "get":
            calls.append(lambda t, k=k: t.get(k))
        else:
            index = pick(None, "by-kind", "by-owner")
            value = {None: k["stream"], "by-kind": pick("x", "y", 1), "by-owner": pick("p", "q")}[index]
            partition = {None: "stream", "by-kind": "kind", "by-owner": "owner"}[index]
            calls.append(lambda t, q={partition: value}, i=index, n=pick(1, 2, 5, 100), d=pick(True, False):
                         t.query(q, index=i, limit=n, descending=d))
    answered = [(_outcome(lambda: call(events)), _outcome(lambda: call(reference))) for call in calls]
    differences = [(n, ours, theirs) for n, (ours, theirs) in enumerate(answered) if ours != theirs]
    assert differences == []
    assert events.items() == reference.items()
    kinds = {outcome[0] for outcome, _ in answered}
    assert kinds == {"ok", "ConditionFailed"}  # both branches were exercised


def test_items_round_trip_as_json_copies(orders: Table) -> None:
    """Ints stay ints and floats floats, nested maps and lists come back as written, and neither
    what the caller passed nor what it got back can change what is stored."""
    item = {
        "order_id": "o-1", "count": 3, "total": 12.5, "big": 2**70, "paid": False, "note": None, "name": "Zoë 日本",
        "lines": [{"sku": "a", "qty": 2, "price": 1.25}, {"sku": "b", "qty": 1, "tags": ["x", 7]}],
        "empty": {"map": {}, "list": []},
    }
    orders.put(item)
    got = orders.get({"order_id": "o-1"})
    assert got == item
    assert type(got["count"]) is int and type(got["lines"][0]["qty"]) is int and type(got["total"]) is float
    item["lines"].append("added")
    got["empty"]["map"]["x"] = 1
    assert orders.get({"order_id": "o-1"})["lines"] == item["lines"][:2]
    assert orders.get({"order_id": "o-1"})["empty"] == {"map": {}, "list": []}
    updated = orders.update({"order_id": "o-1"}, {"count": 4})
    updated["count"] = 99
    assert orders.get({"order_id": "o-1"})["count"] == 4


def test_a_value_no_table_stores_fails_before_writing(orders: Table) -> None:
    """Items go in through JSON, as in memory.Table: a datetime is refused the same way."""
    with pytest.raises(TypeError):
        orders.put({"order_id": "o-1", "at": dt.datetime.now(dt.UTC)})
    orders.put({"order_id": "o-2"})
    with pytest.raises(TypeError):
        orders.update({"order_id": "o-2"}, {"at": {1, 2}})
    assert orders.items() == [{"order_id": "o-2"}]


def test_numbers_order_as_numbers_and_strings_by_code_point(events: Table) -> None:
    for seq in (3, 1, 25, 10, 2.5):
        events.put({"stream": "a", "seq": seq})
    assert [i["seq"] for i in events.query({"stream": "a"})] == [1, 2.5, 3, 10, 25]
    words = ["b", "B", "é", "a", "z", "日本", "ab", "Z"]
    for n, word in enumerate(words):
        events.put({"stream": "w", "seq": n, "kind": "k", "at": word})
    assert [i["at"] for i in events.query({"kind": "k"}, index="by-kind")] == sorted(words)


def test_what_clouds_refuse_is_refused(events: Table) -> None:
    """The three differences from memory.Table (see the module docstring), each a ValueError
    before anything is written."""
    events.put({"stream": "a", "seq": 1})
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="not JSON compliant"):
            events.put({"stream": "a", "seq": 2, "score": [bad]})
        with pytest.raises(ValueError, match="not JSON compliant"):
            events.update({"stream": "a", "seq": 1}, {"score": bad})
        with pytest.raises(ValueError, match="key attribute seq must be a finite number"):
            events.get({"stream": "a", "seq": bad})
    with pytest.raises(ValueError, match="key attribute seq must be a finite number, integers within 64 bits"):
        events.put({"stream": "a", "seq": 2**63})
    with pytest.raises(ValueError, match="key attribute owner must be a non-empty string or a number"):
        events.query({"owner": None}, index="by-owner")
    assert events.items() == [{"stream": "a", "seq": 1}]


def test_two_tables_never_share_items(store: Store) -> None:
    orders, other = store.table(ORDERS), store.table(ORDERS.model_copy(update={"name": "invoices"}))
    orders.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024"})
    assert other.get({"order_id": "o-1"}) is None and other.query({"customer_id": "c1"}, index="by-customer") == []
    other.put({"order_id": "o-1", "total": 2})
    assert orders.get({"order_id": "o-1"}) == {"order_id": "o-1", "customer_id": "c1", "created_at": "2024"}


# ----------------------------------------------------------------------------- TTL


def test_an_expired_item_is_invisible_to_every_read(orders: Table, clock: Clock) -> None:
    """Expired: the TTL attribute (epoch seconds) is at or before the clock."""
    orders.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01", "expires_at": NOW + 10})
    orders.put({"order_id": "o-2", "customer_id": "c1", "created_at": "2024-02", "expires_at": NOW + 20.5})
    orders.put({"order_id": "o-3", "customer_id": "c1", "created_at": "2024-03"})
    clock.now = NOW + 9
    assert len(orders) == 3
    clock.now = NOW + 10
    assert orders.get({"order_id": "o-1"}) is None
    assert [i["order_id"] for i in orders.query({"customer_id": "c1"}, index="by-customer")] == ["o-2", "o-3"]
    assert orders.query({"order_id": "o-1"}) == []
    clock.now = NOW + 21
    assert [i["order_id"] for i in orders.items()] == ["o-3"] and len(orders) == 1


def test_conditions_treat_an_expired_item_as_absent(orders: Table, clock: Clock) -> None:
    for n in (1, 2, 3):
        orders.put({"order_id": f"o-{n}", "status": "new", "expires_at": NOW + 5})
    clock.now = NOW + 5
    orders.put({"order_id": "o-1", "status": "again"}, if_absent=True)
    assert orders.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "again"}
    with pytest.raises(ConditionFailed):
        orders.update({"order_id": "o-2"}, {"status": "paid"})
    with pytest.raises(ConditionFailed):
        orders.delete({"order_id": "o-3"}, expect={"status": "new"})
    orders.delete({"order_id": "o-3"})  # no expectation: a missing item is fine


def test_expired_items_are_deleted_on_access_or_by_purge(store: Store, clock: Clock) -> None:
    """An access to a table deletes its expired items; purge_expired deletes everyone's, and
    says how many."""
    orders, invoices = store.table(ORDERS), store.table(ORDERS.model_copy(update={"name": "invoices"}))
    for table in (orders, invoices):
        for n in range(3):
            table.put({"order_id": f"o-{n}", "expires_at": NOW + 1 + n})
    clock.now = NOW + 2
    assert orders.get({"order_id": "o-2"}) is not None  # reading one item deletes the table's expired two
    assert store.purge_expired() == 2  # only invoices' were left
    assert store.purge_expired() == 0
    clock.now = NOW + 3
    assert store.purge_expired() == 2
    assert orders.items() == invoices.items() == []


def test_a_ttl_that_is_not_a_number_never_expires(orders: Table, clock: Clock) -> None:
    orders.put({"order_id": "o-1", "expires_at": "2020-01-01"})
    orders.put({"order_id": "o-2", "expires_at": True})
    orders.put({"order_id": "o-3", "expires_at": None})
    clock.now = NOW * 10
    assert len(orders) == 3


def test_integers_beyond_any_float_expire_as_numbers(orders: Table) -> None:
    orders.put({"order_id": "o-1", "expires_at": 2**1100})
    orders.put({"order_id": "o-2", "expires_at": -(2**1100)})
    assert [i["order_id"] for i in orders.items()] == ["o-1"]


def test_an_update_can_expire_or_revive_an_item(orders: Table, clock: Clock) -> None:
    orders.put({"order_id": "o-1", "expires_at": NOW + 100})
    returned = orders.update({"order_id": "o-1"}, {"expires_at": NOW - 1})
    assert returned == {"order_id": "o-1", "expires_at": NOW - 1}
    assert orders.get({"order_id": "o-1"}) is None
    orders.put({"order_id": "o-2", "expires_at": NOW + 1})
    orders.update({"order_id": "o-2"}, {"expires_at": NOW + 60}, expect={"expires_at": NOW + 1})
    clock.now = NOW + 30
    assert orders.get({"order_id": "o-2"}) == {"order_id": "o-2", "expires_at": NOW + 60}


def test_a_table_without_ttl_ignores_any_such_attribute(events: Table, clock: Clock) -> None:
    events.put({"stream": "a", "seq": 1, "expires_at": NOW - 100})
    clock.now = NOW + 1
    assert events.get({"stream": "a", "seq": 1}) is not None


def test_route_idempotency_runs_on_the_store_as_on_the_clouds(store: Store, clock: Clock) -> None:
    """runtime.idempotency over the store's `idempotency` table (key `id`, TTL `expiration`): a
    response is replayed for the same key; once the record expires the key runs again."""
    table = store.table(TableSpec.model_validate({"name": "idempotency", "partition_key": {"name": "id"},
                                                  "ttl_attribute": "expiration"}))
    idem, runs = TableIdempotency(table, "create-order#alice", in_progress_s=30, clock=clock), []

    def compute() -> Response:
        runs.append(1)
        return Response(202, {"run": len(runs)})

    assert idem.run("key-1", "hash", compute).body == {"run": 1}
    assert idem.run("key-1", "hash", compute).body == {"run": 1} and len(runs) == 1
    clock.now += EXPIRES_AFTER_S
    assert idem.run("key-1", "hash", compute).body == {"run": 2}
