"""One adapter instance per function environment, found without scanning the environment.

On a cloud there is one environment per process, so one instance; tests that run several
functions in one process get one per distinct ``ANYCLOUD_*`` environment. A warm request
checks only the size of the environment and the ``ANYCLOUD_*`` values its instance was built
from (changing a non-wiring variable and adding a wiring one in the same step is not noticed;
tests call `reset()`), instead of scanning and sorting the whole environment every time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from .wiring import PREFIX

T = TypeVar("T")


class Instances(Generic[T]):
    def __init__(self, build: Callable[[Mapping[str, str]], T]):
        self._build = build
        self._by_wiring: dict[tuple, T] = {}
        self._last: tuple[int, tuple[tuple[str, str], ...], T] | None = None

    def get(self, env: Mapping[str, str] | None = None) -> T:
        env = os.environ if env is None else env
        last = self._last
        if last is not None and last[0] == len(env) and all(env.get(k) == v for k, v in last[1]):
            return last[2]
        key = tuple(sorted((k, v) for k, v in env.items() if k.startswith(PREFIX)))
        found = self._by_wiring.get(key)
        if found is None:
            found = self._by_wiring[key] = self._build(env)
        self._last = (len(env), key, found)
        return found

    def reset(self) -> None:
        self._by_wiring.clear()
        self._last = None
