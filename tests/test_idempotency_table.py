"""Idempotency on the `idempotency` table through the Table protocol (GCP and Azure adapters).

Run on the in-memory Table, which has the same conditional-write semantics as each cloud's
(runtime/tables.py); the clouds' tables are tested on their own clients elsewhere.
"""

from __future__ import annotations

import pytest

from runtime.contracts import HttpError, Response
from runtime.idempotency import COMPLETED, IN_PROGRESS, TableIdempotency
from runtime.memory import Table


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def store(table: Table | None = None, scope: str = "create-order#alice", clock: Clock | None = None) -> TableIdempotency:
    return TableIdempotency(Table("id") if table is None else table, scope, in_progress_s=30, clock=clock or Clock())


def test_the_first_response_is_stored_and_replayed_for_the_same_key_and_body():
    table, calls = Table("id"), []
    idem = store(table)

    def compute():
        calls.append(1)
        return Response(202, {"order_id": "o-1"}, {"location": "/orders/o-1"})

    first = idem.run("key-1", "hash-a", compute)
    again = idem.run("key-1", "hash-a", compute)
    assert calls == [1] and again == first
    (record,) = table.items()
    assert record["status"] == COMPLETED and record["expiration"] == 1_800_000_000 + 24 * 3600


def test_the_same_key_with_another_body_or_still_running_is_409():
    table = Table("id")
    idem = store(table)
    idem.run("key-1", "hash-a", lambda: Response(202, {}))
    with pytest.raises(HttpError) as reused:
        idem.run("key-1", "hash-b", lambda: Response(202, {}))
    assert (reused.value.status, reused.value.error) == (409, "IdempotencyKeyReused")
    table.put({"id": "create-order#alice#route#key-2", "status": IN_PROGRESS, "hash": "h", "expiration": 1_800_000_030})
    with pytest.raises(HttpError) as running:
        idem.run("key-2", "h", lambda: Response(202, {}))
    assert running.value.status == 409 and "in progress" in running.value.message


def test_a_failed_run_stores_nothing_so_a_corrected_retry_runs():
    table = Table("id")
    idem = store(table)
    with pytest.raises(HttpError):
        idem.run("key-1", "hash-a", lambda: (_ for _ in ()).throw(HttpError(400, "Invalid", "no")))
    assert table.items() == []
    assert idem.run("key-1", "hash-b", lambda: Response(201, {"ok": True})).status == 201


def test_an_expired_in_progress_record_is_taken_over():
    clock, table = Clock(), Table("id")
    table.put({"id": "create-order#alice#route#key-1", "status": IN_PROGRESS, "hash": "old", "expiration": int(clock.now) - 1})
    response = store(table, clock=clock).run("key-1", "new", lambda: Response(200, {"fresh": True}))
    assert response.body == {"fresh": True}
    (record,) = table.items()
    assert record["hash"] == "new" and record["status"] == COMPLETED


def test_scopes_never_share_records():
    table = Table("id")
    store(table, "create-order#alice").run("key-1", "a", lambda: Response(200, {"who": "alice"}))
    bob = store(table, "create-order#bob").run("key-1", "b", lambda: Response(200, {"who": "bob"}))
    assert bob.body == {"who": "bob"} and len(table.items()) == 2


def test_a_consumer_processes_a_body_once_and_a_failed_run_again():
    table, runs = Table("id"), []
    idem = store(table, "process-order")
    assert idem.once({"order_id": "o-1"}, lambda: runs.append("o-1")) is True
    assert idem.once({"order_id": "o-1"}, lambda: runs.append("again")) is False
    with pytest.raises(RuntimeError):
        idem.once({"order_id": "o-2"}, lambda: (_ for _ in ()).throw(RuntimeError("down")))
    assert idem.once({"order_id": "o-2"}, lambda: runs.append("o-2")) is True
    assert runs == ["o-1", "o-2"]
