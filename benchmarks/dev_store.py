"""The speed of `anycloud dev`'s table store (components/dev/store.py), in a file and in memory.

Warm, one thread: a put (a new item), a get (an item that exists), an update with `expect`, a
put with `if_absent`, and two queries returning 100 items: by the table's key (100 items of a
partition, ordered by the sort key) and by an index (100 of a customer's orders among 10,000,
ordered by the index's sort key). Each figure is the best of R rounds of N calls, in
microseconds per call.

Threads: T threads (1, 4, 16) released together, each doing N/10 calls; the figure is calls per
second over all threads and the 99th percentile of one call's latency, each the median of R
rounds (a thread's scheduling varies too much from round to round for the best to mean much). Two workloads: a put of
distinct keys (the threads share only the write lock) and the read-then-update-with-expect
increment of one counter (they contend for one item, retrying on ConditionFailed; the calls
counted are the successful increments). And a thread per call, as a server with a thread per
request runs: a new thread does one get (microseconds per call, thread start and join included).
Three designs run the same Table code: the store (one connection behind a semaphore, which wakes
waiting threads in turn), the same behind a `threading.Lock` (which the releasing thread can take
again at once), and a store whose `_locked` gives each thread its own connection, opened on its
first call, where a writer that finds the file locked sleeps in SQLite's busy handler (1, 2, 5,
10 ms...).

    python benchmarks/dev_store.py [--runs N] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from components.dev.store import BUSY_TIMEOUT_S, Store, Table  # noqa: E402
from runtime.contracts import ConditionFailed  # noqa: E402
from tests.support.dev_store import EVENTS, ORDERS  # noqa: E402

ORDER = {"customer_id": "c-0", "status": "new", "total": 42.5, "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]}


class PlainLock(Store):
    """A design not taken: the connection behind a threading.Lock."""

    def __init__(self, path: Path):
        super().__init__(path)
        self._lock = threading.Lock()


class ConnectionPerThread(Store):
    """A design not taken: each thread its own connection, opened on its first call."""

    def __init__(self, path: Path):
        self._local = threading.local()
        super().__init__(path)

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA synchronous = NORMAL")
        yield conn


def best_us(calls: Callable[[int], None], runs: int, repeat: int) -> float:
    """Microseconds per call: the best of `repeat` rounds of `runs` calls (`calls(i)` is one)."""
    best = float("inf")
    for r in range(repeat):
        start = time.perf_counter()
        for i in range(r * runs, (r + 1) * runs):
            calls(i)
        best = min(best, (time.perf_counter() - start) / runs)
    return best * 1e6


def single(store: Store, runs: int, repeat: int) -> dict[str, float]:
    orders, events = store.table(ORDERS), store.table(EVENTS)
    for n in range(10_000):  # 100 customers with 100 orders each
        orders.put({"order_id": f"seed-{n}", **ORDER, "customer_id": f"c-{n % 100}", "created_at": f"2024-{n:05d}"})
    for n in range(100):
        events.put({"stream": "s", "seq": n, "kind": "k"})
    count = runs * repeat
    results = {
        "put": best_us(lambda i: orders.put({"order_id": f"o-{i}", **ORDER}), runs, repeat),
        "get": best_us(lambda i: orders.get({"order_id": f"o-{i}"}), runs, repeat),
        "update with expect": best_us(
            lambda i: orders.update({"order_id": f"o-{i}"}, {"status": "paid"}, expect={"status": "new"}), runs, repeat),
        "put if_absent": best_us(lambda i: orders.put({"order_id": f"n-{i}", **ORDER}, if_absent=True), runs, repeat),
    }
    assert len(orders) == 10_000 + 2 * count
    query_runs = max(1, runs // 10)
    results["query 100 by table key"] = best_us(lambda i: events.query({"stream": "s"}), query_runs, repeat)
    results["query 100 by index (of 10,000)"] = best_us(
        lambda i: orders.query({"customer_id": "c-7"}, index="by-customer", descending=True), query_runs, repeat)
    assert len(events.query({"stream": "s"})) == len(orders.query({"customer_id": "c-7"}, index="by-customer")) == 100
    return results


def threaded(store: Store, threads: int, runs: int, work: str) -> dict[str, float]:
    """Calls per second over `threads` threads doing `runs` calls each, and the p99 latency (us)."""
    table: Table = store.table(ORDERS)
    table.put({"order_id": "counter", "n": 0})
    gate, latencies = threading.Barrier(threads + 1), []

    def put(t: int, i: int) -> None:
        table.put({"order_id": f"t{t}-{i}", **ORDER})

    def increment(t: int, i: int) -> None:
        while True:
            seen = table.get({"order_id": "counter"})["n"]
            try:
                table.update({"order_id": "counter"}, {"n": seen + 1}, expect={"n": seen})
                return
            except ConditionFailed:
                continue

    call = {"put": put, "increment": increment}[work]

    def run(t: int) -> None:
        mine = []
        gate.wait()
        for i in range(runs):
            start = time.perf_counter()
            call(t, i)
            mine.append(time.perf_counter() - start)
        latencies.extend(mine)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    gate.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if work == "increment":
        assert table.get({"order_id": "counter"})["n"] == threads * runs  # no lost update
    latencies.sort()
    return {"per_s": threads * runs / elapsed, "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6}


def thread_per_call_us(store: Store, runs: int, repeat: int) -> float:
    table = store.table(ORDERS)
    table.put({"order_id": "o-1", **ORDER})

    def call(_: int) -> None:
        thread = threading.Thread(target=table.get, args=({"order_id": "o-1"},))
        thread.start()
        thread.join()

    return best_us(call, runs, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "single_us": {},
                              "threads": {}}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("file", "memory"):
            with Store(Path(folder) / f"single-{kind}.sqlite" if kind == "file" else None) as store:
                report["single_us"][kind] = single(store, args.runs, args.repeat)
        designs: dict[str, Callable[[Path], Store]] = {
            "one connection, a semaphore (the store)": Store,
            "one connection, a threading.Lock": PlainLock,
            "a connection per thread": ConnectionPerThread,
        }
        for n, (design, make) in enumerate(designs.items()):
            for work in ("put", "increment"):
                for threads in (1, 4, 16):
                    rounds = []
                    for r in range(args.repeat):
                        with make(Path(folder) / f"{n}-{work}-{threads}-{r}.sqlite") as store:
                            rounds.append(threaded(store, threads, max(1, args.runs // 10), work))
                    report["threads"].setdefault(design, {}).setdefault(work, {})[threads] = {
                        k: statistics.median(r[k] for r in rounds) for k in ("per_s", "p99_us")}
            with make(Path(folder) / f"{n}-thread-per-call.sqlite") as store:
                report.setdefault("thread_per_call_us", {})[design] = thread_per_call_us(store, args.runs // 4, args.repeat)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"Python {report['python']}, SQLite {report['sqlite']}; best of {args.repeat} rounds")
    print(f"\n{'one thread, warm (us per call)':34} {'file':>8} {'memory':>8}")
    for name in report["single_us"]["file"]:
        print(f"{name:34} {report['single_us']['file'][name]:8.1f} {report['single_us']['memory'][name]:8.1f}")
    print(f"\n{'threads, a file (calls/s, p99 us; medians)':52} {'1':>16} {'4':>16} {'16':>16}")
    for design, works in report["threads"].items():
        for work, by_threads in works.items():
            cells = " ".join(f"{r['per_s']:>8.0f} {r['p99_us']:>7.0f}" for r in by_threads.values())
            print(f"{design + ': ' + work:52} {cells}")
    print("\na new thread per call, one get (us per call)")
    for design, us in report["thread_per_call_us"].items():
        print(f"{design:52} {us:8.1f}")


if __name__ == "__main__":
    main()
