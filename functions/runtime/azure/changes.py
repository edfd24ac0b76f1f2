"""A table's changes as the Cosmos DB trigger delivers them: change feed documents -> portable Messages.

The renderer (components/azure/stream.py) gives the consumer's app one Cosmos DB trigger,
``changes``, on the table's container (Functions Cosmos DB extension 4.x, in the extension bundle
[4.0.0, 5.0.0)), configured from these app settings:

- ``ANYCLOUD_CHANGES_ACCOUNT__accountEndpoint`` / ``__credential`` / ``__clientId``: the trigger's
  identity-based connection, the app's user-assigned identity (the lease connection is the same);
- ``ANYCLOUD_CHANGES_DATABASE``, ``_CONTAINER``, ``_LEASES``: the monitored container and the
  lease container the renderer created (read by the binding as ``%...%`` expressions);
- ``ANYCLOUD_CHANGES_TABLE``: the declared table, whose key and TTL names are in
  ``ANYCLOUD_KEYS_<TABLE>``; ``ANYCLOUD_CHANGES_BATCH_SIZE`` (the trigger's
  ``maxItemsPerInvocation``), ``ANYCLOUD_CHANGES_MAX_RECEIVES``, and
  ``ANYCLOUD_CHANGES_DEAD_LETTERS``, the URL of the stream's dead-letter queue.

What the trigger delivers. The change feed in latest-version mode, the only mode the trigger
reads: inserts and updates, each item at its latest version, so successive writes of one item
may arrive as one (https://learn.microsoft.com/azure/cosmos-db/nosql/change-feed-modes); in
order per partition key range, a range read by one host at a time under a lease; deletes are
never in it (the renderer refuses ``deletes``). Each document carries Cosmos' system properties
(``_rid``, ``_self``, ``_etag``, ``_attachments``, ``_ts``) and the change's ``_lsn``. It becomes
``Message(id="<document id>:<_lsn>", body={"table", "key", "item"}, receive_count=n)``, the item
read as the portable Table returns it (cosmos.load_item: system properties, ``id`` and ``ttl``
dropped, escaped names restored); the document id encodes the whole key, so the message id names
one state of one item.

Where it starts. ``startFromBeginning`` is true: on its first start, when the lease container the
renderer made holds no lease yet, the trigger reads the container's change feed from the
beginning, so what was written before the consumer's trigger first ran (the table and the apps
writing it may be deployed, and used, first) is delivered too; later starts resume from the
leases ("Reading from the beginning only works the first time the trigger starts",
https://learn.microsoft.com/azure/azure-functions/functions-bindings-cosmosdb-v2-trigger#configuration).

Retries and dead letters. The trigger checkpoints its lease after an invocation whatever its
outcome: without a retry policy a failed batch is lost ("at most once",
https://learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-changefeed-functions). The
trigger supports the runtime's retry policies (https://learn.microsoft.com/azure/azure-functions/
functions-bindings-error-pages#retries; azure-webjobs-sdk-extensions#798), and the checkpoint
waits until the policy is done, so ``changes`` retries without limit (``max_retry_count`` -1,
10 s apart) and the adapter ends it: on delivery ``max_receives`` of a change that still fails,
the change is written to the dead-letter queue (kept without expiry, alerted on by the renderer)
and the invocation returns normally. A failed dead-letter write raises, so the batch is retried
rather than checkpointed: no change is dropped. Changes of the batch that were delivered are
remembered by the instance and not delivered again by its retries (one batch holds one state per
item, so order per item holds). The delivery count is the policy's ``retry_count`` + 1, which
the runtime keeps in the instance's memory ("Max retry counts"): after a host crash the batch is
read again from the last checkpoint and counted from 1 (at least once, never dropped). A
document that is not a change of the table (no key attribute, no ``_lsn``) is dead-lettered at
once.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import wiring
from .cosmos import load_item
from .messaging import MAX_MESSAGE_BYTES

CONNECTION = "ANYCLOUD_CHANGES_ACCOUNT"
DATABASE = "ANYCLOUD_CHANGES_DATABASE"
CONTAINER = "ANYCLOUD_CHANGES_CONTAINER"
LEASES = "ANYCLOUD_CHANGES_LEASES"
TABLE = "ANYCLOUD_CHANGES_TABLE"
BATCH_SIZE = "ANYCLOUD_CHANGES_BATCH_SIZE"
MAX_RECEIVES = "ANYCLOUD_CHANGES_MAX_RECEIVES"
DEAD_LETTERS = "ANYCLOUD_CHANGES_DEAD_LETTERS"
#: The trigger's retry policy (Python v2 `app.retry`): until the adapter settles the batch.
RETRY_STRATEGY, RETRY_FOREVER, RETRY_DELAY = "fixed_delay", "-1", "00:00:10"
#: The log line of a dead-lettered change (components/azure/observability.py alerts on it).
DEAD_LETTERED = "anycloud change dead-lettered"
#: How many delivered changes an instance remembers, so a retried batch does not deliver them again.
REMEMBERED = 10_000
#: A dead letter never expires (Storage queues keep a message 7 days unless told otherwise).
KEPT = -1


class MalformedChange(ValueError):
    """A trigger document that is not a change of the streamed table (the reason only)."""


class ChangesFailed(RuntimeError):
    """Some changes of the batch failed before their last delivery: the retry policy runs it again."""


@dataclass(frozen=True)
class Stream:
    table: str
    key: tuple[str, ...]
    dead_letters: str
    max_receives: int
    batch_size: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Stream:
        missing = [v for v in (TABLE, DEAD_LETTERS, MAX_RECEIVES, BATCH_SIZE) if not env.get(v)]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not set: the renderer wires a table stream's consumer")
        key, _ = wiring.table_keys(env, env[TABLE])
        return cls(table=env[TABLE], key=tuple(key), dead_letters=env[DEAD_LETTERS],
                   max_receives=int(env[MAX_RECEIVES]), batch_size=int(env[BATCH_SIZE]))

    @property
    def dead_letter_queue(self) -> str:
        return urlsplit(self.dead_letters).path.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Change:
    id: str
    key: dict[str, Any]
    item: dict[str, Any]

    def body(self, stream: Stream) -> dict[str, Any]:
        return {"table": stream.table, "key": self.key, "item": self.item}


def read_change(document: Mapping[str, Any], stream: Stream) -> Change:
    """The change a trigger document carries, or MalformedChange."""
    doc_id, lsn = document.get("id"), document.get("_lsn")
    if not isinstance(doc_id, str) or not doc_id or isinstance(lsn, bool) or not isinstance(lsn, int):
        raise MalformedChange("the document has no id or no _lsn: it is not a change feed document")
    item = load_item(document)
    missing = [k for k in stream.key if k not in item]
    if missing:
        raise MalformedChange(f"the document has no key attribute {', '.join(missing)}")
    return Change(id=f"{doc_id}:{lsn}", key={k: item[k] for k in stream.key}, item=item)


class Delivered:
    """The ids of changes this instance delivered (or dead-lettered), the newest REMEMBERED."""

    def __init__(self, size: int = REMEMBERED):
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, change_id: str) -> bool:
        return change_id in self._ids

    def add(self, change_id: str) -> None:
        self._ids[change_id] = None
        self._ids.move_to_end(change_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


def _fits(text: str) -> bool:
    return len(base64.b64encode(text.encode("utf-8"))) <= MAX_MESSAGE_BYTES


def dead_letter(record: dict[str, Any], bulky: str) -> str:
    """The dead letter's text: `record` as JSON, without its `bulky` field (an item can be 2 MB; a
    queue message is 64 KiB) when it would not fit, which `omitted` then says."""
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    if _fits(text):
        return text
    return json.dumps({**{k: v for k, v in record.items() if k != bulky}, "omitted": bulky},
                      separators=(",", ":"), sort_keys=True)


def failed_change(change: Change, stream: Stream, attempts: int, error: str) -> str:
    """What the dead-letter queue keeps of a change: enough to act on it or re-drive it (the item,
    if it is too large, is the table's current one under `key`)."""
    return dead_letter({"change": change.id, **change.body(stream), "attempts": attempts, "error": error}, "item")


def unreadable(document: Mapping[str, Any], stream: Stream, reason: str) -> str:
    """What the dead-letter queue keeps of a document that could not be read."""
    return dead_letter({"table": stream.table, "error": "MalformedChange", "reason": reason,
                        "document_id": document.get("id"), "document": dict(document)}, "document")
