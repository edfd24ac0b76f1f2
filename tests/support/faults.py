"""What the fault-injection tests of every cloud's emulator stack inject (tests/example/test_e2e_*.py)."""

from __future__ import annotations

from typing import Any


class ProcessDied(BaseException):
    """Injected: the process (or host) running a function dies here: no answer, nothing after it
    runs, no checkpoint. A BaseException, so no handler's, Powertools' or the Functions host's
    `except Exception` catches it."""

    injected = True


class Dying:
    """A table of a process that dies right after `method` succeeds once: that call lands, then the
    process answers nothing and makes no other call (`state` is shared by its tables)."""

    def __init__(self, table: Any, method: str, state: dict):
        self._table, self._method, self._state = table, method, state

    def __getattr__(self, name: str) -> Any:
        if self._state["dead"]:
            raise ProcessDied
        attr = getattr(self._table, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            attr(*args, **kwargs)
            self._state["dead"] = True
            raise ProcessDied
        return call
