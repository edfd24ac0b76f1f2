"""A table's changes as Eventarc delivers them: Firestore document CloudEvents -> portable Messages.

The renderer (components/gcp/stream.py) routes `google.cloud.firestore.document.v1.written`
events of the table's collection to the consumer's Cloud Run service, in binary content mode: the
attributes in ``ce-*`` headers (``ce-id``, ``ce-type``, ``ce-time``, and Firestore's extensions
``ce-database``, ``ce-document``), the data the protobuf ``DocumentEventData`` (its ``value`` the
document after the write, absent for a delete; ``old_value`` before it), decoded with the
`google-events` package (https://github.com/googleapis/google-cloudevents, proto
google/events/cloud/firestore/v1/data.proto). ``ANYCLOUD_STREAM_<TABLE>`` says which database
and collection are the table's, its key attributes, TTL attribute, deliveries database,
dead-letter topic, ``max_receives`` and whether deletes are delivered.

Each change becomes ``Message(id=ce-id, body={"table", "key", "item"}, receive_count=n)``, the item
decoded the way the table adapter returns items (the client's own value decoding, the TTL
timestamp back to epoch seconds), None for a delete.

Deliveries (one record per document in the stream's deliveries database, read and written in a
transaction): the newest change settled (`at`, its commit time in nanoseconds as 20 digits: the document's
``update_time`` for a write, the event time for a delete), the change being delivered and until
when (`holder`, `until`: the consumer's timeout and a margin), and each unsettled change's
delivery count (`tries`). A change older than the newest settled one is acknowledged as
superseded (Firestore triggers do not keep order, and a state is superseded by a newer one); a
change of a document whose lease another delivery holds is refused (409) and Eventarc retries it
with back-off; a change is delivered at most `max_receives` times and then published to the
dead-letter topic and acknowledged (Eventarc would otherwise retry it for 24 hours and discard
it: https://cloud.google.com/eventarc/docs/retry-events). An event that cannot be read is
dead-lettered at once, with its attributes and raw data. Records expire (TTL `expires_at`) two
days after their last change, past Eventarc's 24-hour retention.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .firestore import load_item

PREFIX = "ANYCLOUD_STREAM_"
EVENT_TYPES = tuple(f"google.cloud.firestore.document.v1.{kind}" for kind in ("written", "created", "updated", "deleted"))
COLLECTION, EXPIRES = "items", "expires_at"  # components/gcp/stream.py DELIVERIES_COLLECTION, EXPIRES_FIELD
#: How long a document's record outlives its last change: longer than Eventarc keeps an event.
RETAIN_S = 2 * 24 * 3600
STALE, BUSY = "stale", "busy"


class MalformedEvent(ValueError):
    """A request that is not a readable Firestore change of a streamed table (the reason only)."""


@dataclass(frozen=True)
class Stream:
    table: str
    database: str
    key: tuple[str, ...]
    ttl: str | None
    deliveries: str
    dead_letters: str
    max_receives: int
    deletes: bool

    @classmethod
    def all(cls, env: Mapping[str, str]) -> list[Stream]:
        out = []
        for var, raw in env.items():
            if var.startswith(PREFIX):
                s = json.loads(raw)
                out.append(cls(table=s["table"], database=s["database"], key=tuple(s["key"]), ttl=s.get("ttl"),
                               deliveries=s["deliveries"], dead_letters=s["dead_letters"],
                               max_receives=int(s["max_receives"]), deletes=bool(s["deletes"])))
        return out


@dataclass(frozen=True)
class Change:
    id: str
    time: str
    document: str  # the document id within the table's collection
    at: int  # commit time, ns since the epoch
    key: dict[str, Any]
    item: dict[str, Any] | None

    def body(self, stream: Stream) -> dict[str, Any]:
        return {"table": stream.table, "key": self.key, "item": self.item}


def is_change(headers: Mapping[str, str]) -> bool:
    return headers.get("ce-type", "") in EVENT_TYPES


def _nanos(timestamp: Any) -> int:
    """A Timestamp field (proto-plus gives it as DatetimeWithNanoseconds) as ns since the epoch."""
    stamp = timestamp.timestamp_pb()
    return stamp.seconds * 1_000_000_000 + stamp.nanos


def rfc3339_nanos(text: str) -> int:
    """`2024-05-01T10:00:00.123456789Z` (any fraction, Z or an offset) as ns since the epoch."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text or "")
    if not match:
        raise MalformedEvent(f"ce-time {text!r} is not an RFC 3339 time")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    whole = dt.datetime.fromisoformat(match.group(1) + zone)
    return int(whole.timestamp()) * 1_000_000_000 + int((match.group(2) or "0").ljust(9, "0"))


def _fields(document: Any) -> dict[str, Any]:
    """The document's fields decoded by the Firestore client, as its reads decode them: the event's
    Document and google.firestore.v1.Document are the same message on the wire."""
    from google.cloud.firestore_v1 import _helpers
    from google.cloud.firestore_v1.types import Document

    return _helpers.decode_dict(Document.deserialize(type(document).serialize(document)).fields, None)


