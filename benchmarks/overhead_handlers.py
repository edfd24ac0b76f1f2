"""Portable handlers that do no work of their own, so benchmarks/overhead.py measures the adapter."""

from __future__ import annotations

from typing import Any

from runtime.contracts import Context, Message


def accept(message: Message, ctx: Context) -> None:
    """A consumer that acknowledges every message."""


def notified(state: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """A task that returns the same small result as the bare handler."""
    return {"notified": True}
