"""The queues of `anycloud dev` (components/dev/queues.py): at-least-once delivery in batches of the
declared size, redelivery with a growing receive count, dead letters after max_receives (kept,
with the error), redrive; and the same through the running service, with the reference
service's real consumer. Time scale 0: a redelivery is immediate. Waits are bounded only to turn
a hang into a failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from runtime.contracts import Message

from components.dev.queues import REDELIVERY_S, DevQueue
from components.spec import QueueSpec
from tests.support.dev_project import service  # noqa: F401 (fixture)

HANG_S = 10
SPEC = QueueSpec(name="jobs", consumer="work", batch_size=3, max_receives=5)


class Consumer:
    """Records every delivery; fails the messages `fails(message)` says."""

    def __init__(self, fails: Callable[[Message], bool] = lambda m: False):
        self.fails = fails
        self.deliveries: list[Message] = []
        self.reports: list[tuple[str, str, int, str]] = []
        self.changed = threading.Condition()

    def __call__(self, message: Message) -> None:
        with self.changed:
            self.deliveries.append(message)
        if self.fails(message):
            raise LookupError(f"no order {message.body['n']}")

    def report(self, message: Message, outcome: str, duration_ms: float, error: str) -> None:
        with self.changed:
            self.reports.append((message.id, outcome, message.receive_count, error))
            self.changed.notify_all()

    def wait(self, reports: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.reports) >= reports, HANG_S), self.reports


@pytest.fixture
def make() -> Callable[..., DevQueue]:
    made: list[DevQueue] = []

    def build(consumer: Consumer, spec: QueueSpec = SPEC, **options) -> DevQueue:
        queue = DevQueue(spec, consumer, report=consumer.report, time_scale=options.pop("time_scale", 0), **options)
        made.append(queue)
        return queue

    yield build
    for queue in made:
        queue.stop()


def test_messages_are_delivered_as_json_copies_and_acknowledged(make):
    consumer = Consumer()
    queue = make(consumer)
    body = {"n": 1, "lines": [1, 2]}
    message_id = queue.send(body)
    body["lines"].append(3)
    queue.start()
    consumer.wait(1)
    (delivered,) = consumer.deliveries
    assert (delivered.id, delivered.body, delivered.receive_count) == (message_id, {"n": 1, "lines": [1, 2]}, 1)
    assert consumer.reports == [(message_id, "ok", 1, "")] and queue.depth() == 0 and queue.dead_letters() == []
    with pytest.raises(ValueError, match="not JSON"):
        queue.send({"when": object()})
    with pytest.raises(ValueError, match="delay_s"):
        queue.send({}, delay_s=901)


def test_batches_are_at_most_the_declared_size(make):
    """Ten messages waiting when the consumer starts: taken 3, 3, 3, 1, in order."""
    consumer = Consumer()
    queue = make(consumer)
    taken: list[int] = []
    original = queue._take

    def recording():
        got = original()
        if got is not None:
            taken.append(len(got[0]))
        return got

    queue._take = recording
    ids = [queue.send({"n": n}) for n in range(10)]
    assert queue.depth() == 10
    queue.start()
    consumer.wait(10)
    assert taken == [3, 3, 3, 1] and [m.id for m in consumer.deliveries] == ids


def test_a_failing_message_is_redelivered_then_dead_lettered_after_max_receives(make):
    consumer = Consumer(fails=lambda m: m.body["n"] == 1)
    queue = make(consumer)
    poison, fine = queue.send({"n": 1}), queue.send({"n": 2})
    queue.start()
    consumer.wait(6)
    assert [m.receive_count for m in consumer.deliveries if m.id == poison] == [1, 2, 3, 4, 5]
    assert [(o, c) for i, o, c, _ in consumer.reports if i == poison] == [
        ("retry", 1), ("retry", 2), ("retry", 3), ("retry", 4), ("dead-letter", 5)]
    assert [o for i, o, _, _ in consumer.reports if i == fine] == ["ok"]
    (letter,) = queue.dead_letters()
    assert (letter.id, letter.body, letter.receive_count, letter.error) == (poison, {"n": 1}, 5, "LookupError: no order 1")
    assert queue.depth() == 0


def test_redrive_puts_a_dead_letter_back_with_its_receive_count_reset(make):
    broken = {"yes": True}
    consumer = Consumer(fails=lambda m: broken["yes"])
    queue = make(consumer, QueueSpec(name="jobs", consumer="work", batch_size=1, max_receives=5))
    message_id = queue.send({"n": 7})
    queue.start()
    consumer.wait(5)
    broken["yes"] = False  # the consumer is fixed
    assert queue.redrive("no-such-id") is False
    assert queue.redrive(message_id) is True
    consumer.wait(6)
    assert consumer.deliveries[-1].id == message_id and consumer.deliveries[-1].receive_count == 1
    assert consumer.reports[-1][1] == "ok" and queue.dead_letters() == [] and queue.redrive(message_id) is False


def test_redelivery_waits_the_scaled_visibility_delay(make):
    """At time scale 1 a failed message is invisible for REDELIVERY_S seconds of the queue's clock."""
    now = {"t": 1000.0}
    consumer = Consumer(fails=lambda m: m.receive_count == 1)
    queue = make(consumer, time_scale=1, clock=lambda: now["t"])
    queue.send({"n": 1})
    queue.start()
    consumer.wait(1)
    assert queue.depth() == 1 and len(consumer.deliveries) == 1  # waiting, not delivered again yet
    with queue._ready:
        (visible_at, _, _), = queue._heap
    assert visible_at == 1000.0 + REDELIVERY_S
    now["t"] += REDELIVERY_S
    with queue._ready:
        queue._ready.notify_all()
    consumer.wait(2)
    assert [m.receive_count for m in consumer.deliveries] == [1, 2] and consumer.reports[-1][1] == "ok"


# ------------------------------------------------------------------ through the service




def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG_S
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_the_consumer_retries_a_message_for_a_missing_order_then_dead_letters_it_and_redrive_runs_it(service):
    """The reference consumer raises OrderNotFound for an order the table does not hold: five
    deliveries (the declared max_receives), then a dead letter; once the order exists, a redrive
    starts its workflow."""
    queue = service.queues["orders"]
    assert (queue.name, queue.consumer, queue.spec.max_receives) == ("orders", "process-order", 5)
    message_id = queue.send({"order_id": "o-late"})
    wait_until(lambda: bool(queue.dead_letters()))
    (letter,) = queue.dead_letters()
    assert (letter.id, letter.receive_count, letter.error) == (message_id, 5, "OrderNotFound: o-late")
    tries = [i for i in service.invocations if i.request_id == message_id]
    assert [(i.function, i.trigger, i.outcome) for i in tries] == [("process-order", "consumer", "retry")] * 4 + [
        ("process-order", "consumer", "dead-letter")]
    assert tries[-1].detail == "queue orders receive 5: OrderNotFound: o-late"
    service.tables["orders"].put({"order_id": "o-late", "status": "PENDING", "customer_id": "c", "total": 5, "sku": "s"})
    assert queue.redrive(message_id)
    wait_until(lambda: (service.tables["orders"].get({"order_id": "o-late"}) or {}).get("status") == "COMPLETED")
    assert service.engine.get("fulfil-order", "o-late").status == "SUCCEEDED"
    assert queue.dead_letters() == [] and queue.depth() == 0
