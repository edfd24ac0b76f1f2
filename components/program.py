"""The Pulumi program: shared by `pulumi up` (__main__.py) and the offline check."""

from __future__ import annotations

import pulumi

from .service import Service
from .settings import apply_overrides, load_settings
from .spec import ServiceSpec


def run(spec: ServiceSpec) -> Service:
    """Read the stack config, render the service and export its neutral outputs."""
    settings = load_settings(spec)
    service = Service(apply_overrides(spec, settings), settings)
    pulumi.export("cloud", settings.cloud)
    pulumi.export("api_url", service.api_url)
    pulumi.export("tables", service.tables)
    pulumi.export("queues", service.queues)
    pulumi.export("workflows", service.workflows)
    pulumi.export("functions", service.functions)
    if service.notes:  # shown by `pulumi up` with the outputs, and by the offline check as notes
        pulumi.export("limitations", service.notes)
    return service
