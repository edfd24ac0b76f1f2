"""The floor of a render: recorded resources registered again as plain Pulumi resources.

`render.py` uses `floor_program` in process. Run as a script (`python benchmarks/floor.py EXPORT
CLOUD`), it is the whole-process floor of `python -m components check --stack prod`: a fresh
interpreter that imports only the Pulumi SDK and the mock engine, reads the check's own stack
export and registers its resources under the same mock engine with the same stack config.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret  # noqa: E402

from components.mock_engine import SECRET_SIG, SIG_KEY, Recorded, render  # noqa: E402

STACK = "prod"


def _plain(value: Any) -> Any:
    """Recorded inputs back to what a program would pass: secrets as secret Outputs."""
    if is_rpc_secret(value):
        return pulumi.Output.secret(_plain(unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def floor_program(recorded: list[Recorded], plain: Callable[[Any], Any] | None = None) -> Callable[[], None]:
    """Prepared outside the timed region: a program registering `recorded` as plain resources."""
    prepared = [(r, (plain or _plain)(r.inputs)) for r in recorded]

    def program() -> None:
        by_urn: dict[str, pulumi.Resource] = {}
        for r, props in prepared:
            opts = pulumi.ResourceOptions(
                parent=by_urn.get(r.parent),  # None for the Service: the stack is its parent
                protect=r.protect,
                depends_on=[by_urn[d] for d in r.dependencies if d in by_urn] or None,
            )
            if r.custom:
                by_urn[r.urn] = pulumi.CustomResource(r.type, r.name, props, opts)
            else:
                component = pulumi.ComponentResource(r.type, r.name, props, opts)
                component.register_outputs({})
                by_urn[r.urn] = component

    return program


def export_floor(path: Path, config: dict[str, str], secret_keys: list[str]) -> int:
    """The whole-process floor's body (run in a fresh interpreter): the resources of a stack
    export registered as plain resources under the same mock engine; nothing else imported."""
    resources = [r for r in json.loads(path.read_text())["deployment"]["resources"] if r["type"] != "pulumi:pulumi:Stack"]

    def plain(value: Any) -> Any:
        if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
            return pulumi.Output.secret("[secret]")
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    recorded = [Recorded(urn=r["urn"], type=r["type"], name=r["urn"].rsplit("::", 1)[1], custom=r["custom"],
                         parent=r.get("parent", ""), protect=r.get("protect", False), provider="",
                         dependencies=r.get("dependencies", []), property_dependencies={}, inputs=r.get("inputs", {}),
                         outputs={}, id=None) for r in resources]
    program = floor_program(recorded, plain)
    rendering = render(program, config, secret_keys, project="anycloud", stack=STACK)
    return len(rendering.resources)




if __name__ == "__main__":
    from components.stackfile import load_stack

    stack = load_stack(ROOT, STACK)
    stack.config["anycloud:cloud"] = sys.argv[2]
    export_floor(Path(sys.argv[1]), stack.config, stack.secret_keys)
