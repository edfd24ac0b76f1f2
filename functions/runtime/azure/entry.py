"""The one Azure Functions app every function app runs (Python v2 programming model).

The Azure renderer deploys the same package to every app and tells each what it hosts:
``ANYCLOUD_TRIGGERS`` (route, task, consumer, or orchestrator), ``ANYCLOUD_HANDLER`` (the
portable handler) and, for routes, ``ANYCLOUD_ROUTES``. `create_app` registers what that
says and nothing else:

- route and task: one HTTP trigger, ``http``, on ``{*path}`` (anonymous at the Functions level:
  App Service authentication in front admits the app's callers only, and the app verifies the
  caller's token itself before anything else, callers.py). ``POST /api/task`` is the
  orchestrator's call of a task (DESIGN.md section 5); any other path is matched against the
  function's routes, with runtime/http.py's error semantics.
- consumer: one queue trigger, ``consume``, on the queue in ``ANYCLOUD_TRIGGER_QUEUE`` over
  the identity-based connection ``ANYCLOUD_TRIGGER``. Success completes the message; a failure
  raises, so the host makes it visible again and, after ``maxDequeueCount`` dequeues (the
  app's settings), moves it to ``<queue>-poison``. A message that is not JSON can never
  succeed: it is sent to the poison queue at once (the app holds Message Sender there) and
  completed, instead of being retried. With the `idempotency` table declared, a message body
  already processed is completed without running again.
- changes: one Cosmos DB trigger, ``changes``, on the streamed table's change feed (changes.py
  says how it is wired and why): each document becomes a `Message` run like a queue message; a
  change that still fails on its ``max_receives``-th delivery is written to the stream's
  dead-letter queue and the invocation returns, any other failure raises so the trigger's retry
  policy (without limit) runs the batch again before it checkpoints.
- orchestrator: the generic Durable orchestrator (durable.py), and ``start``, a queue trigger
  on the workflow's start queue: ``{"instance_id", "input"}`` starts an orchestration of the
  compiled definition (``ANYCLOUD_DEFINITION``) with that instance id, unless an instance with
  that id exists in any state (the extension itself refuses ids that are pending or running).

Resources (`build_context`) use the app's user-assigned identity (``AZURE_CLIENT_ID``):
Cosmos DB tables, Storage queues, workflow start queues, and secrets, which arrive resolved:
the platform replaces a Key Vault reference in a setting with the secret's value. When it
cannot (no grant yet, a deleted secret, a network rule), it leaves the literal
``@Microsoft.KeyVault(...)`` text in the setting
(https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#troubleshooting-key-vault-references):
reading such a secret logs UNRESOLVED_SECRET (the renderer's log alert watches for it) and
raises SecretUnavailable, so the invocation fails instead of using the text as the secret.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import dispatch, wiring
from ..contracts import Context, HttpError, Message, Request
from ..dispatch import match_route
from ..http import refused
from ..instances import Instances
from ..secrets import CachedSecret
from . import changes
from .cosmos import build_tables
from .events import TASK_ROUTE, MalformedMessage, caller_claims, queue_message, request_id
from .messaging import INPUT, INSTANCE_ID, Clients, Queue, Workflow, check_instance_id, send_text

TRIGGER_CONNECTION = "ANYCLOUD_TRIGGER"
TRIGGER_QUEUE = "ANYCLOUD_TRIGGER_QUEUE"
DEFINITION = "ANYCLOUD_DEFINITION"
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_logger = logging.getLogger("anycloud")
#: The log line an unresolved Key Vault reference produces (components/azure/observability.py alerts on it).
UNRESOLVED_SECRET = "anycloud configuration error: unresolved Key Vault reference"
_REFERENCE = re.compile(r"^\s*@Microsoft\.KeyVault\(", re.IGNORECASE)


class SecretUnavailable(RuntimeError):
    """A declared secret whose Key Vault reference App Service did not resolve."""


def secret_loader(name: str, value: str) -> Callable[[], str]:
    """The secret's value, or, for a reference left unresolved, a loader that logs and raises."""
    if not _REFERENCE.match(value):
        return lambda: value

    def unresolved() -> str:
        message = (f"{UNRESOLVED_SECRET} for secret {name!r}: the app setting still holds the reference text; check "
                   "the app's Key Vault Secrets User grant, keyVaultReferenceIdentity and the vault's network rules")
        _logger.error(message)
        raise SecretUnavailable(message)

    return unresolved


def retention_var(queue: str) -> str:
    """`ANYCLOUD_RETENTION_<QUEUE>`: the seconds a sent message lives (the queue's retention)."""
    return wiring.var_name("RETENTION", queue)


def poison_url(env: Mapping[str, str]) -> str:
    """`<queue endpoint>/<trigger queue>-poison`, from the trigger's own settings."""
    endpoint = env[f"{TRIGGER_CONNECTION}__queueServiceUri"].rstrip("/")
    return f"{endpoint}/{env[TRIGGER_QUEUE]}-poison"


