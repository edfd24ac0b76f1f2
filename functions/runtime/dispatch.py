"""What a function instance does with a route request, a queue message or a workflow task,
whatever cloud delivered it (the GCP and Azure adapters share it; AWS runs Powertools' own
batch and idempotency utilities).

- a route runs through runtime/http.py; an ``@idempotent`` route through the `idempotency`
  table, scoped to the function and the caller's verified ``sub``.
- a message runs the consumer; with the `idempotency` table declared, a message body already
  processed is not processed again. A failure raises, so the cloud retries and finally
  dead-letters it.
- a task gets DESIGN.md section 5's HTTP contract: 200 with the handler's JSON result, a
  `TaskError` 422 ``{"error": name, "message"}``, anything else 500 ``{"error": "TaskFailed",
  "message": "internal error"}``; a state that is not JSON is 400.

Once per instance the handler is imported (a wrong ``ANYCLOUD_HANDLER`` fails the start, not a
request) and the `Context` is bound; an ``@idempotent`` handler without the table fails the
start too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from . import wiring
from .contracts import Context, HttpError, Message, Request, Response, TaskError
from .handlers import load_handler
from .http import refused, run_route
from .idempotency import TableIdempotency

TRIGGERS = "ANYCLOUD_TRIGGERS"
ROUTES = "ANYCLOUD_ROUTES"
#: The function's timeout in seconds (the renderer sets it): no invocation runs longer.
TIMEOUT = "ANYCLOUD_TIMEOUT_S"
IDEMPOTENCY_TABLE = "idempotency"
#: How long an unfinished request or message holds its idempotency record: the function's
#: timeout and a margin, so a crashed instance blocks a retry no longer than the longest a live
#: one could still be working (a retry meeting the record fails and counts toward the message's
#: dead-lettering); past any timeout (540 s at most) when the function's is not known.
IN_PROGRESS_S = 600
IN_PROGRESS_MARGIN_S = 10
JSON_HEADERS = {"content-type": "application/json"}


def match_route(routes: Sequence[str], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """(route key, path parameters) of the first route whose method and path template match."""
    parts = [p for p in path.split("/") if p]
    for route in routes:
        route_method, _, template = route.partition(" ")
        if route_method.upper() != method.upper():
            continue
        pattern = [p for p in template.split("/") if p]
        if len(pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(pattern, parts):
            name = re.fullmatch(r"\{([^/{}]+)\}", want)
            if name:
                params[name.group(1)] = got
            elif want != got:
                break
        else:
            return route, params
    return None


class Instance:
    """The handler, how the function is reached, and its resources."""

    def __init__(self, env: Mapping[str, str], resources: Context):
        spec = env.get(wiring.HANDLER)
        if not spec:
            raise RuntimeError(f"{wiring.HANDLER} is not set: the renderer names the handler (module:function)")
        self.function = env.get(wiring.FUNCTION, "")
        self.handler = load_handler(spec)
        self.triggers = {t for t in env.get(TRIGGERS, "").split(",") if t}
        self.routes = [r for r in env.get(ROUTES, "").split(",") if r]
        self.resources = resources
        self.idempotency = resources.tables.get(IDEMPOTENCY_TABLE)
        timeout = env.get(TIMEOUT, "")
        self.in_progress_s = int(timeout) + IN_PROGRESS_MARGIN_S if timeout.isdigit() else IN_PROGRESS_S
        if getattr(self.handler, "idempotent", False) and self.idempotency is None:
            raise RuntimeError(f"{spec} is @idempotent: the function must declare the {IDEMPOTENCY_TABLE!r} table")
        self.logger = logging.getLogger("anycloud")

    def context(self, request_id: str) -> Context:
        return dataclasses.replace(self.resources, request_id=request_id)

    def route(self, request: Request, caller: Mapping[str, Any]) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None, headers) for a matched route; `caller` holds the verified claims."""
        request = dataclasses.replace(request, caller=str(caller.get("sub") or ""))
        store = None
        if getattr(self.handler, "idempotent", False):
            store = TableIdempotency(self.idempotency, f"{self.function}#{caller.get('sub') or 'anonymous'}",
                                     self.in_progress_s)
        response: Response = run_route(self.handler, request, self.context(request.request_id), idempotency=store,
                                        logger=self.logger)
        headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
        if response.body is not None:
            headers.setdefault("content-type", "application/json")
        headers.setdefault("x-request-id", request.request_id)
        return response.status, response.body, headers

    def message(self, message: Message, trace: str) -> None:
        """Process `message` once; raises when the consumer fails (the cloud retries it)."""
        extra = {"trace_id": trace, "message_id": message.id, "receive_count": message.receive_count}
        ctx = self.context(message.id)
        try:
            if self.idempotency is not None:
                store = TableIdempotency(self.idempotency, self.function, self.in_progress_s)
                if not store.once(message.body, lambda: self.handler(message, ctx)):
                    self.logger.info("message already processed", extra=extra)
            else:
                self.handler(message, ctx)
        except Exception as exc:
            self.logger.warning("message failed; it will be retried", extra={**extra, "error": type(exc).__name__})
            raise

    def task(self, body: bytes, trace: str) -> tuple[int, Any, dict[str, str]]:
        try:
            state = json.loads(body)
        except (ValueError, RecursionError):
            return 400, {"error": "TaskFailed", "message": "the state is not JSON"}, JSON_HEADERS
        try:
            result = self.handler(state, self.context(trace))
        except TaskError as err:
            self.logger.info("task failed with a business error", extra={"trace_id": trace, "error": err.name})
            return 422, {"error": err.name, "message": err.message}, JSON_HEADERS
        except HttpError as err:  # a task has no HTTP caller: an HttpError is a failure like any other
            refused(err, trace, self.logger)
            return 500, {"error": "TaskFailed", "message": "internal error"}, JSON_HEADERS
        except Exception:
            self.logger.exception("task failed", extra={"trace_id": trace})
            return 500, {"error": "TaskFailed", "message": "internal error"}, JSON_HEADERS
        return 200, result, JSON_HEADERS

    def not_found(self, trace: str) -> tuple[int, Any, dict[str, str]]:
        self.logger.info("no route", extra={"trace_id": trace, "status": 404})
        return 404, {"error": "NotFound", "message": "no such route", "request_id": trace}, JSON_HEADERS
