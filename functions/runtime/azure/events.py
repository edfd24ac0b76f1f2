"""What Azure's callers send a function app, as the portable contracts (no client libraries).

- API Management forwards the client's request to the route app's backend (`/api` + the
  route's path); the app's HTTP trigger serves `{*path}`, so the path arrives as the
  `path` route parameter, matched against the routes the function serves
  (``ANYCLOUD_ROUTES``). API Management validated the caller's JWT and forwards it in
  ``X-Anycloud-User-Token`` (``Authorization`` carries API Management's own token, which the
  app verifies before anything else, callers.py; only API Management reaches a route app, and
  it overwrites the header, so it cannot be forged);
  the request id is API Management's, in ``X-Request-Id``, else the W3C ``traceparent``.
- A queue trigger delivers the message text (Base64-decoded by the host) with its dequeue
  count; the text is the JSON the producer sent.
- The orchestrator POSTs the state as JSON to a task app's ``/api/task`` (DESIGN.md section 5).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ..contracts import Message

USER_TOKEN_HEADER = "x-anycloud-user-token"
REQUEST_ID_HEADER = "x-request-id"
#: The route a task app answers the orchestrator on (components/azure/function.py TASK_PATH).
TASK_ROUTE = "task"
#: A Storage queue message is at most 64 KiB.
MAX_MESSAGE_BYTES = 64 * 1024


class MalformedMessage(ValueError):
    """A queue message that is not a portable message (the reason, never the content)."""


def request_id(headers: Mapping[str, str]) -> str:
    """API Management's request id, else the W3C trace id, else ''."""
    if headers.get(REQUEST_ID_HEADER):
        return headers[REQUEST_ID_HEADER]
    fields = headers.get("traceparent", "").split("-")
    return fields[1] if len(fields) == 4 else ""


def caller_claims(headers: Mapping[str, str]) -> dict[str, Any]:
    """The claims of the JWT API Management validated ({} for public routes or an unreadable token)."""
    token = headers.get(USER_TOKEN_HEADER, "")
    scheme, _, jwt = token.partition(" ")
    parts = (jwt if scheme.lower() == "bearer" else token).split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def queue_message(message_id: str, text: bytes, dequeue_count: int | None) -> Message:
    """The portable Message a queue trigger carries."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"message over {MAX_MESSAGE_BYTES} bytes")
    try:
        body = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedMessage("message is not JSON") from None
    return Message(id=message_id, body=body, receive_count=dequeue_count or 1, attributes={})
