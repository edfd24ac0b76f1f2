"""Rendered resources in `pulumi stack export` format (version 3)."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any


from .mock_engine import Rendering, jsonable


def stack_urn(rendering: Rendering) -> str:
    return f"urn:pulumi:{rendering.stack}::{rendering.project}::pulumi:pulumi:Stack::{rendering.project}-{rendering.stack}"


def to_export(rendering: Rendering) -> dict[str, Any]:
    root = {
        "urn": stack_urn(rendering),
        "custom": False,
        "type": "pulumi:pulumi:Stack",
        "outputs": jsonable(rendering.outputs),
    }
    resources = [root]
    for r in rendering.resources:
        entry: dict[str, Any] = {
            "urn": r.urn,
            "custom": r.custom,
            "type": r.type,
            "inputs": jsonable(r.inputs),
            "outputs": jsonable(r.outputs) if r.custom else {},
            "parent": r.parent or root["urn"],
            "protect": r.protect,
            "dependencies": r.dependencies,
            "propertyDependencies": r.property_dependencies,
        }
        if r.custom and r.id:
            entry["id"] = r.id
        resources.append(entry)
    return {
        "version": 3,
        "deployment": {
            "manifest": {
                "time": datetime.now(timezone.utc).isoformat(),
                "magic": "",
                "version": f"v{version('pulumi')}",  # the SDK that rendered it (a real export names the CLI)
            },
            "resources": resources,
        },
    }
