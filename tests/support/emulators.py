"""What the emulators the tests start (Firestore, Azurite) share: waiting until one accepts
connections, or has exited, or the deadline passed."""

from __future__ import annotations

import socket
import subprocess
import time


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
