"""Eventarc for Firestore, played from the emulator's writes: the CloudEvents a rendered trigger gets.

The Firestore emulator package emits no events, so its launcher logs every committed write
(tests/support/firestore_emulator.py) and this stand-in turns each write that matches a rendered
`gcp:eventarc/trigger:Trigger` (type `google.cloud.firestore.document.v1.written`, the `database`
filter, the `document` path pattern) into what Eventarc sends the trigger's Cloud Run service:

- a binary-mode CloudEvent (CloudEvents HTTP binding, https://github.com/cloudevents/spec/blob/v1.0.2/
  cloudevents/bindings/http-protocol-binding.md): ``ce-id``, ``ce-source``
  (``//firestore.googleapis.com/projects/P/databases/D``), ``ce-specversion``, ``ce-type``,
  ``ce-subject`` (``documents/<path>``), ``ce-time``, and Firestore's extension attributes
  ``ce-database``, ``ce-namespace``, ``ce-document``, ``ce-location``, ``ce-project``
  (https://cloud.google.com/eventarc/docs/reference/supported-events#cloud-firestore);
- the data as the protobuf ``DocumentEventData`` (``content-type: application/protobuf``, as the
  trigger's eventDataContentType asks), made with the google-events package: ``value`` the
  document after the write (none for a delete), ``old_value`` before it, ``update_mask`` the
  fields an update changed. The emulator keeps milliseconds; Firestore's update_time grows with
  every change of a document, so two writes in one millisecond get nanoseconds apart here.

Delivery as Eventarc's Pub/Sub transport does it (https://cloud.google.com/eventarc/docs/retry-
events): a non-2xx answer, or no answer (the handler raised: the process died), is retried with
exponential back-off from 10 s to 600 s; an event still refused 24 hours after it was published is
discarded (`discarded`: tests assert it stays empty). No order is kept between events. Time is the
stack's `clock`, advanced to each retry's due time, so nothing sleeps.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import timestamp_pb2

TRIGGER = "gcp:eventarc/trigger:Trigger"
MIN_BACKOFF_S, MAX_BACKOFF_S, RETENTION_S = 10.0, 600.0, 24 * 3600.0



class Clock:
    """The stack's time: what the adapter's leases and this stand-in's retries read."""

    def __init__(self, start: float | None = None):
        self.now = dt.datetime.now(dt.UTC).timestamp() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Trigger:
    name: str
    destination: str  # the Cloud Run service (the function's physical name)
    event_type: str
    database: str
    pattern: re.Pattern

    @classmethod
    def of(cls, inputs: dict[str, Any]) -> Trigger:
        criteria = {c["attribute"]: c for c in inputs["matchingCriterias"]}
        segments = [r"[^/]+" if re.fullmatch(r"\{[^}]+\}", s) else re.escape(s) for s in criteria["document"]["value"].split("/")]
        return cls(name=inputs["name"], destination=inputs["destination"]["cloudRunService"]["service"],
                   event_type=criteria["type"]["value"], database=criteria["database"]["value"],
                   pattern=re.compile("/".join(segments)))


@dataclass
class Event:
    trigger: Trigger
    headers: dict[str, str]
    data: bytes
    published: float
    due: float
    attempts: int = 0
    answers: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.headers["ce-id"]

    @property
    def document(self) -> str:
        return self.headers["ce-document"]


def _rfc3339(nanos: int) -> str:
    seconds, rest = divmod(nanos, 1_000_000_000)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"


