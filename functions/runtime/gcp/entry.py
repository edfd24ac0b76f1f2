"""The one Cloud Functions entrypoint of every function: `handle`, run by functions-framework.

The GCP renderer deploys every function with entry point ``handle`` (the source's ``main.py``
re-exports it) and tells it what to run: ``ANYCLOUD_HANDLER`` (the portable handler),
``ANYCLOUD_TRIGGERS`` (route, consumer, task) and, for routes, ``ANYCLOUD_ROUTES``; a workflow's
starter (``ANYCLOUD_TRIGGERS=start``) is start.py's `Starter` instead. Each
request is dispatched by what the function serves and what arrived (what each does is
runtime/dispatch.py, shared with the Azure adapter):

- a route: the method and path match one of its routes (API Gateway appends the client's
  path to the function's URL). The `Response` goes back as is; errors follow runtime/http.py
  (`{error, message, request_id}`, 4xx for bad input, a 500 that says only "internal
  error"). The caller's claims are read from ``X-Apigateway-Api-Userinfo`` only on the routes
  where API Gateway verified a JWT (``ANYCLOUD_VERIFIED_ROUTES``): on a public route, or with no
  ``apiAuth``, nothing verified that header, and a client may have sent it. An ``@idempotent``
  route runs through the `idempotency` table, scoped to the function and the caller's ``sub``.
- a consumer: a Pub/Sub push. Success is 204 (acknowledged); a failure of the consumer is 500
  and an unreadable push 400, both negative acknowledgements, so Pub/Sub retries with
  back-off and dead-letters after ``max_receives`` deliveries. With the `idempotency` table
  declared, a message body already processed is acknowledged without running again.
- a table's changes: an Eventarc CloudEvent of a Firestore write (``ce-type``
  google.cloud.firestore.document.v1.*), read by changes.py into a `Message` and run like a
  queue message. 204 once delivered, superseded, not for this consumer (a delete without
  ``deletes``) or dead-lettered after ``max_receives`` deliveries (or at once when unreadable);
  409 while another change of the same item is being delivered and 500 when the consumer failed,
  both retried by Eventarc with back-off.
- a task: Workflows POSTs the state; 200 with the handler's JSON result, a `TaskError` is 422
  ``{"error": name, "message"}``, anything else 500 ``{"error": "TaskFailed", "message":
  "internal error"}`` (DESIGN.md section 5).

Once per instance: the handler is imported (a wrong ``ANYCLOUD_HANDLER`` fails the start, not
a request) and the `Context` is built (clients are created on first use). Logs are one JSON
object per line on stdout, which Cloud Logging reads as structured entries: ``severity``,
``message``, the request's trace, and the fields the code passes; never bodies or secrets.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import dispatch, wiring
from ..dispatch import match_route
from ..contracts import Context, Message
from . import changes
from ..instances import Instances
from .events import MalformedPush, caller_claims, push_message, request_id, route_request
from .firestore import Clients as FirestoreClients, build_tables
from .messaging import Clients, Queue, Secret, Workflow, delays_var, publish
from .start import START_WORKFLOW, TRIGGER, Starter

#: The routes whose JWT API Gateway verified (components/gcp/api.py sets them).
VERIFIED_ROUTES = "ANYCLOUD_VERIFIED_ROUTES"


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per record, in the fields Cloud Logging maps (severity, message, trace)."""

    SKIP = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def __init__(self, project: str = ""):
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"severity": record.levelname, "message": record.getMessage(), "logger": record.name}
        entry.update({k: v for k, v in vars(record).items() if k not in self.SKIP})
        trace = entry.pop("trace_id", None)
        if trace:
            entry["logging.googleapis.com/trace"] = f"projects/{self.project}/traces/{trace}" if self.project else trace
        if record.exc_info:
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "Exception"
        return json.dumps(entry, default=str)


def build_context(env: Mapping[str, str], clients: Clients) -> Context:
    """The declared resources, by name, from the wiring the GCP renderer sets."""
    function = env.get(wiring.FUNCTION, "")
    queues, workflows, secrets = {}, {}, {}
    for kind, name, value in wiring.wired(env):
        if kind == "queue":
            queues[name] = Queue(value, clients, sender=function, delays=env.get(delays_var(name), ""))
        elif kind == "workflow":
            workflows[name] = Workflow(value, clients)
        elif kind == "secret":
            secrets[name] = Secret(value, clients)
    return Context(tables=build_tables(env), queues=queues, workflows=workflows, secrets=secrets)


