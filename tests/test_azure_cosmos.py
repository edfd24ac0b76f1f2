"""runtime.azure.cosmos on the official azure-cosmos client against an in-memory stand-in of
the Cosmos DB REST endpoints (tests/support/cosmos_standin.py), given to the client as its
azure-core transport: the client's whole pipeline runs (AAD auth with a token credential,
etags, query plans and partition key ranges) and the tests assert on the requests it sends.

What the stand-in can't show, and is left to a real account:
- that Cosmos' own SQL engine runs the adapter's queries (the stand-in parses the shapes the
  adapter writes); the text and parameters are asserted here, and they follow the documented
  grammar (parameterised ``TOP``, ``IS_DEFINED``, bracketed property names);
- consistency: one stand-in answers every read at once; on Cosmos, another instance's write
  is visible to a read at the account's consistency level (etags keep conditional writes
  correct at any level);
- the time Cosmos takes to purge expired items (it hides them at once, as the stand-in does).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from components.wiring import table_keys
from runtime import memory
from runtime.azure import cosmos
from runtime.azure.cosmos import Clients, CosmosTable, build_tables, container_address, document_id
from runtime.contracts import ConditionFailed, HttpError, Response
from runtime.idempotency import COMPLETED, TableIdempotency
from tests.services import reference
from tests.support.cosmos_standin import ENDPOINT, TOKEN, CosmosStandIn, Received
from tests.support.table_conformance import (
    assert_bad_arguments_fail_as_in_memory,
    assert_expecting_an_absent_attribute,
    assert_index_queries_order_by_the_sort_key,
    assert_updating_a_missing_item_fails,
)

DATABASE = "anycloud"
ORDERS = f"{ENDPOINT}dbs/{DATABASE}/colls/orders"
EVENTS = f"{ENDPOINT}dbs/{DATABASE}/colls/events"
IDEMPOTENCY = f"{ENDPOINT}dbs/{DATABASE}/colls/idempotency"
#: The reference test service's tables as the renderer wires them (components/wiring.py).
ORDER_KEYS = json.loads(table_keys(reference.orders))
IDEMPOTENCY_KEYS = json.loads(table_keys(reference.idempotency))
NOW = 1_800_000_000.0
#: The composite indexes components/azure/table.py declares for the orders table's index.
BY_CUSTOMER = [[("/customer_id", "ascending"), ("/created_at", order)] for order in ("ascending", "descending")]


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeCredential:
    """A TokenCredential: the client authenticates with AAD tokens, as with the app's identity."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def account(clock: Clock) -> CosmosStandIn:
    standin = CosmosStandIn(clock=clock)
    standin.add_container(DATABASE, "orders", "/order_id", BY_CUSTOMER)
    standin.add_container(DATABASE, "events", "/stream")
    standin.add_container(DATABASE, "idempotency", "/id")
    return standin


@pytest.fixture
def clients(account: CosmosStandIn) -> Clients:
    return Clients(FakeCredential(), transport=account)


def orders_table(clients: Clients, clock: Clock) -> CosmosTable:
    return CosmosTable(lambda: clients.container(ORDERS), container_address(ORDERS), ORDER_KEYS["key"],
                       ORDER_KEYS["indexes"], ORDER_KEYS["ttl"], clock)


def events_table(clients: Clients, clock: Clock) -> CosmosTable:
    """A table whose own key has a sort key."""
    return CosmosTable(lambda: clients.container(EVENTS), container_address(EVENTS), ["stream", "seq"], clock=clock)


def idempotency_table(clients: Clients, clock: Clock) -> CosmosTable:
    """The service's `idempotency` table: partition key `id`, the name Cosmos uses for its own."""
    return CosmosTable(lambda: clients.container(IDEMPOTENCY), container_address(IDEMPOTENCY), IDEMPOTENCY_KEYS["key"],
                       ttl=IDEMPOTENCY_KEYS["ttl"], clock=clock)


