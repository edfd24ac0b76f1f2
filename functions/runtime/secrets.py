"""A secret's value cached per function instance, the same on every cloud and in memory.

Each read of a secret store costs latency and money, so a warm instance reads at most once per
TTL; a rotated value is seen within it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SECRET_TTL_S = 300.0


class CachedSecret:
    """A secret value from `loader`, cached per instance for `ttl_s` seconds of `clock`."""

    def __init__(self, loader: Callable[[], str] | str, ttl_s: float = SECRET_TTL_S,
                 clock: Callable[[], float] = time.monotonic):
        self._loader = loader if callable(loader) else (lambda: loader)
        self.ttl_s = ttl_s
        self._clock = clock
        self._value: str | None = None
        self._loaded_at = 0.0
        self.loads = 0

    def get(self) -> str:
        now = self._clock()
        if self._value is None or now - self._loaded_at >= self.ttl_s:
            self._value = self._loader()
            self._loaded_at = now
            self.loads += 1
        return self._value
