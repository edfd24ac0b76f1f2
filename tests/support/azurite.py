"""Azurite's queue service (npm `azurite`, pinned in package.json) for tests.

`running_azurite()` starts it as a Node subprocess on 127.0.0.1, port 0 (the system picks a
free one, which Azurite prints: no race for a port), waits until it accepts connections,
yields its address and stops it. A few lines of Node run Azurite's own queue entry point and
exit when their stdin closes, so it never outlives a killed test run. State is in memory only
(``--inMemoryPersistence``), telemetry is off (no network), and ``--skipApiVersionCheck``
lets the current client's newer API version through.

Tests use the session fixture `azurite` (an `Azurite`: queue URLs and clients for the
well-known development account, whose key Azurite publishes; Azurite checks the shared-key
signature, not AAD tokens).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulators import running_node

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "azurite"
START_TIMEOUT_S = 20.0
#: Azurite's development account and its published key (not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_LAUNCHER = r"""
const ROOT = process.env.ANYCLOUD_NODE_ROOT;
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
process.argv = [process.argv[0], "azurite-queue", ...process.argv.slice(1)];
require(require.resolve("azurite/dist/src/queue/main.js", { paths: [ROOT] }));
"""
_ARGS = ["--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck",
         "--queueHost", "127.0.0.1", "--queuePort", "0", "--extentMemoryLimit", "64"]
_LISTENING = re.compile(r"listens on http://(127\.0\.0\.1:\d+)")


@contextmanager
def running_azurite(timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Start Azurite's queue service; yield the ``host:port`` it says it listens on; stop it.
    Node resolves the package from the repository; Azurite runs in a scratch directory."""

    def listening(line: str) -> str | None:
        match = _LISTENING.search(line)
        return match[1] if match else None

    with tempfile.TemporaryDirectory() as workspace, running_node(
            "Azurite", PACKAGE, ["-e", _LAUNCHER, "--", *_ARGS], listening, timeout_s, cwd=workspace,
            env={**os.environ, "ANYCLOUD_NODE_ROOT": str(ROOT)}) as address:
        yield address


@dataclass(frozen=True)
class Azurite:
    address: str  # 127.0.0.1:<port>

    @property
    def credential(self) -> Any:
        from azure.core.credentials import AzureNamedKeyCredential

        return AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY)

    def queue_url(self, queue: str) -> str:
        return f"http://{self.address}/{ACCOUNT}/{queue}"

    def queue(self, queue: str, *, create: bool = True) -> Any:
        """A QueueClient without a message policy (it reads the text as sent), the queue created."""
        from azure.storage.queue import QueueClient

        client = QueueClient.from_queue_url(self.queue_url(queue), credential=self.credential)
        if create:
            client.create_queue()
        return client


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's queue service, shared by the session: each test uses queues of its own."""
    with running_azurite() as address:
        yield Azurite(address)
