"""components.dev.store's file: data survives a restart (and a killed process); a file it can't
use is refused in one line and left byte for byte as it was; the folder is ignored by git;
conditional writes hold under threads and between processes; no cloud SDK is imported.
(The Table's semantics: tests/test_dev_store.py.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components.dev.store import Store, StoreError, Table
from runtime.contracts import ConditionFailed
from tests.support.dev_store import EVENTS, ORDERS, Clock

ROOT = Path(__file__).resolve().parent.parent
CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".anycloud" / "dev.sqlite"


def fill(path: Path, n: int = 300) -> None:
    """A store at `path` whose orders table holds `n` items (several pages of the file)."""
    with Store(path) as store:
        orders = store.table(ORDERS)
        for i in range(n):
            orders.put({"order_id": f"o-{i}", "customer_id": f"c{i % 7}", "created_at": f"{i:04d}", "pad": "x" * 100})


def assert_refused(path: Path, *words: str) -> str:
    """Opening `path` is a StoreError of one line naming the file, saying what to do and `words`;
    the file and its folder are as they were."""
    before = path.read_bytes()
    neighbours = sorted(os.listdir(path.parent))
    with pytest.raises(StoreError) as refused:
        Store(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "--memory" in message
    for word in words:
        assert word in message
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == neighbours
    return message


# -------------------------------------------------------------------------- persistence


def test_data_survives_closing_and_reopening(path: Path) -> None:
    with Store(path) as store:
        orders, events = store.table(ORDERS), store.table(EVENTS)
        for n, customer in enumerate(["c1", "c2", "c1"]):
            orders.put({"order_id": f"o-{n}", "customer_id": customer, "created_at": f"2024-0{3 - n}", "lines": [n, 1.5]})
        orders.update({"order_id": "o-0"}, {"status": "paid"})
        orders.delete({"order_id": "o-1"})
        events.put({"stream": "s", "seq": 2, "kind": "k"})
        written = orders.items()
    with Store(path) as store:
        orders, events = store.table(ORDERS), store.table(EVENTS)
        assert orders.items() == written  # the same items, in insertion order
        assert orders.get({"order_id": "o-0"})["status"] == "paid" and orders.get({"order_id": "o-1"}) is None
        assert [i["order_id"] for i in orders.query({"customer_id": "c1"}, index="by-customer")] == ["o-2", "o-0"]
        assert events.query({"stream": "s"}) == [{"stream": "s", "seq": 2, "kind": "k"}]


def test_a_second_store_on_the_file_sees_each_write_at_once(path: Path) -> None:
    with Store(path) as first, Store(path) as second:
        mine, theirs = first.table(ORDERS), second.table(ORDERS)
        mine.put({"order_id": "o-1"})
        assert theirs.get({"order_id": "o-1"}) == {"order_id": "o-1"}
        theirs.update({"order_id": "o-1"}, {"status": "paid"})
        assert mine.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "paid"}


def test_a_killed_process_loses_no_committed_write(path: Path) -> None:
    """The writer dies without closing (its WAL not checkpointed); the next store reads it all."""
    script = f"""
import os
from components.dev.store import Store
from tests.support.dev_store import ORDERS
orders = Store({str(path)!r}).table(ORDERS)
for i in range(100):
    orders.put({{"order_id": f"o-{{i}}"}})
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", script], env=CHILD_ENV, check=True, timeout=60)
    assert path.with_name(path.name + "-wal").exists()
    with Store(path) as store:
        assert len(store.table(ORDERS)) == 100


def test_a_changed_key_is_refused_while_the_table_holds_items(path: Path) -> None:
    rekeyed = ORDERS.model_copy(update={"partition_key": ORDERS.partition_key.model_copy(update={"name": "id"})})
    with Store(path) as store:
        store.table(EVENTS)
        store.table(EVENTS.model_copy(update={"sort_key": None}))  # no items yet: a new key is fine
        store.table(ORDERS).put({"order_id": "o-1"})
    with pytest.raises(StoreError) as refused:
        Store(path).table(rekeyed)
    message = str(refused.value)
    assert "\n" not in message and "'orders'" in message and "(order_id)" in message and "(id)" in message
    with Store(path) as store:
        assert store.table(ORDERS).get({"order_id": "o-1"}) == {"order_id": "o-1"}


