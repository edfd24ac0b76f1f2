"""Service: the neutral component tree; the platform chosen by `anycloud:cloud` fills it in.

The Service creates one neutral child component per declared resource
(`anycloud:index:Table`, `Queue`, `Secret`, `Function`, `Workflow`, `Api`) and asks the
platform to create the cloud resources as that child's children. The order is fixed by what
depends on what: data stores first, then functions (their wiring names the stores), then
workflows (they name task functions), then the grants, the triggers and observability.
"""

from __future__ import annotations

from typing import Any, Callable

import pulumi

from .platform import Platform, select_platform
from .settings import Settings
from .spec import ServiceSpec


class Block(pulumi.ComponentResource):
    """One declared resource, as a neutral component whose children are the cloud resources."""

    def __init__(self, kind: str, name: str, parent: pulumi.Resource, build: Callable[["Block"], dict[str, Any]]):
        super().__init__(f"anycloud:index:{kind}", name, None, pulumi.ResourceOptions(parent=parent))
        self.outputs = build(self)
        self.register_outputs(self.outputs)


class Service(pulumi.ComponentResource):
    """Renders a ServiceSpec onto the platform `settings.cloud` names."""

    def __init__(self, spec: ServiceSpec, settings: Settings, opts: pulumi.ResourceOptions | None = None):
        platform_class = select_platform(settings.cloud)
        platform_class.preflight(spec, settings)
        super().__init__("anycloud:index:Service", spec.name, None, opts)
        platform: Platform = platform_class(spec, settings, self)

        def block(kind: str, name: str, build: Callable[[Block], dict[str, Any]]) -> Block:
            return Block(kind, name, self, build)

        tables = {t.name: block("Table", t.name, lambda b, t=t: platform.table(t, b)) for t in spec.tables}
        secrets = {s.name: block("Secret", s.name, lambda b, s=s: platform.secret(s, b)) for s in spec.secrets}
        queues = {q.name: block("Queue", q.name, lambda b, q=q: platform.queue(q, b)) for q in spec.queues}
        functions = {f.name: block("Function", f.name, lambda b, f=f: platform.function(f, b)) for f in spec.functions}
        workflows = {w.name: block("Workflow", w.name, lambda b, w=w: platform.workflow(w, b)) for w in spec.workflows}
        for fn in spec.functions:
            for access in fn.uses:
                platform.grant(fn.name, access)
        for queue in spec.queues:
            platform.subscribe(queue, queues[queue.name])
        api = block("Api", "api", lambda b: platform.api(spec.api, b)) if spec.api else None
        platform.finish()

        self.api_url = api.outputs["url"] if api else None
        self.tables = {n: b.outputs["name"] for n, b in tables.items()}
        self.queues = {n: b.outputs["url"] for n, b in queues.items()}
        self.workflows = {n: b.outputs["id"] for n, b in workflows.items()}
        self.functions = {n: b.outputs["name"] for n, b in functions.items()}
        self.secrets = {n: b.outputs["id"] for n, b in secrets.items()}
        self.notes = list(platform.notes)
        self.register_outputs(
            {
                "api_url": self.api_url,
                "tables": self.tables,
                "queues": self.queues,
                "workflows": self.workflows,
                "functions": self.functions,
                "secrets": self.secrets,
            }
        )
