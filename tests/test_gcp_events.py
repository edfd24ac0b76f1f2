"""Google's callers' requests as the portable contracts: API Gateway, Pub/Sub push, Workflows.

Shapes follow Google's documentation: the push envelope (message.data base64, messageId,
attributes, subscription, deliveryAttempt), API Gateway's X-Apigateway-Api-Userinfo
(base64url JSON claims) and Cloud Trace's X-Cloud-Trace-Context.
"""

from __future__ import annotations

import base64
import json

import pytest

from runtime.dispatch import match_route
from runtime.gcp.events import (
    MAX_PUSH_BYTES,
    MalformedPush,
    caller_claims,
    push_message,
    request_id,
    route_request,
)

ROUTES = ["POST /orders", "GET /orders/{order_id}", "GET /health"]


def envelope(data: bytes | str | None, **message) -> bytes:
    body = {"message": {"messageId": "1234567890", "publishTime": "2026-12-01T10:00:00Z", **message},
            "subscription": "projects/p/subscriptions/orders-process-order", "deliveryAttempt": 3}
    if data is not None:
        body["message"]["data"] = data if isinstance(data, str) else base64.b64encode(data).decode()
    return json.dumps(body).encode()


@pytest.mark.parametrize("method, path, expected", [
    ("POST", "/orders", ("POST /orders", {})),
    ("GET", "/orders/7d0c0a1e", ("GET /orders/{order_id}", {"order_id": "7d0c0a1e"})),
    ("get", "/orders/7d0c0a1e/", ("GET /orders/{order_id}", {"order_id": "7d0c0a1e"})),
    ("GET", "/orders", None),
    ("DELETE", "/orders/1", None),
    ("GET", "/orders/1/items", None),
])
def test_routes_are_matched_by_method_and_template(method, path, expected):
    assert match_route(ROUTES, method, path) == expected


def test_request_id_and_claims_come_from_the_gateways_headers():
    claims = {"sub": "user-1", "iss": "https://auth.example.com/"}
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    headers = {"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1", "X-Apigateway-Api-Userinfo": encoded,
               "Content-Type": "application/json"}
    request = route_request("post", "/orders", {}, {"dry": "1"}, headers, b"{}")
    assert request.request_id == "105445aa7843bc8bf206b12000100000"
    assert request.headers["content-type"] == "application/json" and request.method == "POST"
    assert caller_claims(request.headers) == claims
    assert caller_claims({"x-apigateway-api-userinfo": "%%%"}) == {}
    assert request_id({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_push_becomes_a_message_with_its_delivery_attempt():
    message = push_message(envelope(json.dumps({"order_id": "o-1"}).encode(), attributes={"source": "create-order"}))
    assert (message.id, message.body, message.receive_count) == ("1234567890", {"order_id": "o-1"}, 3)
    assert message.attributes == {"source": "create-order"}


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not JSON"),
    (json.dumps({"subscription": "s"}).encode(), "no message"),
    (envelope("!!!not-base64!!!"), "base64"),
    (envelope(b"not json inside"), "base64-encoded JSON"),
    (envelope(json.dumps({"order_id": "o-1"}).encode()).replace(b'"messageId": "1234567890", ', b""), "messageId"),
    (b" " * (MAX_PUSH_BYTES + 1), "over"),
])
def test_unreadable_pushes_are_refused_with_the_reason_only(body, reason):
    with pytest.raises(MalformedPush) as info:
        push_message(body)
    assert reason in str(info.value) and "order_id" not in str(info.value)
