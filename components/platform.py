"""The interface every cloud implements, and the one place a cloud is chosen.

A platform is a small class per cloud with one method per building block. Each method
creates the cloud resources as children of the neutral component it is given and returns
that component's neutral outputs. Cloud packages are imported only when chosen, so a stack
on one cloud never loads another cloud's SDK.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import pulumi

from .settings import Settings, SettingsError
from .spec import Access, ApiSpec, FunctionSpec, QueueSpec, SecretSpec, ServiceSpec, TableSpec, WorkflowSpec

#: cloud -> "module:Class" of its platform; clouds not listed here are declared but not rendered yet.
PLATFORMS = {"aws": "components.aws.platform:AwsPlatform", "gcp": "components.gcp.platform:GcpPlatform",
             "azure": "components.azure.platform:AzurePlatform"}


class Platform(Protocol):
    #: What the cloud cannot do that the declaration asks for, one line each (the check prints them).
    notes: list[str]

    @staticmethod
    def preflight(spec: ServiceSpec, settings: Settings) -> None:
        """Check the cloud's own provider config and its limits on the declaration; raise
        SettingsError or SpecError before anything is registered."""

    def __init__(self, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource) -> None: ...

    def table(self, spec: TableSpec, parent: pulumi.Resource) -> dict[str, Any]:
        """Outputs: name."""

    def secret(self, spec: SecretSpec, parent: pulumi.Resource) -> dict[str, Any]:
        """Outputs: id."""

    def queue(self, spec: QueueSpec, parent: pulumi.Resource) -> dict[str, Any]:
        """Outputs: url, dlq_url."""

    def function(self, spec: FunctionSpec, parent: pulumi.Resource) -> dict[str, Any]:
        """Outputs: name. Creates the function's own identity."""

    def workflow(self, spec: WorkflowSpec, parent: pulumi.Resource) -> dict[str, Any]:
        """Outputs: id."""

    def grant(self, function: str, access: Access) -> None:
        """Let `function`'s identity perform exactly `access` and nothing more."""

    def subscribe(self, spec: QueueSpec, parent: pulumi.Resource) -> None:
        """Deliver the queue's messages to its consumer."""

    def api(self, spec: ApiSpec, parent: pulumi.Resource) -> dict[str, Any]:
        """Outputs: url."""

    def finish(self) -> None:
        """Write the identities' permissions and the observability resources."""


def select_platform(cloud: str) -> type[Platform]:
    """The platform class for `cloud`; a declared but unrendered cloud is a config error."""
    if cloud not in PLATFORMS:
        raise SettingsError(
            f"anycloud:cloud: {cloud!r} is not rendered yet; allowed now: {', '.join(PLATFORMS)}"
        )
    module, _, name = PLATFORMS[cloud].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith(("pulumi_", "pulumiverse_")):
            raise
        raise SettingsError(f"anycloud:cloud: {cloud!r} needs its provider SDK ({err.name} is not installed); "
                            f"allowed: install the {cloud} extra (pip install -e \".[{cloud}]\")") from None
