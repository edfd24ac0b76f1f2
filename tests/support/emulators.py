"""What the emulators the tests start (Firestore, Azurite) share: a Node launcher run for the
length of a block, and the wait until it accepts connections."""

from __future__ import annotations

import selectors
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def wait_accepting(address: str, proc: subprocess.Popen, deadline: float) -> bool:
    """True once `address` (host:port) accepts a connection; False if `proc` exits first or
    the `deadline` (time.monotonic) passes."""
    host, port = address.rsplit(":", 1)
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _address(proc: subprocess.Popen, deadline: float, address_in: Callable[[str], str | None]) -> str:
    """The first address `address_in` finds in the process's output lines, or "" when it exits
    or the deadline passes first."""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and proc.poll() is None:
            if selector.select(timeout=0.1):
                found = address_in(proc.stdout.readline())
                if found:
                    return found
    return ""


@contextmanager
def running_node(name: str, package: Path, command: list[str], address_in: Callable[[str], str | None],
                 timeout_s: float, cwd: Path | str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `node <command>` (a launcher that exits when its stdin closes), yield the address it
    prints once it accepts connections, then stop it. Fails (never skips) when the npm `package`
    is not installed or the emulator does not come up, naming the emulator and its last error."""
    if not package.is_dir():
        project = next((p.parent for p in package.parents if p.name == "node_modules"), package.parent)
        pytest.fail(f"{name} is not installed: run `npm ci` in {project} (where package.json is)", pytrace=False)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(["node", *command], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=stderr, text=True, env=env)
        try:
            deadline = time.monotonic() + timeout_s
            address = _address(proc, deadline, address_in)
            if not address or not wait_accepting(address, proc, deadline):
                stderr.seek(0)
                detail = stderr.read().strip().splitlines()[-1:] or [f"no answer within {timeout_s:.0f} s"]
                pytest.fail(f"{name} did not start: {detail[0]}", pytrace=False)
            yield address
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