def raw(account: CosmosStandIn, container: str, *values: Any) -> dict[str, Any] | None:
    """The document as Cosmos holds it, read past the adapter."""
    found = [d for d in account.documents(DATABASE, container) if d["id"] == document_id(values)]
    return found[0] if found else None


def writes(account: CosmosStandIn) -> list[Received]:
    return [r for r in account.document_requests() if r.method in ("PUT", "DELETE")
            or (r.method == "POST" and "x-ms-documentdb-isquery" not in r.headers
                and "x-ms-cosmos-is-query-plan-request" not in r.headers)]


def queries(account: CosmosStandIn) -> list[Received]:
    return [r for r in account.document_requests() if "x-ms-documentdb-isquery" in r.headers]


# ---------------------------------------------------------------- reads and writes


def test_items_round_trip_as_plain_json(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Ints stay ints, floats floats, nested maps and lists come back as written, and none of
    Cosmos' own properties (id, _rid, _etag, _ts...) reach the caller."""
    table = orders_table(clients, clock)
    item = {
        "order_id": "o-1", "count": 3, "total": 12.5, "paid": False, "note": None,
        "lines": [{"sku": "a", "qty": 2, "price": 1.25}, {"sku": "b", "qty": 1, "tags": ["x", 7]}],
        "empty": {"map": {}, "list": []},
    }
    table.put(item)
    got = table.get({"order_id": "o-1"})
    assert got == item
    assert type(got["count"]) is int and type(got["total"]) is float
    assert table.get({"order_id": "o-2"}) is None
    assert {"id", "_rid", "_etag", "_ts", "_self", "_attachments"} <= set(raw(account, "orders", "o-1"))


def test_requests_name_the_partition_and_authenticate_with_aad(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Every item request carries the partition key value (the partition attribute's value) and
    an AAD token for the account's scope; the id is the encoded key."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o/1?#", "status": "new"})
    table.get({"order_id": "o/1?#"})
    put, get = account.document_requests()
    assert put.partition_key == get.partition_key == "o/1?#"
    assert put.body["id"] == document_id(["o/1?#"]) and get.path.rstrip("/").endswith("/docs/" + document_id(["o/1?#"]))
    assert all(r.headers["authorization"] == f"type=aad&ver=1.0&sig={TOKEN}" for r in account.received)
    assert clients._credential.scopes[0] == ("https://anycloud-test.documents.azure.com/.default",)


def test_put_replaces_the_whole_item(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """A plain put is an upsert of the whole document: attributes it does not hold are gone."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "status": "new", "extra": 1})
    table.put({"order_id": "o-1", "status": "paid"})
    first, second = writes(account)
    assert first.headers["x-ms-documentdb-is-upsert"] == second.headers["x-ms-documentdb-is-upsert"] == "True"
    assert second.body == {"order_id": "o-1", "status": "paid", "id": document_id(["o-1"])}
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "paid"}


def test_put_if_absent_refuses_an_existing_item(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """put(if_absent) is a create (no upsert header), which the server refuses for an existing item."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "status": "paid"}, if_absent=True)
    with pytest.raises(ConditionFailed):
        table.put({"order_id": "o-1", "status": "other"}, if_absent=True)
    assert [r.method for r in writes(account)] == ["POST", "POST"]
    assert not any("x-ms-documentdb-is-upsert" in r.headers for r in writes(account))
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "paid"}


def test_a_value_no_table_stores_fails_before_writing(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Items go in through JSON, as in memory.Table: a datetime is refused the same way."""
    table = orders_table(clients, clock)
    with pytest.raises(TypeError):
        table.put({"order_id": "o-1", "at": dt.datetime.now(dt.UTC)})
    assert writes(account) == []


def test_update_writes_with_the_etag_it_read(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """expect hit: a replace conditional on the etag read (If-Match) returns the whole item;
    miss: nothing is written."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "status": "new", "total": 10})
    etag = raw(account, "orders", "o-1")["_etag"]
    updated = table.update({"order_id": "o-1"}, {"status": "paid", "paid_by": {"card": "1234"}}, expect={"status": "new"})
    assert updated == {"order_id": "o-1", "status": "paid", "total": 10, "paid_by": {"card": "1234"}}
    replace = writes(account)[-1]
    assert replace.method == "PUT" and replace.headers["if-match"] == etag and replace.partition_key == "o-1"
    assert table.get({"order_id": "o-1"}) == updated
    with pytest.raises(ConditionFailed):
        table.update({"order_id": "o-1"}, {"status": "cancelled"}, expect={"status": "new"})
    assert len(writes(account)) == 2
    assert table.get({"order_id": "o-1"}) == updated


def test_update_expecting_an_absent_attribute(clients: Clients, clock: Clock) -> None:
    """expect {attr: None} holds while the attribute is missing, and fails once it is set."""
    assert_expecting_an_absent_attribute(orders_table(clients, clock))


def test_update_of_a_missing_item_fails_and_creates_nothing(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    assert_updating_a_missing_item_fails(orders_table(clients, clock))
    assert writes(account) == []


def test_delete_with_expect(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Without expect a delete always succeeds; with it, the item must exist and match, and the
    delete is conditional on the etag read."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "status": "paid"})
    etag = raw(account, "orders", "o-1")["_etag"]
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"status": "new"})
    assert table.get({"order_id": "o-1"}) is not None
    table.delete({"order_id": "o-1"}, expect={"status": "paid"})
    assert writes(account)[-1].method == "DELETE" and writes(account)[-1].headers["if-match"] == etag
    assert table.get({"order_id": "o-1"}) is None
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"status": "paid"})
    table.delete({"order_id": "o-1"})  # missing, no expectation: fine
    assert "if-match" not in writes(account)[-1].headers


@pytest.mark.parametrize("rival_status, applies", [("cancelled", False), ("new", True)])
def test_conditional_update_rechecks_after_losing_a_race(clients: Clients, clock: Clock, account: CosmosStandIn,
                                                         rival_status: str, applies: bool) -> None:
    """A rival's write lands between the update's read and its replace: the replace is refused
    (412, the etag changed), and the update reads again and checks expect on the rival's write."""
    table = orders_table(clients, clock)
    rival = orders_table(Clients(FakeCredential(), transport=account), clock)  # another instance, its own client
    table.put({"order_id": "o-1", "status": "new"})
    account.before_write = lambda request: rival.put({"order_id": "o-1", "status": rival_status, "rival": True})
    if applies:
        assert table.update({"order_id": "o-1"}, {"status": "paid"}, expect={"status": "new"}) == {
            "order_id": "o-1", "status": "paid", "rival": True}
    else:
        with pytest.raises(ConditionFailed):
            table.update({"order_id": "o-1"}, {"status": "paid"}, expect={"status": "new"})
    replaces = [r for r in writes(account) if r.method == "PUT"]
    assert len(replaces) == (2 if applies else 1)
    assert table.get({"order_id": "o-1"})["status"] == ("paid" if applies else rival_status)


def test_conditional_delete_rechecks_after_losing_a_race(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """As for update: after a refused delete the item is read and checked again."""
    table = orders_table(clients, clock)
    rival = orders_table(Clients(FakeCredential(), transport=account), clock)
    table.put({"order_id": "o-1", "status": "new"})
    account.before_write = lambda request: rival.put({"order_id": "o-1", "status": "paid"})
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"status": "new"})
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "paid"}


