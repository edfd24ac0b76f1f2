"""Cloud SDK clients made once per function instance, on first use.

A client costs milliseconds and connections to create, so a cold start makes only the clients
its invocation touches and a warm instance reuses them; the lock keeps concurrent first uses
(threaded hosts) to one client each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyClients:
    """One client per key (an AWS or Google service, a Firestore database), made by `factory`."""

    def __init__(self, factory: Callable[[str], Any]) -> None:
        self._factory = factory
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._factory(key)
        return client

    @property
    def created(self) -> list[str]:
        """The keys a client exists for."""
        return sorted(self._clients)