class EventarcStandIn:
    """Reads the emulator's write log from where it stood at creation; `deliver` is the destination
    (service, headers, body) -> HTTP status."""

    def __init__(self, changes: Path, triggers: list[Trigger], deliver: Callable[[str, dict[str, str], bytes], int],
                 clock: Clock, project: str, location: str):
        self.changes, self.triggers, self._deliver, self.clock = changes, triggers, deliver, clock
        self.project, self.location = project, location
        self._offset = changes.stat().st_size
        self._times: dict[str, int] = {}  # document path -> last commit time given (ns)
        self.pending: list[Event] = []
        self.delivered: list[Event] = []
        self.discarded: list[Event] = []
        #: Every event made, in commit order: (kind, document path, the DocumentEventData), for effect assertions.
        self.log: list[tuple[str, str, Any]] = []

    # ----------------------------------------------------------------- events
    def poll(self) -> list[Event]:
        """Events for the writes committed since the last poll (each matching trigger gets one)."""
        with self.changes.open() as log:
            log.seek(self._offset)
            lines = log.read()
            self._offset = log.tell()
        made = []
        for line in lines.splitlines():
            write = json.loads(line)
            made += self._events(write)
        self.pending += made
        return made

    def _events(self, write: dict[str, Any]) -> list[Event]:
        from google.events.cloud.firestore_v1 import Document, DocumentEventData, DocumentMask

        match = re.fullmatch(r"projects/([^/]+)/databases/([^/]+)/documents/(.+)", write["path"])
        _, database, document = match.groups()
        value = Document.deserialize(base64.b64decode(write["value"])) if write["value"] else None
        old = Document.deserialize(base64.b64decode(write["old"])) if write["old"] else None
        commit = self._commit_time(write["path"], value)
        self._times[write["path"]] = commit
        if value is not None:
            value.update_time = timestamp_pb2.Timestamp(seconds=commit // 1_000_000_000, nanos=commit % 1_000_000_000)
        data = DocumentEventData(value=value, old_value=old)
        if value is not None and old is not None:
            changed = sorted({k for k in {*value.fields, *old.fields}
                              if k not in value.fields or k not in old.fields or value.fields[k] != old.fields[k]})
            data.update_mask = DocumentMask(field_paths=changed)
        self.log.append((write["kind"], document, data))
        body = DocumentEventData.serialize(data)
        events = []
        for trigger in self.triggers:
            if trigger.database != database or not trigger.pattern.fullmatch(document):
                continue
            headers = {
                "ce-id": uuid.uuid4().hex, "ce-specversion": "1.0", "ce-type": trigger.event_type,
                "ce-source": f"//firestore.googleapis.com/projects/{self.project}/databases/{database}",
                "ce-subject": f"documents/{document}", "ce-time": _rfc3339(commit),
                "ce-database": database, "ce-namespace": "(default)", "ce-document": document,
                "ce-location": self.location, "ce-project": self.project, "content-type": "application/protobuf",
            }
            events.append(Event(trigger, headers, body, published=self.clock(), due=self.clock()))
        return events

    def _commit_time(self, path: str, value: Any) -> int:
        """The write's commit time (ns): the emulator's update_time, or the clock's now for a delete,
        kept above the document's previous one."""
        if value is not None and value.update_time:
            stamp = value.update_time.timestamp_pb()
            nanos = stamp.seconds * 1_000_000_000 + stamp.nanos
        else:
            nanos = int(self.clock() * 1_000_000_000)
        return max(nanos, self._times.get(path, -1) + 1)

    # --------------------------------------------------------------- delivery
    def attempt(self, event: Event) -> int:
        """One delivery: the destination's status, 0 when it gave no answer (it raised)."""
        event.attempts += 1
        try:
            status = self._deliver(event.trigger.destination, dict(event.headers), event.data)
        except BaseException as exc:  # noqa: BLE001 - a process that died answers nothing
            if not getattr(exc, "injected", False):
                raise
            status = 0
        event.answers.append(status)
        return status

    def _settle(self, event: Event, status: int) -> None:
        if 200 <= status < 300:
            self.delivered.append(event)
            return
        backoff = min(MIN_BACKOFF_S * 2 ** (event.attempts - 1), MAX_BACKOFF_S)
        event.due = self.clock() + backoff
        if event.due - event.published > RETENTION_S:
            self.discarded.append(event)
        else:
            self.pending.append(event)

    def run(self, max_steps: int = 1000) -> int:
        """Deliver what is pending (earliest due first, the clock moved to it), retrying as Eventarc
        does, until nothing is pending; new writes the deliveries commit are picked up too."""
        steps = 0
        self.poll()
        while self.pending:
            steps += 1
            assert steps <= max_steps, f"Eventarc stand-in still busy after {max_steps} deliveries"
            self.pending.sort(key=lambda e: e.due)
            event = self.pending.pop(0)
            self.clock.now = max(self.clock.now, event.due)
            self._settle(event, self.attempt(event))
            self.poll()
        return steps

    def twice_at_once(self, event: Event) -> list[int]:
        """Deliver `event` to its destination twice concurrently (Pub/Sub's at-least-once, and the
        redelivery of an unacknowledged event while the first copy still runs); the answers."""
        self.pending.remove(event)
        copy = Event(event.trigger, dict(event.headers), event.data, event.published, event.due)
        answers: list[int] = [0, 0]
        barrier = threading.Barrier(2)

        def one(i: int, e: Event) -> None:
            barrier.wait()
            answers[i] = self.attempt(e)

        threads = [threading.Thread(target=one, args=(i, e)) for i, e in enumerate((event, copy))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e, status in ((event, answers[0]), (copy, answers[1])):
            self._settle(e, status)
        return answers