class Instance(dispatch.Instance):
    """What a function instance keeps between requests, and how a GCP request reaches it."""

    def __init__(self, env: Mapping[str, str], clients: Clients | None = None, context: Context | None = None,
                 databases: Callable[[str], Any] | None = None, clock: Callable[[], float] = time.time):
        self.clients = clients or Clients()
        super().__init__(env, context if context is not None else build_context(env, self.clients))
        self.verified = {r for r in env.get(VERIFIED_ROUTES, "").split(",") if r}
        self.streams = changes.Stream.all(env)
        databases = databases or FirestoreClients().get
        self.deliveries = {s.table: changes.Deliveries(lambda s=s: databases(s.deliveries), self.in_progress_s, clock)
                           for s in self.streams}

    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               body: bytes) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None, headers) for one HTTP request."""
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        trace = request_id(lowered)
        matched = match_route(self.routes, method, path) if "route" in self.triggers else None
        if matched is not None:
            request = route_request(method, path, matched[1], query, lowered, body)
            return self.route(request, caller_claims(lowered) if matched[0] in self.verified else {})
        if method.upper() == "POST" and "changes" in self.triggers and changes.is_change(lowered):
            return self.change(lowered, body, trace)
        if method.upper() == "POST" and "consumer" in self.triggers and ("task" not in self.triggers or _looks_like_push(body)):
            return self.consume(body, trace)
        if method.upper() == "POST" and "task" in self.triggers:
            return self.task(body, trace)
        return self.not_found(trace)

    def consume(self, body: bytes, trace: str) -> tuple[int, Any, dict[str, str]]:
        try:
            message = push_message(body)
        except MalformedPush as err:
            self.logger.warning("unreadable push; refused so it is dead-lettered", extra={"trace_id": trace, "reason": str(err)})
            return 400, {"error": "MalformedMessage", "message": str(err)}, dispatch.JSON_HEADERS
        try:
            self.message(message, trace)
        except Exception:
            return 500, {"error": "MessageFailed", "message": "the message will be retried"}, dispatch.JSON_HEADERS
        return 204, None, {}

    def change(self, headers: Mapping[str, str], body: bytes, trace: str) -> tuple[int, Any, dict[str, str]]:
        """One Firestore change from Eventarc (changes.py says what each answer means)."""
        try:
            stream, change = changes.read_change(headers, body, self.streams)
        except changes.MalformedEvent as err:
            return self._unreadable(headers, body, str(err), trace)
        extra = {"trace_id": trace, "change_id": change.id, "table": stream.table}
        deliveries = self.deliveries[stream.table]
        attempt = deliveries.claim(change)
        if attempt == changes.STALE:
            self.logger.info("change superseded by a newer one already delivered", extra=extra)
            return 204, None, {}
        if attempt == changes.BUSY:
            self.logger.info("another change of this item is being delivered; retried later", extra=extra)
            return 409, {"error": "ChangeBusy", "message": "the change will be retried"}, dispatch.JSON_HEADERS
        try:
            if change.item is not None or stream.deletes:
                if attempt > stream.max_receives:  # dead-lettering failed on the last delivery
                    self._dead_letter(stream, changes.dead_letter(change, stream, attempt - 1, "MessageFailed"), change)
                else:
                    self._deliver(stream, change, attempt, trace)
        except Exception:
            deliveries.release(change)
            return 500, {"error": "MessageFailed", "message": "the change will be retried"}, dispatch.JSON_HEADERS
        deliveries.settle(change)
        return 204, None, {}

    def _deliver(self, stream: changes.Stream, change: changes.Change, attempt: int, trace: str) -> None:
        """Run the consumer; after its last allowed failure, dead-letter the change instead of raising."""
        try:
            self.message(Message(id=change.id, body=change.body(stream), receive_count=attempt), trace)
        except Exception as exc:
            if attempt < stream.max_receives:
                raise
            self._dead_letter(stream, changes.dead_letter(change, stream, attempt, type(exc).__name__), change)

    def _dead_letter(self, stream: changes.Stream, record: dict[str, Any], change: changes.Change | None) -> None:
        publish(self.clients, stream.dead_letters, record, {"anycloud-table": stream.table,
                                                             **({"anycloud-change": change.id} if change else {})})
        self.logger.error("change dead-lettered", extra={"table": stream.table, "error": record["error"],
                                                         **({"change_id": change.id} if change else {})})

    def _unreadable(self, headers: Mapping[str, str], body: bytes, reason: str,
                    trace: str) -> tuple[int, Any, dict[str, str]]:
        """An event no retry can make readable: kept in the dead-letter topic of the stream it names
        (or this function's only stream), never retried for a day and dropped."""
        named = [s for s in self.streams if s.database == headers.get("ce-database")] or self.streams
        if len(named) != 1:
            self.logger.error("unreadable change event for no known stream", extra={"trace_id": trace, "reason": reason})
            return 400, {"error": "MalformedEvent", "message": reason}, dispatch.JSON_HEADERS
        try:
            self._dead_letter(named[0], changes.unreadable(headers, body, reason), None)
        except Exception:
            return 500, {"error": "MessageFailed", "message": "the event will be retried"}, dispatch.JSON_HEADERS
        return 204, None, {}


def _looks_like_push(body: bytes) -> bool:
    """For a function that is both a consumer and a task: a Pub/Sub push names its message and
    subscription at the top of the envelope; a workflow state does not."""
    return b'"message"' in body[:4096] or b'"subscription"' in body[:4096]


_instances: Instances[Instance] = Instances(Instance)
_starters: Instances[Starter] = Instances(Starter)


def instance(env: Mapping[str, str] | None = None) -> Instance | Starter:
    """This instance's state (runtime/instances.py: one per function environment): the starter of a
    workflow, or the instance serving a declared function."""
    env = os.environ if env is None else env
    return _starters.get(env) if env.get(dispatch.TRIGGERS) == TRIGGER else _instances.get(env)


def reset() -> None:
    """Forget every instance (tests)."""
    _instances.reset()
    _starters.reset()


def handle(request: Any) -> Any:
    """The functions-framework target: a Flask request in, a Flask response out."""
    from flask import Response as FlaskResponse

    status, body, headers = instance().handle(request.method, request.path, request.args.to_dict(),
                                               dict(request.headers), request.get_data(cache=False))
    payload = "" if body is None else json.dumps(body, separators=(",", ":"), sort_keys=True)
    return FlaskResponse(payload, status=status, headers=headers)


def configure_logging(project: str = "") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter(project))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


if os.environ.get(wiring.HANDLER) or os.environ.get(START_WORKFLOW):
    # On Cloud Functions: JSON logs, and the handler resolved at start (a wrong one fails the deploy's health check).
    configure_logging(os.environ.get("GOOGLE_CLOUD_PROJECT", ""))
    instance()
