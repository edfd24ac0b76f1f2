"""The table streams of `anycloud dev`: each declared `TableSpec.stream` delivers the table's
changes to its consumer as the clouds do (components/spec.py StreamSpec), from the store's
change log (components/dev/store.py), which the write itself filled in its own transaction.

- At least once, in order: the consumer gets the table's changes oldest first, up to
  ``batch_size`` at a time, each a `Message` whose body is ``{"table", "key", "item"}`` and whose
  id names the change; a change is deleted from the log only once its consumer succeeded, so a
  process that dies before that delivers it after the restart.
- A failed change stops its batch there (the ones after it wait, keeping the order, as a
  DynamoDB shard or a Cosmos DB lease does), and is delivered again after REDELIVERY_S times the
  time scale; after ``max_receives`` deliveries it is a dead letter, kept in the log with its
  last error until it is re-driven, and the ones after it go on.
- Writes from another process on the same file (`anycloud invoke`) are found by looking at the
  log every POLL_S; this process's own writes wake the delivery at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from runtime.contracts import Message

from components.dev.queues import REDELIVERY_S, Consume, Report
from components.dev.store import Store
from components.spec import TableSpec

#: Seconds between looks at the change log for another process's writes.
POLL_S = 0.5


@dataclass(frozen=True)
class DeadChange:
    """A change that failed ``max_receives`` deliveries; `error` is its last delivery's."""

    id: str
    seq: int
    body: dict[str, Any]
    receive_count: int
    error: str
    at: float


def change_id(table: str, seq: int) -> str:
    return f"{table}:{seq}"


class DevStream:
    """The change stream of one table and its delivery thread."""

    def __init__(self, spec: TableSpec, store: Store, consume: Consume, *, report: Report | None = None,
                 time_scale: float = 1.0):
        if spec.stream is None:
            raise ValueError(f"tables.{spec.name} declares no stream")
        self.spec = spec
        self._store = store
        self._consume = consume
        self._report = report or (lambda *_: None)
        self._scale = time_scale
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def table(self) -> str:
        return self.spec.name

    @property
    def consumer(self) -> str:
        return self.spec.stream.consumer

    # -------------------------------------------------------------------- for the console

    def depth(self) -> int:
        """Changes waiting for delivery (not the dead letters)."""
        return len(self._store.pending_changes(self.table, 1_000_000))

    def dead_letters(self) -> list[DeadChange]:
        return [DeadChange(change_id(self.table, seq), seq, self._body(key, item), attempts, error, at)
                for seq, key, item, attempts, error, at in self._store.dead_changes(self.table)]

    def redrive(self, seq: int) -> bool:
        found = self._store.redrive_change(seq)
        self._store.written(self.table).set()
        return found

    # ------------------------------------------------------------------------ lifecycle

    def update(self, spec: TableSpec, consume: Consume) -> None:
        """A reloaded declaration: the next batch uses it; the log stays."""
        self.spec, self._consume = spec, consume

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream {self.table}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the change in hand; what waits stays in the log for the next start."""
        self._stopping.set()
        self._store.written(self.table).set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------------- delivery

    def _body(self, key: dict[str, Any], item: dict[str, Any] | None) -> dict[str, Any]:
        return {"table": self.table, "key": key, "item": item}

    def _run(self) -> None:
        written = self._store.written(self.table)
        while not self._stopping.is_set():
            retry_in = self._deliver_batch()
            if retry_in is not None:
                self._stopping.wait(retry_in)
                continue
            if written.wait(POLL_S):
                written.clear()

    def _deliver_batch(self) -> float | None:
        """Deliver the oldest batch; the seconds to wait before a failed change is due again, else None."""
        spec, consume = self.spec, self._consume
        for seq, key, item, attempts in self._store.pending_changes(self.table, spec.stream.batch_size):
            if self._stopping.is_set():
                return None
            message = Message(id=change_id(self.table, seq), body=self._body(key, item), receive_count=attempts + 1)
            began = time.perf_counter()
            try:
                consume(message)
            except Exception as exc:  # the consumer failed: delivered again, then dead-lettered
                error = f"{type(exc).__name__}: {exc}"
                dead = message.receive_count >= spec.stream.max_receives
                self._store.failed(seq, error if dead else None)
                self._report(message, "dead-letter" if dead else "retry", (time.perf_counter() - began) * 1000, error)
                if not dead:
                    return REDELIVERY_S * self._scale
                continue
            self._store.delivered(seq)
            self._report(message, "ok", (time.perf_counter() - began) * 1000, "")
        return None

