"""In-memory resources with the semantics of the contracts, for unit tests and local runs.

Values are copied in and out through JSON, as a real store would serialise them: a caller
can't change stored state by mutating what it passed or got back, and a value no cloud could
store (a datetime, a set) fails here too, not only in the cloud.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .contracts import ConditionFailed, Context, Message, Response, check_delay, check_execution_id
from .http import idempotency_key_in_progress, idempotency_key_reused
from .secrets import CachedSecret
from .tables import check_changes, key_values, matches, query_keys

__all__ = [
    "IdempotencyStore",
    "MemoryResources",
    "Queue",
    "CachedSecret",
    "Change",
    "Sent",
    "Table",
    "Workflow",
    "memory_context",
]

Clock = Callable[[], float]


def _json_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class Change:
    """A write as a table stream delivers it: `message()` gives what the stream's consumer would
    receive (components/spec.py StreamSpec: the item after the change, None once deleted)."""

    id: str
    table: str
    key: dict[str, Any]
    item: dict[str, Any] | None

    def message(self, receive_count: int = 1) -> Message:
        body = {"table": self.table, "key": _json_copy(self.key), "item": _json_copy(self.item)}
        return Message(id=self.id, body=body, receive_count=receive_count)


class Table:
    """A key-value table: partition key, optional sort key, secondary indexes {name: (pk, sk)}.
    Every write is also recorded in `changes`, for tests to deliver to a stream's consumer."""

    def __init__(
        self,
        partition_key: str,
        sort_key: str | None = None,
        indexes: Mapping[str, tuple[str, str | None]] | None = None,
        name: str = "",
    ):
        self.name = name
        self.partition_key = partition_key
        self.sort_key = sort_key
        self.indexes = dict(indexes or {})
        self._items: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.changes: list[Change] = []

    # -- helpers

    @property
    def _key_names(self) -> tuple[str, ...]:
        return (self.partition_key,) if self.sort_key is None else (self.partition_key, self.sort_key)

    def _key_of(self, key: Mapping[str, Any], *, exact: bool) -> tuple[Any, ...]:
        return key_values(key, self._key_names, exact=exact)

    def _changed(self, item: Mapping[str, Any], after: Mapping[str, Any] | None) -> None:
        key = {name: item[name] for name in self._key_names}
        self.changes.append(Change(str(uuid.uuid4()), self.name, _json_copy(key), None if after is None else _json_copy(after)))

    # -- the Table protocol

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self._items.get(self._key_of(key, exact=True))
        return None if item is None else copy.deepcopy(item)

    def put(self, item: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Write `item`; with `if_absent`, ConditionFailed when an item with its key exists."""
        stored = _json_copy(dict(item))
        k = self._key_of(stored, exact=False)
        if if_absent and k in self._items:
            raise ConditionFailed("an item with this key exists")
        self._items[k] = stored
        self._changed(stored, stored)

    def update(
        self, key: Mapping[str, Any], changes: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Set `changes` on an existing item and return it (all attributes); ConditionFailed
        when it does not exist or an attribute differs from `expect`. Key attributes can't change."""
        k = self._key_of(key, exact=True)
        check_changes(changes, self._key_names)
        new_values = _json_copy(dict(changes))
        item = self._items.get(k)
        if item is None:
            raise ConditionFailed("no item with this key")
        if not matches(item, expect):
            raise ConditionFailed("the item does not match the expected values")
        item.update(new_values)
        self._changed(item, item)
        return copy.deepcopy(item)

    def delete(self, key: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> None:
        """Remove the item; a missing item is fine unless `expect` is given (then ConditionFailed)."""
        k = self._key_of(key, exact=True)
        if expect is not None and not matches(self._items.get(k), expect):
            raise ConditionFailed("the item does not exist or does not match the expected values")
        removed = self._items.pop(k, None)
        if removed is not None:
            self._changed(removed, None)

    def query(
        self, key: Mapping[str, Any], *, index: str | None = None, limit: int = 100, descending: bool = False
    ) -> list[dict[str, Any]]:
        """Items whose partition key (of the table or `index`) equals `key`'s single entry,
        ordered by the sort key. An index holds only items that have all its key attributes."""
        pk, sk = query_keys(key, (self.partition_key, self.sort_key), self.indexes, index, limit)
        wanted = key[pk]
        needed = [a for a in (pk, sk) if a is not None]
        found = [i for i in self._items.values() if all(a in i for a in needed) and i[pk] == wanted]
        if sk is not None:
            found.sort(key=lambda i: i[sk], reverse=descending)
        elif descending:
            found.reverse()
        return copy.deepcopy(found[:limit])

    # -- for tests

    def items(self) -> list[dict[str, Any]]:
        """Every stored item (copies), in insertion order."""
        return copy.deepcopy(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Sent:
    """A message as sent: `message()` gives what a consumer would receive."""

    id: str
    body: Any
    delay_s: int = 0

    def message(self, receive_count: int = 1) -> Message:
        return Message(id=self.id, body=_json_copy(self.body), receive_count=receive_count)


class Queue:
    """Records what was sent; tests deliver `sent[i].message()` to the consumer themselves."""

    def __init__(self, name: str = ""):
        self.name = name
        self.sent: list[Sent] = []

    def send(self, body: Any, *, delay_s: int = 0) -> str:
        check_delay(delay_s)
        message_id = str(uuid.uuid4())
        self.sent.append(Sent(message_id, _json_copy(body), delay_s))
        return message_id

    @property
    def bodies(self) -> list[Any]:
        return [copy.deepcopy(s.body) for s in self.sent]


class Workflow:
    """Records executions by id; starting an existing id is not an error and starts nothing."""

    def __init__(self, name: str = ""):
        self.name = name
        self.executions: dict[str, dict[str, Any]] = {}
        self.start_calls = 0

    def start(self, execution_id: str, state: Mapping[str, Any]) -> bool:
        check_execution_id(execution_id)
        self.start_calls += 1
        if execution_id in self.executions:
            return False
        self.executions[execution_id] = _json_copy(dict(state))
        return True


@dataclass
class _Record:
    body_hash: str
    expires_at: float
    response: Response | None = None  # None while in progress


class IdempotencyStore:
    """Dict-backed idempotency with the replay/409 semantics of http.IdempotencyStore.

    Records expire after `ttl_s` (Powertools' default is one hour); a key can then be reused.
    """

    def __init__(self, ttl_s: float = 3600.0, clock: Clock = time.monotonic):
        self.ttl_s = ttl_s
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def run(self, key: str, body_hash: str, compute: Callable[[], Response]) -> Response:
        with self._lock:
            now = self._clock()
            record = self._records.get(key)
            if record is not None and record.expires_at <= now:
                record = None
            if record is not None:
                if record.body_hash != body_hash:
                    raise idempotency_key_reused()
                if record.response is None:
                    raise idempotency_key_in_progress()
                return _copy_response(record.response)
            mine = self._records[key] = _Record(body_hash, now + self.ttl_s)
        try:
            response = compute()
        except BaseException:
            with self._lock:
                if self._records.get(key) is mine:
                    del self._records[key]
            raise
        with self._lock:
            mine.response = _copy_response(response)
            mine.expires_at = self._clock() + self.ttl_s
        return response

    def __len__(self) -> int:
        return len(self._records)


def _copy_response(response: Response) -> Response:
    return Response(response.status, copy.deepcopy(response.body), dict(response.headers))


def memory_context(
    *,
    tables: Mapping[str, Table] | None = None,
    queues: Mapping[str, Queue] | None = None,
    workflows: Mapping[str, Workflow] | None = None,
    secrets: Mapping[str, CachedSecret] | None = None,
    request_id: str = "req-memory",
) -> Context:
    """A Context over in-memory resources (shared, not copied: tests inspect them afterwards)."""
    return Context(
        tables=dict(tables or {}),
        queues=dict(queues or {}),
        workflows=dict(workflows or {}),
        secrets=dict(secrets or {}),
        request_id=request_id,
    )


@dataclass
class MemoryResources:
    """Every resource of a service in memory, and per-function Contexts holding only what each
    function declared, as the cloud wiring does.

    `from_spec` reads a ServiceSpec by attribute (tables, queues, workflows, secrets,
    functions[].uses) without importing components/, which is not part of the function asset.
    """

    tables: dict[str, Table] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    secrets: dict[str, CachedSecret] = field(default_factory=dict)
    uses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # function -> [(kind, resource)]
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)

    @classmethod
    def from_spec(cls, service: Any, secret_values: Mapping[str, str] | None = None, clock: Clock = time.monotonic) -> MemoryResources:
        values = dict(secret_values or {})
        tables = {}
        for t in service.tables:
            indexes = {i.name: (i.partition_key.name, i.sort_key.name if i.sort_key else None) for i in t.indexes}
            tables[t.name] = Table(t.partition_key.name, t.sort_key.name if t.sort_key else None, indexes, name=t.name)
        return cls(
            tables=tables,
            queues={q.name: Queue(q.name) for q in service.queues},
            workflows={w.name: Workflow(w.name) for w in service.workflows},
            secrets={s.name: CachedSecret(lambda n=s.name: values.get(n, ""), clock=clock) for s in service.secrets},
            uses={f.name: [(a.kind, a.resource) for a in f.uses] for f in service.functions},
            idempotency=IdempotencyStore(clock=clock),
        )

    def context(self, function: str | None = None, request_id: str = "req-memory") -> Context:
        """Only `function`'s declared resources; every resource when `function` is None."""
        if function is None:
            return memory_context(tables=self.tables, queues=self.queues, workflows=self.workflows, secrets=self.secrets, request_id=request_id)
        declared = set(self.uses[function])

        def pick(kind: str, pool: Mapping[str, Any]) -> dict[str, Any]:
            return {name: r for name, r in pool.items() if (kind, name) in declared}

        return memory_context(
            tables=pick("table", self.tables),
            queues=pick("queue", self.queues),
            workflows=pick("workflow", self.workflows),
            secrets=pick("secret", self.secrets),
            request_id=request_id,
        )

    def written(self) -> Iterable[Any]:
        """Everything stored, sent or started: empty when nothing left a trace."""
        for table in self.tables.values():
            yield from table.items()
        for queue in self.queues.values():
            yield from queue.sent
        for workflow in self.workflows.values():
            yield from workflow.executions