def test_a_changed_ttl_attribute_rereads_every_expiry(path: Path) -> None:
    clock = Clock()
    with Store(path, clock=clock) as store:
        orders = store.table(ORDERS)
        orders.put({"order_id": "o-1", "expires_at": clock.now + 100, "valid_until": clock.now - 1})
        orders.put({"order_id": "o-2", "valid_until": clock.now + 100})
    with Store(path, clock=clock) as store:
        assert [i["order_id"] for i in store.table(ORDERS.model_copy(update={"ttl_attribute": "valid_until"})).items()] == ["o-2"]
    clock.now += 200  # past o-2's valid_until, which no longer counts
    with Store(path, clock=clock) as store:
        assert [i["order_id"] for i in store.table(ORDERS).items()] == ["o-2"]


def test_a_redeclared_index_is_queried_by_its_new_attributes(path: Path) -> None:
    by_total = ORDERS.indexes[0].model_copy(update={"sort_key": ORDERS.indexes[0].sort_key.model_copy(update={"name": "total"})})
    with Store(path) as store:
        orders = store.table(ORDERS)
        for n, (created, total) in enumerate([("2024-01", 30), ("2024-02", 10), ("2024-03", 20)]):
            orders.put({"order_id": f"o-{n}", "customer_id": "c1", "created_at": created, "total": total})
    with Store(path) as store:
        orders = store.table(ORDERS.model_copy(update={"indexes": (by_total,)}))
        assert [i["total"] for i in orders.query({"customer_id": "c1"}, index="by-customer")] == [10, 20, 30]
    with sqlite3.connect(path) as raw:
        names = [r[0] for r in raw.execute("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'items:%'")]
    assert names == ["items:orders:by-customer:customer_id:total"]  # the old one is gone


# -------------------------------------------------------------------- refused files


def test_a_file_that_is_not_sqlite_is_refused(path: Path) -> None:
    path.parent.mkdir()
    for content in (b"order_id,status\no-1,new\n", b"SQLite", bytes(range(256)) * 64):
        path.write_bytes(content)
        assert_refused(path, "not an SQLite file", "move it aside")


def test_a_damaged_store_is_refused(path: Path) -> None:
    fill(path)
    data = path.read_bytes()
    middle = len(data) // 2
    for damaged in (data[:middle] + bytes(range(256)) * 4 + data[middle + 1024:], data[: len(data) // 3], data[:100]):
        path.write_bytes(damaged)
        assert_refused(path, "damaged SQLite file", "delete it")


def test_an_sqlite_file_of_another_program_is_refused(path: Path) -> None:
    path.parent.mkdir()
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        other.execute("INSERT INTO users (name) VALUES ('ada')")
    other.close()
    message = assert_refused(path, "another program")
    assert "delete" not in message  # someone else's data: never suggest deleting it


def test_a_store_of_another_version_is_refused(path: Path) -> None:
    fill(path, 3)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE anycloud_meta SET value = '2' WHERE name = 'version'")
        raw.execute("PRAGMA journal_mode = DELETE")
    raw.close()
    assert_refused(path, "version 2", "reads version 1")


def test_an_empty_file_becomes_a_store(path: Path) -> None:
    path.parent.mkdir()
    path.touch()
    with Store(path) as store:
        store.table(ORDERS).put({"order_id": "o-1"})
    with Store(path) as store:
        assert store.table(ORDERS).get({"order_id": "o-1"}) == {"order_id": "o-1"}


# ----------------------------------------------------------------------------- git


def test_the_folder_the_store_creates_is_ignored_by_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    fill(tmp_path / ".anycloud" / "dev.sqlite", 3)
    fill(tmp_path / "dev.sqlite", 3)  # a folder that existed gets no .gitignore: the project's own
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert status.split() == ["??", "dev.sqlite"]


def test_this_repository_ignores_the_anycloud_folder() -> None:
    """Even without the .gitignore the store writes in it (a folder made before, by hand)."""
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "-q", ".anycloud/dev.sqlite"], cwd=ROOT)
    assert ignored.returncode == 0


