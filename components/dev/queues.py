"""The queues of `anycloud dev`: in this process, with the delivery the clouds give a declared
queue (DESIGN.md sections 3 and 6), so a consumer meets locally what it meets deployed.

- At least once: a consumer takes up to the queue's ``batch_size`` visible messages at a time
  and runs each on its own (a failure fails that message only, as SQS's ReportBatchItemFailures
  and Pub/Sub's per-message acknowledgement do); a message whose consumer raised is delivered
  again after a visibility delay, its ``receive_count`` one higher.
- ``max_receives`` deliveries, then the message is dead-lettered, never dropped: kept with the
  error of its last delivery until it is re-driven (back on the queue, receive count reset).
- The visibility delay is REDELIVERY_S, GCP's minimum retry back-off (components/gcp/queue.py;
  SQS waits six consumer timeouts, Azure 30 s), times the time scale, as workflow waits are; a
  send's ``delay_s`` is scaled the same way.

One consumer thread per queue, so messages of a queue are processed one at a time, in order
of visibility. Messages live in this process: a restart empties the queues (tables, in the
store, survive). Bodies are JSON copies, as a queue carries them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.contracts import Message, check_delay

from components.spec import QueueSpec

#: Seconds before a failed message is visible again (at time scale 1).
REDELIVERY_S = 10.0

#: ``consume(message)`` returns when the consumer succeeded and raises when it failed.
Consume = Callable[[Message], None]
#: ``report(message, outcome, duration_ms, error)`` after each delivery: outcome "ok", "retry"
#: (it will be delivered again) or "dead-letter"; `error` is "Type: text" of a failure, else "".
Report = Callable[[Message, str, float, str], None]


@dataclass(frozen=True)
class DeadLetter:
    """A message that failed ``max_receives`` deliveries; `error` is its last delivery's."""

    id: str
    body: Any
    receive_count: int
    error: str
    at: float


@dataclass
class _Waiting:
    id: str
    body: Any
    receive_count: int  # deliveries so far


class DevQueue:
    """One declared queue and its consumer thread; `consume` runs the consumer (see module)."""

    def __init__(self, spec: QueueSpec, consume: Consume, *, report: Report | None = None, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.spec = spec
        self._consume = consume
        self._report = report or (lambda *_: None)
        self._scale = time_scale
        self._clock = clock
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._heap: list[tuple[float, int, _Waiting]] = []  # (visible at, order, message)
        self._in_flight = 0
        self._dead: dict[str, DeadLetter] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def consumer(self) -> str:
        return self.spec.consumer

    # ------------------------------------------------------------- runtime.contracts.Queue

    def send(self, body: Any, *, delay_s: int = 0) -> str:
        """Enqueue a JSON copy of `body`; its id. ValueError for a delay over MAX_DELAY_S or a
        body that is not JSON (no cloud could carry it)."""
        check_delay(delay_s)
        try:
            copy = json.loads(json.dumps(body, allow_nan=False))
        except (TypeError, ValueError) as err:
            raise ValueError(f"queues.{self.name}: the message body is not JSON ({err})") from None
        message = _Waiting(str(uuid.uuid4()), copy, 0)
        self._push(message, delay_s * self._scale)
        return message.id

    # -------------------------------------------------------------------- for the console

    def depth(self) -> int:
        """Messages waiting or in flight (not the dead letters)."""
        with self._ready:
            return len(self._heap) + self._in_flight

    def dead_letters(self) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        with self._ready:
            return list(self._dead.values())

    def redrive(self, message_id: str) -> bool:
        """Put a dead letter back on the queue, receive count reset; False if there is none by that id."""
        with self._ready:
            letter = self._dead.pop(message_id, None)
        if letter is None:
            return False
        self._push(_Waiting(letter.id, letter.body, 0), 0.0)
        return True

    # ------------------------------------------------------------------------ lifecycle

    def update(self, spec: QueueSpec, consume: Consume) -> None:
        """A reloaded declaration: the next batch uses its batch size, max_receives and consumer;
        the messages and dead letters stay."""
        with self._ready:
            self.spec, self._consume = spec, consume

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"queue {self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivering after the batch in hand; what waits stays (and is lost with the process)."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------------- delivery

    def _push(self, message: _Waiting, delay: float) -> None:
        with self._ready:
            self._enqueue(message, delay)

    def _enqueue(self, message: _Waiting, delay: float) -> None:
        """Under the lock: `message` visible after `delay` seconds."""
        heapq.heappush(self._heap, (self._clock() + delay, next(self._order), message))
        self._ready.notify_all()

    def _take(self) -> tuple[list[_Waiting], QueueSpec, Consume] | None:
        """The next batch (waiting until one is visible), with the declaration it runs under; None when stopping."""
        with self._ready:
            while not self._stopping:
                now = self._clock()
                if self._heap and self._heap[0][0] <= now:
                    batch = []
                    while self._heap and self._heap[0][0] <= now and len(batch) < self.spec.batch_size:
                        batch.append(heapq.heappop(self._heap)[2])
                    self._in_flight = len(batch)
                    return batch, self.spec, self._consume
                self._ready.wait(self._heap[0][0] - now if self._heap else None)
        return None

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            batch, spec, consume = taken
            for waiting in batch:
                self._deliver(waiting, spec, consume)

    def _deliver(self, waiting: _Waiting, spec: QueueSpec, consume: Consume) -> None:
        """One delivery of `waiting`; then it is done, waits to be delivered again, or is a dead letter."""
        waiting.receive_count += 1
        message = Message(id=waiting.id, body=json.loads(json.dumps(waiting.body)), receive_count=waiting.receive_count)
        began = time.perf_counter()
        outcome, error = "ok", ""
        try:
            consume(message)
        except Exception as exc:  # the consumer failed: the cloud retries, then dead-letters
            error = f"{type(exc).__name__}: {exc}"
            outcome = "dead-letter" if waiting.receive_count >= spec.max_receives else "retry"
        with self._ready:
            self._in_flight -= 1
            if outcome == "retry":
                self._enqueue(waiting, REDELIVERY_S * self._scale)
            elif outcome == "dead-letter":
                self._dead[waiting.id] = DeadLetter(waiting.id, waiting.body, waiting.receive_count, error, time.time())
        self._report(message, outcome, (time.perf_counter() - began) * 1000, error)
