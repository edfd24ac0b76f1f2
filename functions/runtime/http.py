"""Route semantics every adapter shares: errors to responses, validation to 400, idempotency.

An adapter turns its event into a `Request`, binds a `Context`, and calls `run_route`; the
in-memory driver calls it the same way, so what a client sees does not depend on the cloud:

- `HttpError` -> its status and `{error, message, request_id[, fields]}`.
- a body that `parse_body` cannot fit to its model -> 400 `ValidationFailed` with
  `fields: [{field, message}]`: field paths and pydantic's messages only, never the values.
- anything else -> logged with its traceback, and a 500 that says "internal error". That
  includes a pydantic `ValidationError` from the service's own models: a server bug must not
  show clients internal field names as if their request were wrong.
- a route marked `@idempotent` with an `Idempotency-Key` header runs through the
  `IdempotencyStore`: the first completed response for a key is replayed; the same key with
  another body, or while the first request is still running, is 409 `IdempotencyKeyReused`.
  A handler that raises stores nothing, so the client can retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from .contracts import Context, HttpError, Request, Response, error_response, internal_error
from .handlers import load_handler

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IdempotencyStore",
    "Route",
    "body_hash",
    "field_errors",
    "idempotency_key",
    "idempotency_key_in_progress",
    "idempotency_key_reused",
    "load_handler",
    "refused",
    "run_route",
]

IDEMPOTENCY_HEADER = "idempotency-key"
# 1-128 printable ASCII characters (space to tilde), as the API documents.
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,128}")
# A client can send any key name as an extra field; keep what we return about it short.
_FIELD_MAX = 200
_LOGGER = logging.getLogger("anycloud")

Route = Callable[[Request, Context], Response]


class IdempotencyStore(Protocol):
    """Runs `compute` at most once per key; memory.py and the AWS adapter implement it."""

    def run(self, key: str, body_hash: str, compute: Callable[[], Response]) -> Response:
        """The stored Response for `key` when `body_hash` matches; else compute, store, return.

        HttpError 409 "IdempotencyKeyReused" for the same key with another hash, or while the
        first request with that key is still in progress. If `compute` raises, nothing is
        stored and the exception propagates.
        """
        ...


def idempotency_key_reused() -> HttpError:
    """What every `IdempotencyStore` raises for a known key with another body hash."""
    return HttpError(409, "IdempotencyKeyReused", "this Idempotency-Key was used with another request body")


def idempotency_key_in_progress() -> HttpError:
    """What every `IdempotencyStore` raises for a key whose first request has not finished."""
    return HttpError(409, "IdempotencyKeyReused", "a request with this Idempotency-Key is still in progress")


def body_hash(request: Request) -> str:
    """sha256 (hex) of the raw body: "the same request" for idempotency means the same bytes."""
    return hashlib.sha256(request.body).hexdigest()


def idempotency_key(request: Request) -> str | None:
    """The `Idempotency-Key` header, or None when absent; 400 when it is not 1-128 printable chars."""
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(raw):
        raise HttpError(400, "InvalidIdempotencyKey", "the Idempotency-Key header must be 1-128 printable ASCII characters")
    return raw


def field_errors(err: ValidationError) -> list[dict[str, str]]:
    """`[{field: "items.0.quantity", message}]` without the input values or pydantic's URLs."""
    out = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in e["loc"]) or "body"
        out.append({"field": field[:_FIELD_MAX], "message": e["msg"]})
    return out


M = TypeVar("M", bound=BaseModel)


def parse_body(request: Request, model: type[M]) -> M:
    """The JSON body validated by `model`; 400 naming the fields (not their values) when it does not fit."""
    try:
        return model.model_validate(request.json())
    except ValidationError as err:
        raise HttpError(400, "ValidationFailed", "the request is invalid; see fields", field_errors(err)) from None


def run_route(
    handler: Route,
    request: Request,
    ctx: Context,
    idempotency: IdempotencyStore | None = None,
    logger: logging.Logger = _LOGGER,
) -> Response:
    """Run `handler` for `request`; always returns a Response (see the module docstring)."""
    try:
        key = idempotency_key(request) if getattr(handler, "idempotent", False) else None
        if key is not None and idempotency is not None:
            return idempotency.run(key, body_hash(request), lambda: _call(handler, request, ctx))
        return _call(handler, request, ctx)
    except HttpError as err:
        return refused(err, request.request_id, logger)
    except Exception:
        logger.exception("route failed", extra={"request_id": request.request_id})
        return internal_error(request.request_id)


def refused(err: HttpError, request_id: str, logger: logging.Logger = _LOGGER) -> Response:
    """The client's answer to an `HttpError`, logged (status and error name only)."""
    logger.info("request refused", extra={"status": err.status, "error": err.error, "request_id": request_id})
    return error_response(err, request_id)


def _call(handler: Route, request: Request, ctx: Context) -> Response:
    response = handler(request, ctx)
    if not isinstance(response, Response):
        raise TypeError(f"route returned {type(response).__name__}, not Response")
    # Fail here, inside the handler's error mapping, rather than when the adapter encodes it.
    json.dumps(response.body)
    return response
