"""Durable Functions: each workflow runs in its own orchestrator app, started from a queue.

The workflow compiles to a JSON definition (components/workflow/durable.py) that the generic
orchestrator of the Azure adapter interprets; it is in the app's settings. The orchestrator
app has its own identity and its own host account, which holds the Durable task hub
(storage.py: the hub needs account-wide Blob, Queue and Table roles, so it shares no account
with data or another app, and it is protected in prod). It reaches each
task function's own app with a durable HTTP call carrying a token of its identity for the
service's backend audience; each task app accepts that identity only (callers.py), so task
code runs with its own grants, never with the union of them. The identity is made before the
task apps, whose settings name it (callers.orchestrator_identity).

Starting. `workflow.start(id, input)` sends `{"instance_id": id, "input": state}` to the
workflow's start queue (starters hold Message Sender on that queue only); the orchestrator
app's queue trigger starts an orchestration with the caller's id as its instance id. The
extension refuses to start an id that is pending or running
(`overridableExistingInstanceStates` NonRunningStates) and the trigger skips an id whose
instance exists in any state, so an id that ran or runs is never started again. A start
message that cannot be processed goes to the start queue's poison queue after
`START_RECEIVES` attempts.
"""

from __future__ import annotations

import json

import pulumi

from .. import wiring
from ..spec import WorkflowSpec
from ..workflow.durable import compile_durable
from .callers import orchestrator_identity
from .context import AzureContext, fit
from .function import TASK_PATH, AppBuild, AppHandle, create_app
from .queue import consumer_grants, consumer_settings
from .storage import QueuePair

START_RECEIVES = 5
#: The compiled definition (not `ANYCLOUD_WORKFLOW_*`, which would read as a wired workflow).
DEFINITION = "ANYCLOUD_DEFINITION"
DURABLE = "AzureFunctionsJobHost__extensions__durableTask"


def hub_name(workflow: str) -> str:
    """A task hub name: letters and digits, a letter first, at most 45 characters."""
    return f"hub{fit(workflow, 42, hyphens=False)}"


def create_workflow(ctx: AzureContext, spec: WorkflowSpec, apps: dict[str, AppHandle], build: AppBuild,
                    start: QueuePair, audience: pulumi.Output[str], parent: pulumi.Resource) -> AppHandle:
    tasks = spec.task_functions()
    definition = pulumi.Output.all(audience, *[apps[t].base_url for t in tasks]).apply(
        lambda v: json.dumps(compile_durable(spec, {t: f"{u}{TASK_PATH}" for t, u in zip(tasks, v[1:])}, v[0]),
                             separators=(",", ":")))
    name = f"{spec.name}-run"

    def settings(identity) -> dict:
        return {
            **consumer_settings(start, START_RECEIVES, 1, identity),
            f"{DURABLE}__hubName": hub_name(spec.name),
            f"{DURABLE}__storageProvider__maxQueuePollingInterval": "00:00:10",
            f"{DURABLE}__overridableExistingInstanceStates": "NonRunningStates",
            DEFINITION: definition,
            wiring.SERVICE: ctx.spec.name,
            wiring.ENVIRONMENT: ctx.settings.environment,
            wiring.TRIGGERS: "orchestrator",
        }

    app = create_app(ctx, name, None, ["orchestrator"], settings, build, parent,
                     identity=orchestrator_identity(ctx, spec.name))
    consumer_grants(ctx, name, app, start, parent)
    return app
