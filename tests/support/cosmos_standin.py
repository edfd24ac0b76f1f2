"""An in-memory stand-in of the Cosmos DB (NoSQL) REST endpoints, as an azure-core transport.

No Cosmos DB emulator runs here (the official one is a Windows or Linux-container download),
so tests give the real client this transport instead of a network:
``CosmosClient(ENDPOINT, credential, transport=CosmosStandIn())``. The client then runs its
whole pipeline (AAD auth, retries, query plans, routing) and the stand-in answers the requests
that reach the wire, keeping each one in `received` for the test to assert on.

What it serves, as Cosmos does for a serverless single-region account:
- ``GET /``: the database account, one region whose endpoints are this account's own URL.
- ``GET /dbs/<db>/colls/<c>``: the container (its partition key path); ``.../pkranges``: one
  partition key range covering everything, with an etag and 304 on ``If-None-Match``.
- ``POST .../docs``: create (409 for an existing id in the partition), upsert
  (``x-ms-documentdb-is-upsert``), a query (``x-ms-documentdb-isquery``) or a query plan
  (``x-ms-cosmos-is-query-plan-request``); ``GET/PUT/DELETE .../docs/<id>``: read, replace,
  delete (404 for a missing item, 412 when ``If-Match`` is not the item's etag).
- Every document request must name its partition (``x-ms-documentdb-partitionkey``, the JSON
  list of the value, which must be the document's value at the partition key path) or, for
  the parts of a cross-partition query, the range (``x-ms-documentdb-partitionkeyrangeid``).
- A cross-partition query with ORDER BY or TOP is refused with 400 substatus 1004, as the
  gateway does, so the client fetches the query plan and queries the range with the plan's
  rewritten query (``orderByItems`` and ``payload``).
- ``ttl``: an integer, positive or -1 (400 otherwise); an item whose ``_ts + ttl`` has passed
  (by `clock`) is invisible to reads and queries, as in Cosmos.
- Auth: ``Authorization: type=aad&ver=1.0&sig=<token>`` with `token`, else 401.
- The change feed in latest-version mode, as the REST API serves it to a change feed processor
  (https://learn.microsoft.com/rest/api/cosmos-db/list-documents: ``A-IM: Incremental feed``,
  ``If-None-Match`` the continuation, ``x-ms-documentdb-partitionkeyrangeid`` the range,
  ``x-ms-max-item-count`` the page size; https://learn.microsoft.com/azure/cosmos-db/nosql/change-feed-modes):
  each container's writes (create, upsert, replace) take the next log sequence number; the feed
  of the range from a continuation holds every item whose latest write came after it, at that
  latest version only (successive writes of an item fold into one), ordered by ``_lsn``, with
  ``_lsn`` added to each document (point reads and queries do not show it); the response's
  ``etag`` is the continuation after the page (the ``_lsn`` of its last document); no
  continuation reads from the beginning, ``*`` from now; nothing new is 304 with the same etag.
  Deletes and TTL expiry are not in it (the item just leaves the feed). The stand-in has one
  partition key range, ``0``, so its feed is one ordered sequence. `writes` keeps every write
  and delete in order, for tests to assert on what happened (the service keeps no such log).

Queries are the shapes the adapter writes, parsed by pattern (anything else is 400):
``SELECT [TOP <n|@p>] * FROM c WHERE <cond> [AND <cond>...] [ORDER BY c["x"] ASC|DESC, ...]``
where a condition is ``c["x"] = @p`` or ``IS_DEFINED(c["x"])``. ORDER BY leaves out items
without the properties and orders by Cosmos' type order (null, booleans, numbers, strings);
on more than one property it needs a composite index of the container (`add_container`),
or it is refused, as Cosmos refuses it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from azure.core.pipeline.transport import HttpResponse, HttpTransport
from azure.core.utils import CaseInsensitiveDict

ENDPOINT = "https://anycloud-test.documents.azure.com:443/"
TOKEN = "standin-aad-token"
REGION = "West Europe"
ORDER_BY_FILTER = "{documentdb-formattableorderbyquery-filter}"


@dataclass
class Received:
    """A request as it reached the wire: header names lower case, body as parsed JSON."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    host: str

    @property
    def partition_key(self) -> Any:
        """The partition key value the request named (the header is a JSON list of one)."""
        raw = self.headers.get("x-ms-documentdb-partitionkey")
        return None if raw is None else json.loads(raw)[0]

    @property
    def query(self) -> tuple[str, dict[str, Any]] | None:
        """(query text, {name: value}) of a query request."""
        if not isinstance(self.body, dict) or "query" not in self.body:
            return None
        return self.body["query"], {p["name"]: p["value"] for p in self.body.get("parameters", [])}


