"""The tables of `anycloud dev` in an embedded store that survives a restart: one SQLite file per
stack (stdlib sqlite3; `.anycloud/<stack>.sqlite` under the project), or memory for `--memory`.

Semantics are runtime.memory.Table's, checked by the same runtime.tables rules (so a bad
argument is memory's ValueError, word for word, before the file is touched): items go in and out
as JSON copies; put replaces the whole item, `if_absent` refuses an existing key; update sets
attributes on an existing item and returns it, `expect` as runtime.tables.matches; delete with
`expect`; query by the table's or an index's partition key, ordered by the sort key (ties in
insertion order, as memory's stable sort), `limit`, `descending`; an index holds only items that
have all its key attributes. Three differences, where memory accepts what clouds refuse: NaN
and infinities are a ValueError (not JSON: DynamoDB and Cosmos DB refuse them too); a key (or
queried) integer must fit in 64 bits (SQLite's, Firestore's); a query's value must be a key value
(memory compares anything with `==`).

TTL: the table's TTL attribute holds epoch seconds (DESIGN.md §6); a number at or before the
store's clock is expired: invisible to every read and every condition (put if_absent succeeds
over it, update and delete with `expect` fail), as Cosmos DB hides expired items at once. Expired
items of a table are deleted when the table is next used, and everywhere by `purge_expired()`.
A value that is not a number never expires, as in DynamoDB.

The file (schema version 1): `anycloud_meta` (format, version), `anycloud_tables` (each table's
key attribute names and TTL attribute), `items` (one row per item: the key values typed, so 1
and 1.0 are one key and "1" is another, as in memory; the JSON body; the expiry; `seq`, the
insertion order, kept when an item is replaced); each declared index is a partial SQL index on
its attributes' JSON paths, so an index query reads its partition only; `changes` (a table with a
stream: each write's key and item after it, in the write's own transaction, so a change is never
lost between the write and its delivery; components/dev/streams.py delivers and deletes them). A file that is not
SQLite, is damaged, belongs to another program or to another version is refused with one line
naming it and what to do, after reading it only (read-only, so it stays byte for byte as it
was). A table whose key changed while it holds items is refused too: they are keyed by the old one.

Threads and processes: one connection behind one lock; every write is a `BEGIN IMMEDIATE`
transaction that reads, checks and writes, so conditional writes are atomic against this
process's threads and against another process on the same file (`anycloud invoke` while `dev`
runs), which WAL lets read while we write. The lock is a semaphore, which wakes waiting threads
in turn, where a `threading.Lock` lets the thread that released it take it again and starves the
others. Measured (benchmarks/dev_store.py, 2 cores, 4 and 16 threads putting or incrementing one
counter with `expect`, medians of 5 rounds): a p99 of 0.3-0.45 ms, against 3.5-27 ms with a Lock
or with a connection per thread (whose writers sleep in SQLite's busy handler: 1, 2, 5 ms...);
6.8-10.7k increments/s, against 11-12k with a connection per thread, which also opens one for
each new thread (a get on a new thread: 120-130 us, against 290-300 us). A dev server's latency
matters more than its throughput. `synchronous=NORMAL`: a power loss may lose the last writes,
never the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.contracts import ConditionFailed
from runtime.tables import check_changes, key_values, matches, query_keys

if TYPE_CHECKING:
    from components.spec import TableSpec

__all__ = ["FORMAT", "VERSION", "Store", "StoreError", "Table"]

#: What `anycloud_meta` says a file is, and the schema version this module reads and writes.
FORMAT, VERSION = "anycloud-dev-store", 1
#: How long a write waits for another process's transaction on the same file (seconds).
BUSY_TIMEOUT_S = 5.0

_SQLITE_HEADER = b"SQLite format 3\x00"
_INT64 = range(-(2**63), 2**63)
#: The sort column of a table without a sort key: '' is never a key value (runtime.tables).
_NO_SORT_KEY = ""
#: JSON types whose json_extract equals a key value as Python's == would (true is 1, as True == 1).
_SCALAR_TYPES = "('text', 'integer', 'real', 'true', 'false')"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS anycloud_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS anycloud_tables (name TEXT PRIMARY KEY, key TEXT NOT NULL, ttl TEXT)",
    # pk and sk have no type, hence no affinity: values keep their SQLite type.
    "CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, pk NOT NULL, sk NOT NULL,"
    " body TEXT NOT NULL, expires REAL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS items_key ON items (tbl, pk, sk)",
    "CREATE INDEX IF NOT EXISTS items_expiry ON items (tbl, expires) WHERE expires IS NOT NULL",
    # The change log of tables with a stream, written in the item's own transaction (the outbox):
    # a change is kept until its consumer succeeded, or as a dead letter (`error` set).
    "CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, key TEXT NOT NULL, item TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0, error TEXT, at REAL NOT NULL)",
    f"INSERT OR IGNORE INTO anycloud_meta VALUES ('format', '{FORMAT}'), ('version', '{VERSION}')",
)

Clock = Callable[[], float]


class StoreError(Exception):
    """The store file can't be used as it is; the message is one line naming it and what to do."""