def read_change(headers: Mapping[str, str], body: bytes, streams: list[Stream]) -> tuple[Stream, Change]:
    """The stream and change an Eventarc request carries (headers lower-cased), or MalformedEvent."""
    from google.events.cloud.firestore_v1 import DocumentEventData

    database, path = headers.get("ce-database", ""), headers.get("ce-document", "")
    collection, _, document = path.partition("/")
    stream = next((s for s in streams if s.database == database and s.table == collection), None)
    if stream is None or not document or "/" in document:
        raise MalformedEvent(f"no stream of this function has database {database!r} and document {path!r}")
    change_id = headers.get("ce-id", "")
    if not change_id:
        raise MalformedEvent("the event has no ce-id")
    try:
        data = DocumentEventData.deserialize(body)
    except Exception:  # protobuf's DecodeError and friends: the data is not a DocumentEventData
        raise MalformedEvent("the event data is not a protobuf DocumentEventData") from None
    written = "value" in data and bool(data.value.name)
    before = data.old_value if "old_value" in data and data.old_value.name else None
    if written:
        item = load_item(_fields(data.value), stream.ttl)
        at = _nanos(data.value.update_time)
        keyed = item
    elif before is not None:
        item, keyed = None, load_item(_fields(before), stream.ttl)
        at = rfc3339_nanos(headers.get("ce-time", ""))
    else:
        raise MalformedEvent("the event has neither the document nor its previous version")
    missing = [k for k in stream.key if k not in keyed]
    if missing:
        raise MalformedEvent(f"the document has no key attribute {', '.join(missing)}")
    key = {k: keyed[k] for k in stream.key}
    return stream, Change(id=change_id, time=headers.get("ce-time", ""), document=document, at=at, key=key, item=item)


class Deliveries:
    """The per-document records of one stream's deliveries database (see the module docstring)."""

    def __init__(self, client: Callable[[], Any], hold_s: float, clock: Callable[[], float] = time.time):
        self._client = client
        self.hold_s = hold_s
        self._clock = clock

    def _run(self, body: Callable[[Any, dict[str, Any]], Any], change: Change) -> Any:
        from google.cloud import firestore

        ref = self._client().collection(COLLECTION).document(change.document)

        def apply(transaction: Any) -> Any:
            snapshot = ref.get(transaction=transaction)
            record = snapshot.to_dict() if snapshot.exists else {}
            outcome, updated = body(transaction, record)
            if updated is not None:
                expires = dt.datetime.fromtimestamp(self._clock() + RETAIN_S, tz=dt.UTC)
                transaction.set(ref, {**updated, EXPIRES: expires})
            return outcome

        return firestore.transactional(apply)(self._client().transaction())

    def claim(self, change: Change) -> int | str:
        """The delivery count of this attempt, or STALE (a newer state was settled) or BUSY."""
        now = self._clock()

        def body(_, record):
            tries = dict(record.get("tries") or {})
            if record.get("at", "") >= _at(change):
                return STALE, ({**record, "tries": _without(tries, change.id)} if change.id in tries else None)
            if record.get("holder") and record.get("until", 0) > now:
                return BUSY, None
            tries[change.id] = int(tries.get(change.id, 0)) + 1
            return tries[change.id], {"at": record.get("at", ""), "holder": change.id, "until": now + self.hold_s,
                                      "tries": tries}
        return self._run(body, change)

    def settle(self, change: Change) -> None:
        """The change is done (delivered, dead-lettered or not for this consumer): newer than any before."""
        def body(_, record):
            held = record.get("holder") == change.id
            return None, {"at": max(record.get("at", ""), _at(change)), "holder": None if held else record.get("holder"),
                          "until": 0 if held else record.get("until", 0),
                          "tries": _without(dict(record.get("tries") or {}), change.id)}
        self._run(body, change)

    def release(self, change: Change) -> None:
        """The delivery failed: the lease goes, the count stays."""
        def body(_, record):
            if record.get("holder") != change.id:
                return None, None
            return None, {**record, "holder": None, "until": 0}
        self._run(body, change)


def _at(change: Change) -> str:
    """The commit time as the record keeps it: 20 digits of nanoseconds, so text order is time order
    (an integer would do on Firestore, but the local emulator cannot store integers beyond 2^53)."""
    return f"{change.at:020d}"


def _without(tries: dict[str, Any], change_id: str) -> dict[str, Any]:
    tries.pop(change_id, None)
    return tries


def dead_letter(change: Change, stream: Stream, attempts: int, error: str) -> dict[str, Any]:
    """What the dead-letter topic keeps of a change: enough to act on it or re-drive it."""
    return {"change": change.id, "time": change.time, **change.body(stream), "attempts": attempts, "error": error}


def unreadable(headers: Mapping[str, str], body: bytes, reason: str) -> dict[str, Any]:
    """What the dead-letter topic keeps of an event that could not be read."""
    attributes = {k: v for k, v in headers.items() if k.startswith("ce-")}
    return {"error": "MalformedEvent", "reason": reason, "attributes": attributes,
            "data": base64.b64encode(body).decode()}
