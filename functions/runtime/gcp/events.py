"""What Google's callers send a Cloud Function, as the portable contracts (no client libraries).

- API Gateway forwards the client's request to the route function with the original path
  appended to the function's URL (``APPEND_PATH_TO_ADDRESS``); the route key and its path
  parameters are recovered by matching the path against the routes the function serves
  (``ANYCLOUD_ROUTES``). The caller's verified JWT claims arrive base64url-encoded in
  ``X-Apigateway-Api-Userinfo``; the request id is the Cloud Trace id
  (``X-Cloud-Trace-Context: TRACE/SPAN;o=1``, or W3C ``traceparent``).
- Pub/Sub push POSTs ``{"message": {"data": <base64>, "messageId", "attributes"},
  "subscription", "deliveryAttempt"}``; the data is the JSON the producer sent.
- Workflows POSTs the state as JSON to a task function (DESIGN.md section 5).

A push that cannot be read (not JSON, no ``message``, bad base64, data that is not JSON, too
large) raises `MalformedPush`; the entrypoint answers 400, which Pub/Sub treats as a failed
delivery, so the message reaches the dead-letter topic after ``max_receives`` attempts instead
of being retried forever or dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ..contracts import Message, Request

#: Pub/Sub's message limit is 10 MB; a portable message is far smaller, and anything bigger
#: than this is not one of ours.
MAX_PUSH_BYTES = 1024 * 1024
USERINFO_HEADER = "x-apigateway-api-userinfo"


class MalformedPush(ValueError):
    """A Pub/Sub push body that is not a readable message (the reason, never the content)."""


def request_id(headers: Mapping[str, str]) -> str:
    """The Cloud Trace id of the request (what Cloud Logging correlates on), or ''."""
    trace = headers.get("x-cloud-trace-context", "")
    if trace:
        return trace.split("/", 1)[0]
    parent = headers.get("traceparent", "")
    fields = parent.split("-")
    return fields[1] if len(fields) == 4 else ""


def caller_claims(headers: Mapping[str, str]) -> dict[str, Any]:
    """The JWT claims API Gateway verified ({} for public routes or an unreadable header)."""
    raw = headers.get(USERINFO_HEADER, "")
    if not raw:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def route_request(method: str, path: str, params: Mapping[str, str], query: Mapping[str, str],
                  headers: Mapping[str, str], body: bytes) -> Request:
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    return Request(method=method.upper(), path=path or "/", request_id=request_id(lowered), path_params=dict(params),
                   query=dict(query), headers=lowered, body=body)


def push_message(body: bytes) -> Message:
    """The portable Message a Pub/Sub push carries."""
    if len(body) > MAX_PUSH_BYTES:
        raise MalformedPush(f"push body over {MAX_PUSH_BYTES} bytes")
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedPush("push body is not JSON") from None
    message = envelope.get("message") if isinstance(envelope, Mapping) else None
    if not isinstance(message, Mapping):
        raise MalformedPush("push body has no message")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedPush("message has no messageId")
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
        payload = json.loads(data.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise MalformedPush("message data is not base64-encoded JSON") from None
    attempt = envelope.get("deliveryAttempt")
    attributes = message.get("attributes") or {}
    return Message(
        id=message_id,
        body=payload,
        receive_count=attempt if isinstance(attempt, int) and attempt > 0 else 1,
        attributes={str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, Mapping) else {},
    )