def test_an_update_that_keeps_losing_gives_up(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """A rival writes before every attempt: after MAX_ATTEMPTS the update fails (not with
    ConditionFailed: the condition held every time) and the rival's write stands."""
    table = orders_table(clients, clock)
    rival = orders_table(Clients(FakeCredential(), transport=account), clock)
    table.put({"order_id": "o-1", "status": "new", "n": 0})

    def rival_write(request: Received) -> None:
        if request.method == "PUT" and request.partition_key == "o-1" and "if-match" in request.headers:
            rival.put({"order_id": "o-1", "status": "new", "n": request.body["n"]})
        account.before_write = rival_write

    account.before_write = rival_write
    with pytest.raises(RuntimeError, match="lost a race"):
        table.update({"order_id": "o-1"}, {"status": "paid"}, expect={"status": "new"})
    account.before_write = None
    assert len([r for r in writes(account) if "if-match" in r.headers]) == cosmos.MAX_ATTEMPTS
    assert table.get({"order_id": "o-1"})["status"] == "new"


def test_bad_arguments_fail_as_in_memory(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """runtime.tables checks every argument, so the errors are memory.Table's, word for word,
    and nothing is sent."""
    assert_bad_arguments_fail_as_in_memory(orders_table(clients, clock), lambda: len(account.received))


# ------------------------------------------------------------------------- queries


def test_query_by_the_table_key_reads_one_partition(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Ordered by the sort key, limited by TOP, sent with the partition key: no query plan."""
    table = events_table(clients, clock)
    for seq in (3, 1, 25, 10, 2):
        table.put({"stream": "a", "seq": seq, "body": f"e{seq}"})
    table.put({"stream": "b", "seq": 4})
    assert [i["seq"] for i in table.query({"stream": "a"})] == [1, 2, 3, 10, 25]
    assert [i["seq"] for i in table.query({"stream": "a"}, descending=True)] == [25, 10, 3, 2, 1]
    assert [i["seq"] for i in table.query({"stream": "a"}, limit=2)] == [1, 2]
    assert table.query({"stream": "a"}, descending=True, limit=1) == [{"stream": "a", "seq": 25, "body": "e25"}]
    assert table.query({"stream": "c"}) == []
    last = queries(account)[-1]
    assert last.query == (('SELECT TOP @limit * FROM c WHERE c["stream"] = @partition AND IS_DEFINED(c["seq"]) '
                           'ORDER BY c["seq"] ASC'), {"@limit": 100, "@partition": "c"})
    assert all(r.partition_key is not None for r in queries(account))
    assert not any("x-ms-cosmos-is-query-plan-request" in r.headers for r in account.received)


def test_query_without_a_sort_key_finds_the_one_item(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "customer_id": "c1"})
    table.put({"order_id": "o-2", "customer_id": "c1"})
    assert table.query({"order_id": "o-2"}) == [{"order_id": "o-2", "customer_id": "c1"}]
    [query] = queries(account)
    assert query.query == ('SELECT TOP @limit * FROM c WHERE c["order_id"] = @partition', {"@limit": 100, "@partition": "o-2"})
    assert query.partition_key == "o-2"


def test_query_on_an_index_with_a_sort_key(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Ordered by the index's sort key; items without it are not in the index (as in memory and
    DynamoDB), nor are other customers' orders. The query spans partitions: the gateway refuses
    it without a plan, the client fetches the plan and the partition key ranges."""
    assert_index_queries_order_by_the_sort_key(orders_table(clients, clock))
    first = queries(account)[-2]  # the client's first try, before the plan
    assert first.query == (('SELECT TOP @limit * FROM c WHERE c["customer_id"] = @partition AND IS_DEFINED(c["created_at"]) '
                            'ORDER BY c["customer_id"] ASC, c["created_at"] DESC'), {"@limit": 2, "@partition": "c1"})
    assert first.partition_key is None and first.headers["x-ms-documentdb-query-enablecrosspartition"] == "True"
    assert any("x-ms-cosmos-is-query-plan-request" in r.headers for r in account.received)
    assert any(r.path.rstrip("/").endswith("/pkranges") for r in account.received)


def test_index_queries_need_the_renderers_composite_indexes(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Ordering by the index's partition and sort key is served only by a composite index on
    both (Cosmos refuses it otherwise): without the renderer's, the query fails."""
    account.add_container(DATABASE, "orders", "/order_id")  # no composite indexes
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01-01"})
    from azure.cosmos.exceptions import CosmosHttpResponseError

    with pytest.raises(CosmosHttpResponseError, match="composite index"):
        table.query({"customer_id": "c1"}, index="by-customer")


# ----------------------------------------------------------------------------- TTL


def test_ttl_is_seconds_left_in_cosmos_and_epoch_seconds_to_callers(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Cosmos expires an item `ttl` seconds after its last write; callers keep the neutral epoch
    seconds, which are stored as written."""
    table = orders_table(clients, clock)
    expires = int(NOW) + 3600
    clock.now = NOW + 0.25  # rounded up: never expires early
    table.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01-01", "expires_at": expires})
    stored = raw(account, "orders", "o-1")
    assert (stored["ttl"], stored["expires_at"]) == (3600, expires)
    got = table.get({"order_id": "o-1"})
    assert got["expires_at"] == expires and "ttl" not in got
    assert table.query({"customer_id": "c1"}, index="by-customer")[0]["expires_at"] == expires


def test_every_write_sets_ttl_from_the_time_left(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Cosmos counts `ttl` from the last write, so an update that leaves the TTL attribute alone
    still sets `ttl` to the (shorter) time left, and one that changes it, to the new time."""
    table = orders_table(clients, clock)
    expires = int(NOW) + 3600
    table.put({"order_id": "o-1", "expires_at": expires})
    clock.now = NOW + 600
    table.update({"order_id": "o-1"}, {"status": "paid"})
    assert raw(account, "orders", "o-1")["ttl"] == 3000
    updated = table.update({"order_id": "o-1"}, {"expires_at": expires + 60}, expect={"expires_at": expires})
    assert updated["expires_at"] == expires + 60 and raw(account, "orders", "o-1")["ttl"] == 3060
    with pytest.raises(ConditionFailed):
        table.delete({"order_id": "o-1"}, expect={"expires_at": expires})
    table.update({"order_id": "o-1"}, {"expires_at": "never"})
    assert "ttl" not in raw(account, "orders", "o-1")


def test_an_item_written_already_expired_is_stored_and_expires(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """A past time is stored (memory and Firestore store it too) with the shortest ttl, 1; once
    that second passes, Cosmos no longer returns the item."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-01-01", "expires_at": int(NOW) - 60})
    assert raw(account, "orders", "o-1")["ttl"] == 1
    assert table.get({"order_id": "o-1"})["expires_at"] == int(NOW) - 60
    clock.now = NOW + 1
    assert table.get({"order_id": "o-1"}) is None
    assert table.query({"customer_id": "c1"}, index="by-customer") == []
    table.put({"order_id": "o-1", "status": "again"}, if_absent=True)


def test_only_a_numeric_ttl_attribute_becomes_ttl(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Other numbers stay as written; a non-numeric TTL attribute never expires (as in DynamoDB);
    a time beyond Cosmos' longest ttl is refused before anything is sent."""
    table = orders_table(clients, clock)
    table.put({"order_id": "o-1", "expires_at": int(NOW) + 60, "retry_at": int(NOW) + 60})
    stored = raw(account, "orders", "o-1")
    assert stored["ttl"] == 60 and stored["retry_at"] == int(NOW) + 60
    table.put({"order_id": "o-2", "expires_at": "soon"})
    table.put({"order_id": "o-3"})
    assert "ttl" not in raw(account, "orders", "o-2") and "ttl" not in raw(account, "orders", "o-3")
    sent = len(writes(account))
    for bad in (NOW + 2**31, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="TTL attribute expires_at"):
            table.put({"order_id": "o-4", "expires_at": bad})
    assert len(writes(account)) == sent


def test_a_table_without_ttl_never_sets_it(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    table = events_table(clients, clock)
    table.put({"stream": "a", "seq": 1, "expires_at": int(NOW) + 60})
    assert "ttl" not in raw(account, "events", "a", 1)


# ------------------------------------------------------------ names Cosmos owns


def test_attributes_named_like_cosmos_properties_round_trip(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """`id`, `ttl` and names starting with `_` are Cosmos'; such attributes are stored under `~`
    + their name (as is a name starting with `~`) and read back as written."""
    table = orders_table(clients, clock)
    item = {"order_id": "o-1", "id": "mine", "ttl": 5, "_rid": "r", "_etag": "e", "~x": 1, "~~y": 2, "plain": 3}
    table.put(item)
    assert table.get({"order_id": "o-1"}) == item
    stored = raw(account, "orders", "o-1")
    assert stored["id"] == document_id(["o-1"]) and "ttl" not in stored
    assert {k: stored[k] for k in ("~id", "~ttl", "~_rid", "~_etag", "~~x", "~~~y", "plain")} == {
        "~id": "mine", "~ttl": 5, "~_rid": "r", "~_etag": "e", "~~x": 1, "~~~y": 2, "plain": 3}
    assert table.update({"order_id": "o-1"}, {"ttl": 6}, expect={"id": "mine", "_rid": "r"})["ttl"] == 6


def test_the_idempotency_table_is_keyed_by_id(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Partition key `id`: the container's path `/id` is the document id, so the partition key
    value is the document id; the caller's `id` (with `#`, which Cosmos ids can't hold) is kept
    apart and comes back as written."""
    table = idempotency_table(clients, clock)
    record = {"id": "create-order#alice#route#k/1?", "status": "INPROGRESS", "expiration": int(NOW) + 30}
    table.put(record, if_absent=True)
    doc_id = document_id([record["id"]])
    assert writes(account)[0].partition_key == doc_id and writes(account)[0].body["id"] == doc_id
    assert table.get({"id": record["id"]}) == record
    assert table.query({"id": record["id"]}) == [record]
    assert queries(account)[-1].partition_key == doc_id
    assert raw(account, "idempotency", record["id"])["ttl"] == 30


def test_idempotency_runs_on_cosmos_as_in_memory(clients: Clients, clock: Clock) -> None:
    """runtime/idempotency.py on the Cosmos table: replay, 409 for another body, takeover of an
    expired claim (which Cosmos has already hidden), and cleanup after a failure."""
    table = idempotency_table(clients, clock)
    idem = TableIdempotency(table, "create-order#alice", in_progress_s=30, clock=clock)
    calls: list[int] = []

    def compute() -> Response:
        calls.append(1)
        return Response(202, {"order_id": "o-1"}, {"location": "/orders/o-1"})

    first = idem.run("key-1", "hash-a", compute)
    assert idem.run("key-1", "hash-a", compute) == first and calls == [1]
    with pytest.raises(HttpError) as reused:
        idem.run("key-1", "hash-b", compute)
    assert reused.value.status == 409
    record = table.get({"id": "create-order#alice#route#key-1"})
    assert record["status"] == COMPLETED and record["expiration"] == int(NOW) + 24 * 3600
    with pytest.raises(HttpError):
        idem.run("key-2", "h", lambda: (_ for _ in ()).throw(HttpError(400, "Invalid", "no")))
    assert table.get({"id": "create-order#alice#route#key-2"}) is None
    table.put({"id": "create-order#alice#route#key-3", "status": "INPROGRESS", "hash": "old", "expiration": int(NOW) - 1})
    clock.now = NOW + 5
    assert idem.run("key-3", "new", lambda: Response(200, {"fresh": True})).body == {"fresh": True}
    assert idem.once({"order_id": "o-1"}, lambda: None) is True
    assert idem.once({"order_id": "o-1"}, lambda: None) is False


def test_a_partition_attribute_cosmos_owns_is_refused() -> None:
    for name in ("ttl", "_pk", "~pk"):
        with pytest.raises(ValueError, match="can't be partitioned"):
            CosmosTable(lambda: None, container_address(ORDERS), [name])


def test_a_table_partitioned_by_id_with_a_sort_key(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Each item is then its own partition (the id includes the sort key), so a query by the
    table's key spans partitions; it still finds the items, in order."""
    account.add_container(DATABASE, "threads", "/id")
    url = f"{ENDPOINT}dbs/{DATABASE}/colls/threads"
    table = CosmosTable(lambda: clients.container(url), container_address(url), ["id", "seq"], clock=clock)
    for seq in (2, 1, 3):
        table.put({"id": "t-1", "seq": seq})
    table.put({"id": "t-2", "seq": 1})
    assert table.query({"id": "t-1"}, descending=True) == [{"id": "t-1", "seq": s} for s in (3, 2, 1)]
    assert table.get({"id": "t-1", "seq": 2}) == {"id": "t-1", "seq": 2}
    assert queries(account)[0].partition_key is None


# ------------------------------------------------------------------------ key encoding


def test_document_ids_are_safe_for_cosmos() -> None:
    """Only URL-safe characters (no / \\ ? # %), strings and numbers tagged apart, 1.0 is 1."""
    for values in (["a/b"], ["a\\b"], ["?#"], ["%2F"], [".."], ["a.b", "c"], [1.5], [-3], [1e300], ["é 日本"], ["\n"]):
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", document_id(values)), values
    assert document_id([1]) != document_id(["1"])
    assert document_id([1.0]) == document_id([1]) and document_id([-0.0]) == document_id([0])
    assert document_id(["a.b", "c"]) != document_id(["a", "b.c"])
    assert document_id(["a/b"]) != document_id(["a%2Fb"])


def test_keys_that_look_alike_never_share_a_document(clients: Clients, clock: Clock, account: CosmosStandIn) -> None:
    """Each key reads back its own item and occupies its own document."""
    table = events_table(clients, clock)
    keys = [
        ("a/b", "c"), ("a", "b/c"), ("a.b", "c"), ("a", "b.c"), ("a b", " "), ("a%2Fb", "c"), ("a?b", "#"),
        ("é", "日本"), ("e\u0301", "日本"), (".", ".."), ("1", "2"), (1, 2), (1, "2"), ("1", 2), (1.5, -3), ("1.5", "-3"),
    ]
    for n, (stream, seq) in enumerate(keys):
        table.put({"stream": stream, "seq": seq, "n": n})
    for n, (stream, seq) in enumerate(keys):
        assert table.get({"stream": stream, "seq": seq}) == {"stream": stream, "seq": seq, "n": n}
    assert len(account.documents(DATABASE, "events")) == len(keys)
    table.put({"stream": 1.0, "seq": 2.0, "n": "again"})  # the same number is the same key
    assert table.get({"stream": 1, "seq": 2})["n"] == "again"
    assert len(account.documents(DATABASE, "events")) == len(keys)


# ------------------------------------------------------------- the same as memory


def run_script(table: Any) -> list[Any]:
    """One scenario through the Table protocol; each step's result, or its error's type."""
    steps = [
        lambda t: t.put({"order_id": "o-1", "customer_id": "c1", "created_at": "2024-02", "status": "new"}),
        lambda t: t.put({"order_id": "o-2", "customer_id": "c1", "created_at": "2024-01", "status": "new"}),
        lambda t: t.put({"order_id": "o-3", "customer_id": "c2", "created_at": "2024-03"}),
        lambda t: t.put({"order_id": "o-4", "customer_id": "c1"}),
        lambda t: t.put({"order_id": "o-1", "status": "dup"}, if_absent=True),
        lambda t: t.update({"order_id": "o-1"}, {"status": "paid", "lines": [1, 2]}, expect={"status": "new"}),
        lambda t: t.update({"order_id": "o-1"}, {"status": "x"}, expect={"status": "new"}),
        lambda t: t.update({"order_id": "o-2"}, {}, expect={"status": "new"}),
        lambda t: t.update({"order_id": "o-9"}, {"a": 1}),
        lambda t: t.delete({"order_id": "o-9"}),
        lambda t: t.delete({"order_id": "o-9"}, expect={}),
        lambda t: t.delete({"order_id": "o-3"}, expect={"customer_id": "c2"}),
        lambda t: t.get({"order_id": "o-3"}),
        lambda t: t.query({"customer_id": "c1"}, index="by-customer"),
        lambda t: t.query({"customer_id": "c1"}, index="by-customer", descending=True, limit=1),
        lambda t: t.query({"customer_id": 1}, index="by-customer"),
        lambda t: t.query({"order_id": "o-1"}, descending=True),
        lambda t: t.get({"order_id": "o-1"}),
    ]
    outcomes: list[Any] = []
    for step in steps:
        try:
            outcomes.append(step(table))
        except (ConditionFailed, ValueError) as err:
            outcomes.append(type(err).__name__)
    return outcomes


def test_the_same_script_gives_what_memory_gives(clients: Clients, clock: Clock) -> None:
    reference = memory.Table("order_id", None, {"by-customer": ("customer_id", "created_at")})
    assert run_script(orders_table(clients, clock)) == run_script(reference)


# ------------------------------------------------------------------ tables and wiring


def test_container_urls_are_parsed_and_checked() -> None:
    assert container_address(ORDERS) == cosmos.ContainerAddress(ENDPOINT, DATABASE, "orders")
    for bad in ("http://a.documents.azure.com/dbs/d/colls/c", "https://a.documents.azure.com:443/dbs/d",
                "https://a.documents.azure.com:443/dbs/d/docs/c", "https://a.documents.azure.com:443/dbs//colls/c", "orders"):
        with pytest.raises(ValueError, match="not a Cosmos container URL"):
            container_address(bad)


def test_build_tables_from_the_wiring_creates_clients_on_first_use(account: CosmosStandIn, clock: Clock) -> None:
    """One table per ANYCLOUD_TABLE_<NAME> (value: the container URL), keys and TTL from
    ANYCLOUD_KEYS_<NAME>; one client per account, none before a table is used."""
    env = {
        "ANYCLOUD_TABLE_ORDERS": ORDERS,
        "ANYCLOUD_KEYS_ORDERS": json.dumps(ORDER_KEYS),
        "ANYCLOUD_TABLE_IDEMPOTENCY": IDEMPOTENCY,
        "ANYCLOUD_KEYS_IDEMPOTENCY": json.dumps(IDEMPOTENCY_KEYS),
        "ANYCLOUD_QUEUE_ORDERS": "https://acct.queue.core.windows.net/orders",
    }
    clients = Clients(FakeCredential(), transport=account)
    tables = build_tables(env, clients.container, clock)
    assert sorted(tables) == ["idempotency", "orders"]
    assert clients.created == [] and account.received == []
    orders = tables["orders"]
    assert (orders.address, orders.key_attributes, orders.ttl_attribute) == (
        cosmos.ContainerAddress(ENDPOINT, DATABASE, "orders"), ["order_id"], "expires_at")
    assert orders.index_keys == {"by-customer": ["customer_id", "created_at"]}
    orders.put({"order_id": "o-1", "expires_at": int(NOW) + 10})
    assert raw(account, "orders", "o-1")["ttl"] == 10
    tables["idempotency"].put({"id": "k", "expiration": int(NOW) + 10}, if_absent=True)
    assert clients.created == [ENDPOINT]
    assert clients.container(ORDERS) is clients.container(ORDERS)
    assert {r.host for r in account.received} == {"anycloud-test.documents.azure.com:443"}


def test_the_default_credential_is_the_apps_user_assigned_identity(account: CosmosStandIn, clock: Clock,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a credential, the client authenticates as the identity AZURE_CLIENT_ID names,
    made on first use (runtime.azure.messaging.managed_identity)."""
    made: list[dict[str, Any]] = []

    class ManagedIdentityCredential(FakeCredential):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__()
            made.append(kwargs)

    import azure.identity

    monkeypatch.setattr(azure.identity, "ManagedIdentityCredential", ManagedIdentityCredential)
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000c1")
    clients = Clients(transport=account)
    table = orders_table(clients, clock)
    assert made == []
    table.put({"order_id": "o-1"})
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1"}
    assert made == [{"client_id": "00000000-0000-0000-0000-0000000000c1"}]