# --------------------------------------------------------------------------- opening


def _refuse(path: Path, what: str, todo: str = "move it aside or delete it to start an empty store") -> StoreError:
    return StoreError(f"{path} {what}; {todo}, or pass --memory")


def _check_meta(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database with tables but no anycloud store in them, or of another version."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    if not tables:
        return  # an empty SQLite file: becomes a store
    if "anycloud_meta" not in tables:
        raise _refuse(path, "is an SQLite file of another program, not an anycloud dev store", "move it aside")
    meta = dict(conn.execute("SELECT name, value FROM anycloud_meta"))
    if meta.get("format") != FORMAT:
        raise _refuse(path, f"is not an anycloud dev store (format {meta.get('format')!r})", "move it aside")
    if meta.get("version") != str(VERSION):
        raise _refuse(path, f"is an anycloud dev store of version {meta.get('version')}, this anycloud reads "
                            f"version {VERSION}", "use the anycloud that wrote it, move it aside")


def _inspect(path: Path) -> None:
    """Refuse a file this version can't use, reading it only: a refused file is left as it was."""
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except OSError as err:
        raise _refuse(path, f"can't be read ({err.strerror})", "check it or move it aside") from None
    if not header:
        return  # empty: SQLite makes a new database of it
    if header != _SQLITE_HEADER:
        raise _refuse(path, "is not an SQLite file, so not an anycloud dev store", "move it aside")
    # Without a WAL beside it the file is the whole database: `immutable` reads it without
    # creating the -wal and -shm files SQLite otherwise makes for a WAL-mode file, even read-only
    # (https://sqlite.org/uri.html#uriimmutable).
    immutable = "" if path.with_name(path.name + "-wal").exists() else "&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{immutable}", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as err:
        raise _refuse(path, f"can't be opened ({err})") from None
    try:
        check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if check != "ok":  # "*** in database main ***" then the first problem found
            raise _refuse(path, f"is a damaged SQLite file ({check.splitlines()[-1]})")
        _check_meta(conn, path)
    except sqlite3.DatabaseError as err:
        raise _refuse(path, f"is a damaged SQLite file ({err})") from None
    finally:
        conn.close()


def _make_folder(folder: Path) -> None:
    """Create the store's folder; one it creates is ignored by git (as pytest's cache is), so a
    project's stored data is never committed, whatever the project's own .gitignore says."""
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True)
        (folder / ".gitignore").write_text("# Created by anycloud dev: local data, never committed.\n*\n")
    except OSError as err:
        raise StoreError(f"can't create the store folder {folder} ({err.strerror}); pass another path or --memory") from None


# ------------------------------------------------------------------------- the store