@dataclass
class Write:
    """One write of a container, in order: its log sequence number, key and the document written
    (None for a delete)."""

    lsn: int
    key: tuple[str, str]  # (partition JSON, id)
    document: dict[str, Any] | None


@dataclass
class Container:
    partition_path: str
    rid: str
    composite_indexes: list[list[tuple[str, str]]] = field(default_factory=list)  # [[(path, "ascending"), ...]]
    docs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (partition JSON, id) -> doc
    lsns: dict[tuple[str, str], int] = field(default_factory=dict)  # (partition JSON, id) -> its latest write's LSN
    writes: list[Write] = field(default_factory=list)


@dataclass
class _Parsed:
    keep: Callable[[dict[str, Any]], bool]
    order: list[tuple[str, bool]]  # (c["x"], descending)
    top: int | None
    top_text: str | None
    where: str
    rewritten: bool  # selects orderByItems and payload


class _Response(HttpResponse):
    def __init__(self, request: Any, status: int, headers: Mapping[str, str], body: bytes):
        super().__init__(request, None)
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers)
        self.reason = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}.get(status, "Error")
        self.content_type = self.headers.get("content-type")
        self._body = body

    def body(self) -> bytes:
        return self._body


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str, substatus: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.substatus = status, code, message, substatus


def _partition_json(value: Any) -> str:
    """A partition key value as Cosmos hashes it: every number a double (1 and 1.0 are one)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)
    return json.dumps([value])


def _type_rank(value: Any) -> tuple[int, Any]:
    """Cosmos' ORDER BY order across types: null, false/true, numbers, strings."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True))


_PATH = r'c\["(?:[^"\\]|\\.)*"\]'
_ORDER = rf"{_PATH} (?:ASC|DESC)"
_ITEM = rf'\{{"item": {_PATH}\}}'
_QUERY = re.compile(
    rf"^SELECT (?:TOP (?P<top>\d+|@\w+) )?(?:\*|c\._rid, \[(?P<items>{_ITEM}(?:, {_ITEM})*)\] AS orderByItems, c AS payload) "
    rf"FROM c WHERE (?P<where>.+?)(?: ORDER BY (?P<order>{_ORDER}(?:, {_ORDER})*))?$"
)
_EQUALS = re.compile(rf"^(?P<path>{_PATH}) = (?P<param>@\w+)$")
_DEFINED = re.compile(rf"^IS_DEFINED\((?P<path>{_PATH})\)$")


def _is_write(r: Received) -> bool:
    """A create, upsert, replace or delete of a document (not a query)."""
    parts = [p for p in r.path.split("/") if p][4:]
    if r.method == "POST" and parts == ["docs"]:
        return "x-ms-documentdb-isquery" not in r.headers and "x-ms-cosmos-is-query-plan-request" not in r.headers
    return r.method in ("PUT", "DELETE") and len(parts) == 2 and parts[0] == "docs"


def _property(path: str) -> str:
    return json.loads(path[2:-1])


