"""Find a handler by the `module:function` string the service spec names.

Adapters resolve `ANYCLOUD_HANDLER` once per instance with this; modules are imported by
importlib (and cached by it), relative to the function asset root (functions/, /var/task).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

# The same shape components/spec.py accepts for FunctionSpec.handler.
HANDLER_PATTERN = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*:[a-z_][a-z0-9_]*")


def load_handler(spec: str) -> Callable[..., Any]:
    """The callable named by `spec`, e.g. "orders.api:create_order".

    ValueError for a malformed spec, TypeError for a name that is not callable; ImportError (from
    importlib) when the module is missing; AttributeError when the function is.
    """
    if not isinstance(spec, str) or not HANDLER_PATTERN.fullmatch(spec):
        raise ValueError(f"handler must be module:function, e.g. orders.api:create_order (got {spec!r})")
    module_name, function_name = spec.split(":")
    module = importlib.import_module(module_name)
    try:
        handler = getattr(module, function_name)
    except AttributeError:
        raise AttributeError(f"module {module_name!r} has no handler {function_name!r}") from None
    if not callable(handler):
        raise TypeError(f"{spec} is not callable")
    return handler