class Store:
    """Every table of one stack, in the SQLite file `path` (its folder is created), or in memory
    when `path` is None. `clock` gives epoch seconds for TTL expiry."""

    def __init__(self, path: str | os.PathLike[str] | None, *, clock: Clock = time.time):
        self.path = None if path is None else Path(path)
        self._clock = clock
        self._lock = threading.Semaphore(1)  # not a Lock: see the module docstring
        self._written: dict[str, threading.Event] = {}
        self._where = "the in-memory store" if self.path is None else str(self.path)
        if self.path is not None:
            _make_folder(self.path.parent)
            if self.path.exists():
                _inspect(self.path)
        try:
            # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), never the module's.
            self._conn = sqlite3.connect(self.path or ":memory:", timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as err:
            raise StoreError(f"{self._where} can't be opened ({err}); check its folder, or pass --memory") from None
        with self._locked() as conn:
            if self.path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            with _transaction(conn):
                if self.path is not None:
                    _check_meta(conn, self.path)  # again, under the write lock: nobody changed it since
                for statement in _SCHEMA:
                    conn.execute(statement)

    def table(self, spec: TableSpec) -> Table:
        """The table `spec` declares. Its key and TTL attribute are recorded: a changed TTL
        attribute re-reads every item's expiry; a changed key is refused while it holds items."""
        key = [spec.partition_key.name] + ([spec.sort_key.name] if spec.sort_key else [])
        indexes = {i.name: (i.partition_key.name, i.sort_key.name if i.sort_key else None) for i in spec.indexes}
        stream = spec.stream
        table = Table(self, spec.name, key, indexes, spec.ttl_attribute,
                      stream=None if stream is None else ("deletes" if stream.deletes else "writes"))
        with self._locked() as conn, _transaction(conn):
            row = conn.execute("SELECT key, ttl FROM anycloud_tables WHERE name = ?", (table.name,)).fetchone()
            holds_items = conn.execute("SELECT 1 FROM items WHERE tbl = ? LIMIT 1", (table.name,)).fetchone()
            if row is not None and json.loads(row[0]) != key and holds_items:
                raise StoreError(
                    f"{self._where}: table {table.name!r} holds items keyed by ({', '.join(json.loads(row[0]))}) but "
                    f"is declared with key ({', '.join(key)}); declare the old key again, or move the file aside "
                    "(it holds every table) or pass --memory")
            if row is None or row[1] != table.ttl_attribute:
                rows = conn.execute("SELECT seq, body FROM items WHERE tbl = ?", (table.name,)).fetchall()
                conn.executemany("UPDATE items SET expires = ? WHERE seq = ?",
                                 [(_expiry(json.loads(body), table.ttl_attribute), seq) for seq, body in rows])
            conn.execute("INSERT OR REPLACE INTO anycloud_tables VALUES (?, ?, ?)",
                         (table.name, json.dumps(key), table.ttl_attribute))
            _sync_indexes(conn, table)
        return table

    def purge_expired(self) -> int:
        """Delete every expired item of every table; how many were deleted."""
        with self._locked() as conn, _transaction(conn):
            return conn.execute("DELETE FROM items WHERE expires <= ?", (self._clock(),)).rowcount

    # -- the change log (components/dev/streams.py)

    def written(self, table: str) -> threading.Event:
        """Set when a change of `table` is logged by this process: it wakes that table's delivery."""
        return self._written.setdefault(table, threading.Event())

    def pending_changes(self, table: str, limit: int) -> list[tuple[int, dict[str, Any], dict[str, Any] | None, int]]:
        """The oldest `limit` undelivered changes of `table`: (seq, key, item or None, attempts so far)."""
        with self._locked() as conn:
            rows = conn.execute("SELECT seq, key, item, attempts FROM changes WHERE tbl = ? AND error IS NULL "
                                "ORDER BY seq LIMIT ?", (table, limit)).fetchall()
        return [(seq, json.loads(key), None if item is None else json.loads(item), attempts) for seq, key, item, attempts in rows]

    def delivered(self, seq: int) -> None:
        with self._locked() as conn, _transaction(conn):
            conn.execute("DELETE FROM changes WHERE seq = ?", (seq,))

    def failed(self, seq: int, error: str | None) -> None:
        """A failed delivery counted; with `error`, the change is now a dead letter."""
        with self._locked() as conn, _transaction(conn):
            conn.execute("UPDATE changes SET attempts = attempts + 1, error = ? WHERE seq = ?", (error, seq))

    def dead_changes(self, table: str) -> list[tuple[int, dict[str, Any], dict[str, Any] | None, int, str, float]]:
        """The dead-lettered changes of `table`, oldest first: (seq, key, item, attempts, error, written at)."""
        with self._locked() as conn:
            rows = conn.execute("SELECT seq, key, item, attempts, error, at FROM changes WHERE tbl = ? AND error IS "
                                "NOT NULL ORDER BY seq", (table,)).fetchall()
        return [(seq, json.loads(k), None if i is None else json.loads(i), n, e, at) for seq, k, i, n, e, at in rows]

    def redrive_change(self, seq: int) -> bool:
        """A dead-lettered change back in the log, its attempts reset; False if there is none by that seq."""
        with self._locked() as conn, _transaction(conn):
            return conn.execute("UPDATE changes SET attempts = 0, error = NULL WHERE seq = ? AND error IS NOT NULL",
                                (seq,)).rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for the tables

    def now(self) -> float:
        return self._clock()

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, to this thread alone; a failure of SQLite is a StoreError naming the file."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as err:
                todo = "" if self.path is None else "; if it persists, move the file aside or pass --memory"
                raise StoreError(f"{self._where}: {err}{todo}") from err


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction: SQLite's write lock from the first read, so what is checked holds
    when the write lands; rolled back on any exception (a ConditionFailed too)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


def _expiry(item: Mapping[str, Any], ttl: str | None) -> float | None:
    """When `item` expires (epoch seconds), or None: no TTL attribute, or not a number in it."""
    value = None if ttl is None else item.get(ttl)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float: never, or long ago
        return math.inf if value > 0 else -math.inf


def _json(item: Mapping[str, Any]) -> str:
    """`item` as the JSON text stored: TypeError for what JSON can't hold, as memory.Table's copy;
    ValueError for NaN and infinities, which SQLite's JSON functions (and the clouds) refuse."""
    return json.dumps(dict(item), allow_nan=False)


def _storable(names: Sequence[str], values: Sequence[Any]) -> tuple[Any, ...]:
    """Key values as SQLite holds them: finite numbers, integers within 64 bits."""
    for name, value in zip(names, values, strict=True):
        if (isinstance(value, int) and value not in _INT64) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"key attribute {name} must be a finite number, integers within 64 bits")
    return tuple(values)


