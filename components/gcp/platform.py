"""GcpPlatform: the GCP answer to each building block of the neutral service."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from .. import wiring
from ..settings import Settings, effective_auth, effective_origins
from ..spec import Access, ApiSpec, FunctionSpec, QueueSpec, SecretSpec, ServiceSpec, TableSpec, WorkflowSpec
from .api import VERIFIED_ROUTES, create_api, limitations
from .delays import DelaysHandle, allow_sender, create_delays, delays_var
from .context import GcpContext
from .function import FunctionHandle, Shape, Source, create_function, create_source
from .identity import PUBLISHER, SECRET_ACCESSOR, table_grant
from .keys import enable_apis, service_key
from .observability import Watched, alerts
from .queue import QueueHandle, create_queue, retention, subscribe
from .secret import create_secret
from .stream import StreamStores, connect, create_stores, stream_var, wiring as stream_wiring
from .table import create_table
from .workflow import check_source, claims_database, create_workflow


class GcpPlatform:
    @staticmethod
    def preflight(spec: ServiceSpec, settings: Settings) -> None:
        GcpContext.stack_region()
        for workflow in spec.workflows:
            check_source(workflow)

    def __init__(self, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource):
        self.ctx = GcpContext.create(spec, settings, parent)
        enable_apis(self.ctx)
        self.ctx.key = service_key(self.ctx)
        self.tables: dict[str, gcp.firestore.Database] = {}
        self.queues: dict[str, QueueHandle] = {}
        self.secrets: dict[str, gcp.secretmanager.Secret] = {}
        self.functions: dict[str, FunctionHandle] = {}
        self.starts: dict[str, QueueHandle] = {}
        #: Each sent-to queue's delayed path (Cloud Tasks), and each queue's neutral component.
        self.delays: dict[str, DelaysHandle] = {}
        self.queue_blocks: dict[str, pulumi.Resource] = {}
        self.source: Source | None = None
        self.claims: gcp.firestore.Database | None = None
        #: Each streamed table's stores, and the table's neutral component (the trigger's parent).
        self.streams: dict[str, tuple[StreamStores, pulumi.Resource]] = {}
        self.watched = Watched()
        #: What GCP cannot do that the declaration asks for (the check prints these).
        self.notes: list[str] = []

    # ---------------------------------------------------------------- data stores
    def table(self, spec: TableSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.tables[spec.name] = database = create_table(self.ctx, spec, parent)
        if spec.stream is not None:
            stores = create_stores(self.ctx, spec, parent)
            self.streams[spec.name] = (stores, parent)
            self.watched.streams[spec.name] = (stores.dead_letters.name, stores.kept.name)
            if spec.stream.batch_size > 1:
                self.notes.append(f"tables.{spec.name}.stream.batch_size: Eventarc delivers one Firestore change per "
                                  f"event, so the consumer gets batches of 1, not {spec.stream.batch_size}.")
        return {"name": database.name}

    def secret(self, spec: SecretSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.secrets[spec.name] = secret = create_secret(self.ctx, spec, parent)
        return {"id": secret.id}

    def queue(self, spec: QueueSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.queues[spec.name] = handle = create_queue(self.ctx, spec.name, parent)
        self.queue_blocks[spec.name] = parent
        if spec.retention_days * 86400 > 7 * 86400:
            self.notes.append(f"queues.{spec.name}: Pub/Sub subscriptions keep messages at most 7 days, not the "
                              f"declared {spec.retention_days}.")
        return {"url": handle.topic.id, "dlq_url": handle.dead_letters.id}

    # ------------------------------------------------------------------ compute
    def _start(self, workflow: str) -> QueueHandle:
        """A workflow's start path (topic, dead-letter topic, kept dead letters), made when the first
        starter or the workflow needs it."""
        if workflow not in self.starts:
            self.starts[workflow] = create_queue(self.ctx, f"{workflow}-start", self.ctx.parent)
        return self.starts[workflow]

    def _delays(self, queue: str) -> DelaysHandle:
        """The queue's delayed path (components/gcp/delays.py), made for its first sender."""
        if queue not in self.delays:
            self.delays[queue] = create_delays(self.ctx, queue, self.queues[queue].topic, self.queue_blocks[queue])
            self.watched.delays[queue] = self.delays[queue].queue.name
            if self.ctx.key is not None and len(self.delays) == 1:
                self.notes.append("queue delays: Cloud Tasks takes its customer-managed key per project and region, "
                                  "which pulumi-gcp has no resource for: delayed messages wait under Google's keys until "
                                  f"`gcloud tasks cmek-config update --location={self.ctx.region} --kms-key-name=<the "
                                  "service key>` is run once (https://cloud.google.com/tasks/docs/use-cmek).")
        return self.delays[queue]

    def _wiring_value(self, kind: str, name: str) -> pulumi.Input[str]:
        if kind == "table":
            return self.tables[name].name
        if kind == "queue":
            return self.queues[name].topic.id
        if kind == "workflow":
            return self._start(name).topic.id
        return self.secrets[name].id

    def _source(self) -> Source:
        if self.source is None:
            self.source = create_source(self.ctx, self.ctx.parent)
        return self.source

    def function(self, spec: FunctionSpec, parent: pulumi.Resource) -> dict[str, Any]:
        kinds, routes = wiring.triggers(self.ctx.spec, spec.name)
        streams = [t for t in self.ctx.spec.tables if t.stream is not None and t.stream.consumer == spec.name]
        reached = {**wiring.reached(self.ctx.spec, spec), **self._verified(routes),
                   **{stream_var(t.name): stream_wiring(t, self.tables[t.name], self.streams[t.name][0])
                      for t in streams},
                   **{delays_var(a.resource): self._delays(a.resource).path
                      for a in spec.uses if a.kind == "queue" and a.verb == "send"}}
        env = wiring.environment(self.ctx.spec, spec, self.ctx.settings.environment, self._wiring_value, reached)
        handle = create_function(self.ctx, Shape.of(spec), self._source(), env, internal_only="route" not in kinds,
                                 parent=parent)
        self.functions[spec.name] = handle
        for table in streams:
            stores, block = self.streams[table.name]
            connect(self.ctx, table, self.tables[table.name], stores, handle, block)
        self.watched.functions[spec.name] = handle.function.name
        return {"name": handle.function.name}

    def _verified(self, routes: list[str]) -> dict[str, str]:
        """`ANYCLOUD_VERIFIED_ROUTES`: the routes of this function on which API Gateway verifies a JWT,
        the only ones whose `X-Apigateway-Api-Userinfo` the GCP adapter may read."""
        api = self.ctx.spec.api
        if api is None or effective_auth(api, self.ctx.settings) is None:
            return {}
        verified = [r.key for r in api.routes if r.key in routes and not r.public]
        return {VERIFIED_ROUTES: ",".join(verified)} if verified else {}

    def workflow(self, spec: WorkflowSpec, parent: pulumi.Resource) -> dict[str, Any]:
        if self.claims is None:
            self.claims = claims_database(self.ctx, self.ctx.parent)
        start = self._start(spec.name)
        handle = create_workflow(self.ctx, spec, self.functions, self.claims, start, self._source(), parent)
        self.watched.workflows[spec.name] = handle.workflow.name
        self.watched.functions[handle.starter.shape.name] = handle.starter.function.name
        self.watched.queues[handle.starter.shape.name] = (handle.start.name, start.kept.name)
        return {"id": handle.workflow.id}

    # --------------------------------------------------------------- permissions
    def grant(self, function: str, access: Access) -> None:
        handle = self.functions[function]
        who, parent = handle.identity, handle.function
        name = f"{function}-{access.verb}-{access.kind}-{access.resource}"
        if access.kind == "table":
            table_grant(self.ctx, name, who, self.tables[access.resource], access.verb, parent)
        elif access.kind in ("queue", "workflow"):
            target = (self.queues[access.resource] if access.kind == "queue" else self._start(access.resource)).topic
            gcp.pubsub.TopicIAMMember(name, topic=target.id, role=PUBLISHER, member=who.member,
                                      opts=self.ctx.opts(parent, api="pubsub"))
            if access.kind == "queue":
                allow_sender(self.ctx, f"{name}-delays", self._delays(access.resource), who, parent)
        else:
            gcp.secretmanager.SecretIamMember(name, secret_id=self.secrets[access.resource].id, role=SECRET_ACCESSOR,
                                              member=who.member, opts=self.ctx.opts(parent, api="secretmanager"))

    # ------------------------------------------------------------------ triggers
    def subscribe(self, spec: QueueSpec, parent: pulumi.Resource) -> None:
        handle = self.queues[spec.name]
        subscription = subscribe(self.ctx, spec.name, handle, self.functions[spec.consumer], spec.max_receives,
                                 retention(spec), parent)
        self.watched.queues[spec.name] = (subscription.name, handle.kept.name)

    def api(self, spec: ApiSpec, parent: pulumi.Resource) -> dict[str, Any]:
        settings = self.ctx.settings
        handle = create_api(self.ctx, spec, effective_auth(spec, settings), self.functions, parent)
        self.notes += limitations(spec, effective_origins(spec, settings))
        self.watched.api = handle.gateway.gateway_id
        return {"url": handle.url}

    def finish(self) -> None:
        self.notes += alerts(self.ctx, self.watched)