# --------------------------------------------------------------------- concurrency


@pytest.fixture(params=["file", "memory"])
def orders(request: pytest.FixtureRequest, path: Path) -> Iterator[Table]:
    """The orders table without TTL (a write then starts with a read, not with deleting the
    expired items), in a file store or in memory."""
    with Store(path if request.param == "file" else None) as store:
        yield store.table(ORDERS.model_copy(update={"ttl_attribute": None}))


def race(threads: int, work: Callable[[int], None]) -> None:
    """`work(n)` on `threads` threads released together; re-raises the first failure."""
    gate, failures = threading.Barrier(threads), []

    def run(n: int) -> None:
        try:
            gate.wait()
            work(n)
        except BaseException as err:  # noqa: BLE001 (reported below)
            failures.append(err)

    started = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    assert failures == []


def test_of_many_threads_putting_if_absent_exactly_one_wins(orders: Table) -> None:
    for key in range(20):
        winners: list[int] = []

        def claim(n: int, order_id: str = f"o-{key}") -> None:
            try:
                orders.put({"order_id": order_id, "by": n}, if_absent=True)
                winners.append(n)
            except ConditionFailed:
                pass

        race(12, claim)
        assert len(winners) == 1
        assert orders.get({"order_id": f"o-{key}"})["by"] == winners[0]


def test_threads_updating_with_expect_lose_no_update(orders: Table) -> None:
    """Each thread adds 1 fifty times by read, then update expecting what it read (retrying when
    another got in first): no increment is lost."""
    orders.put({"order_id": "counter", "n": 0})

    def add(_: int) -> None:
        for _ in range(50):
            while True:
                seen = orders.get({"order_id": "counter"})["n"]
                try:
                    orders.update({"order_id": "counter"}, {"n": seen + 1}, expect={"n": seen})
                    break
                except ConditionFailed:
                    continue

    race(8, add)
    assert orders.get({"order_id": "counter"})["n"] == 400


def test_conditional_writes_hold_between_processes(path: Path) -> None:
    """Three processes on one file, released together: each claims 200 keys with put(if_absent)
    and adds 1 to a counter 400 times with update(expect). Exactly one claim per key succeeds and
    no increment is lost. (A table without TTL: a write then starts with a read.)"""
    with Store(path) as store:
        store.table(EVENTS).put({"stream": "counter", "seq": 0, "n": 0})
    script = f"""
import sys
from components.dev.store import Store
from runtime.contracts import ConditionFailed
from tests.support.dev_store import EVENTS
events = Store({str(path)!r}).table(EVENTS)
counter = {{"stream": "counter", "seq": 0}}
print("ready", flush=True)
sys.stdin.readline()
claimed = 0
for key in range(200):
    try:
        events.put({{"stream": "claims", "seq": key}}, if_absent=True)
        claimed += 1
    except ConditionFailed:
        pass
    for _ in range(2):
        while True:
            seen = events.get(counter)["n"]
            try:
                events.update(counter, {{"n": seen + 1}}, expect={{"n": seen}})
                break
            except ConditionFailed:
                continue
print(claimed, flush=True)
"""
    children = [subprocess.Popen([sys.executable, "-c", script], env=CHILD_ENV, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        claims = [int(child.communicate(timeout=60)[0]) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert sum(claims) == 200
    with Store(path) as store:
        assert store.table(EVENTS).get({"stream": "counter", "seq": 0})["n"] == 1200


# ------------------------------------------------------------------------------ imports


def test_importing_the_store_imports_no_cloud_sdk() -> None:
    """Compared with what the interpreter loaded before (a .pth file may load `google` itself)."""
    script = """
import sys
before = set(sys.modules)
import components.dev.store
new = sorted(set(sys.modules) - before)
print(" ".join(new))
"""
    loaded = subprocess.run([sys.executable, "-c", script], env=CHILD_ENV, capture_output=True, text=True,
                            check=True, timeout=60).stdout.split()
    assert "components.dev.store" in loaded and "runtime.contracts" in loaded
    clouds = [m for m in loaded if m.split(".")[0] in ("pulumi", "boto3", "botocore", "google", "azure")
              or m.startswith("pulumi_")]
    assert clouds == []
