"""The portable `Table` over Cosmos DB (NoSQL API), with the official client (azure-cosmos).

Wiring: ``ANYCLOUD_TABLE_<NAME>`` is the container's URL,
``https://<account>.documents.azure.com:443/dbs/<database>/colls/<container>`` (one container
per table, partitioned by ``/<partition attribute>``; components/azure). ``ANYCLOUD_KEYS_<NAME>``
gives the key attribute names, the indexes' and the TTL attribute (read by runtime/wiring.py).

Document ids: one segment per key value (partition, then sort), joined by ``.``. A string is
``s`` + its UTF-8 in unpadded URL-safe Base64, a number ``n`` + the same of its shortest
``repr``, an integral float written as the int (``1.0`` and ``1`` are one key, as in memory
and DynamoDB). So an id holds only ``A-Z a-z 0-9 - _ .`` (never ``/ \\ ? #``, which Cosmos
refuses, nor ``%`` or ``+``, which URLs decode), the number 1 is not the string "1", and distinct
keys never share an id. Cosmos limits an id to 1,023 bytes, so a key whose encoding is longer
is refused by the server.

Attribute names: Cosmos owns ``id``, ``ttl`` and names starting with ``_`` (``_rid``,
``_etag``, ``_ts``...). An item attribute with such a name, or one starting with ``~``, is
stored as ``~`` + its name and read back under its own, so no attribute is lost or clobbered
(the `idempotency` table's key attribute is ``id``). A key attribute is stored as written,
so the container's partition key path finds the partition attribute; the exception is a
partition attribute named ``id``: the path ``/id`` is then the document id itself, so the
partition key value is the document id, and a query by such a table's key with a sort key
runs across partitions. A partition attribute named ``ttl`` or starting with ``_`` or ``~``
can't be a partition key path here and is refused.

Values: items go in through a JSON copy, as in memory.Table, so a value no table could store
(a datetime, a set) fails here as it does there. Cosmos keeps numbers as doubles: integers
beyond 2**53 lose precision.

TTL: the neutral model keeps epoch seconds in the table's TTL attribute, stored as written.
Cosmos expires an item ``ttl`` seconds after its last write (the container's ``defaultTtl``
is -1: no ``ttl``, no expiry), so every write, an update too, sets ``ttl`` to the seconds left
until the attribute's time, rounded up, at least 1. An item written already expired is stored
and expires a second later: Cosmos hides expired items from reads and queries at once, where
DynamoDB and Firestore may return them for a while, so callers that care compare the time
themselves (runtime/idempotency.py does). A non-numeric value is stored as it is and never
expires, as in DynamoDB; a time more than 2**31-1 s ahead (Cosmos' longest ``ttl``) is a
ValueError.

Conditions: ``put(if_absent=True)`` is a create, which the server refuses for an existing
item (409 -> ConditionFailed). ``update``, and ``delete`` with ``expect``, read the item,
check it with runtime.tables.matches and write only if the item still has the etag read
(``If-Match``); when another writer got in between (412, or 404 when it deleted the item)
they read and check again, at most `MAX_ATTEMPTS` times, so the condition holds when the
write lands, as in memory.Table.

Clients: one ``azure.cosmos.CosmosClient`` per account for this instance, created on first
use (`Clients`), authenticated with the app's user-assigned identity (``AZURE_CLIENT_ID``);
nothing imports the client library before a table is used.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

from .. import wiring
from ..clients import LazyClients
from ..contracts import ConditionFailed
from ..tables import check_changes, key_values, matches, query_keys
from .messaging import managed_identity  # one definition for both adapters

__all__ = ["MAX_ATTEMPTS", "Clients", "ContainerAddress", "CosmosTable", "build_tables", "container_address",
           "document_id", "load_item"]

#: How often update/delete read, check and write again after losing a race to another writer.
MAX_ATTEMPTS = 5
#: Cosmos' longest per-item ``ttl`` (seconds).
MAX_TTL_S = 2**31 - 1
#: Cosmos' own properties besides those starting with "_", and the prefix that keeps an item's
#: attributes of those names apart.
_ID, _TTL, _ESCAPE = "id", "ttl", "~"


@dataclass(frozen=True)
class ContainerAddress:
    endpoint: str  # https://<account>.documents.azure.com:443/
    database: str
    container: str


def container_address(url: str) -> ContainerAddress:
    """The account endpoint, database and container of an ``ANYCLOUD_TABLE_<NAME>`` value."""
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    if parts.scheme != "https" or not parts.netloc or len(segments) != 4 or segments[::2] != ["dbs", "colls"] or not all(segments):
        raise ValueError(f"{url!r} is not a Cosmos container URL: expected "
                         "https://<account>.documents.azure.com:443/dbs/<database>/colls/<container>")
    return ContainerAddress(f"https://{parts.netloc}/", segments[1], segments[3])


class Clients(LazyClients):
    """One CosmosClient per account endpoint for this instance, created on first use, and one
    container client per container URL. `credential` defaults to `managed_identity()`; tests
    pass their own, and `options` (e.g. ``transport``) go to every CosmosClient."""

    def __init__(self, credential: Any = None, **options: Any) -> None:
        self._credential = credential
        self._options = options
        super().__init__(self._client)
        self._containers = LazyClients(self._container)

    def _client(self, endpoint: str) -> Any:
        from azure.cosmos import CosmosClient

        if self._credential is None:
            self._credential = managed_identity()
        return CosmosClient(endpoint, credential=self._credential, **self._options)

    def _container(self, url: str) -> Any:
        address = container_address(url)
        return self.get(address.endpoint).get_database_client(address.database).get_container_client(address.container)

    def container(self, url: str) -> Any:
        """The ContainerProxy of a container URL (its account's client is made on first use)."""
        return self._containers.get(url)


# ------------------------------------------------------------------ encoding


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _segment(value: Any) -> str:
    if isinstance(value, str):
        return "s" + _b64(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "n" + _b64(repr(value))


def document_id(values: Sequence[Any]) -> str:
    """The document id of a key's values (see the module docstring for the encoding)."""
    return ".".join(_segment(v) for v in values)


def _escaped(name: str) -> bool:
    return name in (_ID, _TTL) or name[:1] in ("_", _ESCAPE)


def _stored_name(name: str) -> str:
    return _ESCAPE + name if _escaped(name) else name


def _json_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field(name: str) -> str:
    """A top-level property in Cosmos SQL, quoted (any name, no injection)."""
    return f"c[{json.dumps(_stored_name(name))}]"


def load_item(document: Mapping[str, Any]) -> dict[str, Any]:
    """The item of a document, as the table returns it: Cosmos' own properties (``id``, ``ttl``
    and every name starting with ``_``: ``_rid``, ``_self``, ``_etag``, ``_attachments``, ``_ts``,
    and the change feed's ``_lsn``) dropped, escaped names restored. The change feed reader
    (changes.py) reads its documents with it too."""
    return {(name[1:] if name.startswith(_ESCAPE) else name): value for name, value in document.items()
            if name not in (_ID, _TTL) and not name.startswith("_")}


# --------------------------------------------------------------------- table


class CosmosTable:
    """`Table` over the Cosmos container at `address`.

    `container` returns its ContainerProxy (called on every use: give it a cached one, e.g.
    ``lambda: clients.container(url)``); `key` and `indexes` are the attribute names of
    runtime.wiring.table_keys, `ttl` that of runtime.wiring.table_ttl; `clock` gives epoch
    seconds for the TTL translation."""

    def __init__(
        self,
        container: Callable[[], Any],
        address: ContainerAddress,
        key: Sequence[str],
        indexes: Mapping[str, Sequence[str]] | None = None,
        ttl: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        partition = key[0]
        if partition != _ID and _escaped(partition):
            raise ValueError(f"partition key attribute {partition!r}: a Cosmos container can't be partitioned by an "
                             "attribute named 'ttl' or starting with '_' or '~'")
        self._container = container
        self.address = address
        self.key_attributes = list(key)
        self.index_keys = {name: list(attrs) for name, attrs in (indexes or {}).items()}
        self.ttl_attribute = ttl
        self._clock = clock

    # -- helpers

    def _locate(self, key: Mapping[str, Any], *, exact: bool) -> tuple[str, Any]:
        """(document id, partition key value) of `key`."""
        values = key_values(key, self.key_attributes, exact=exact)
        doc_id = document_id(values)
        return doc_id, self._partition_value(values[0], doc_id)

    def _partition_value(self, value: Any, doc_id: str) -> Any:
        if self.key_attributes[0] == _ID:
            return doc_id
        return int(value) if isinstance(value, float) and value.is_integer() else value

    def _ttl_seconds(self, item: Mapping[str, Any]) -> int | None:
        """Cosmos' ``ttl`` for `item`: seconds left until its TTL attribute's time, at least 1;
        None when the table has no TTL or the item no numeric TTL attribute (never expires)."""
        attribute = self.ttl_attribute
        value = item.get(attribute) if attribute is not None else None
        if not _is_number(value):
            return None
        left = value - self._clock()
        if not math.isfinite(left) or left > MAX_TTL_S:
            raise ValueError(f"TTL attribute {attribute}: {value!r} is out of range; allowed: epoch seconds at most "
                             f"{MAX_TTL_S} s (about 68 years) from now")
        return max(1, math.ceil(left))

    def _dump(self, item: Mapping[str, Any], doc_id: str) -> dict[str, Any]:
        """The document of `item`: its attributes (names escaped), the id and the ``ttl``."""
        document = {_stored_name(name): value for name, value in item.items()}
        document[_ID] = doc_id
        ttl = self._ttl_seconds(item)
        if ttl is not None:
            document[_TTL] = ttl
        return document

    _load = staticmethod(load_item)

    def _read(self, doc_id: str, partition: Any) -> dict[str, Any] | None:
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        try:
            return self._container().read_item(item=doc_id, partition_key=partition)
        except CosmosResourceNotFoundError:
            return None

    def _conditional(self, doc_id: str, partition: Any, attempt: Callable[[dict[str, Any] | None], Any]) -> Any:
        """Run `attempt(document)` on a fresh read until its write is not beaten by another
        writer (412: the etag changed; 404: the item was deleted in between)."""
        from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceNotFoundError

        for _ in range(MAX_ATTEMPTS):
            try:
                return attempt(self._read(doc_id, partition))
            except (CosmosAccessConditionFailedError, CosmosResourceNotFoundError) as err:
                lost = err
        raise RuntimeError(f"the item kept changing: {MAX_ATTEMPTS} conditional writes in a row lost a race "
                           "to another writer") from lost

    # -- the Table protocol

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        document = self._read(*self._locate(key, exact=True))
        return None if document is None else self._load(document)

    def put(self, item: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Write `item`; with `if_absent`, ConditionFailed when an item with its key exists."""
        stored = _json_copy(dict(item))
        doc_id, _ = self._locate(stored, exact=False)
        document = self._dump(stored, doc_id)
        if not if_absent:
            self._container().upsert_item(document)
            return
        from azure.cosmos.exceptions import CosmosResourceExistsError

        try:
            self._container().create_item(document)
        except CosmosResourceExistsError:
            raise ConditionFailed("an item with this key exists") from None

    def update(self, key: Mapping[str, Any], changes: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Set `changes` on an existing item and return it (all attributes); ConditionFailed
        when it does not exist or an attribute differs from `expect`. Key attributes can't change."""
        doc_id, partition = self._locate(key, exact=True)
        check_changes(changes, self.key_attributes)
        new_values = _json_copy(dict(changes))

        def attempt(document: dict[str, Any] | None) -> dict[str, Any]:
            if document is None:
                raise ConditionFailed("no item with this key")
            item = self._load(document)
            if not matches(item, expect):
                raise ConditionFailed("the item does not match the expected values")
            if not new_values:
                return item
            item.update(new_values)
            from azure.core import MatchConditions

            written = self._container().replace_item(item=doc_id, body=self._dump(item, doc_id), etag=document["_etag"],
                                                     match_condition=MatchConditions.IfNotModified)
            return self._load(written)

        return self._conditional(doc_id, partition, attempt)

    def delete(self, key: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> None:
        """Remove the item; a missing item is fine unless `expect` is given (then ConditionFailed)."""
        doc_id, partition = self._locate(key, exact=True)
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        if expect is None:
            try:
                self._container().delete_item(item=doc_id, partition_key=partition)
            except CosmosResourceNotFoundError:
                pass
            return

        def attempt(document: dict[str, Any] | None) -> None:
            if not matches(None if document is None else self._load(document), expect):
                raise ConditionFailed("the item does not exist or does not match the expected values")
            from azure.core import MatchConditions

            self._container().delete_item(item=doc_id, partition_key=partition, etag=document["_etag"],
                                          match_condition=MatchConditions.IfNotModified)

        self._conditional(doc_id, partition, attempt)

    def query(self, key: Mapping[str, Any], *, index: str | None = None, limit: int = 100, descending: bool = False) -> list[dict[str, Any]]:
        """Items whose partition key (of the table or `index`) equals `key`'s single entry,
        ordered by the sort key when there is one. An index holds only items that have all its
        key attributes. A query by the table's key reads one partition; an index query reads
        them all (the index is the container's own indexing: components/azure/table.py gives each
        index with a sort key composite indexes (partition, sort), which Cosmos uses, and needs,
        when the query orders by both, so it does: the partition is one value anyway)."""
        partition, sort = query_keys(key, self.key_attributes, self.index_keys, index, limit)
        value = key[partition]
        text = f"SELECT TOP @limit * FROM c WHERE {_field(partition)} = @partition"
        if sort is not None:
            order = f"{_field(sort)} {'DESC' if descending else 'ASC'}"
            if index is not None:  # as the index's composite index (partition, sort) serves it
                order = f"{_field(partition)} ASC, {order}"
            text += f" AND IS_DEFINED({_field(sort)}) ORDER BY {order}"
        parameters = [{"name": "@limit", "value": limit}, {"name": "@partition", "value": value}]
        options: dict[str, Any] = {"enable_cross_partition_query": True}
        single = isinstance(value, str) and value != "" or _is_number(value)  # else it matches nothing anyway
        if index is None and single and (partition != _ID or len(self.key_attributes) == 1):
            options = {"partition_key": self._partition_value(value, document_id([value]))}
        results = self._container().query_items(text, parameters=parameters, max_item_count=limit, **options)
        return [self._load(document) for document in islice(results, limit)]


# ------------------------------------------------------------------- wiring


def build_tables(env: Mapping[str, str] | None = None, container_for: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> dict[str, CosmosTable]:
    """`{name: CosmosTable}` for every ``ANYCLOUD_TABLE_<NAME>`` in `env` (its value is the
    container's URL). `container_for(url)` gives the ContainerProxy, by default from one
    client per account for this instance, created on first use."""
    env = os.environ if env is None else env
    container_for = container_for or Clients().container
    tables: dict[str, CosmosTable] = {}
    for kind, name, url in wiring.wired(env):
        if kind != "table":
            continue
        key, indexes = wiring.table_keys(env, name)
        tables[name] = CosmosTable(lambda url=url: container_for(url), container_address(url), key, indexes,
                                   wiring.table_ttl(env, name), clock)
    return tables
