"""runtime.gcp.firestore on the official google-cloud-firestore client against the local
Firestore emulator (npm `@firestore-emulator/server`, started by tests/support/firestore_emulator.py).

What this emulator does not do as Firestore does, and how the tests cover it instead:
- Transactions are accepted but not isolated: BeginTransaction hands out a dummy id, reads take
  no lock and a commit is never aborted for contention. That the adapter's condition check
  runs inside the retried transaction is tested through the client's own seam: the GAPIC
  client's `commit` lets a rival write land and answers ABORTED, as Firestore does when a
  transaction loses a race, and the client then re-runs the adapter's read-check-write.
- `order_by` keeps documents that lack the field (sorted last) where Firestore leaves them
  out; the adapter drops them itself, so index queries are tested as Firestore answers them.
- A write without a field mask merges into an existing document, where Firestore replaces the
  document: that a plain put replaces the item is asserted on the Commit request it sends.
- Numbers compare by type, not by value: 1 never equals 1.0 in a filter, and a sort over a mix
  of integers and doubles is not ordered. Sort keys in these tests hold one type each.
- GetDocument, ListDocuments, UpdateDocument, DeleteDocument, CreateDocument and BatchWrite are
  not implemented; the client reaches everything the adapter uses through BatchGetDocuments,
  Commit, BeginTransaction, Rollback and RunQuery, which are.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from runtime.contracts import ConditionFailed
from runtime.gcp.firestore import Clients, FirestoreTable, build_tables, document_id
from tests.support.firestore_emulator import emulator_client, firestore_emulator  # noqa: F401 (fixture)
from tests.support.table_conformance import (
    assert_bad_arguments_fail_as_in_memory,
    assert_expecting_an_absent_attribute,
    assert_index_queries_order_by_the_sort_key,
    assert_updating_a_missing_item_fails,
)

ORDER_KEYS = {"key": ["order_id"], "indexes": {"by-customer": ["customer_id", "created_at"]}, "ttl": "expires_at"}


@pytest.fixture
def database(firestore_emulator: str) -> str:  # noqa: F811
    """A database of its own per test: the emulator keeps everything for the session."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(database: str) -> Any:
    return emulator_client(database)


def orders_table(client: Any, database: str, collection: str = "orders") -> FirestoreTable:
    return FirestoreTable(lambda: client, database, collection, ORDER_KEYS["key"], ORDER_KEYS["indexes"], ORDER_KEYS["ttl"])


def events_table(client: Any, database: str) -> FirestoreTable:
    """A table whose own key has a sort key."""
    return FirestoreTable(lambda: client, database, "events", ["stream", "seq"])


def raw(client: Any, collection: str, *values: Any) -> dict[str, Any] | None:
    """The document as Firestore holds it, read past the adapter."""
    return client.collection(collection).document(document_id(values)).get().to_dict()


# ---------------------------------------------------------------- reads and writes


def test_items_round_trip_as_plain_json(client: Any, database: str) -> None:
    """Ints stay ints, floats floats, and nested maps and lists come back as written."""
    table = orders_table(client, database)
    item = {
        "order_id": "o-1", "count": 3, "total": 12.5, "paid": False, "note": None,
        "lines": [{"sku": "a", "qty": 2, "price": 1.25}, {"sku": "b", "qty": 1, "tags": ["x", 7]}],
        "empty": {"map": {}, "list": []},
    }
    table.put(item)
    got = table.get({"order_id": "o-1"})
    assert got == item
    assert type(got["count"]) is int and type(got["lines"][0]["qty"]) is int
    assert type(got["total"]) is float
    assert table.get({"order_id": "o-2"}) is None


def record_commits(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The Commit requests `client` sends from now on (the GAPIC client is the seam)."""
    api = client._firestore_api
    real_commit = api.commit
    requests: list[Any] = []

    def commit(request: Any = None, **kwargs: Any) -> Any:
        requests.append(request)
        return real_commit(request=request, **kwargs)

    monkeypatch.setattr(api, "commit", commit)
    return requests


def test_put_replaces_the_whole_item(client: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain put is a write of the whole document without a field mask or precondition, which
    Firestore applies as a replacement (the emulator merges it instead: asserted on the request)."""
    table = orders_table(client, database)
    table.put({"order_id": "o-1", "status": "new", "extra": 1})
    commits = record_commits(client, monkeypatch)
    table.put({"order_id": "o-1", "status": "paid"})
    [request] = commits
    [write] = request["writes"]
    assert "update_mask" not in write and "current_document" not in write and not request.get("transaction")
    assert set(write.update.fields) == {"order_id", "status"}
    assert table.get({"order_id": "o-1"})["status"] == "paid"


def test_put_if_absent_refuses_an_existing_item(client: Any, database: str) -> None:
    """put(if_absent) is a create, which the server refuses for an existing document."""
    table = orders_table(client, database)
    table.put({"order_id": "o-1", "status": "paid"}, if_absent=True)
    with pytest.raises(ConditionFailed):
        table.put({"order_id": "o-1", "status": "other"}, if_absent=True)
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "paid"}


