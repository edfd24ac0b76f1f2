"""Projects and processes for the tests of `anycloud dev` (tests/test_dev_*.py).

A project is a tmp folder with the real Pulumi.yaml and a stack file these helpers write; the
service is the framework's reference service (`tests.services:REFERENCE`, handlers under
tests/services/functions) or the example (`app:SERVICE`, functions/), never the repository's own
stack files or store. `DevProcess` runs the real command (`python -m components dev --port 0`)
and reads the URL it prints. Waits are bounded only to turn a hang into a failure.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICE_FUNCTIONS = ROOT / "tests" / "services" / "functions"
REFERENCE = "tests.services:REFERENCE"
#: A bound on waits that only a broken server reaches (never a timing assertion).
HANG_S = 30
DEV_STACK = {"anycloud:cloud": "aws", "anycloud:environment": "dev", "aws:region": "eu-west-1",
             "anycloud:allowedOrigins": ["http://localhost:3000"]}
AUTH = {"issuer": "https://auth.example.com/", "audience": ["orders-api"]}
SECRET_ENV = {"ANYCLOUD_SECRET_PAYMENT_API_KEY": "dev-payment-key"}


def project(path: Path, config: dict[str, Any] | None = None, stack: str = "dev") -> Path:
    """`path` as a project folder: the real Pulumi.yaml and Pulumi.<stack>.yaml holding `config`."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Pulumi.yaml", path / "Pulumi.yaml")
    (path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": DEV_STACK if config is None else config}))
    return path


def reference_args(directory: Path, functions: Path = SERVICE_FUNCTIONS) -> list[str]:
    return ["--dir", str(directory), "--service", REFERENCE, "--functions", str(functions)]


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = HANG_S) -> subprocess.CompletedProcess:
    """`python -m components ARGV` from the repository root, to the end."""
    return subprocess.run([sys.executable, "-m", "components", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **SECRET_ENV, **(env or {})})


class DevProcess:
    """`python -m components dev --port 0 ARGV` running; `.url`, `.output()`, `.request(...)`."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None, python: list[str] | None = None):
        self.proc = subprocess.Popen([sys.executable, *(python or []), "-m", "components", "dev", "--port", "0", *argv],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **SECRET_ENV, **(env or {})})
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._seen = threading.Condition()
        self._ended = 0  # output streams read to their end
        for stream, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()
        banner = self.wait_for(lambda line: " on http://127.0.0.1:" in line)
        self.url = banner.split(" on ", 1)[1].split()[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        self._connection: http.client.HTTPConnection | None = None

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self._seen:
                into.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._ended += 1
            self._seen.notify_all()

    def wait_for(self, found: Callable[[str], bool], timeout: float = HANG_S) -> str:
        """The first output line (stdout) that `found` accepts, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                match = next((line for line in self.lines if found(line)), None)
                if match is not None:
                    return match
                if self._ended == 2:
                    raise AssertionError(f"anycloud dev exited {self.proc.returncode}:\n{self.output()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such line within {timeout} s:\n{self.output()}")
                self._seen.wait(min(left, 0.2))

    def output(self) -> str:
        return "\n".join(self.lines + self.errors)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
        """(status, lower-cased headers, JSON body or text or None) over one kept-alive connection."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG_S)
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if body is not None:
            sent.setdefault("content-type", "application/json")
        try:
            self._connection.request(method, path, body=data, headers=sent)
            answer = self._connection.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self._connection.close()
            self._connection = None
            raise
        payload = answer.read()
        found = {k.lower(): v for k, v in answer.getheaders()}
        if answer.will_close:
            self._connection.close()
            self._connection = None
        if not payload:
            return answer.status, found, None
        text = payload.decode()
        return answer.status, found, json.loads(text) if found.get("content-type", "").startswith("application/json") else text

    def poll(self, path: str, done: Callable[[Any], bool], headers: dict[str, str] | None = None) -> Any:
        """GET `path` until `done(body)`; the body."""
        deadline = time.monotonic() + HANG_S
        while True:
            status, _, body = self.request("GET", path, headers=headers)
            if done(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path} never got there; last {status} {body}\n{self.output()}")
            time.sleep(0.02)

    def stop(self) -> int:
        if self._connection is not None:
            self._connection.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(HANG_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def __enter__(self) -> DevProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def service(tmp_path: Path, monkeypatch):
    """The reference service running in process (DevService, memory store, time scale 0), its
    terminal lines kept in `.lines`; closed after the test."""
    from components.dev.project import Project
    from components.dev.service import DevService

    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    lines: list[str] = []
    running = DevService(Project(dir=project(tmp_path), service="tests.services:REFERENCE", functions=SERVICE_FUNCTIONS),
                         memory_store=True, time_scale=0, echo=lines.append)
    running.lines = lines
    yield running
    running.close()

