"""Cloud Workflows: the compiled workflow, its own account, started from its own topic.

The portable definition compiles to Workflows YAML (components/workflow/gcp.py). The
workflow's account may invoke its task functions and nothing else of theirs, and writes its
call logs (`roles/logging.logWriter`, whose lowest grantable level is the project: "the service
account executing the workflow [needs] a role that includes logging.logEntries.create",
https://cloud.google.com/workflows/docs/authentication); its definition and execution data are
encrypted with the service key; calls are logged (errors only in prod, no payloads).

Starting. `roles/workflows.invoker` exists only project-wide (Workflows has no resource IAM
and no IAM-condition attribute), so no declared function holds it. `workflow.start(id, input)`
publishes `{"execution_id": id, "input": state}` to the workflow's start topic (the function
holds publisher on that topic only). The start topic is a queue like any other
(components/gcp/queue.py): a push subscription with a dead-letter topic whose dead letters are
kept and alerted on, delivering to the workflow's starter function, whose own identity is the
only holder of the invoker role; it creates one execution with the start message as its argument
(functions/runtime/gcp/start.py). Not Eventarc: Eventarc owns the subscription it creates, so no
dead-letter policy of this stack can be on it, and a start that kept failing would be dropped.

One execution per id. Workflows takes no caller-chosen execution id, and Pub/Sub delivers at
least once, so the program's first step claims the id: it creates the document
`starts/<workflow>/ids/<id>` in the service's workflow-starts Firestore database (a create fails
with 409 if the document exists) and a duplicate ends at once, successfully, without calling any
task. Only the workflow's account may write that database. Claims expire after `CLAIM_DAYS` (a
TTL policy), well past any redelivery.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from .. import wiring
from ..spec import SpecError, WorkflowSpec
from ..workflow.gcp import compile_workflows, to_yaml
from .context import GcpContext
from .function import FunctionHandle, Shape, Source, create_function
from .identity import LOG_WRITER, WORKFLOWS_INVOKER, Identity, invoker, service_account, table_grant
from .queue import MAX_RETENTION_S, QueueHandle, subscribe
from .table import database, ttl_field

CLAIM_DAYS = 30
#: Claims live at starts/<workflow>/ids/<execution id>; the TTL policy is on the `ids` group.
CLAIMS = "starts"
CLAIM_IDS = "ids"
#: The starter's wiring (functions/runtime/gcp/start.py reads it): the workflow it starts.
START_WORKFLOW = "ANYCLOUD_START_WORKFLOW"
#: Deliveries of a start message before it is dead-lettered, and how long one may take.
START_RECEIVES = 5
START_TIMEOUT_S = 60
#: The start message's JSON keys (the GCP adapter's `workflow.start()` publishes them).
EXECUTION_ID, INPUT = "execution_id", "input"


#: Workflows refuses a source over 128 KB (the API's `sourceContents` limit).
MAX_SOURCE_BYTES = 128 * 1024
#: Longer than any Cloud Run URL a function gets (63-character name, hash, region code), so a
#: source compiled with it bounds the deployed one.
LONGEST_URL = "https://" + "x" * 92


@dataclass
class WorkflowHandle:
    workflow: gcp.workflows.Workflow
    identity: Identity
    starter: FunctionHandle
    start: gcp.pubsub.Subscription


def program(spec: WorkflowSpec, urls: dict[str, str]) -> dict:
    """The deployed program: claim the execution id, then run the compiled portable workflow."""
    compiled = compile_workflows(spec, urls)
    portable = compiled.pop("main")
    (param,) = portable.get("params", ["input"])
    entry = "portable_workflow"
    claim_args = {
        "collectionId": CLAIM_IDS,
        "parent": '${"projects/" + sys.get_env("GOOGLE_CLOUD_PROJECT_ID") + "/databases/" + '
                  'sys.get_env("ANYCLOUD_CLAIMS_DATABASE") + "/documents/' + CLAIMS + '/' + spec.name + '"}',
        "documentId": f"${{start.{EXECUTION_ID}}}",
        "body": {"fields": {"expires_at": {"timestampValue": f'${{time.format(sys.now() + {CLAIM_DAYS * 86400})}}'}}},
    }
    main = {"params": ["start"], "steps": [
        {"claim": {
            "try": {"call": "googleapis.firestore.v1.projects.databases.documents.createDocument", "args": claim_args},
            "except": {"as": "e", "steps": [
                {"already_started": {"switch": [{"condition": '${default(map.get(e, "code"), 0) == 409}',
                                                  "return": {"duplicate": f"${{start.{EXECUTION_ID}}}"}}]}},
                {"claim_failed": {"raise": "${e}"}},
            ]},
        }},
        {"run": {"call": entry, "args": {param: f"${{start.{INPUT}}}"}, "result": "outcome"}},
        {"done": {"return": "${outcome}"}},
    ]}
    return {"main": main, entry: portable, **compiled}


def source(spec: WorkflowSpec, urls: dict[str, str]) -> str:
    return to_yaml(program(spec, urls))


def check_source(spec: WorkflowSpec) -> None:
    """Compile with the longest URLs before anything is registered, so Workflows' limits
    (branches, nesting, source size) fail the preview, not the deploy."""
    size = len(source(spec, {f: LONGEST_URL for f in spec.task_functions()}).encode())
    if size > MAX_SOURCE_BYTES:
        raise SpecError(f"workflows.{spec.name}: compiles to up to {size} bytes of Workflows source; allowed: at "
                        f"most {MAX_SOURCE_BYTES} (128 KB). Split it, or use fewer steps or retry and catch entries.")


def claims_database(ctx: GcpContext, parent: pulumi.Resource) -> gcp.firestore.Database:
    claims = database(ctx, "workflow-starts", parent)
    ttl_field(ctx, "workflow-starts-ttl", claims, CLAIM_IDS, "expires_at")
    return claims


def create_workflow(ctx: GcpContext, spec: WorkflowSpec, functions: dict[str, FunctionHandle],
                    claims: gcp.firestore.Database, start: QueueHandle, code: Source,
                    parent: pulumi.Resource) -> WorkflowHandle:
    tasks = spec.task_functions()
    identity = service_account(ctx, spec.name, f"workflow {spec.name}", parent)
    grants = [invoker(ctx, f"{spec.name}-calls-{name}", functions[name].function, identity, parent) for name in tasks]
    grants.append(table_grant(ctx, f"{spec.name}-claims", identity, claims, "write", parent))
    grants.append(gcp.projects.IAMMember(f"{spec.name}-writes-logs", project=ctx.project, role=LOG_WRITER,
                                         member=identity.member, opts=ctx.opts(parent, api="cloudresourcemanager")))
    compiled = pulumi.Output.all(*[functions[name].url for name in tasks]).apply(
        lambda urls: source(spec, dict(zip(tasks, urls))))
    workflow = gcp.workflows.Workflow(
        spec.name,
        name=ctx.physical(spec.name),
        region=ctx.region,
        description=f"anycloud {ctx.prefix}: workflow {spec.name}",
        service_account=identity.account.id,
        source_contents=compiled,
        crypto_key_name=ctx.key_name,
        call_log_level="LOG_ERRORS_ONLY" if ctx.settings.prod else "LOG_ALL_CALLS",
        execution_history_level="EXECUTION_HISTORY_BASIC" if ctx.settings.prod else "EXECUTION_HISTORY_DETAILED",
        user_env_vars={"ANYCLOUD_CLAIMS_DATABASE": claims.name},
        deletion_protection=ctx.settings.guarded,
        opts=ctx.opts(parent, api="workflows", cmek=True, depends_on=grants),
    )
    starter, subscription = _starter(ctx, spec, workflow, start, code, parent)
    return WorkflowHandle(workflow=workflow, identity=identity, starter=starter, start=subscription)


def _starter(ctx: GcpContext, spec: WorkflowSpec, workflow: gcp.workflows.Workflow, start: QueueHandle,
             code: Source, parent: pulumi.Resource) -> tuple[FunctionHandle, gcp.pubsub.Subscription]:
    """The starter function, the invoker role for its account alone, and the start topic's push
    subscription to it (dead letters kept, like every queue's)."""
    name = f"{spec.name}-start"
    shape = Shape(name=name, purpose=f"starts workflow {spec.name}", timeout_s=START_TIMEOUT_S)
    environment = {wiring.SERVICE: ctx.spec.name, wiring.FUNCTION: name, wiring.ENVIRONMENT: ctx.settings.environment,
                   wiring.TRIGGERS: "start", wiring.TIMEOUT: str(START_TIMEOUT_S), START_WORKFLOW: workflow.id}
    starter = create_function(ctx, shape, code, environment, internal_only=True, parent=parent)
    gcp.projects.IAMMember(f"{spec.name}-starter-invokes", project=ctx.project, role=WORKFLOWS_INVOKER,
                           member=starter.identity.member, opts=ctx.opts(parent, api="cloudresourcemanager"))
    subscription = subscribe(ctx, name, start, starter, START_RECEIVES, f"{MAX_RETENTION_S}s", parent)
    return starter, subscription
