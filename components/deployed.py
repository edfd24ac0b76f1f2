"""A deployed stack keeps its cloud: switching `anycloud:cloud` would delete everything it runs.

The program exports `cloud` on every update, so the stack's last outputs say where it is
deployed. Before anything is registered, the program reads them through the engine's built-in
`pulumi:pulumi:readStackOutputs` (what a StackReference reads, as a synchronous invoke) and
refuses another cloud: the next `up` would otherwise plan to delete every resource of the old
cloud (on dev: tables and their data), or fail half-way on prod's protected ones. The way to
another cloud is a new stack (`prod-gcp`); a deliberate move of this stack is spelt out in
config as `anycloud:replacesCloud: <the old cloud>`, so a stale flag never permits a later switch.
"""

from __future__ import annotations

import pulumi

from .settings import NAMESPACE, SettingsError

READ_OUTPUTS = "pulumi:pulumi:readStackOutputs"


def deployed_cloud() -> str | None:
    """The `cloud` output of this stack's last update; None for a new stack or when unreadable."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    try:
        result = pulumi.runtime.invoke(READ_OUTPUTS, {"name": name})
    except Exception as err:  # noqa: BLE001 - a backend that cannot answer must not block a deploy
        pulumi.log.warn(f"anycloud could not read this stack's last outputs ({err}); the cloud-change guard is off")
        return None
    cloud = ((result.value or {}).get("outputs") or {}).get("cloud")
    return cloud if isinstance(cloud, str) else None


def check_cloud_unchanged(cloud: str, replaces: str | None) -> None:
    previous = deployed_cloud()
    if previous is None or previous == cloud or replaces == previous:
        return
    stack = pulumi.get_stack()
    raise SettingsError(
        f"{NAMESPACE}:cloud: stack {stack!r} is deployed on {previous}; rendering it on {cloud} would delete every "
        f"{previous} resource of the stack (tables and their data included); allowed: a new stack for {cloud} "
        f"(pulumi stack init {stack}-{cloud}), or `pulumi config set {NAMESPACE}:replacesCloud {previous}` to "
        f"destroy the {previous} deployment deliberately")
