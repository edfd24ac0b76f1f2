"""`anycloud dev` end to end: the real command on a free port, requests over HTTP.

The reference service (tests/services) in a tmp project (the example's run is
tests/example/test_dev_example.py): an order posted, queued, consumed and fulfilled by the
workflow to COMPLETED (time scale 0); the store surviving a restart; idempotency keys; auth with
claims the developer chooses; CORS preflight; body limits and error bodies with request ids; the
console's page; and no cloud SDK in the process. Nothing here asserts a duration.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys

import pytest

from tests.support.dev_project import AUTH, DEV_STACK, ROOT, DevProcess, project, reference_args

ORDER = {"customer_id": "c-1", "total": 2500, "sku": "sku-1"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def unsigned_jwt(claims: dict, alg: str = "none", signature: str = "") -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}.{signature}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> DevProcess:
    """The reference service with CORS for http://localhost:3000, no auth (a dev stack), tables in memory."""
    directory = project(tmp_path_factory.mktemp("reference"))
    with DevProcess(*reference_args(directory), "--memory", "--time-scale", "0") as dev:
        yield dev


# ------------------------------------------------------------------------ round trips


def test_an_order_is_queued_consumed_and_completed_by_the_workflow(reference):
    status, headers, body = reference.request("POST", "/orders", ORDER)
    assert status == 202 and body["status"] == "PENDING" and headers["location"] == f"/orders/{body['order_id']}"
    assert UUID.match(headers["x-request-id"])
    done = reference.poll(f"/orders/{body['order_id']}", lambda b: b.get("status") in ("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED" and done["tracking_id"] == f"trk-{body['order_id']}"
    # One line per invocation: the route, the consumer with the message's receive count, each task with the execution id.
    reference.wait_for(lambda line: "mark-completed" in line and body["order_id"] in line)
    log = reference.output()
    assert re.search(r"route\s+create-order\s+ok .* POST /orders 202", log)
    assert re.search(r"consumer\s+process-order\s+ok .* queue orders receive 1", log)
    assert re.search(rf"task\s+charge-payment\s+ok .* {body['order_id']}  fulfil-order step charge-payment", log)
    assert f"workflow fulfil-order {body['order_id']} SUCCEEDED" in log


def test_a_declined_payment_is_caught_and_the_order_fails(reference):
    _, _, body = reference.request("POST", "/orders", {**ORDER, "total": 200_000})
    done = reference.poll(f"/orders/{body['order_id']}", lambda b: b.get("status") in ("COMPLETED", "FAILED"))
    assert done["status"] == "FAILED" and done["failure_reason"] == "PaymentDeclined"
    reference.wait_for(lambda line: f"workflow fulfil-order {body['order_id']} FAILED OrderFailed" in line)
    assert re.search(r"task\s+charge-payment\s+error .* PaymentDeclined", reference.output())


def test_errors_have_the_runtime_body_and_a_request_id(reference):
    status, headers, body = reference.request("POST", "/orders", {"customer_id": "c-1"})
    assert status == 400 and body["error"] == "ValidationFailed" and body["request_id"] == headers["x-request-id"]
    assert {f["field"] for f in body["fields"]} == {"total", "sku"}
    status, headers, body = reference.request("POST", "/orders", raw=b"{", headers={"content-type": "application/json"})
    assert (status, body["error"]) == (400, "MalformedJson")
    status, _, body = reference.request("POST", "/orders", raw=b"x=1", headers={"content-type": "text/plain"})
    assert (status, body["error"]) == (415, "UnsupportedMediaType")
    status, headers, body = reference.request("GET", "/nowhere")
    assert status == 404 and body == {"error": "NotFound", "message": "no such route", "request_id": headers["x-request-id"]}
    status, _, body = reference.request("DELETE", "/orders")
    assert status == 404


def test_body_limits(reference):
    big = json.dumps({**ORDER, "pad": "x" * (64 * 1024)}).encode()
    status, _, body = reference.request("POST", "/orders", raw=big, headers={"content-type": "application/json"})
    assert (status, body["error"]) == (413, "PayloadTooLarge")
    # Over the gateway's 10 MB: refused from the header, before any body is read.
    with socket.create_connection(("127.0.0.1", reference.port), timeout=10) as sock:
        sock.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 20000000\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # the server closes the connection: the body was never read
            received += chunk
        answer = received.decode()
    assert answer.startswith("HTTP/1.1 413") and '"error":"PayloadTooLarge"' in answer


def test_an_idempotency_key_replays_the_first_response(reference):
    headers = {"idempotency-key": "order-once"}
    first = reference.request("POST", "/orders", ORDER, headers)
    again = reference.request("POST", "/orders", ORDER, headers)
    assert first[0] == again[0] == 202 and first[2] == again[2]
    status, _, body = reference.request("POST", "/orders", {**ORDER, "total": 1}, headers)
    assert (status, body["error"]) == (409, "IdempotencyKeyReused")


def test_cors_from_the_stack_config(reference):
    preflight = {"origin": "http://localhost:3000", "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type"}
    status, headers, body = reference.request("OPTIONS", "/orders", headers=preflight)
    assert status == 204 and body is None
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert headers["access-control-allow-methods"] == "GET, OPTIONS, POST"
    assert headers["access-control-allow-headers"] == "authorization, content-type, idempotency-key"
    assert headers["access-control-max-age"] == "600"
    status, headers, _ = reference.request("OPTIONS", "/orders", headers={**preflight, "origin": "https://evil.example"})
    assert status == 204 and "access-control-allow-origin" not in headers
    status, headers, _ = reference.request("GET", "/health", headers={"origin": "http://localhost:3000"})
    assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:3000"
    status, headers, _ = reference.request("GET", "/health", headers={"origin": "https://evil.example"})
    assert status == 200 and "access-control-allow-origin" not in headers


def test_the_console_is_served_under_its_prefix(reference):
    status, headers, body = reference.request("GET", "/_anycloud")
    assert status == 200 and headers["content-type"].startswith("text/html") and "fulfil-order" in body


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}])
def test_a_console_action_from_another_site_is_refused(reference, headers):
    """Another website open in the developer's browser cannot re-drive or send (no CSRF)."""
    status, _, body = reference.request("POST", "/_anycloud/queues/orders/redrive/x", headers={
        **headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and "own pages" in body
    same = reference.request("POST", "/_anycloud/queues/orders/redrive/x", headers={
        "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"})
    assert same[0] == 303


# ------------------------------------------------------------------------------- auth


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> DevProcess:
    """The reference service on a stack with apiAuth: the non-public routes need a token."""
    directory = project(tmp_path_factory.mktemp("guarded"), {**DEV_STACK, "anycloud:apiAuth": AUTH})
    with DevProcess(*reference_args(directory), "--memory", "--time-scale", "0") as dev:
        yield dev


def test_a_route_that_needs_a_token_refuses_a_request_without_one(guarded):
    status, headers, body = guarded.request("GET", "/orders/123")
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert body["error"] == "Unauthorized" and body["request_id"] == headers["x-request-id"]
    assert "no Authorization header" in body["message"] and "unsigned JWT" in body["message"]
    assert guarded.request("GET", "/health")[0] == 200  # public
    guarded.wait_for(lambda line: re.search(r"route\s+get-order\s+refused .* GET /orders/123 401", line) is not None)


@pytest.mark.parametrize("token, reason", [
    (unsigned_jwt({"sub": "alice"}, alg="HS256", signature="c2ln"), "the token is signed"),
    (unsigned_jwt({"sub": "alice", "iss": "https://other.example/"}), "is not the issuer"),
    (unsigned_jwt({"sub": "alice", "aud": "another-api"}), "names none of the audiences"),
    ('{"sub": "alice", "exp": 1000}', "expired"),
    ("not-a-token", "neither a JWT nor a JSON object"),
])
def test_tokens_the_dev_server_refuses(guarded, token, reason):
    status, _, body = guarded.request("GET", "/orders/123", headers={"authorization": f"Bearer {token}"})
    assert status == 401 and reason in body["message"]


def test_claims_the_developer_chooses_pass_and_reach_the_function(guarded):
    """An unsigned JWT and a JSON object of claims both pass; the caller's `sub` scopes the
    function's idempotency records, as the deployed authorizer's claims do (runtime/dispatch.py)."""
    alice_jwt = {"authorization": "Bearer " + unsigned_jwt({"sub": "alice", "iss": AUTH["issuer"], "aud": "orders-api"})}
    alice_json = {"authorization": 'Bearer {"sub": "alice"}'}
    bob = {"authorization": 'Bearer {"sub": "bob", "scope": "orders"}'}
    assert guarded.request("GET", "/orders/123", headers=alice_jwt)[0] == 404  # the function ran: no such order
    key = {"idempotency-key": "k-1"}
    first = guarded.request("POST", "/orders", ORDER, {**alice_jwt, **key})
    replay = guarded.request("POST", "/orders", ORDER, {**alice_json, **key})
    other = guarded.request("POST", "/orders", ORDER, {**bob, **key})
    assert first[0] == replay[0] == other[0] == 202
    assert replay[2]["order_id"] == first[2]["order_id"]  # alice's key, alice's record
    assert other[2]["order_id"] != first[2]["order_id"]  # the same key is bob's own
    assert guarded.request("GET", f"/orders/{first[2]['order_id']}", headers=bob)[2]["customer_id"] == "c-1"


def test_stored_orders_survive_a_restart(tmp_path):
    directory = project(tmp_path)
    with DevProcess(*reference_args(directory), "--time-scale", "0") as dev:
        _, _, body = dev.request("POST", "/orders", ORDER)
        dev.poll(f"/orders/{body['order_id']}", lambda b: b.get("status") == "COMPLETED")
    assert dev.proc.returncode == 0 and "anycloud dev: stopped" in dev.output()
    with DevProcess(*reference_args(directory), "--time-scale", "0") as again:
        status, _, found = again.request("GET", f"/orders/{body['order_id']}")
        assert status == 200 and found["status"] == "COMPLETED"


def test_the_dev_process_imports_no_cloud_sdk(tmp_path):
    """Every module the process imported, from its own -X importtime report, once it served a request."""
    directory = project(tmp_path)
    with DevProcess(*reference_args(directory), "--memory", python=["-X", "importtime"]) as dev:
        assert dev.request("GET", "/health")[0] == 200
    modules = {line.split("|")[-1].strip() for line in dev.errors if line.startswith("import time:")}
    assert "components.dev.server" in modules and "watchfiles" in modules
    cloud = sorted(m for m in modules if m.split(".")[0] in ("boto3", "botocore", "azure", "pulumi")
                   or m.startswith(("pulumi_", "google.cloud", "google.api_core", "google.auth", "google.protobuf")))
    assert cloud == []


def test_the_dev_command_is_listed_by_anycloud_help():
    done = subprocess.run([sys.executable, "-m", "components", "--help"], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert re.search(r"\{check,dev,invoke\}", done.stdout)
