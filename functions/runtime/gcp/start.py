"""A workflow's starter: each Pub/Sub push from the workflow's start topic becomes one execution.

The renderer (components/gcp/workflow.py) pushes the start topic through its own subscription,
whose dead-letter topic keeps what cannot be started and is alerted on, to this function; its
account is the only holder of ``roles/workflows.invoker``. ``ANYCLOUD_START_WORKFLOW`` names the
workflow (``projects/P/locations/R/workflows/W``). A start message is ``{"execution_id", "input"}``
(messaging.Workflow.start) and becomes the execution's argument as it is:

- 204 once the execution is created (acknowledged);
- 400 for a push or a message that is not a start (Pub/Sub redelivers it, then dead-letters it:
  never started, never dropped);
- 500 when the Executions API refuses or fails (retried with back-off, then dead-lettered).

Delivery is at least once: a start redelivered after its execution was created creates a second
execution, whose first step finds the id already claimed and ends without running a task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from .. import dispatch
from ..contracts import check_execution_id
from .events import MalformedPush, push_message, request_id
from .messaging import EXECUTION_ID, INPUT, Clients

START_WORKFLOW = "ANYCLOUD_START_WORKFLOW"
TRIGGER = "start"


def start_argument(body: Any) -> str:
    """The execution argument for a start message, or MalformedPush naming what is wrong."""
    if not isinstance(body, Mapping) or not isinstance(body.get(EXECUTION_ID), str) \
            or not isinstance(body.get(INPUT), Mapping):
        raise MalformedPush(f"a start message is {{{EXECUTION_ID!r}: string, {INPUT!r}: object}}")
    try:
        check_execution_id(body[EXECUTION_ID])
    except ValueError as err:
        raise MalformedPush(str(err)) from None
    return json.dumps({EXECUTION_ID: body[EXECUTION_ID], INPUT: dict(body[INPUT])}, separators=(",", ":"))


class Starter:
    """What a starter instance keeps: the workflow it starts and the Executions client."""

    def __init__(self, env: Mapping[str, str], clients: Clients | None = None):
        workflow = env.get(START_WORKFLOW, "")
        if not workflow.startswith("projects/") or "/workflows/" not in workflow:
            raise RuntimeError(f"{START_WORKFLOW} is {workflow!r}: the renderer sets the workflow "
                               "(projects/P/locations/R/workflows/W)")
        self.workflow = workflow
        self._clients = clients or Clients()
        self.logger = logging.getLogger("anycloud")

    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               body: bytes) -> tuple[int, Any, dict[str, str]]:
        trace = request_id({str(k).lower(): str(v) for k, v in headers.items()})
        if method.upper() != "POST":
            return 404, {"error": "NotFound", "message": "no such route", "request_id": trace}, dispatch.JSON_HEADERS
        try:
            message = push_message(body)
            argument = start_argument(message.body)
        except MalformedPush as err:
            self.logger.warning("not a start message; refused so it is dead-lettered",
                                extra={"trace_id": trace, "reason": str(err)})
            return 400, {"error": "MalformedMessage", "message": str(err)}, dispatch.JSON_HEADERS
        extra = {"trace_id": trace, "message_id": message.id, "receive_count": message.receive_count,
                 "execution_id": message.body[EXECUTION_ID]}
        try:
            execution = self._clients.get("executions").create(self.workflow, argument)
        except Exception as exc:
            self.logger.warning("workflow start failed; it will be retried", extra={**extra, "error": type(exc).__name__})
            return 500, {"error": "StartFailed", "message": "the start will be retried"}, dispatch.JSON_HEADERS
        self.logger.info("workflow execution created", extra={**extra, "execution": execution})
        return 204, None, {}