class CosmosStandIn(HttpTransport):
    """The account `endpoint`'s data plane in memory; `add_container` before the client uses one."""

    def __init__(self, endpoint: str = ENDPOINT, token: str = TOKEN, clock: Callable[[], float] = time.time):
        self.endpoint = endpoint
        self.token = token
        self.clock = clock
        self.received: list[Received] = []
        self.containers: dict[tuple[str, str], Container] = {}
        #: Called once, with the request, when the next document write arrives and before it
        #: applies: a test lets a rival's write land between a read and a conditional write.
        self.before_write: Callable[[Received], None] | None = None
        #: Requests are served one at a time (apps may call from several threads).
        self._lock = threading.RLock()

    # -- set-up and inspection

    def add_container(self, database: str, container: str, partition_key_path: str,
                      composite_indexes: list[list[tuple[str, str]]] | None = None) -> None:
        """A container partitioned by `partition_key_path`, with composite indexes given as
        ``[[("/a", "ascending"), ("/b", "descending")], ...]`` (the renderer's indexing policy)."""
        self.containers[(database, container)] = Container(partition_key_path, uuid.uuid4().hex[:8],
                                                           list(composite_indexes or []))

    def documents(self, database: str, container: str) -> list[dict[str, Any]]:
        """Every stored document with its system properties, expired or not."""
        return [json.loads(json.dumps(d)) for d in self.containers[(database, container)].docs.values()]

    def document_requests(self) -> list[Received]:
        return [r for r in self.received if "/docs" in r.path]

    def writes(self, database: str, container: str) -> list[Write]:
        """Every write and delete of a container, in order (documents as written)."""
        return list(self.containers[(database, container)].writes)

    # -- the transport

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> CosmosStandIn:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> HttpResponse:
        url = urlsplit(request.url)
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw = request.body if request.body is not None else b""
        raw = raw.encode() if isinstance(raw, str) else bytes(raw)
        body = json.loads(raw) if raw else None
        received = Received(request.method, unquote(url.path), headers, body, url.netloc)
        with self._lock:
            self.received.append(received)
            try:
                if headers.get("authorization") != f"type=aad&ver=1.0&sig={self.token}":
                    raise _Error(401, "Unauthorized", "the request has no valid AAD token")
                if self.before_write is not None and _is_write(received):
                    hook, self.before_write = self.before_write, None
                    hook(received)
                status, out_headers, payload = self._route(received)
            except _Error as err:
                status, payload = err.status, {"code": err.code, "message": err.message}
                out_headers = {"x-ms-substatus": str(err.substatus)} if err.substatus is not None else {}
        data = b"" if payload is None else json.dumps(payload).encode()
        out = {"content-type": "application/json", "x-ms-request-charge": "1", "x-ms-activity-id": str(uuid.uuid4()),
               **out_headers}
        return _Response(request, status, out, data)

    # -- routing

    def _route(self, r: Received) -> tuple[int, dict[str, str], Any]:
        parts = [p for p in r.path.split("/") if p]
        if r.method == "GET" and not parts:
            return 200, {}, self._account()
        if len(parts) < 4 or parts[0] != "dbs" or parts[2] != "colls":
            raise _Error(404, "NotFound", f"no stand-in for {r.method} {r.path}")
        container = self.containers.get((parts[1], parts[3]))
        if container is None:
            raise _Error(404, "NotFound", "Resource Not Found")
        rest = parts[4:]
        if not rest and r.method == "GET":
            return 200, {"etag": f'"{container.rid}"'}, self._collection(parts[3], container)
        if rest == ["pkranges"] and r.method == "GET":
            return self._pkranges(r, container)
        if rest == ["docs"] and r.method == "GET" and r.headers.get("a-im", "").lower() == "incremental feed":
            return self._change_feed(r, container)
        if rest == ["docs"] and r.method == "POST":
            if r.headers.get("x-ms-cosmos-is-query-plan-request", "").lower() == "true":
                return 200, {}, self._query_plan(r)
            if r.headers.get("x-ms-documentdb-isquery", "").lower() == "true":
                return self._query(r, container)
            return self._create(r, container)
        if len(rest) == 2 and rest[0] == "docs":
            return self._document(r, container, rest[1])
        raise _Error(404, "NotFound", f"no stand-in for {r.method} {r.path}")

    def _account(self) -> dict[str, Any]:
        location = [{"name": REGION, "databaseAccountEndpoint": self.endpoint}]
        return {
            "_self": "", "id": urlsplit(self.endpoint).hostname.split(".")[0], "_rid": urlsplit(self.endpoint).hostname,
            "media": "//media/", "addresses": "//addresses/", "_dbs": "//dbs/",
            "writableLocations": location, "readableLocations": location, "enableMultipleWriteLocations": False,
            "userReplicationPolicy": {"asyncReplication": False, "minReplicaSetSize": 3, "maxReplicasetSize": 4},
            "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
            "systemReplicationPolicy": {"minReplicaSetSize": 3, "maxReplicasetSize": 4},
            "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
            "queryEngineConfiguration": json.dumps({"maxSqlQueryInputLength": 262144, "sqlAllowTop": True,
                                                    "sqlAllowSubQuery": True, "sqlAllowAggregateFunctions": True}),
        }

    def _collection(self, name: str, container: Container) -> dict[str, Any]:
        return {
            "id": name, "_rid": container.rid, "_self": f"dbs/db/colls/{container.rid}/", "_etag": f'"{container.rid}"',
            "_ts": int(self.clock()), "defaultTtl": -1,
            "partitionKey": {"paths": [container.partition_path], "kind": "Hash", "version": 2},
            "indexingPolicy": {"indexingMode": "consistent", "automatic": True, "includedPaths": [{"path": "/*"}],
                               "excludedPaths": [{"path": '/"_etag"/?'}]},
        }

    def _pkranges(self, r: Received, container: Container) -> tuple[int, dict[str, str], Any]:
        etag = f'"{container.rid}-ranges"'
        if r.headers.get("if-none-match") == etag:
            return 304, {"etag": etag}, None
        ranges = [{"id": "0", "_rid": f"{container.rid}0", "minInclusive": "", "maxExclusive": "FF", "ridPrefix": 0,
                   "throughputFraction": 1.0, "status": "online", "parents": [], "_etag": etag, "_ts": int(self.clock())}]
        return 200, {"etag": etag, "x-ms-item-count": "1"}, {"_rid": container.rid, "PartitionKeyRanges": ranges, "_count": 1}

    # -- documents

    def _partition_of(self, container: Container, doc: Mapping[str, Any]) -> Any:
        value: Any = doc
        for step in container.partition_path.strip("/").split("/"):
            value = value.get(step) if isinstance(value, dict) else None
        return value

    def _named_partition(self, r: Received) -> str:
        raw = r.headers.get("x-ms-documentdb-partitionkey")
        if raw is None:
            raise _Error(400, "BadRequest", "PartitionKey value must be supplied for this operation.")
        return _partition_json(json.loads(raw)[0])

    def _visible(self, doc: Mapping[str, Any]) -> bool:
        ttl = doc.get("ttl")
        return not (isinstance(ttl, int) and ttl > 0 and doc["_ts"] + ttl <= self.clock())

    def _stored(self, r: Received, container: Container, doc: dict[str, Any]) -> tuple[str, str]:
        """Validate a written document; its (partition JSON, id)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
            raise _Error(400, "BadRequest", "The input content is invalid because the required properties - 'id; ' - are missing")
        if re.search(r"[/\\?#]", doc["id"]):
            raise _Error(400, "BadRequest", "The id contains one of the characters '/', '\\', '?', '#'")
        ttl = doc.get("ttl")
        if "ttl" in doc and (isinstance(ttl, bool) or not isinstance(ttl, int) or not (ttl > 0 or ttl == -1)):
            raise _Error(400, "BadRequest", "The value of 'ttl' must be a positive integer or -1")
        partition = self._named_partition(r)
        if partition != _partition_json(self._partition_of(container, doc)):
            raise _Error(400, "BadRequest", "PartitionKey extracted from document doesn't match the one specified in the header.")
        return partition, doc["id"]

    def _write(self, container: Container, key: tuple[str, str], doc: dict[str, Any]) -> dict[str, Any]:
        stored = {**doc, "_rid": uuid.uuid4().hex[:16], "_self": f"dbs/db/colls/{container.rid}/docs/{doc['id']}/",
                  "_etag": f'"{uuid.uuid4()}"', "_attachments": "attachments/", "_ts": int(self.clock())}
        container.docs[key] = stored
        lsn = len(container.writes) + 1
        container.lsns[key] = lsn
        container.writes.append(Write(lsn, key, json.loads(json.dumps(stored))))
        return stored

    def _delete(self, container: Container, key: tuple[str, str]) -> None:
        del container.docs[key]
        container.lsns.pop(key, None)
        container.writes.append(Write(len(container.writes) + 1, key, None))

    def _change_feed(self, r: Received, container: Container) -> tuple[int, dict[str, str], Any]:
        """The range's changes after the continuation, each item at its latest version, by _lsn."""
        if r.headers.get("x-ms-documentdb-partitionkeyrangeid", "0") != "0":
            raise _Error(410, "Gone", "the partition key range is gone", substatus=1002)
        current = len(container.writes)
        continuation = r.headers.get("if-none-match")
        if continuation is None:
            after = 0
        elif continuation == "*":
            after = current
        else:
            try:
                after = int(continuation.strip('"'))
            except ValueError:
                raise _Error(400, "BadRequest", f"the continuation {continuation!r} is not an etag of this feed") from None
        size = int(r.headers.get("x-ms-max-item-count", "100") or "100")
        changed = sorted((lsn, key) for key, lsn in container.lsns.items()
                         if lsn > after and self._visible(container.docs[key]))
        page = [{**container.docs[key], "_lsn": lsn} for lsn, key in changed[:size if size > 0 else None]]
        etag = f'"{page[-1]["_lsn"] if page else max(after, 0)}"'
        if not page:
            return 304, {"etag": etag}, None
        return 200, {"etag": etag, "x-ms-item-count": str(len(page))}, {"_rid": container.rid, "Documents": page,
                                                                         "_count": len(page)}

    def _current(self, container: Container, key: tuple[str, str]) -> dict[str, Any] | None:
        doc = container.docs.get(key)
        return doc if doc is not None and self._visible(doc) else None

    def _create(self, r: Received, container: Container) -> tuple[int, dict[str, str], Any]:
        key = self._stored(r, container, r.body)
        upsert = r.headers.get("x-ms-documentdb-is-upsert", "").lower() == "true"
        existing = self._current(container, key)
        if existing is not None and not upsert:
            raise _Error(409, "Conflict", "Entity with the specified id already exists in the system.")
        stored = self._write(container, key, r.body)
        return (200 if existing is not None else 201), {"etag": stored["_etag"]}, stored

    def _document(self, r: Received, container: Container, doc_id: str) -> tuple[int, dict[str, str], Any]:
        key = (self._named_partition(r), doc_id)
        existing = self._current(container, key)
        if existing is None:
            raise _Error(404, "NotFound", "Entity with the specified id does not exist in the system.")
        if r.method == "GET":
            if r.headers.get("if-none-match") == existing["_etag"]:
                return 304, {"etag": existing["_etag"]}, None
            return 200, {"etag": existing["_etag"]}, existing
        if "if-match" in r.headers and r.headers["if-match"] != existing["_etag"]:
            raise _Error(412, "PreconditionFailed", "Operation cannot be performed because one of the specified precondition criteria was not met.")
        if r.method == "PUT":
            if self._stored(r, container, r.body) != key:
                raise _Error(400, "BadRequest", "The id in the body is not the id in the URL")
            stored = self._write(container, key, r.body)
            return 200, {"etag": stored["_etag"]}, stored
        if r.method == "DELETE":
            self._delete(container, key)
            return 204, {}, None
        raise _Error(405, "MethodNotAllowed", r.method)

    # -- queries

    def _parse(self, text: str, parameters: Mapping[str, Any]) -> _Parsed:
        """A query in the adapter's shapes, or the plan's rewriting of one."""
        match = _QUERY.match(text)
        if match is None:
            raise _Error(400, "BadRequest", f"the stand-in does not understand the query {text!r}")
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for cond in match["where"].split(" AND "):
            cond = cond.strip().lstrip("(")
            while cond.count(")") > cond.count("("):
                cond = cond[:-1]
            if cond == "true":
                continue
            if m := _EQUALS.match(cond):
                name, param = _property(m["path"]), m["param"]
                if param not in parameters:
                    raise _Error(400, "BadRequest", f"the parameter {param} is not given")
                tests.append(lambda d, n=name, v=parameters[param]: n in d and _type_rank(d[n]) == _type_rank(v))
            elif m := _DEFINED.match(cond):
                defined = _property(m["path"])
                tests.append(lambda d, n=defined: n in d)
            else:
                raise _Error(400, "BadRequest", f"the stand-in does not understand the condition {cond!r}")
        top = match["top"]
        if top is not None:
            top = parameters.get(top) if top.startswith("@") else int(top)
            if not isinstance(top, int) or isinstance(top, bool) or top < 0:
                raise _Error(400, "BadRequest", "TOP needs a non-negative integer")
        order = [(path, direction == "DESC") for path, direction in
                 (item.rsplit(" ", 1) for item in re.findall(_ORDER, match["order"] or ""))]
        items = [item[len('{"item": '):-1] for item in re.findall(_ITEM, match["items"] or "")]
        if match["items"] is not None and items != [path for path, _ in order]:
            raise _Error(400, "BadRequest", "orderByItems are not the ORDER BY expressions")
        return _Parsed(lambda d: all(t(d) for t in tests), order, top, match["top"], match["where"], match["items"] is not None)

    def _check_composite(self, container: Container, order: list[tuple[str, bool]]) -> None:
        """ORDER BY on more than one property needs a composite index on those paths, in those
        orders or all of them inverted, as Cosmos requires."""
        if len(order) < 2:
            return
        wanted = [("/" + _property(path), descending) for path, descending in order]
        for composite in container.composite_indexes:
            paths = [(path, direction == "descending") for path, direction in composite]
            if paths in (wanted, [(p, not d) for p, d in wanted]):
                return
        raise _Error(400, "BadRequest", "The order by query does not have a corresponding composite index that it can "
                     "be served from.")

    def _query(self, r: Received, container: Container) -> tuple[int, dict[str, str], Any]:
        text, parameters = r.query or ("", {})
        if ORDER_BY_FILTER in text:
            raise _Error(400, "BadRequest", "the order-by filter placeholder was not replaced")
        query = self._parse(text, parameters)
        self._check_composite(container, query.order)
        partition = r.headers.get("x-ms-documentdb-partitionkey")
        if partition is None and "x-ms-documentdb-partitionkeyrangeid" not in r.headers:
            if query.order or query.top is not None:
                raise _Error(400, "BadRequest", "Cross partition query with TOP/ORDER BY or aggregate functions is not "
                             "supported.", substatus=1004)
            if r.headers.get("x-ms-documentdb-query-enablecrosspartition", "").lower() != "true":
                raise _Error(400, "BadRequest", "Cross partition query is required but disabled.", substatus=1004)
        wanted = None if partition is None else _partition_json(json.loads(partition)[0])
        docs = [d for (p, _), d in container.docs.items()
                if (wanted is None or p == wanted) and self._visible(d) and query.keep(d)]
        names = [(_property(path), descending) for path, descending in query.order]
        docs = [d for d in docs if all(name in d for name, _ in names)]
        for name, descending in reversed(names):  # stable sorts, the last key first
            docs.sort(key=lambda d, n=name: _type_rank(d[n]), reverse=descending)
        if query.top is not None:
            docs = docs[:query.top]
        if query.rewritten:
            docs = [{"_rid": d["_rid"], "orderByItems": [{"item": d[n]} for n, _ in names], "payload": d} for d in docs]
        return 200, {"x-ms-item-count": str(len(docs))}, {"_rid": container.rid, "Documents": docs, "_count": len(docs)}

    def _query_plan(self, r: Received) -> dict[str, Any]:
        """The gateway's plan for a cross-partition query: the clauses the client applies across
        ranges, and the query each range runs (ORDER BY rewritten to carry its sort values)."""
        text, parameters = r.query or ("", {})
        query = self._parse(text, parameters)
        rewritten = text
        if query.order:
            head = f"SELECT TOP {query.top_text} " if query.top_text else "SELECT "
            items = ", ".join(f'{{"item": {path}}}' for path, _ in query.order)
            order = ", ".join(f"{path} {'DESC' if descending else 'ASC'}" for path, descending in query.order)
            rewritten = (f"{head}c._rid, [{items}] AS orderByItems, c AS payload FROM c "
                         f"WHERE ({query.where}) AND {ORDER_BY_FILTER} ORDER BY {order}")
        return {
            "partitionedQueryExecutionInfoVersion": 2,
            "queryInfo": {
                "distinctType": "None", "top": query.top, "offset": None, "limit": None,
                "orderBy": ["Descending" if descending else "Ascending" for _, descending in query.order],
                "orderByExpressions": [path for path, _ in query.order],
                "groupByExpressions": [], "groupByAliases": [], "aggregates": [], "groupByAliasToAggregateType": {},
                "rewrittenQuery": rewritten, "hasSelectValue": False, "dCountInfo": None, "hasNonStreamingOrderBy": False,
            },
            "queryRanges": [{"min": "", "max": "FF", "isMinInclusive": True, "isMaxInclusive": False}],
        }
