"""Reading the wiring a cloud's renderer sets: one environment variable per declared resource.

`ANYCLOUD_<KIND>_<NAME>` (NAME upper-cased, hyphens as underscores) holds what a client needs
(a table name, a queue URL, a workflow ARN, a secret id); a declared table also gets
`ANYCLOUD_KEYS_<NAME>` with its key attribute names. The renderer's side is
components/wiring.py, which functions/ can't import (it is not part of the function asset);
this is the one reader in functions/, shared by every cloud adapter. No cloud SDK here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

PREFIX = "ANYCLOUD_"
SERVICE = "ANYCLOUD_SERVICE"
FUNCTION = "ANYCLOUD_FUNCTION"
#: The portable handler (`module:function`) a cloud's entrypoint runs.
HANDLER = "ANYCLOUD_HANDLER"
#: Resource kinds as they appear in variable names, and in `Access.kind` (lower case).
KINDS = ("TABLE", "QUEUE", "WORKFLOW", "SECRET")


def var_name(kind: str, name: str) -> str:
    """`("table", "orders")` -> `ANYCLOUD_TABLE_ORDERS`."""
    return f"{PREFIX}{kind.upper()}_{name.upper().replace('-', '_')}"


def keys_var(table: str) -> str:
    """`ANYCLOUD_KEYS_ORDERS`: not `ANYCLOUD_TABLE_...`, so it never reads as a wired resource."""
    return var_name("KEYS", table)


def resource_name(var_suffix: str) -> str:
    """`PAYMENT_API_KEY` -> `payment-api-key` (resource names are lower-case words and hyphens)."""
    return var_suffix.lower().replace("_", "-")


def wired(env: Mapping[str, str]) -> Iterator[tuple[str, str, str]]:
    """`(kind, name, value)` for each wired resource, kind lower case: ("table", "orders", "orders-dev")."""
    for var, value in env.items():
        if not var.startswith(PREFIX):
            continue
        kind, _, suffix = var[len(PREFIX):].partition("_")
        if kind in KINDS and suffix:
            yield kind.lower(), resource_name(suffix), value


def table_keys(env: Mapping[str, str], table: str) -> tuple[list[str], dict[str, list[str]]]:
    """`([partition, sort?], {index: [partition, sort?]})` from `ANYCLOUD_KEYS_<TABLE>`."""
    spec = _table_spec(env, table)
    return list(spec["key"]), {k: list(v) for k, v in spec.get("indexes", {}).items()}


def table_ttl(env: Mapping[str, str], table: str) -> str | None:
    """The table's TTL attribute (epoch seconds in the neutral model), or None."""
    return _table_spec(env, table).get("ttl")


def _table_spec(env: Mapping[str, str], table: str) -> dict:
    var = keys_var(table)
    raw = env.get(var)
    if not raw:
        raise RuntimeError(f"{var} is not set: the table's key names come with its wiring")
    return json.loads(raw)

