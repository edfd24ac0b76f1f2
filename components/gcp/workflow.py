"""Cloud Workflows: the compiled workflow, its own account, started from its own topic.

The portable definition compiles to Workflows YAML (components/workflow/gcp.py). The
workflow's account may invoke its task functions and nothing else of theirs; its
definition and execution data are encrypted with the service key; calls are logged
(errors only in prod, no payloads).

Starting. `roles/workflows.invoker` exists only project-wide (Workflows has no resource IAM
and no IAM-condition attribute), so no function holds it. `workflow.start(id, input)`
publishes `{"execution_id": id, "input": state}` to the workflow's start topic (the function
holds publisher on that topic only), and an Eventarc trigger whose dedicated account is the
only holder of the invoker role starts an execution per message.

One execution per id. Workflows takes no caller-chosen execution id, and Pub/Sub and
Eventarc deliver at least once, so the program's first step claims the id: it creates the
document `starts/<workflow>/ids/<id>` in the service's workflow-starts Firestore database (a
create fails with 409 if the document exists) and a duplicate ends at once, successfully,
without calling any task. Only the workflow's account may write that database. Claims
expire after `CLAIM_DAYS` (a TTL policy), well past any redelivery.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from ..spec import SpecError, WorkflowSpec
from ..workflow.gcp import compile_workflows, to_yaml
from .context import GcpContext
from .function import FunctionHandle
from .identity import WORKFLOWS_INVOKER, Identity, invoker, service_account, table_grant

CLAIM_DAYS = 30
#: Claims live at starts/<workflow>/ids/<execution id>; the TTL policy is on the `ids` group.
CLAIMS = "starts"
CLAIM_IDS = "ids"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
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
    start_topic: gcp.pubsub.Topic
    identity: Identity


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
    main = {"params": ["event"], "steps": [
        {"read_start": {"assign": [{"start": "${json.decode(base64.decode(event.data.message.data))}"}]}},
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
    database = gcp.firestore.Database(
        "workflow-starts",
        name=ctx.physical("workflow-starts"),
        location_id=ctx.region,
        type="FIRESTORE_NATIVE",
        cmek_config=gcp.firestore.DatabaseCmekConfigArgs(kms_key_name=ctx.key_name) if ctx.key else None,
        point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
        delete_protection_state="DELETE_PROTECTION_ENABLED" if ctx.settings.prod else "DELETE_PROTECTION_DISABLED",
        deletion_policy="DELETE",
        opts=ctx.opts(parent, cmek=True),
    )
    gcp.firestore.Field("workflow-starts-ttl", database=database.name, collection=CLAIM_IDS, field="expires_at",
                        ttl_config=gcp.firestore.FieldTtlConfigArgs(), opts=ctx.opts(database))
    return database


def create_workflow(ctx: GcpContext, spec: WorkflowSpec, functions: dict[str, FunctionHandle],
                    claims: gcp.firestore.Database, start_topic: gcp.pubsub.Topic, parent: pulumi.Resource) -> WorkflowHandle:
    tasks = spec.task_functions()
    identity = service_account(ctx, spec.name, f"workflow {spec.name}", parent)
    grants = [invoker(ctx, f"{spec.name}-calls-{name}", functions[name].function, identity, parent) for name in tasks]
    grants.append(table_grant(ctx, f"{spec.name}-claims", identity, claims, "write", parent))
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
        deletion_protection=ctx.settings.prod,
        opts=ctx.opts(parent, cmek=True, depends_on=grants),
    )
    starter = service_account(ctx, f"{spec.name}-start", f"starts workflow {spec.name}", parent)
    allowed = gcp.projects.IAMMember(f"{spec.name}-starter-invokes", project=ctx.project, role=WORKFLOWS_INVOKER,
                                     member=starter.member, opts=ctx.opts(parent))
    gcp.eventarc.Trigger(
        f"{spec.name}-start",
        name=ctx.physical(f"{spec.name}-start"),
        location=ctx.region,
        matching_criterias=[gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="type", value=PUBLISHED)],
        transport=gcp.eventarc.TriggerTransportArgs(pubsub=gcp.eventarc.TriggerTransportPubsubArgs(topic=start_topic.id)),
        destination=gcp.eventarc.TriggerDestinationArgs(workflow=workflow.id),
        service_account=starter.email,
        opts=ctx.opts(parent, depends_on=[allowed]),
    )
    return WorkflowHandle(workflow=workflow, start_topic=start_topic, identity=identity)