def test_a_value_no_table_stores_fails_before_writing(client: Any, database: str) -> None:
    """Items go in through JSON, as in memory.Table: a datetime is refused the same way."""
    table = orders_table(client, database)
    with pytest.raises(TypeError):
        table.put({"order_id": "o-1", "at": dt.datetime.now(dt.UTC)})
    assert table.get({"order_id": "o-1"}) is None


def test_update_applies_only_when_expect_holds(client: Any, database: str) -> None:
    """expect hit: the changes land and the whole item comes back; miss: nothing changes."""
    table = orders_table(client, database)
    table.put({"order_id": "o-1", "status": "new", "total": 10})
    updated = table.update({"order_id": "o-1"}, {"status": "paid", "paid_by": {"card": "1234"}}, expect={"status": "new"})
    assert updated == {"order_id": "o-1", "status": "paid", "total": 10, "paid_by": {"card": "1234"}}
    assert table.get({"order_id": "o-1"}) == updated
    with pytest.raises(ConditionFailed):
        table.update({"order_id": "o-1"}, {"status": "cancelled"}, expect={"status": "new"})
    assert table.get({"order_id": "o-1"}) == updated


def test_update_expecting_an_absent_attribute(client: Any, database: str) -> None:
    """expect {attr: None} holds while the attribute is missing, and fails once it is set."""
    assert_expecting_an_absent_attribute(orders_table(client, database))


def test_update_of_a_missing_item_fails_and_creates_nothing(client: Any, database: str) -> None:
    assert_updating_a_missing_item_fails(orders_table(client, database))


def test_delete_with_expect(client: Any, database: str) -> None:
    """Without expect a delete always succeeds; with it, the item must exist and match."""
    table = orders_table(client, database)
    table.put({"order_id": "o-1", "status": "paid"})
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"status": "new"})
    assert table.get({"order_id": "o-1"}) is not None
    table.delete({"order_id": "o-1"}, expect={"status": "paid"})
    assert table.get({"order_id": "o-1"}) is None
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"status": "paid"})
    table.delete({"order_id": "o-1"})  # missing, no expectation: fine


def lose_first_race(client: Any, monkeypatch: pytest.MonkeyPatch, rival_write: Any) -> list[bytes]:
    """Make `client`'s first transactional commit lose a race, as Firestore reports it: the
    rival's write lands, then ABORTED (the client then runs the transaction again). Returns the
    ids of the transactions aborted."""
    from google.api_core.exceptions import Aborted

    api = client._firestore_api
    real_commit = api.commit
    aborted: list[bytes] = []

    def commit(request: Any = None, **kwargs: Any) -> Any:
        if request.get("transaction") and not aborted:
            aborted.append(request["transaction"])
            rival_write()
            raise Aborted("too much contention on these documents")
        return real_commit(request=request, **kwargs)

    monkeypatch.setattr(api, "commit", commit)
    return aborted


@pytest.mark.parametrize("rival_status, applies", [("cancelled", False), ("new", True)])
def test_conditional_update_rechecks_after_losing_a_race(client: Any, database: str, monkeypatch: pytest.MonkeyPatch,
                                                         rival_status: str, applies: bool) -> None:
    """When the commit is aborted because a rival wrote the item meanwhile, the update reads
    again and checks expect against the rival's write."""
    table = orders_table(client, database)
    rival = orders_table(emulator_client(database), database)  # another instance, its own client
    table.put({"order_id": "o-1", "status": "new"})
    aborted = lose_first_race(client, monkeypatch, lambda: rival.put({"order_id": "o-1", "status": rival_status, "rival": True}))
    if applies:
        assert table.update({"order_id": "o-1"}, {"status": "paid"}, expect={"status": "new"}) == {
            "order_id": "o-1", "status": "paid", "rival": True}
    else:
        with pytest.raises(ConditionFailed):
            table.update({"order_id": "o-1"}, {"status": "paid"}, expect={"status": "new"})
    assert aborted, "the update did not commit in a transaction"
    assert table.get({"order_id": "o-1"})["status"] == ("paid" if applies else rival_status)


