"""The framework's own test services, declared here with their handlers under functions/.

The framework's tests render and run these, never the example (app.py, functions/orders/):
a team replaces the example and the framework's tests stay green. REFERENCE exercises every
building block; the shapes are the ways a team's service commonly differs from it.
"""

from __future__ import annotations

import json
from pathlib import Path

from components.settings import KEYS, NAMESPACE
from components.spec import ServiceSpec

from .reference import REFERENCE
from .shapes import MANY_ROUTES, NO_QUEUE, NO_WORKFLOW, TWO_TABLES

#: The root the test services' handlers (`module:function`) are relative to.
FUNCTIONS = Path(__file__).resolve().parent / "functions"

SERVICES = {s.name: s for s in (REFERENCE, NO_WORKFLOW, NO_QUEUE, TWO_TABLES, MANY_ROUTES)}
SHAPES = {"no-workflow": NO_WORKFLOW, "no-queue": NO_QUEUE, "two-tables": TWO_TABLES, "many-routes": MANY_ROUTES}


def config_for(spec: ServiceSpec, config: dict[str, str]) -> dict[str, str]:
    """`config` (written for REFERENCE) as a stack of `spec` would hold it: without the secrets and
    the function overrides of functions `spec` does not declare (the strict check refuses both)."""
    secrets = {s.config_key for s in spec.secrets}
    kept = {k: v for k, v in config.items()
            if not k.startswith(f"{NAMESPACE}:") or k.split(":", 1)[1] in set(KEYS) | secrets}
    key = f"{NAMESPACE}:functions"
    if key in kept:
        overrides = {f: o for f, o in json.loads(kept[key]).items() if f in {fn.name for fn in spec.functions}}
        kept = {k: v for k, v in kept.items() if k != key} | ({key: json.dumps(overrides)} if overrides else {})
    return kept
