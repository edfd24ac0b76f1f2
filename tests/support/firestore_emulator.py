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
import selectors
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulators import wait_accepting

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


def _address_line(proc: subprocess.Popen, deadline: float) -> str:
    """The first line the launcher prints, or "" when it exits or the deadline passes first."""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and proc.poll() is None:
            if selector.select(timeout=0.1):
                return proc.stdout.readline().strip()
    return ""


@contextmanager
def running_emulator(timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Start the emulator; yield its ``host:port``; stop it. Fails (never skips) when the npm
    package is not installed or the emulator does not come up."""
    if not PACKAGE.is_dir():
        pytest.fail(f"the Firestore emulator is not installed: run `npm ci` in {ROOT}", pytrace=False)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(
            ["node", "-e", _LAUNCHER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            deadline = time.monotonic() + timeout_s
            address = _address_line(proc, deadline)
            if not address or not wait_accepting(address, proc, deadline):
                stderr.seek(0)
                detail = stderr.read().strip().splitlines()[-1:] or [f"no answer within {timeout_s:.0f} s"]
                pytest.fail(f"the Firestore emulator did not start: {detail[0]}", pytrace=False)
            yield address
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()


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