def test_conditional_delete_rechecks_after_losing_a_race(client: Any, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """As for update: after an aborted commit the delete checks expect against the rival's write."""
    table = orders_table(client, database)
    rival = orders_table(emulator_client(database), database)
    table.put({"order_id": "o-1", "status": "new"})
    aborted = lose_first_race(client, monkeypatch, lambda: rival.put({"order_id": "o-1", "status": "paid"}))
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"status": "new"})
    assert aborted, "the delete did not commit in a transaction"
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "paid"}


def test_bad_arguments_fail_as_in_memory(client: Any, database: str) -> None:
    """runtime.tables checks every argument, so the errors are memory.Table's, word for word."""
    assert_bad_arguments_fail_as_in_memory(orders_table(client, database))


# ------------------------------------------------------------------------- queries


def test_query_by_the_table_key_orders_by_its_sort_key(client: Any, database: str) -> None:
    table = events_table(client, database)
    for seq in (3, 1, 25, 10, 2):
        table.put({"stream": "a", "seq": seq, "body": f"e{seq}"})
    table.put({"stream": "b", "seq": 4})
    assert [i["seq"] for i in table.query({"stream": "a"})] == [1, 2, 3, 10, 25]
    assert [i["seq"] for i in table.query({"stream": "a"}, descending=True)] == [25, 10, 3, 2, 1]
    assert [i["seq"] for i in table.query({"stream": "a"}, limit=2)] == [1, 2]
    assert table.query({"stream": "a"}, descending=True, limit=1) == [{"stream": "a", "seq": 25, "body": "e25"}]
    assert table.query({"stream": "c"}) == []


def test_query_without_a_sort_key_finds_the_one_item(client: Any, database: str) -> None:
    table = orders_table(client, database)
    table.put({"order_id": "o-1", "customer_id": "c1"})
    table.put({"order_id": "o-2", "customer_id": "c1"})
    assert table.query({"order_id": "o-2"}) == [{"order_id": "o-2", "customer_id": "c1"}]


def test_query_on_an_index_with_a_sort_key(client: Any, database: str) -> None:
    """Ordered by the index's sort key; items without it are not in the index (as in memory and
    DynamoDB), nor are other customers' orders."""
    table = orders_table(client, database)
    assert_index_queries_order_by_the_sort_key(table)
    assert table.query({"customer_id": "c1"}, index="by-customer", limit=10) == table.query({"customer_id": "c1"},
                                                                                         index="by-customer")


# ----------------------------------------------------------------------------- TTL


def test_ttl_is_a_timestamp_in_firestore_and_epoch_seconds_to_callers(client: Any, database: str) -> None:
    """Firestore's TTL policy needs a timestamp field; callers keep the neutral epoch seconds."""
    table = orders_table(client, database)
    expires = 1_900_000_000
    table.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01-01", "expires_at": expires})
    stored = raw(client, "orders", "o-1")["expires_at"]
    assert isinstance(stored, dt.datetime) and stored.tzinfo is not None
    assert stored == dt.datetime.fromtimestamp(expires, tz=dt.UTC)
    got = table.get({"order_id": "o-1"})["expires_at"]
    assert got == expires and type(got) is int
    assert table.query({"customer_id": "c1"}, index="by-customer")[0]["expires_at"] == expires
    updated = table.update({"order_id": "o-1"}, {"expires_at": expires + 60}, expect={"expires_at": expires})
    assert updated["expires_at"] == expires + 60
    assert raw(client, "orders", "o-1")["expires_at"] == dt.datetime.fromtimestamp(expires + 60, tz=dt.UTC)
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"expires_at": expires})


def test_only_the_ttl_attribute_becomes_a_timestamp(client: Any, database: str) -> None:
    table = orders_table(client, database)
    table.put({"order_id": "o-1", "expires_at": 1_900_000_000, "retry_at": 1_900_000_000})
    stored = raw(client, "orders", "o-1")
    assert isinstance(stored["expires_at"], dt.datetime)
    assert stored["retry_at"] == 1_900_000_000


# ------------------------------------------------------------------------ key encoding


