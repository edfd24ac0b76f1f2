"""The Pulumi program: shared by `pulumi up` (__main__.py) and the offline check."""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi.runtime.settings import get_monitor

from .config_keys import check_names, check_region, stack_config
from .deployed import check_cloud_unchanged
from .handlers import check_handlers
from .packaging import FUNCTIONS_DIR
from .service import Service
from .settings import apply_overrides, load_settings
from .spec import ServiceSpec


def run(spec: ServiceSpec, functions_dir: Path = FUNCTIONS_DIR) -> Service:
    """Check the stack config and the handlers, render the service and export its neutral outputs.

    Handlers are resolved under `functions_dir`, the root their `module:function` names are
    relative to: the project's functions/, which is also the code asset; the framework's tests
    point it at their own test services' handlers (tests/services/functions)."""
    if get_monitor() is None:  # started by hand (`python __main__.py`), not by the Pulumi engine
        raise SystemExit("error: this is a Pulumi program: deploy it with `pulumi up -s STACK`, or render and check "
                         "it offline with `python -m components check --stack STACK`")
    check_names(pulumi.get_stack(), [s.config_key for s in spec.secrets])
    settings = load_settings(spec)
    spec = apply_overrides(spec, settings)
    check_region(stack_config(), settings.cloud)
    check_handlers(spec, functions_dir)
    check_cloud_unchanged(settings.cloud, settings.replaces_cloud)
    service = Service(spec, settings)
    pulumi.export("cloud", settings.cloud)
    pulumi.export("api_url", service.api_url)
    pulumi.export("tables", service.tables)
    pulumi.export("queues", service.queues)
    pulumi.export("workflows", service.workflows)
    pulumi.export("functions", service.functions)
    if service.notes:  # shown by `pulumi up` with the outputs, and by the offline check as notes
        pulumi.export("limitations", service.notes)
    return service
