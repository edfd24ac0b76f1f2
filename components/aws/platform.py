"""AwsPlatform: the AWS answer to each building block of the neutral service."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from .. import wiring
from ..settings import Settings, effective_auth, effective_origins
from ..spec import Access, ApiSpec, FunctionSpec, QueueSpec, SecretSpec, ServiceSpec, TableSpec, WorkflowSpec
from .api import create_api
from .context import AwsContext
from .function import FunctionHandle, create_function
from .iam import statement
from .identity import QUEUE_CONSUME, QUEUE_SEND, SECRET_READ, TABLE_READ, TABLE_WRITE, WORKFLOW_START, key_use
from .keys import service_key
from .observability import Watched, alarm_topic, alarms, dashboard
from .queue import QueuePair, create_queue
from .secret import create_secret
from .stream import ChangeStream, create_change_stores, subscribe_changes
from .table import create_table, index_arns
from .workflow import create_workflow, state_machine_arn


class AwsPlatform:
    @staticmethod
    def preflight(spec: ServiceSpec, settings: Settings) -> None:
        """Nothing to check: the AWS provider takes its region and credentials from the environment too."""

    def __init__(self, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource):
        self.ctx = AwsContext.create(spec, settings, parent)
        self.ctx.key = service_key(self.ctx)
        self.tables: dict[str, aws.dynamodb.Table] = {}
        self.table_blocks: dict[str, pulumi.Resource] = {}
        self.queues: dict[str, QueuePair] = {}
        self.secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.functions: dict[str, FunctionHandle] = {}
        self.watched = Watched()
        self.notes: list[str] = []  # AWS does everything the neutral model asks

    # ---------------------------------------------------------------- data stores
    def table(self, spec: TableSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.tables[spec.name] = table = create_table(self.ctx, spec, parent)
        self.table_blocks[spec.name] = parent
        return {"name": table.name}

    def secret(self, spec: SecretSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.secrets[spec.name] = secret = create_secret(self.ctx, spec, parent)
        return {"id": secret.arn}

    def queue(self, spec: QueueSpec, parent: pulumi.Resource) -> dict[str, Any]:
        consumer = self.ctx.spec.function(spec.consumer)
        self.queues[spec.name] = pair = create_queue(self.ctx, spec, consumer, parent)
        self.watched.queues[spec.name] = (pair.queue.name, pair.dlq.name)
        return {"url": pair.queue.url, "dlq_url": pair.dlq.url}

    # ------------------------------------------------------------------ compute
    def _wiring_value(self, kind: str, name: str) -> pulumi.Input[str]:
        """The value a function's client needs for a declared resource."""
        if kind == "table":
            return self.tables[name].name
        if kind == "queue":
            return self.queues[name].queue.url
        if kind == "workflow":
            return state_machine_arn(self.ctx, name)
        return self.secrets[name].arn

    def _changes_consumed_by(self, function: str) -> ChangeStream | None:
        """The stores of the table stream `function` consumes (a function consumes one at most),
        made now: the consumer's wiring names them. Under the table's block, as its stream."""
        table = next((t for t in self.ctx.spec.tables if t.stream and t.stream.consumer == function), None)
        return None if table is None else create_change_stores(self.ctx, table, self.table_blocks[table.name])

    def function(self, spec: FunctionSpec, parent: pulumi.Resource) -> dict[str, Any]:
        changes = self._changes_consumed_by(spec.name)
        env = wiring.environment(self.ctx.spec, spec, self.ctx.settings.environment, self._wiring_value, {
            "POWERTOOLS_SERVICE_NAME": self.ctx.spec.name,
            "POWERTOOLS_METRICS_NAMESPACE": f"anycloud/{self.ctx.spec.name}",
            # Never put whole events or handler results into logs or traces.
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            **(changes.wiring() if changes else {}),
        })
        self.functions[spec.name] = handle = create_function(self.ctx, spec, env, parent)
        self.watched.functions[spec.name] = handle.function.name
        if changes is not None:
            subscribe_changes(self.ctx, changes, self.tables[changes.spec.name], handle)
            self.watched.streams[changes.spec.name] = (changes.dead_letters.name, handle.function.name)
        for queue in self.ctx.spec.queues:
            if queue.consumer == spec.name:
                pair = self.queues[queue.name]
                handle.identity.allow(
                    statement(f"Consume{_sid(queue.name)}", QUEUE_CONSUME, [pair.queue.arn]),
                    key_use(self.ctx, f"DecryptQueue{_sid(queue.name)}", ["kms:Decrypt"], "sqs"),
                )
        return {"name": handle.function.name}

    def workflow(self, spec: WorkflowSpec, parent: pulumi.Resource) -> dict[str, Any]:
        machine = create_workflow(self.ctx, spec, self.functions, parent)
        self.watched.workflows[spec.name] = machine.arn
        return {"id": machine.arn}

    # --------------------------------------------------------------- permissions
    def grant(self, function: str, access: Access) -> None:
        identity = self.functions[function].identity
        sid = f"{access.verb.title()}{_sid(access.kind)}{_sid(access.resource)}"
        if access.kind == "table":
            write = access.verb == "write"
            table_arns = index_arns(self.tables[access.resource], self.ctx.spec.table(access.resource))
            identity.allow(
                statement(sid, TABLE_WRITE if write else TABLE_READ, table_arns),
                key_use(self.ctx, f"{sid}Key", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"], "dynamodb"),
            )
        elif access.kind == "queue":
            identity.allow(
                statement(sid, QUEUE_SEND, [self.queues[access.resource].queue.arn]),
                key_use(self.ctx, f"{sid}Key", ["kms:Decrypt", "kms:GenerateDataKey"], "sqs"),
            )
        elif access.kind == "workflow":
            # No key use: Step Functions needs no KMS permission from a StartExecution caller
            # (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
            identity.allow(statement(sid, WORKFLOW_START, [state_machine_arn(self.ctx, access.resource)]))
        else:
            identity.allow(
                statement(sid, SECRET_READ, [self.secrets[access.resource].arn]),
                key_use(self.ctx, f"{sid}Key", ["kms:Decrypt"], "secretsmanager"),
            )

    def _seal_policies(self) -> None:
        """Every function's policy document, once all grants are in (Identity.seal is idempotent)."""
        for handle in self.functions.values():
            handle.identity.seal()

    # ------------------------------------------------------------------ triggers
    def subscribe(self, spec: QueueSpec, parent: pulumi.Resource) -> None:
        self._seal_policies()
        handle = self.functions[spec.consumer]
        aws.lambda_.EventSourceMapping(
            f"{spec.name}-to-{spec.consumer}",
            event_source_arn=self.queues[spec.name].queue.arn,
            function_name=handle.target_arn,
            batch_size=spec.batch_size,
            function_response_types=["ReportBatchItemFailures"],
            opts=self.ctx.opts(parent, depends_on=[handle.identity.policy]),
        )

    def api(self, spec: ApiSpec, parent: pulumi.Resource) -> dict[str, Any]:
        settings = self.ctx.settings
        api, stage = create_api(
            self.ctx, spec, effective_auth(spec, settings), effective_origins(spec, settings), self.functions, parent
        )
        self.watched.api_id = api.id
        return {"url": stage.invoke_url}

    def finish(self) -> None:
        self._seal_policies()
        topic = alarm_topic(self.ctx)
        alarms(self.ctx, topic, self.watched)
        dashboard(self.ctx, self.watched)


def _sid(name: str) -> str:
    """IAM statement ids are alphanumeric: `fulfil-order` -> `FulfilOrder`."""
    return "".join(part.title() for part in name.split("-"))