def test_document_ids_are_single_safe_segments() -> None:
    """No '/', never '.', '..' or '__x__', strings and numbers tagged apart, 1.0 is 1."""
    for values in (["a/b"], ["."], [".."], ["__name__"], ["a,b", "c"], ["%2F"], [1.5], ["é 日本"]):
        doc_id = document_id(values)
        assert "/" not in doc_id and doc_id not in (".", "..") and not doc_id.startswith("__")
    assert document_id([1]) != document_id(["1"])
    assert document_id([1.0]) == document_id([1])
    assert document_id(["a,b", "c"]) != document_id(["a", "b,c"])
    assert document_id(["a/b"]) != document_id(["a%2Fb"])


def test_keys_that_look_alike_never_share_a_document(client: Any, database: str) -> None:
    """Each key reads back its own item and occupies its own document."""
    table = events_table(client, database)
    keys = [
        ("a/b", "c"), ("a", "b/c"), ("a,b", "c"), ("a", "b,c"), ("a b", " "), ("a%2Fb", "c"),
        ("é", "日本"), ("e\u0301", "日本"), (".", ".."), ("__name__", "x"), ("1", "2"), (1, 2), (1, "2"), ("1", 2),
        (1.5, -3), ("1.5", "-3"),
    ]
    for n, (stream, seq) in enumerate(keys):
        table.put({"stream": stream, "seq": seq, "n": n})
    for n, (stream, seq) in enumerate(keys):
        assert table.get({"stream": stream, "seq": seq}) == {"stream": stream, "seq": seq, "n": n}
    assert len(list(client.collection("events").stream())) == len(keys)
    table.put({"stream": 1.0, "seq": 2.0, "n": "again"})  # the same number is the same key
    assert table.get({"stream": 1, "seq": 2})["n"] == "again"
    assert len(list(client.collection("events").stream())) == len(keys)


# ------------------------------------------------------------------ tables and wiring


def test_two_tables_in_one_database_do_not_share_items(client: Any, database: str) -> None:
    orders = orders_table(client, database, "orders")
    archive = orders_table(client, database, "archive")
    orders.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01-01", "where": "orders"})
    archive.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01-01", "where": "archive"})
    assert orders.get({"order_id": "o-1"})["where"] == "orders"
    assert archive.get({"order_id": "o-1"})["where"] == "archive"
    assert [i["where"] for i in archive.query({"customer_id": "c1"}, index="by-customer")] == ["archive"]
    archive.delete({"order_id": "o-1"})
    assert orders.get({"order_id": "o-1"})["where"] == "orders"


def test_build_tables_from_the_wiring_creates_clients_on_first_use(firestore_emulator: str) -> None:  # noqa: F811
    """One table per ANYCLOUD_TABLE_<NAME> (value: database id; collection: the table name), keys
    and TTL from ANYCLOUD_KEYS_<NAME>; one client per database, none before a table is used."""
    orders_db, claims_db = f"orders-{uuid.uuid4().hex[:8]}", f"claims-{uuid.uuid4().hex[:8]}"
    env = {
        "ANYCLOUD_TABLE_ORDERS": orders_db,
        "ANYCLOUD_KEYS_ORDERS": json.dumps(ORDER_KEYS),
        "ANYCLOUD_TABLE_IDEMPOTENCY_KEYS": claims_db,
        "ANYCLOUD_KEYS_IDEMPOTENCY_KEYS": json.dumps({"key": ["id"], "indexes": {}}),
        "ANYCLOUD_QUEUE_ORDERS": "projects/p/topics/orders",
    }
    clients = Clients(emulator_client)
    tables = build_tables(env, clients.get)
    assert sorted(tables) == ["idempotency-keys", "orders"]
    assert clients.created == []
    orders = tables["orders"]
    assert (orders.database, orders.collection, orders.key_attributes, orders.ttl_attribute) == (
        orders_db, "orders", ["order_id"], "expires_at")
    assert orders.index_keys == {"by-customer": ["customer_id", "created_at"]}
    orders.put({"order_id": "o-1", "expires_at": 1_900_000_000})
    orders.get({"order_id": "o-1"})
    assert clients.created == [orders_db]
    assert clients.get(orders_db) is clients.get(orders_db)
    assert isinstance(raw(clients.get(orders_db), "orders", "o-1")["expires_at"], dt.datetime)
    tables["idempotency-keys"].put({"id": "k"}, if_absent=True)
    assert clients.created == sorted([orders_db, claims_db])
    assert raw(emulator_client(claims_db), "idempotency-keys", "k") == {"id": "k"}
