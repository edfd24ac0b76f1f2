"""AzurePlatform: the Azure answer to each building block of the neutral service."""

from __future__ import annotations

from typing import Any

import pulumi

from .. import wiring
from ..settings import Settings, SettingsError, effective_auth, effective_origins
from ..spec import Access, ApiSpec, FunctionSpec, QueueSpec, SecretSpec, ServiceSpec, SpecError, TableSpec, WorkflowSpec
from .api import create_api, limitations
from .callers import audience, caller_settings, callers_of, only_callers
from .context import AzureContext
from .function import DEFAULT_SCALE_LIMIT, AppBuild, AppHandle, create_app, memory_size
from .identity import QUEUE_SENDER, SECRETS_USER, assign, user_identity
from .keys import service_key
from .observability import Watched, alerts, telemetry
from .queue import consumer_grants, consumer_settings
from .secret import SecretHandle, create_secret
from .storage import QueuePair, queue_pair, storage_account
from .stream import StreamStores, check as check_stream, consumed, consumer_settings as stream_settings, \
    create_stores, grants as stream_grants
from .table import Tables, check_key_names, create_account, create_table, table_grant
from .workflow import create_workflow


class AzurePlatform:
    @staticmethod
    def preflight(spec: ServiceSpec, settings: Settings) -> None:
        AzureContext.stack_location()
        if spec.api and not settings.alert_email:
            raise SettingsError("anycloud:alertEmail: not set; Azure API Management needs a publisher e-mail "
                                "address; allowed: an e-mail address like oncall@example.com")
        for table in spec.tables:
            check_key_names(table)
            check_stream(table)
        consumed: dict[str, str] = {}
        for queue in spec.queues:
            if queue.consumer in consumed:
                raise SpecError(f"queues.{queue.name}.consumer: {queue.consumer!r} already consumes queue "
                                f"{consumed[queue.consumer]!r}; allowed on Azure: one queue per consumer function "
                                "(a Function App's queue trigger listens on one queue)")
            consumed[queue.consumer] = queue.name

    def __init__(self, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource):
        self.ctx = ctx = AzureContext.create(spec, settings, parent)
        self.key = service_key(ctx)
        self.seen = telemetry(ctx)
        self.build = AppBuild(data=storage_account(ctx, "data", self.key, parent, protect=True), key=self.key,
                              insights_id=self.seen.insights.id,
                              insights_connection=self.seen.insights.connectionString)
        self.tables: Tables | None = None
        self.queues: dict[str, QueuePair] = {}
        self.start_queues: dict[str, QueuePair] = {}
        self.secrets: dict[str, SecretHandle] = {}
        #: Each streamed table's stores, and the table's neutral component (its grants' parent).
        self.streams: dict[str, tuple[StreamStores, pulumi.Resource]] = {}
        self.apps: dict[str, AppHandle] = {}
        self.watched = Watched()
        #: function -> (declared, Flex instance) memory in MB, where they differ
        self.rounded: dict[str, tuple[int, int]] = {}
        #: What Azure cannot do that the declaration asks for (the check prints these).
        self.notes: list[str] = []

    # ---------------------------------------------------------------- data stores
    def table(self, spec: TableSpec, parent: pulumi.Resource) -> dict[str, Any]:
        if self.tables is None:
            self.tables = create_account(self.ctx, self.key)
        create_table(self.ctx, self.tables, spec, parent)
        if spec.stream is not None:
            self.streams[spec.name] = (create_stores(self.ctx, self.tables, spec, self.build.data, parent), parent)
        return {"name": self.tables.containers[spec.name].name}

    def secret(self, spec: SecretSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.secrets[spec.name] = handle = create_secret(self.ctx, spec, parent)
        return {"id": handle.secret.id}

    def queue(self, spec: QueueSpec, parent: pulumi.Resource) -> dict[str, Any]:
        self.queues[spec.name] = pair = queue_pair(self.ctx, spec.name, self.build.data, parent)
        self.notes.append(f"queues.{spec.name}: a Storage queue message lives as long as its sender says (the Azure "
                          f"adapter sends with the declared {spec.retention_days} days); the host moves poison "
                          "messages with the default 7 days, within which the poison alert fires.")
        return {"url": pair.url, "dlq_url": pair.poison_url}

    # ------------------------------------------------------------------ compute
    def _start_queue(self, workflow: str) -> QueuePair:
        if workflow not in self.start_queues:
            self.start_queues[workflow] = queue_pair(self.ctx, f"{workflow}-start", self.build.data, self.ctx.parent)
        return self.start_queues[workflow]

    def _wiring_value(self, kind: str, name: str) -> pulumi.Input[str]:
        if kind == "table":
            return self.tables.url(name)
        if kind == "queue":
            return self.queues[name].url
        if kind == "workflow":
            return self._start_queue(name).url
        return self.secrets[name].reference

    def function(self, spec: FunctionSpec, parent: pulumi.Resource) -> dict[str, Any]:
        kinds, _ = wiring.triggers(self.ctx.spec, spec.name)
        consumed_queue = next((q for q in self.ctx.spec.queues if q.consumer == spec.name), None)
        streamed = consumed(self.ctx, spec.name)
        env = wiring.environment(self.ctx.spec, spec, self.ctx.settings.environment, self._wiring_value,
                                 wiring.reached(self.ctx.spec, spec))
        for queue in {a.resource for a in spec.uses if a.kind == "queue"}:
            # a Storage queue message lives as long as its sender says
            env[wiring.env_name("retention", queue)] = str(self.ctx.spec.queue(queue).retention_days * 86400)
        callers = callers_of(self.ctx, spec.name)
        if callers:  # reached over HTTP: the app verifies its callers itself too
            env.update(caller_settings(self.ctx, callers))

        def settings(identity) -> dict:
            out = dict(env)
            if consumed_queue is not None:
                out.update(consumer_settings(self.queues[consumed_queue.name], consumed_queue.max_receives,
                                             consumed_queue.batch_size, identity))
            if streamed is not None:
                out.update(stream_settings(self.tables, streamed, self.streams[streamed.name][0], identity))
            return out

        identity, waits_for = None, []
        if streamed is not None:  # the trigger starts with its grants: the app waits for them
            stores, block = self.streams[streamed.name]
            identity = user_identity(self.ctx, spec.name, parent)
            waits_for = stream_grants(self.ctx, self.tables, streamed, stores, spec.name, identity, spec.uses, block)
        self.apps[spec.name] = app = create_app(
            self.ctx, spec.name, spec, kinds, settings, self.build, parent, warm=spec.warm_instances,
            memory_mb=spec.memory_mb, timeout_s=spec.timeout_s,
            scale_limit=spec.reserved_concurrency or DEFAULT_SCALE_LIMIT,
            alerted=any(a.kind == "secret" for a in spec.uses), identity=identity, waits_for=waits_for,
            callers=callers)
        self.watched.apps[spec.name] = app.app.name
        if streamed is not None:
            self.watched.streams[streamed.name] = (self.streams[streamed.name][0].dead_letters.name, app.app.name)
        if any(a.kind == "secret" for a in spec.uses):
            self.watched.secret_readers[spec.name] = app.app.name
        if memory_size(spec.memory_mb) != spec.memory_mb:
            self.rounded[spec.name] = (spec.memory_mb, memory_size(spec.memory_mb))
        return {"name": app.app.name}

    def workflow(self, spec: WorkflowSpec, parent: pulumi.Resource) -> dict[str, Any]:
        app = create_workflow(self.ctx, spec, self.apps, self.build, self._start_queue(spec.name),
                              audience(self.ctx).client_id, parent)
        self.apps[app.name] = app
        self.watched.apps[app.name] = self.watched.workflows[spec.name] = app.app.name
        return {"id": app.app.id}

    # --------------------------------------------------------------- permissions
    def grant(self, function: str, access: Access) -> None:
        app = self.apps[function]
        name = f"{function}-{access.verb}-{access.kind}-{access.resource}"
        if access.kind == "table":
            table_grant(self.ctx, name, app.identity, self.tables, access.resource, access.verb, app.app)
        elif access.kind in ("queue", "workflow"):
            pair = self.queues[access.resource] if access.kind == "queue" else self._start_queue(access.resource)
            assign(self.ctx, name, app.identity, QUEUE_SENDER, pair.account.queue_scope(pair.queue.name), app.app)
        else:
            assign(self.ctx, name, app.identity, SECRETS_USER, self.secrets[access.resource].scope(), app.app)

    # ------------------------------------------------------------------ triggers
    def subscribe(self, spec: QueueSpec, parent: pulumi.Resource) -> None:
        self.watched.queues[spec.name] = (self.ctx.physical(spec.name, 56), self.apps[spec.consumer].app.name)
        consumer_grants(self.ctx, f"{spec.name}-{spec.consumer}", self.apps[spec.consumer], self.queues[spec.name],
                        parent)

    def api(self, spec: ApiSpec, parent: pulumi.Resource) -> dict[str, Any]:
        settings = self.ctx.settings
        handle = create_api(self.ctx, spec, effective_auth(spec, settings), effective_origins(spec, settings),
                            self.apps, audience(self.ctx).client_id, parent)
        self.notes += limitations(spec)
        self.watched.api = handle.service
        return {"url": handle.url}

    def finish(self) -> None:
        if self.rounded:
            listed = ", ".join(f"{name} {declared} -> {size} MB" for name, (declared, size) in self.rounded.items())
            self.notes.append(f"Flex Consumption instances have 512, 2048 or 4096 MB; each function runs on the smallest "
                              f"that holds its declared memory: {listed}.")
        for app in self.apps.values():
            if app.reached_over_http:
                only_callers(self.ctx, app, audience(self.ctx))
        self.notes += alerts(self.ctx, self.seen, self.watched)