def build_context(env: Mapping[str, str], clients: Clients, container_for: Callable[[str], Any] | None = None) -> Context:
    """The declared resources, by name, from the wiring the Azure renderer sets."""
    queues, workflows, secrets = {}, {}, {}
    for kind, name, value in wiring.wired(env):
        if kind == "queue":
            ttl = env.get(retention_var(name))
            queues[name] = Queue(value, clients, ttl_s=int(ttl) if ttl else None)
        elif kind == "workflow":
            workflows[name] = Workflow(value, clients)
        elif kind == "secret":
            secrets[name] = CachedSecret(secret_loader(name, value))
    return Context(tables=build_tables(env, container_for), queues=queues, workflows=workflows, secrets=secrets)


class Instance(dispatch.Instance):
    """A function's instance, and how an Azure trigger reaches it."""

    def __init__(self, env: Mapping[str, str], clients: Clients | None = None, context: Context | None = None,
                 container_for: Callable[[str], Any] | None = None):
        self.clients = clients or Clients()
        super().__init__(env, context if context is not None else build_context(env, self.clients, container_for))
        self.poison = poison_url(env) if "consumer" in self.triggers else None
        self.stream = changes.Stream.from_env(env) if "changes" in self.triggers else None
        self.delivered = changes.Delivered()
        self.callers = None
        if self.triggers & {"route", "task"}:
            from .callers import Callers  # only apps reached over HTTP load PyJWT

            self.callers = Callers(env)

    def http(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
             body: bytes) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None, headers) for one request; `path` is after `/api`. The
        caller is verified first: an unverified one learns nothing, not even which paths exist."""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        trace = request_id(lowered)
        try:
            self.callers.verify(lowered.get("authorization"))
        except HttpError as err:
            self.logger.warning("caller refused", extra={"request_id": trace, "status": err.status,
                                                         "reason": getattr(err, "reason", err.message)})
            response = refused(err, trace, self.logger)
            return response.status, response.body, {**response.headers, "www-authenticate": "Bearer"}
        if "task" in self.triggers and method.upper() == "POST" and path.strip("/") == TASK_ROUTE:
            return self.task(body, trace)
        matched = match_route(self.routes, method, path) if "route" in self.triggers else None
        if matched is None:
            return self.not_found(trace)
        request = Request(method=method.upper(), path=path or "/", request_id=trace, path_params=matched[1],
                          query=dict(query), headers=lowered, body=body)
        return self.route(request, caller_claims(lowered))

    def consume(self, message_id: str, text: bytes, dequeue_count: int | None) -> None:
        """Process one queue message; raises to have the host retry it."""
        try:
            message = queue_message(message_id, text, dequeue_count)
        except MalformedMessage as err:
            _logger.warning("unreadable message; sent to the poison queue", extra={"message_id": message_id,
                                                                                   "reason": str(err)})
            send_text(self.clients, self.poison, text.decode("utf-8", "replace"))
            return
        self.message(message, message_id)

    def changes(self, documents: Sequence[Mapping[str, Any]], retry_count: int, trace: str) -> None:
        """One invocation of the Cosmos DB trigger (delivery `retry_count` + 1 of this batch);
        raises while a change that failed has deliveries left, so the batch is retried."""
        stream, attempt, failed = self.stream, retry_count + 1, 0
        for document in documents:
            try:
                change = changes.read_change(document, stream)
            except changes.MalformedChange as err:
                seen = f"{document.get('id')}:{document.get('_lsn')}"
                if seen not in self.delivered:
                    self._dead_letter(changes.unreadable(document, stream, str(err)), seen, 1, "MalformedChange")
                    self.delivered.add(seen)
                continue
            if change.id in self.delivered:
                continue
            if attempt > stream.max_receives:  # its last delivery failed, and so did its dead letter
                self._dead_letter(changes.failed_change(change, stream, attempt - 1, "MessageFailed"), change.id,
                                  attempt - 1, "MessageFailed")
            else:
                try:
                    self.message(Message(id=change.id, body=change.body(stream), receive_count=attempt), trace)
                except Exception as exc:
                    if attempt < stream.max_receives:
                        failed += 1
                        continue
                    error = type(exc).__name__
                    self._dead_letter(changes.failed_change(change, stream, attempt, error), change.id, attempt, error)
            self.delivered.add(change.id)
        if failed:
            raise changes.ChangesFailed(f"{failed} change(s) of table {stream.table} failed on delivery {attempt} of "
                                        f"{stream.max_receives}; the batch is retried")

    def _dead_letter(self, text: str, change: str, attempts: int, error: str) -> None:
        """Keep a change in the stream's dead-letter queue (never expiring), and say so in the log
        line the renderer's alert watches; a failed send raises (the batch is retried)."""
        send_text(self.clients, self.stream.dead_letters, text, ttl_s=changes.KEPT)
        _logger.error(f"{changes.DEAD_LETTERED} to '{self.stream.dead_letter_queue}': table {self.stream.table}, "
                      f"change {change}, {attempts} deliveries, {error}")