def _path(attribute: str) -> str:
    """The JSON path of a top-level attribute, written into the SQL: only identifiers (as
    components.spec.Attribute allows) are accepted, so nothing else can reach the statement."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", attribute):
        raise ValueError(f"attribute name {attribute!r} is not an identifier")
    return f"'$.{attribute}'"


_KEY = "tbl = ? AND pk = ? AND sk = ?"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _sync_indexes(conn: sqlite3.Connection, table: Table) -> None:
    """An SQL index per declared index, over its key attributes in the table's rows (a partial
    index on the JSON paths the queries name, so an index query reads its partition only); the
    table's SQL indexes no longer declared are dropped. The name holds the attributes, so an
    index declared anew with other attributes is a new SQL index."""
    prefix = f"items:{table.name}:"
    wanted = {}
    for index, paths in table._index_paths.items():
        columns = ", ".join(f"json_extract(body, {p})" for p in paths if p is not None)
        name = prefix + ":".join([index, *(a for a in table.indexes[index] if a is not None)])
        wanted[name] = f"ON items ({columns}, seq) WHERE tbl = {table._tbl}"
    existing = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'items'")]
    for name in existing:
        if name.startswith(prefix) and name not in wanted:
            conn.execute(f"DROP INDEX {_identifier(name)}")
    for name, definition in wanted.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {_identifier(name)} {definition}")


# ------------------------------------------------------------------------- the table


class Table:
    """runtime.contracts.Table over the store's file; made by `Store.table`."""

    def __init__(self, store: Store, name: str, key: Sequence[str], indexes: Mapping[str, tuple[str, str | None]],
                 ttl_attribute: str | None, *, stream: str | None = None):
        self.name = name
        self.stream = stream  # None, "writes" (puts and updates are logged) or "deletes" (deletes too)
        self.partition_key = key[0]
        self.sort_key = key[1] if len(key) > 1 else None
        self.indexes = dict(indexes)
        self.ttl_attribute = ttl_attribute
        self._store = store
        self._key_names = tuple(key)
        self._index_paths = {name: tuple(None if a is None else _path(a) for a in attrs) for name, attrs in self.indexes.items()}
        # In index queries' SQL as a literal: SQLite uses a partial index when the query's WHERE
        # implies the index's, which a bound parameter does not show (https://sqlite.org/partialindex.html).
        self._tbl = _literal(name)

    # -- helpers

    def _row_key(self, key: Mapping[str, Any], *, exact: bool) -> tuple[Any, ...]:
        """(table, partition, sort) as the `items` row holds them."""
        values = _storable(self._key_names, key_values(key, self._key_names, exact=exact))
        return (self.name, values[0], values[1] if len(values) > 1 else _NO_SORT_KEY)

    def _delete_expired(self, conn: sqlite3.Connection, now: float) -> None:
        if self.ttl_attribute is None:
            return
        if self.stream == "deletes":  # an expiry is a delete, as DynamoDB's and Firestore's TTL deletes are
            for (body,) in conn.execute("SELECT body FROM items WHERE tbl = ? AND expires <= ?", (self.name, now)).fetchall():
                self._log(conn, json.loads(body), None)
        conn.execute("DELETE FROM items WHERE tbl = ? AND expires <= ?", (self.name, now))

    def _log(self, conn: sqlite3.Connection, item: Mapping[str, Any], after: Mapping[str, Any] | None) -> None:
        """Under the write's transaction: the change of `item` (its state `after`, None once deleted)."""
        if self.stream is None or (after is None and self.stream != "deletes"):
            return
        key = {name: item[name] for name in self._key_names}
        conn.execute("INSERT INTO changes (tbl, key, item, at) VALUES (?, ?, ?, ?)",
                     (self.name, _json(key), None if after is None else _json(after), time.time()))
        self._store.written(self.name).set()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction in which the table's expired items are already gone."""
        with self._store._locked() as conn, _transaction(conn):
            self._delete_expired(conn, self._store.now())
            yield conn

    def _select(self, where: str, params: tuple[Any, ...], order: str = "seq", limit: int = -1) -> list[dict[str, Any]]:
        """The unexpired items `where` selects; then the table's expired items are deleted, if
        there are any (a write only then)."""
        now = self._store.now()
        live = "" if self.ttl_attribute is None else " AND (expires IS NULL OR expires > ?)"
        with self._store._locked() as conn:
            rows = conn.execute(f"SELECT body FROM items WHERE {where}{live} ORDER BY {order} LIMIT ?",
                                (*params, *((now,) if live else ()), limit)).fetchall()
            if live and conn.execute("SELECT 1 FROM items WHERE tbl = ? AND expires <= ? LIMIT 1", (self.name, now)).fetchone():
                with _transaction(conn):
                    self._delete_expired(conn, now)
        return [json.loads(body) for (body,) in rows]

    # -- the Table protocol

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self._select(_KEY, self._row_key(key, exact=True))
        return found[0] if found else None

    def put(self, item: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Write `item`; with `if_absent`, ConditionFailed when an item with its key exists."""
        body = _json(item)
        stored = json.loads(body)
        row_key = self._row_key(stored, exact=False)
        with self._writing() as conn:
            if if_absent and conn.execute(f"SELECT 1 FROM items WHERE {_KEY}", row_key).fetchone():
                raise ConditionFailed("an item with this key exists")
            # An upsert keeps the row's seq: a replaced item keeps its place, as in a dict.
            conn.execute("INSERT INTO items (tbl, pk, sk, body, expires) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (tbl, pk, sk) DO UPDATE SET body = excluded.body, expires = excluded.expires",
                         (*row_key, body, _expiry(stored, self.ttl_attribute)))
            self._log(conn, stored, stored)

    def update(
        self, key: Mapping[str, Any], changes: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Set `changes` on an existing item and return it (all attributes); ConditionFailed
        when it does not exist or an attribute differs from `expect`. Key attributes can't change."""
        row_key = self._row_key(key, exact=True)
        check_changes(changes, self._key_names)
        new_values = json.loads(_json(changes))
        with self._writing() as conn:
            row = conn.execute(f"SELECT seq, body FROM items WHERE {_KEY}", row_key).fetchone()
            if row is None:
                raise ConditionFailed("no item with this key")
            item = json.loads(row[1])
            if not matches(item, expect):
                raise ConditionFailed("the item does not match the expected values")
            item.update(new_values)
            conn.execute("UPDATE items SET body = ?, expires = ? WHERE seq = ?",
                         (_json(item), _expiry(item, self.ttl_attribute), row[0]))
            self._log(conn, item, item)
        return item

    def delete(self, key: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> None:
        """Remove the item; a missing item is fine unless `expect` is given (then ConditionFailed)."""
        row_key = self._row_key(key, exact=True)
        with self._writing() as conn:
            row = conn.execute(f"SELECT body FROM items WHERE {_KEY}", row_key).fetchone()
            if expect is not None and not matches(None if row is None else json.loads(row[0]), expect):
                raise ConditionFailed("the item does not exist or does not match the expected values")
            if row is not None:
                conn.execute(f"DELETE FROM items WHERE {_KEY}", row_key)
                self._log(conn, json.loads(row[0]), None)

    def query(
        self, key: Mapping[str, Any], *, index: str | None = None, limit: int = 100, descending: bool = False
    ) -> list[dict[str, Any]]:
        """Items whose partition key (of the table or `index`) equals `key`'s single entry,
        ordered by the sort key (ties in insertion order). An index holds only items that have
        all its key attributes."""
        pk, sk = query_keys(key, self._key_names, self.indexes, index, limit)
        (wanted,) = _storable([pk], key_values(key, [pk], exact=True))
        direction = "DESC" if descending else "ASC"
        if index is None:
            where, params = "tbl = ? AND pk = ?", (self.name, wanted)
            order = f"sk {direction}" if sk is not None else f"seq {direction}"
        else:
            pk_path, sk_path = self._index_paths[index]
            where = f"tbl = {self._tbl} AND json_type(body, {pk_path}) IN {_SCALAR_TYPES} AND json_extract(body, {pk_path}) = ?"
            params, order = (wanted,), f"seq {direction}"
            if sk_path is not None:
                where += f" AND json_type(body, {sk_path}) IS NOT NULL"
                order = f"json_extract(body, {sk_path}) {direction}, seq ASC"
        return self._select(where, params, order, limit)

    # -- for the console and tests

    def items(self) -> list[dict[str, Any]]:
        """Every unexpired item, in insertion order."""
        return self._select("tbl = ?", (self.name,))

    def __len__(self) -> int:
        return len(self.items())
