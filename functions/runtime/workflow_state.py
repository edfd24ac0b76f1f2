"""The state rules of DESIGN.md section 5 that every workflow *interpreter* applies itself: the
generic Durable orchestrator (runtime/azure/durable.py) and `anycloud dev`'s local engine
(components/dev/engine.py). One copy, so the two cannot drift; Step Functions and Workflows
state the same rules in their own languages (components/workflow/asl.py, gcp.py).

- A dotted path reads nested objects; a missing key, or a value that is not an object on the
  way, is `MISSING`.
- A result is stored at a dotted path of a copy of the state, missing parent objects created
  (ASL's ResultPath, Workflows' assign); a parent that is not an object is a TypeError.
- Choice: a rule on a missing path does not match (``!=`` and ``exists: false`` do); a value of
  another JSON type than the literal never compares (booleans are not numbers, 1 == 1.0).
- An error matches a retry or catch entry listing it or ``all``; ``TaskFailed`` there matches
  any error except the step's `excludes` (``Timeout`` and the names its own entries mention).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

MISSING = object()


def lookup(state: Any, path: str) -> Any:
    """The value at the dotted `path`, or MISSING."""
    for key in path.split("."):
        if not isinstance(state, dict) or key not in state:
            return MISSING
        state = state[key]
    return state


def store(state: dict, path: str, value: Any) -> dict:
    """A copy of `state` with `value` at the dotted `path`, missing parent maps created."""
    out = copy.deepcopy(state)
    *parents, last = path.split(".")
    target = out
    for depth, key in enumerate(parents):
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            where = ".".join(parents[: depth + 1])
            raise TypeError(f"cannot store the result at {path}: {where} holds a {json_kind(target)}, not an object")
    target[last] = value
    return out


def rule_matches(state: Any, path: str, op: str, literal: Any) -> bool:
    """Whether a choice rule matches; for ``exists``, `literal` is True or False."""
    value = lookup(state, path)
    if op == "exists":
        return (value is not MISSING) == literal
    if value is MISSING:
        return op == "!="
    if op in ("==", "!="):
        return (json_kind(value) == json_kind(literal) and value == literal) == (op == "==")
    if json_kind(value) != json_kind(literal) or json_kind(value) not in ("number", "string"):
        return False
    return {"<": value < literal, "<=": value <= literal, ">": value > literal, ">=": value >= literal}[op]


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def error_matches(errors: Sequence[str], name: str, excludes: Sequence[str]) -> bool:
    """Whether the error `name` matches an entry listing `errors` at a step whose TaskFailed
    does not match `excludes`."""
    if "all" in errors or name in errors:
        return True
    return "TaskFailed" in errors and name not in excludes