class Starter:
    """The orchestrator app's start trigger: one orchestration per instance id."""

    def __init__(self, env: Mapping[str, str], clients: Clients | None = None):
        raw = env.get(DEFINITION)
        if not raw:
            raise RuntimeError(f"{DEFINITION} is not set: the renderer compiles the workflow into it")
        self.definition = json.loads(raw)
        self.clients = clients or Clients()
        self.poison = poison_url(env)

    async def start(self, message_id: str, text: bytes, client: Any) -> str | None:
        """The started instance id, or None when the message was a duplicate or unreadable."""
        try:
            start = json.loads(text.decode("utf-8"))
            instance_id, state = start[INSTANCE_ID], start[INPUT]
            check_instance_id(instance_id)
            if not isinstance(state, dict):
                raise ValueError("the input is not a JSON object")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError) as err:
            _logger.warning("unreadable start message; sent to the poison queue",
                            extra={"message_id": message_id, "reason": type(err).__name__})
            send_text(self.clients, self.poison, text.decode("utf-8", "replace"))
            return None
        status = await client.get_status(instance_id)
        if status is not None and getattr(status, "runtime_status", None) is not None:
            _logger.info("workflow instance exists; not started again",
                         extra={"instance_id": instance_id, "status": str(status.runtime_status)})
            return None
        from .durable import ORCHESTRATOR_NAME

        return await client.start_new(ORCHESTRATOR_NAME, instance_id,
                                      {"definition": self.definition, "input": state})


_instances: Instances[Instance] = Instances(Instance)
_starters: Instances[Starter] = Instances(Starter)


def instance(env: Mapping[str, str] | None = None) -> Instance:
    return _instances.get(env)


def starter(env: Mapping[str, str] | None = None) -> Starter:
    return _starters.get(env)


def reset() -> None:
    """Forget every instance (tests)."""
    _instances.reset()
    _starters.reset()


def create_app(env: Mapping[str, str] | None = None) -> Any:
    """The FunctionApp for this app's settings, with only the triggers they name."""
    import azure.functions as func

    env = os.environ if env is None else env
    triggers = {t for t in env.get(dispatch.TRIGGERS, "").split(",") if t}
    if "orchestrator" in triggers:  # only an orchestrator app loads the Durable SDK
        import azure.durable_functions as df

        app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    else:
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    if triggers & {"route", "task"}:
        @app.route(route="{*path}", methods=HTTP_METHODS, auth_level=func.AuthLevel.ANONYMOUS)
        def http(req: func.HttpRequest) -> func.HttpResponse:
            status, body, headers = instance().http(req.method, "/" + req.route_params.get("path", ""),
                                                    dict(req.params), dict(req.headers), req.get_body())
            payload = None if body is None else json.dumps(body, separators=(",", ":"), sort_keys=True)
            return func.HttpResponse(payload, status_code=status, headers=headers)

    if "consumer" in triggers:
        @app.queue_trigger(arg_name="msg", queue_name=f"%{TRIGGER_QUEUE}%", connection=TRIGGER_CONNECTION)
        def consume(msg: func.QueueMessage) -> None:
            instance().consume(msg.id, msg.get_body(), msg.dequeue_count)

    if "changes" in triggers:
        stream = changes.Stream.from_env(env)

        @app.function_name(name="changes")
        @app.cosmos_db_trigger(arg_name="documents", connection=changes.CONNECTION,
                               database_name=f"%{changes.DATABASE}%", container_name=f"%{changes.CONTAINER}%",
                               lease_container_name=f"%{changes.LEASES}%", max_items_per_invocation=stream.batch_size,
                               start_from_beginning=True)
        @app.retry(strategy=changes.RETRY_STRATEGY, max_retry_count=changes.RETRY_FOREVER,
                   delay_interval=changes.RETRY_DELAY)
        def on_changes(documents: func.DocumentList, context: func.Context) -> None:
            retry = context.retry_context
            instance().changes(documents, retry.retry_count if retry is not None else 0, context.invocation_id)

    if "orchestrator" in triggers:
        from .durable import orchestrator

        app.orchestration_trigger(context_name="context")(orchestrator)

        @app.queue_trigger(arg_name="msg", queue_name=f"%{TRIGGER_QUEUE}%", connection=TRIGGER_CONNECTION)
        @app.durable_client_input(client_name="client")
        async def start(msg: func.QueueMessage, client) -> None:
            await starter().start(msg.id, msg.get_body(), client)

    if env is os.environ:  # on Azure: a wrong handler or missing wiring fails the start, not a request
        if triggers & {"route", "task", "consumer", "changes"}:
            instance()
        if "orchestrator" in triggers:
            starter()
    return app
