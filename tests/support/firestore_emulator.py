"""The Firestore emulator (npm `@firestore-emulator/server`, pinned in package.json) for tests.

`running_emulator()` starts it as a Node subprocess on a free port of 127.0.0.1, waits until it
accepts connections, yields ``"127.0.0.1:<port>"`` and stops it. The package has no command
line and its `FirestoreServer.start(port)` binds every interface, so a few lines of Node bind
the server's own gRPC server to the loopback address on port 0 and print the port the system
chose (no race for a free port). The emulator also exits when its stdin closes, so it never
outlives a killed test run. State is in memory only: each test uses its own database id.

Tests use the session fixture `firestore_emulator` and `emulator_client(address, database)`,
the official client as the emulator needs it (no TLS, anonymous credentials).
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
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
"""


@contextmanager
def running_emulator(timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Start the emulator; yield its ``host:port`` (the first line its launcher prints); stop it."""
    with running_node("the Firestore emulator", PACKAGE, ["-e", _LAUNCHER], lambda line: line.strip(), timeout_s,
                      cwd=ROOT) as address:
        yield address


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """``host:port`` of an emulator shared by the session, with FIRESTORE_EMULATOR_HOST set to it
    (the client reads it when it is built) and restored afterwards."""
    with running_emulator() as address:
        previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
        os.environ["FIRESTORE_EMULATOR_HOST"] = address
        try:
            yield address
        finally:
            if previous is None:
                os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
            else:
                os.environ["FIRESTORE_EMULATOR_HOST"] = previous


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
