"""What the renderer mutation tests share."""

from __future__ import annotations

from typing import Any, Callable

import pytest


def overriding(module: Any, name: str, **overrides: Any) -> Callable[[pytest.MonkeyPatch], None]:
    """A patch that makes every `module.name(...)` the renderer calls take `overrides` as arguments."""

    def patch(mp: pytest.MonkeyPatch) -> None:
        real = getattr(module, name)
        mp.setattr(module, name, lambda *args, **kwargs: real(*args, **{**kwargs, **overrides}))

    return patch
