"""How a function finds the resources it declared: one environment variable per resource.

`ANYCLOUD_<KIND>_<NAME>`, NAME upper-cased with hyphens as underscores, e.g.
`ANYCLOUD_TABLE_ORDERS`, `ANYCLOUD_QUEUE_ORDERS`, `ANYCLOUD_WORKFLOW_FULFIL_ORDER`,
`ANYCLOUD_SECRET_PAYMENT_API_KEY`. Each cloud supplies the value its clients need (a table
name, a queue URL, a workflow ARN or path, a secret id). Only declared resources are wired.
"""

from __future__ import annotations

from .spec import Access

SERVICE = "ANYCLOUD_SERVICE"
FUNCTION = "ANYCLOUD_FUNCTION"
ENVIRONMENT = "ANYCLOUD_ENVIRONMENT"


def env_name(kind: str, name: str) -> str:
    return f"ANYCLOUD_{kind.upper()}_{name.upper().replace('-', '_')}"


def wired(uses: tuple[Access, ...]) -> list[tuple[str, str, str]]:
    """(variable, kind, resource) once per declared resource, whatever the verbs."""
    seen: dict[str, tuple[str, str, str]] = {}
    for access in uses:
        var = env_name(access.kind, access.resource)
        seen.setdefault(var, (var, access.kind, access.resource))
    return list(seen.values())
