"""Lambda event shapes <-> the portable contracts (no boto3, no Powertools: cheap to import).

- API Gateway HTTP API, payload format 2.0 (``requestContext.http``) -> `Request`;
  `Response` -> ``{"statusCode", "headers", "body"}``.
- SQS batches (``Records`` whose ``eventSource`` is ``aws:sqs``) -> consumer.
- DynamoDB stream batches (``Records`` whose ``eventSource`` is ``aws:dynamodb``) -> the consumer
  of a table's changes (changes.py).
- Anything else is a workflow task's state (Step Functions invokes the task with the whole state).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ..contracts import HttpError, Request, Response

HTTP, SQS, STREAM, TASK = "http", "sqs", "stream", "task"
#: The eventSource of each record of a batch, and what the batch is.
_BATCHES = {"aws:sqs": SQS, "aws:dynamodb": STREAM}


def kind_of(event: Any) -> str:
    if isinstance(event, Mapping):
        context = event.get("requestContext")
        if isinstance(context, Mapping) and isinstance(context.get("http"), Mapping):
            return HTTP
        records = event.get("Records")
        if isinstance(records, list) and records and all(isinstance(r, Mapping) for r in records):
            sources = {r.get("eventSource") for r in records}
            if len(sources) == 1 and (source := sources.pop()) in _BATCHES:
                return _BATCHES[source]
    return TASK


def request_from(event: Mapping[str, Any]) -> Request:
    """The `Request` an HTTP API 2.0 event carries. Raises HttpError(400) for an undecodable body."""
    context = event["requestContext"]
    http = context["http"]
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body")
    if raw is None:
        body = b""
    elif event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "MalformedBody", "the body could not be decoded") from None
    else:
        body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    return Request(
        method=str(http.get("method", "GET")).upper(),
        path=event.get("rawPath") or http.get("path") or "/",
        request_id=str(context.get("requestId", "")),
        path_params=dict(event.get("pathParameters") or {}),
        query=dict(event.get("queryStringParameters") or {}),
        headers=headers,
        body=body,
        caller=caller_of(event),
    )


def caller_of(event: Mapping[str, Any]) -> str:
    """The authenticated caller (JWT ``sub``) API Gateway's authorizer verified; "" for public routes."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    return str(claims.get("sub", ""))


def http_response(response: Response, request_id: str = "") -> dict[str, Any]:
    """What API Gateway expects back (payload 2.0): the body is the JSON text, never base64."""
    headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
    if response.body is not None:
        headers.setdefault("content-type", "application/json")
    if request_id:
        headers.setdefault("x-request-id", request_id)
    return {"statusCode": response.status, "headers": headers, "body": response.encoded(), "isBase64Encoded": False}
