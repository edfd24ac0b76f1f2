"""How a function finds the resources it declared: one environment variable per resource.

`ANYCLOUD_<KIND>_<NAME>`, NAME upper-cased with hyphens as underscores, e.g.
`ANYCLOUD_TABLE_ORDERS`, `ANYCLOUD_QUEUE_ORDERS`, `ANYCLOUD_WORKFLOW_FULFIL_ORDER`,
`ANYCLOUD_SECRET_PAYMENT_API_KEY`. Each cloud supplies the value its clients need (a table
name, a queue URL, a workflow ARN or path, a secret id). Only declared resources are wired.
A declared table also gets `ANYCLOUD_KEYS_<NAME>`: its key attribute names and those of its
indexes, so clients can write conditionally and query without describing the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .spec import Access, FunctionSpec, Key, ServiceSpec, TableSpec

SERVICE = "ANYCLOUD_SERVICE"
FUNCTION = "ANYCLOUD_FUNCTION"
ENVIRONMENT = "ANYCLOUD_ENVIRONMENT"
#: The portable handler (`module:function`) a cloud's entrypoint runs.
HANDLER = "ANYCLOUD_HANDLER"
#: How the function is reached where one HTTP entrypoint serves every trigger (GCP, Azure):
#: a comma-separated subset of route, consumer, task, changes.
TRIGGERS = "ANYCLOUD_TRIGGERS"
#: The route keys ("GET /orders/{order_id}") a route function serves, comma-separated, where
#: the gateway forwards the raw path (GCP): the entrypoint matches path parameters with them.
ROUTES = "ANYCLOUD_ROUTES"
#: The function's timeout in seconds, where the adapter keeps its own idempotency records
#: (GCP, Azure): a record still "in progress" after it belongs to a crashed invocation.
TIMEOUT = "ANYCLOUD_TIMEOUT_S"


def env_name(kind: str, name: str) -> str:
    return f"ANYCLOUD_{kind.upper()}_{name.upper().replace('-', '_')}"


def wired(uses: tuple[Access, ...]) -> list[tuple[str, str, str]]:
    """(variable, kind, resource) once per declared resource, whatever the verbs."""
    seen: dict[str, tuple[str, str, str]] = {}
    for access in uses:
        var = env_name(access.kind, access.resource)
        seen.setdefault(var, (var, access.kind, access.resource))
    return list(seen.values())


def table_keys_var(name: str) -> str:
    """`ANYCLOUD_KEYS_ORDERS`: not `ANYCLOUD_TABLE_...`, so it never reads as a wired resource."""
    return f"ANYCLOUD_KEYS_{name.upper().replace('-', '_')}"


def table_keys(spec: TableSpec) -> str:
    """`{"key": [partition, sort?], "indexes": {name: [partition, sort?]}, "ttl"?: attribute}` as
    compact JSON (`ttl` only when the table has one: clouds whose expiry needs another type than
    the neutral epoch seconds translate that attribute)."""

    def names(partition: Key, sort: Key | None) -> list[str]:
        return [partition.name] + ([sort.name] if sort else [])

    indexes = {i.name: names(i.partition_key, i.sort_key) for i in spec.indexes}
    keys: dict = {"key": names(spec.partition_key, spec.sort_key), "indexes": indexes}
    if spec.ttl_attribute:
        keys["ttl"] = spec.ttl_attribute
    return json.dumps(keys, separators=(",", ":"))


def triggers(service: ServiceSpec, function: str) -> tuple[list[str], list[str]]:
    """(how `function` is reached: route, task, consumer, changes, in that order; the route keys it
    serves), for clouds where one entrypoint serves every trigger and must be told which (GCP, Azure)."""
    routes = [r.key for r in service.api.routes if r.function == function] if service.api else []
    kinds = ["route"] if routes else []
    kinds += ["task"] if any(function in w.task_functions() for w in service.workflows) else []
    kinds += ["consumer"] if any(q.consumer == function for q in service.queues) else []
    kinds += ["changes"] if any(t.stream and t.stream.consumer == function for t in service.tables) else []
    return kinds, routes


def environment(service: ServiceSpec, function: FunctionSpec, stack_environment: str,
                value: Callable[[str, str], Any], extra: Mapping[str, Any] = ()) -> dict[str, Any]:
    """A function's wiring: its names, its handler, `extra` (a cloud's own settings), the
    declared environment, then `value(kind, name)` for each declared resource and the key names
    of each declared table."""
    env: dict[str, Any] = {SERVICE: service.name, FUNCTION: function.name, ENVIRONMENT: stack_environment,
                           HANDLER: function.handler, **dict(extra), **function.environment}
    for var, kind, name in wired(function.uses):
        env[var] = value(kind, name)
        if kind == "table":
            env[table_keys_var(name)] = table_keys(service.table(name))
    return env


def reached(service: ServiceSpec, function: FunctionSpec) -> dict[str, str]:
    """What one entrypoint serving every trigger needs: `ANYCLOUD_TRIGGERS`, for a route function
    `ANYCLOUD_ROUTES`, and the timeout its idempotency records are held for."""
    kinds, routes = triggers(service, function.name)
    return {TRIGGERS: ",".join(kinds), **({ROUTES: ",".join(routes)} if routes else {}), TIMEOUT: str(function.timeout_s)}
