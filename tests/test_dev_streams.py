"""Table streams in `anycloud dev` (components/dev/streams.py over the store's change log): every
write is logged in its own transaction and delivered at least once, in order, as the portable
change `Message`; a failure is retried, then dead-lettered (kept, with its error) while the later
changes go on; a change written while nothing delivers (a stopped dev, `anycloud invoke`) is
delivered by the next start; re-drive puts a dead letter back. Time scale 0; waits only bound hangs."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.dev.store import Store
from components.dev.streams import DevStream
from components.spec import Key, StreamSpec, TableSpec
from tests.test_dev_queues import Consumer

ITEMS = TableSpec(name="items", partition_key=Key(name="id"), ttl_attribute="expires",
                  stream=StreamSpec(consumer="on-item", batch_size=2, max_receives=3))
WITH_DELETES = ITEMS.model_copy(update={"stream": StreamSpec(consumer="on-item", deletes=True)})


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "dev.sqlite") as opened:
        yield opened


def running(spec: TableSpec, store: Store, consumer: Consumer) -> DevStream:
    stream = DevStream(spec, store, consumer, report=consumer.report, time_scale=0)
    stream.start()
    return stream


def bodies(consumer: Consumer) -> list[dict]:
    return [m.body for m in consumer.deliveries]


def test_every_write_is_delivered_in_order_as_the_item_after_it(store):
    table = store.table(ITEMS)
    consumer = Consumer()
    stream = running(ITEMS, store, consumer)
    try:
        table.put({"id": "a", "n": 1})
        table.update({"id": "a"}, {"n": 2})
        table.put({"id": "b", "n": 1})
        table.delete({"id": "a"})  # not asked for: no delete is delivered
        consumer.wait(3)
    finally:
        stream.stop()
    assert bodies(consumer) == [{"table": "items", "key": {"id": "a"}, "item": {"id": "a", "n": 1}},
                                {"table": "items", "key": {"id": "a"}, "item": {"id": "a", "n": 2}},
                                {"table": "items", "key": {"id": "b"}, "item": {"id": "b", "n": 1}}]
    assert len({m.id for m in consumer.deliveries}) == 3 and stream.depth() == 0


def test_deletes_and_expiries_are_delivered_when_asked(store):
    table = store.table(WITH_DELETES)
    consumer = Consumer()
    table.put({"id": "a"})
    table.put({"id": "gone", "expires": 1})  # expired at once: deleted when the table is next used
    table.delete({"id": "a"})
    table.delete({"id": "never-there"})  # nothing deleted, nothing delivered
    stream = running(WITH_DELETES, store, consumer)
    try:
        consumer.wait(4)
    finally:
        stream.stop()
    assert [(b["key"]["id"], b["item"]) for b in bodies(consumer)] == [
        ("a", {"id": "a"}), ("gone", {"id": "gone", "expires": 1}), ("gone", None), ("a", None)]


def test_a_failing_change_is_retried_then_kept_as_a_dead_letter_and_the_later_ones_go_on(store):
    table = store.table(ITEMS)
    consumer = Consumer(fails=lambda m: m.body["key"]["id"] == "poison")
    stream = running(ITEMS, store, consumer)
    try:
        table.put({"id": "poison", "n": 1})
        table.put({"id": "after", "n": 1})
        consumer.wait(4)
    finally:
        stream.stop()
    assert [(i, o, n) for i, o, n, _ in consumer.reports] == [
        ("items:1", "retry", 1), ("items:1", "retry", 2), ("items:1", "dead-letter", 3), ("items:2", "ok", 1)]
    (dead,) = stream.dead_letters()
    assert (dead.id, dead.body["item"], dead.receive_count) == ("items:1", {"id": "poison", "n": 1}, 3)
    assert dead.error == "KeyError: 'n'"  # the test consumer reads body['n']: a change has none


def test_a_change_written_while_nothing_delivers_is_delivered_by_the_next_start(tmp_path: Path):
    path = tmp_path / "dev.sqlite"
    with Store(path) as first:
        first.table(ITEMS).put({"id": "accepted"})  # the process dies before any delivery
    consumer = Consumer()
    with Store(path) as second:
        second.table(ITEMS)
        stream = running(ITEMS, second, consumer)
        try:
            consumer.wait(1)
        finally:
            stream.stop()
    assert bodies(consumer) == [{"table": "items", "key": {"id": "accepted"}, "item": {"id": "accepted"}}]


def test_a_failed_write_logs_no_change(store):
    table = store.table(ITEMS)
    table.put({"id": "a"})
    with pytest.raises(Exception):
        table.put({"id": "a"}, if_absent=True)
    assert [key for _, key, _, _ in store.pending_changes("items", 10)] == [{"id": "a"}]


def test_a_redriven_dead_letter_is_delivered_again(store):
    table = store.table(ITEMS)
    healed = {"now": False}
    consumer = Consumer(fails=lambda m: not healed["now"])
    stream = running(ITEMS, store, consumer)
    try:
        table.put({"id": "x", "n": 7})
        consumer.wait(3)
        (dead,) = stream.dead_letters()
        healed["now"] = True
        assert stream.redrive(dead.seq) and not stream.redrive(dead.seq)
        consumer.wait(4)
    finally:
        stream.stop()
    assert consumer.reports[-1][1:3] == ("ok", 1) and stream.dead_letters() == []
