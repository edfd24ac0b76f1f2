"""The Firestore emulator (npm `@firestore-emulator/server`, pinned in package.json) for tests.

`running_emulator()` starts it as a Node subprocess on a free port of 127.0.0.1, waits until it
accepts connections, yields ``"127.0.0.1:<port>"`` and stops it. The package has no command
line and its `FirestoreServer.start(port)` binds every interface, so a few lines of Node bind
the server's own gRPC server to the loopback address on port 0 and print the port the system
chose (no race for a free port). The emulator also exits when its stdin closes, so it never
outlives a killed test run. State is in memory only: each test uses its own database id.

Tests use the session fixture `firestore_emulator` and `emulator_client(address, database)`,
the official client as the emulator needs it (no TLS, anonymous credentials). The launcher also
logs every committed write to a file (`changes_file()`), from which tests/support/
eventarc_standin.py makes the events Eventarc would deliver (the package emits none).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulators import running_node

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "@firestore-emulator" / "server"
PROJECT = "anycloud-test"
START_TIMEOUT_S = 20.0

_LAUNCHER = r"""
const path = require("path");
const main = require.resolve("@firestore-emulator/server");
const { FirestoreServer } = require(main);
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [path.dirname(main)] }));
const emulator = new FirestoreServer();
emulator.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) { console.error(err.message); process.exit(1); }
  process.stdout.write(`127.0.0.1:${port}\n`);
});
// Every committed write, as the Eventarc stand-in reads it (tests/support/eventarc_standin.py):
// one JSON line per created, updated or deleted document, with the document after and before the
// write as binary google.firestore.v1.Document (base64; null when there is none).
const changes = process.env[CHANGES_VAR];
if (changes) {
  const fs = require("fs");
  const last = new Map();
  const record = (kind) => ({ document }) => {
    const path = document.getPath();
    const value = kind === "delete" ? null : Buffer.from(document.toV1Document().serialize()).toString("base64");
    fs.appendFileSync(changes, JSON.stringify({ kind, path, value, old: last.get(path) || null }) + "\n");
    if (value === null) last.delete(path); else last.set(path, value);
  };
  for (const kind of ["create", "update", "delete"]) emulator.state.emitter.on(`${kind}-document`, record(kind));
}
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
""".replace("CHANGES_VAR", '"ANYCLOUD_FIRESTORE_CHANGES"')


#: Where the launcher appends every committed write (set for the session by `firestore_emulator`).
CHANGES_VAR = "ANYCLOUD_FIRESTORE_CHANGES"


@contextmanager
def running_emulator(timeout_s: float = START_TIMEOUT_S, changes: Path | None = None) -> Iterator[str]:
    """Start the emulator; yield its ``host:port`` (the first line its launcher prints); stop it.
    With `changes`, every committed write is appended to that file (tests/support/eventarc_standin.py)."""
    env = {**os.environ, CHANGES_VAR: str(changes)} if changes is not None else None
    with running_node("the Firestore emulator", PACKAGE, ["-e", _LAUNCHER], lambda line: line.strip(), timeout_s,
                      cwd=ROOT, env=env) as address:
        yield address


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory) -> Iterator[str]:
    """``host:port`` of an emulator shared by the session, with FIRESTORE_EMULATOR_HOST set to it
    (the client reads it when it is built) and restored afterwards; its writes are logged to
    `changes_file()`."""
    changes = tmp_path_factory.mktemp("firestore") / "changes.jsonl"
    changes.touch()
    with running_emulator(changes=changes) as address:
        previous = {name: os.environ.get(name) for name in ("FIRESTORE_EMULATOR_HOST", CHANGES_VAR)}
        os.environ.update({"FIRESTORE_EMULATOR_HOST": address, CHANGES_VAR: str(changes)})
        try:
            yield address
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def changes_file() -> Path:
    """The session emulator's log of committed writes (under the `firestore_emulator` fixture)."""
    if not os.environ.get(CHANGES_VAR):
        raise RuntimeError(f"{CHANGES_VAR} is not set: use the firestore_emulator fixture")
    return Path(os.environ[CHANGES_VAR])


def emulator_client(database: str, project: str = PROJECT) -> Any:
    """The official client on the emulator named by FIRESTORE_EMULATOR_HOST: anonymous
    credentials (the emulator checks none), insecure channel (the client's emulator mode)."""
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        raise RuntimeError("FIRESTORE_EMULATOR_HOST is not set: use the firestore_emulator fixture")
    with warnings.catch_warnings():
        # google.api_core warns at import that it will drop Python 3.11 after its end of life.
        warnings.simplefilter("ignore", FutureWarning)
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import firestore

    return firestore.Client(project=project, database=database, credentials=AnonymousCredentials())
