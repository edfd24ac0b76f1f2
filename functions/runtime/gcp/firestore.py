"""The portable `Table` over Firestore, with the official client (google-cloud-firestore).

Wiring: ``ANYCLOUD_TABLE_<NAME>`` holds the Firestore database id (one database per table, see
components/gcp/table.py); the table's documents live in the collection named after the table,
so two tables never share a document even in one database. ``ANYCLOUD_KEYS_<NAME>`` gives the
key attribute names, the indexes' and the TTL attribute (read by runtime/wiring.py).

Document ids: one segment per key value (partition, then sort), joined by ``,``. A string is
``s`` + its UTF-8 percent-encoding, where only ``A-Z a-z 0-9 _ . - ~`` stay as they are; a
number is ``n`` + its shortest ``repr``, an integral float written as the int (``1.0`` and ``1``
are one key, as in memory and DynamoDB). So an id is a single path segment (no ``/``), never
``.``, ``..`` or ``__x__`` (which Firestore reserves), the number 1 (``n1``) is not the string
"1" (``s1``), and distinct keys never share an id: ``,`` and ``%`` never appear raw inside a
segment. Firestore limits an id to 1,500 bytes, so a key whose encoding is longer is refused
by the server. The key attributes are also stored as fields (they are part of the item), so
reads and queries return them and queries can filter on them.

Values: items go in through a JSON copy, as in memory.Table, so a value no table could store
(a datetime, a set) fails here as it does there; integers come back as int (Firestore
integer), floats as float (double), maps and lists nested as written.

TTL: the neutral model keeps epoch seconds (int) in the table's TTL attribute; Firestore's TTL
policy (components/gcp/table.py) needs a timestamp field. The attribute is written as a
timezone-aware UTC datetime and read back as epoch seconds (int when whole), so callers never
see the difference. A non-numeric value is stored as it is (and never expires, as in DynamoDB).

Conditions: ``put(if_absent=True)`` is a create, which the server refuses for an existing
document (AlreadyExists -> ConditionFailed). ``update``, and ``delete`` with ``expect``, read the
document in a transaction, check it with runtime.tables.matches and write in that transaction:
Firestore's server-side transactions lock what they read, and a transaction that loses a race
is retried from the read by the client, so the condition holds when the write lands.

Clients: one ``google.cloud.firestore.Client`` per database for this instance, created on first
use (`Clients`); nothing imports the client library before a table is used.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .. import wiring
from ..clients import LazyClients
from ..contracts import ConditionFailed
from ..tables import check_changes, key_values, matches, query_keys

__all__ = ["Clients", "FirestoreTable", "build_tables", "document_id", "load_item"]


def _default_client(database: str) -> Any:
    # The function's requirements; imported on first use only.
    from google.cloud import firestore

    return firestore.Client(database=database)


class Clients(LazyClients):
    """One Firestore client per database for this instance, created on first use by `factory`
    (database id -> client; by default the project's client from the environment)."""

    def __init__(self, factory: Callable[[str], Any] | None = None) -> None:
        super().__init__(factory or _default_client)


# ------------------------------------------------------------------ encoding


def _segment(value: Any) -> str:
    if isinstance(value, str):
        return "s" + quote(value, safe="")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "n" + repr(value)


def document_id(values: Sequence[Any]) -> str:
    """The document id of a key's values (see the module docstring for the encoding)."""
    return ",".join(_segment(v) for v in values)


def _json_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_timestamp(attribute: str, seconds: float) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"TTL attribute {attribute}: {seconds!r} is out of range; allowed: epoch seconds between the "
                         "years 1 and 9999") from None


def _to_seconds(timestamp: dt.datetime) -> int | float:
    seconds = timestamp.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def load_item(data: Mapping[str, Any] | None, ttl: str | None) -> dict[str, Any]:
    """A document's decoded fields as the portable item: the TTL attribute's timestamp back to epoch
    seconds (also how a change stream's item is read: changes.py)."""
    item = dict(data or {})
    if ttl is not None and isinstance(item.get(ttl), dt.datetime):
        item[ttl] = _to_seconds(item[ttl])
    return item


# --------------------------------------------------------------------- table


