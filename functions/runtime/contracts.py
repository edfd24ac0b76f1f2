"""Requests, responses, messages, errors and the resource interfaces a Context holds."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: Largest request body a route accepts (bytes); larger is 413.
MAX_BODY_BYTES = 64 * 1024


# ------------------------------------------------------------------------- errors


class TaskError(Exception):
    """A business failure of a workflow task, matched by name in the workflow's retry/catch."""

    def __init__(self, name: str, message: str = ""):
        super().__init__(message or name)
        self.name = name
        self.message = message or name


class HttpError(Exception):
    """A client-facing failure: becomes `{error, message, request_id[, fields]}` with `status`."""

    def __init__(self, status: int, error: str, message: str, fields: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.fields = fields


class ConditionFailed(Exception):
    """A conditional write did not apply (the item exists, or does not match `expect`)."""


# ------------------------------------------------------------------ HTTP contract


@dataclass(frozen=True)
class Request:
    """An HTTP request as every cloud can deliver it. Header names are lower case."""

    method: str
    path: str
    request_id: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: The verified caller's ``sub`` on a route behind the API's JWT auth ("" on an open or public
    #: route): the gateway or the adapter verified it, never a header the client sent.
    caller: str = ""

    def json(self) -> Any:
        """The body as JSON: 413 over the limit, 415 if not JSON, 400 if malformed."""
        if len(self.body) > MAX_BODY_BYTES:
            raise HttpError(413, "PayloadTooLarge", f"the body is larger than {MAX_BODY_BYTES} bytes")
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpError(415, "UnsupportedMediaType", "send the body as application/json")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, RecursionError):  # bad UTF-8 or JSON, huge integers, absurd nesting
            raise HttpError(400, "MalformedJson", "the body is not valid JSON") from None


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def encoded(self) -> str:
        return "" if self.body is None else json.dumps(self.body, separators=(",", ":"), sort_keys=True)


def error_response(err: HttpError, request_id: str) -> Response:
    body: dict[str, Any] = {"error": err.error, "message": err.message, "request_id": request_id}
    if err.fields is not None:
        body["fields"] = err.fields
    return Response(err.status, body, {"content-type": "application/json"})


def internal_error(request_id: str) -> Response:
    """What a client sees when the handler failed unexpectedly: no internal text."""
    return error_response(HttpError(500, "InternalError", "internal error"), request_id)


# --------------------------------------------------------------- queue contract


@dataclass(frozen=True)
class Message:
    """A queue message, or a table's change. Delivery is at least once.

    From a queue, `body` is the JSON that was sent. From a table stream (`TableSpec.stream`),
    `id` names the change and `body` is ``{"table": name, "key": {key attributes}, "item": the
    item after the change, or None once deleted}``: the state, not the delta (see
    components/spec.py StreamSpec)."""

    id: str
    body: Any
    receive_count: int = 1
    attributes: Mapping[str, str] = field(default_factory=dict)


# ------------------------------------------------------------ resource interfaces


class Table(Protocol):
    """A key-value table with optional sort key and secondary indexes."""

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None: ...

    def put(self, item: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Write `item`; with `if_absent`, ConditionFailed when an item with its key exists."""

    def update(self, key: Mapping[str, Any], changes: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Set `changes` on an existing item and return it; ConditionFailed when it does not exist
        or an attribute differs from `expect`."""

    def delete(self, key: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> None: ...

    def query(self, key: Mapping[str, Any], *, index: str | None = None, limit: int = 100, descending: bool = False) -> list[dict[str, Any]]:
        """Items whose partition key (of the table or `index`) equals `key`'s single entry."""


#: Longest message delay (seconds): SQS's limit, the smallest of the clouds'.
MAX_DELAY_S = 900
#: Longest workflow execution id: Step Functions' execution name limit.
MAX_EXECUTION_ID = 80


class Queue(Protocol):
    def send(self, body: Any, *, delay_s: int = 0) -> str:
        """Enqueue JSON `body`; returns the message id. ValueError for a delay over MAX_DELAY_S."""


class Workflow(Protocol):
    def start(self, execution_id: str, state: Mapping[str, Any]) -> bool:
        """Start an execution named `execution_id`; False (no second run) when it already exists.
        ValueError for an id that is empty or longer than MAX_EXECUTION_ID."""


def check_delay(delay_s: int) -> None:
    if not 0 <= delay_s <= MAX_DELAY_S:
        raise ValueError(f"delay_s must be 0-{MAX_DELAY_S}")


def check_execution_id(execution_id: str) -> None:
    if not execution_id or len(execution_id) > MAX_EXECUTION_ID:
        raise ValueError(f"execution id must be 1-{MAX_EXECUTION_ID} characters")


class Secret(Protocol):
    def get(self) -> str:
        """The secret value, cached for a while per instance."""


@dataclass
class Context:
    """Only the resources the function declared, by name; plus the request/invocation id."""

    tables: Mapping[str, Table] = field(default_factory=dict)
    queues: Mapping[str, Queue] = field(default_factory=dict)
    workflows: Mapping[str, Workflow] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    request_id: str = ""


def idempotent(fn: F) -> F:
    """Mark a route as idempotent by its `Idempotency-Key` header: the adapter stores the first
    response per key and replays it; the same key with another body is 409."""
    fn.idempotent = True  # type: ignore[attr-defined]
    return fn