class FirestoreTable:
    """`Table` over the collection `collection` of the Firestore database `database`.

    `client` returns the database's client (called on every use: give it a cached one, e.g.
    ``lambda: clients.get(database)``); `key` and `indexes` are the attribute names of
    runtime.wiring.table_keys, `ttl` that of runtime.wiring.table_ttl."""

    def __init__(
        self,
        client: Callable[[], Any],
        database: str,
        collection: str,
        key: Sequence[str],
        indexes: Mapping[str, Sequence[str]] | None = None,
        ttl: str | None = None,
    ):
        self._client = client
        self.database = database
        self.collection = collection
        self.key_attributes = list(key)
        self.index_keys = {name: list(attrs) for name, attrs in (indexes or {}).items()}
        self.ttl_attribute = ttl

    # -- helpers

    def _ref(self, key: Mapping[str, Any], *, exact: bool) -> Any:
        values = key_values(key, self.key_attributes, exact=exact)
        return self._client().collection(self.collection).document(document_id(values))

    def _stored(self, attribute: str, value: Any) -> Any:
        """`value` as Firestore holds it: the TTL attribute's epoch seconds as a timestamp."""
        if attribute == self.ttl_attribute and _is_number(value):
            return _to_timestamp(attribute, value)
        return value

    def _dump(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self._stored(name, value) for name, value in item.items()}

    def _load(self, data: Mapping[str, Any] | None) -> dict[str, Any]:
        return load_item(data, self.ttl_attribute)

    def _transaction(self, body: Callable[[Any], Any]) -> Any:
        """Run `body(transaction)` in a read-write transaction, again from the start when the
        server aborts it (contention); an exception from `body` rolls it back."""
        from google.cloud import firestore

        return firestore.transactional(body)(self._client().transaction())

    # -- the Table protocol

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        snapshot = self._ref(key, exact=True).get()
        return self._load(snapshot.to_dict()) if snapshot.exists else None

    def put(self, item: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Write `item`; with `if_absent`, ConditionFailed when an item with its key exists."""
        stored = _json_copy(dict(item))
        ref = self._ref(stored, exact=False)
        if not if_absent:
            ref.set(self._dump(stored))
            return
        from google.api_core.exceptions import AlreadyExists

        try:
            ref.create(self._dump(stored))
        except AlreadyExists:
            raise ConditionFailed("an item with this key exists") from None

    def update(self, key: Mapping[str, Any], changes: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Set `changes` on an existing item and return it (all attributes); ConditionFailed
        when it does not exist or an attribute differs from `expect`. Key attributes can't change."""
        ref = self._ref(key, exact=True)
        check_changes(changes, self.key_attributes)
        new_values = _json_copy(dict(changes))

        def apply(transaction: Any) -> dict[str, Any]:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise ConditionFailed("no item with this key")
            item = self._load(snapshot.to_dict())
            if not matches(item, expect):
                raise ConditionFailed("the item does not match the expected values")
            item.update(new_values)
            if new_values:
                transaction.set(ref, self._dump(item))
            return item

        return self._transaction(apply)

    def delete(self, key: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> None:
        """Remove the item; a missing item is fine unless `expect` is given (then ConditionFailed)."""
        ref = self._ref(key, exact=True)
        if expect is None:
            ref.delete()
            return

        def apply(transaction: Any) -> None:
            snapshot = ref.get(transaction=transaction)
            if not matches(self._load(snapshot.to_dict()) if snapshot.exists else None, expect):
                raise ConditionFailed("the item does not exist or does not match the expected values")
            transaction.delete(ref)

        self._transaction(apply)

    def query(self, key: Mapping[str, Any], *, index: str | None = None, limit: int = 100, descending: bool = False) -> list[dict[str, Any]]:
        """Items whose partition key (of the table or `index`) equals `key`'s single entry,
        ordered by the sort key when there is one. An index holds only items that have all its
        key attributes: ordering by a field leaves out documents without it."""
        partition, sort = query_keys(key, self.key_attributes, self.index_keys, index, limit)
        from google.cloud.firestore import Query
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._client().collection(self.collection).where(
            filter=FieldFilter(partition, "==", self._stored(partition, key[partition]))
        )
        if sort is not None:
            query = query.order_by(sort, direction=Query.DESCENDING if descending else Query.ASCENDING)
        items = [self._load(snapshot.to_dict()) for snapshot in query.limit(limit).stream()]
        # Firestore's order_by already leaves out documents without the sort field; this keeps
        # the result the same where a server sorts them last instead (the local emulator).
        return [item for item in items if sort is None or sort in item]


# ------------------------------------------------------------------- wiring


def build_tables(env: Mapping[str, str] | None = None, client_for: Callable[[str], Any] | None = None) -> dict[str, FirestoreTable]:
    """`{name: FirestoreTable}` for every ``ANYCLOUD_TABLE_<NAME>`` in `env` (its value is the
    database id; the collection is the table name). `client_for(database)` gives the client,
    by default one per database for this instance, created on first use."""
    env = os.environ if env is None else env
    client_for = client_for or Clients().get
    tables: dict[str, FirestoreTable] = {}
    for kind, name, database in wiring.wired(env):
        if kind != "table":
            continue
        key, indexes = wiring.table_keys(env, name)
        tables[name] = FirestoreTable(
            lambda database=database: client_for(database), database, name, key, indexes, wiring.table_ttl(env, name)
        )
    return tables
