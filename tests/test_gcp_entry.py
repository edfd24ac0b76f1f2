"""The GCP entrypoint through functions-framework's own test client, with Firestore on the emulator.

Requests carry what Google's callers send: API Gateway's appended path, X-Cloud-Trace-Context
and X-Apigateway-Api-Userinfo; Pub/Sub push envelopes; Workflows' JSON state.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from pathlib import Path

import pytest

from runtime.gcp import entry
from tests.conftest import SERVICE_FUNCTIONS
from tests.support import sample_handlers
from tests.support.firestore_emulator import emulator_client, firestore_emulator  # noqa: F401 (fixture)

MAIN = Path(__file__).resolve().parent.parent / "functions" / "runtime" / "gcp" / "main.py"
KEYS = json.dumps({"key": ["id"], "indexes": {}})
TRACE = {"X-Cloud-Trace-Context": "0af7651916cd43dd8448eb211c80319c/1;o=1"}


@pytest.fixture
def serve(monkeypatch, firestore_emulator):  # noqa: F811
    """A functions-framework app serving `handle` with a function's environment."""
    import functions_framework

    def make(handler: str, triggers: str, routes: str = "", tables: tuple[str, ...] = ("items",), verified: str = ""):
        database = f"db-{uuid.uuid4().hex[:12]}"
        env = {"ANYCLOUD_SERVICE": "svc", "ANYCLOUD_FUNCTION": handler, "ANYCLOUD_ENVIRONMENT": "test",
               "ANYCLOUD_HANDLER": f"tests.support.sample_handlers:{handler}", "ANYCLOUD_TRIGGERS": triggers,
               "GOOGLE_CLOUD_PROJECT": "anycloud-test"}
        if routes:
            env["ANYCLOUD_ROUTES"] = routes
        if verified:
            env["ANYCLOUD_VERIFIED_ROUTES"] = verified
        for table in tables:
            env[f"ANYCLOUD_TABLE_{table.upper()}"] = database
            env[f"ANYCLOUD_KEYS_{table.upper()}"] = KEYS
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        entry.reset()
        app = functions_framework.create_app(target="handle", source=str(MAIN))
        return app.test_client(), emulator_client(database)

    yield make
    entry.reset()


def push(body: dict, message_id: str = "m-1", attempt: int = 1) -> dict:
    data = base64.b64encode(json.dumps(body).encode()).decode()
    return {"message": {"data": data, "messageId": message_id, "attributes": {}},
            "subscription": "projects/anycloud-test/subscriptions/items-consume", "deliveryAttempt": attempt}


# ------------------------------------------------------------------ routes


def test_a_route_gets_its_path_parameters_trace_id_and_headers(serve):
    client, _ = serve("echo", "route", "GET /things/{thing_id}")
    response = client.get("/things/42?verbose=1", headers={**TRACE, "X-Custom": "yes"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["params"] == {"thing_id": "42"} and body["query"] == {"verbose": "1"}
    assert body["request_id"] == body["ctx_request_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert response.headers["x-request-id"] == "0af7651916cd43dd8448eb211c80319c"
    assert client.get("/elsewhere", headers=TRACE).status_code == 404


def test_route_errors_never_show_internals(serve):
    client, _ = serve("crash", "route", "GET /crash")
    response = client.get("/crash", headers=TRACE)
    assert response.status_code == 500
    assert response.get_json() == {"error": "InternalError", "message": "internal error",
                                   "request_id": "0af7651916cd43dd8448eb211c80319c"}
    refused, _ = serve("refuse", "route", "GET /missing")
    assert refused.get("/missing").get_json()["error"] == "NotFound"


def test_an_idempotent_route_replays_and_refuses_another_body_per_caller(serve):
    client, db = serve("create", "route", "POST /items", tables=("items", "idempotency"), verified="POST /items")
    alice = base64.urlsafe_b64encode(json.dumps({"sub": "alice"}).encode()).decode().rstrip("=")
    headers = {**TRACE, "Idempotency-Key": "k-1", "X-Apigateway-Api-Userinfo": alice}
    before = sample_handlers.CALLS["create"]
    first = client.post("/items", json={"name": "a"}, headers=headers)
    again = client.post("/items", json={"name": "a"}, headers=headers)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    assert sample_handlers.CALLS["create"] == before + 1
    assert client.post("/items", json={"name": "b"}, headers=headers).status_code == 409
    assert len(list(db.collection("items").stream())) == 1
    bad = client.post("/items", data=b"{not json", headers={**headers, "Idempotency-Key": "k-2",
                                                             "Content-Type": "application/json"})
    assert bad.status_code == 400 and len(list(db.collection("items").stream())) == 1


def userinfo(sub: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")


@pytest.mark.parametrize("verified", [True, False])
def test_claims_are_read_only_on_routes_whose_jwt_the_gateway_verified(serve, verified):
    """Two callers, one idempotency key: scoped per verified caller on an authenticated route; on a
    public route (or without apiAuth) a client-sent X-Apigateway-Api-Userinfo is ignored."""
    client, db = serve("create", "route", "POST /items", tables=("items", "idempotency"),
                       verified="POST /items" if verified else "")
    for sub, name in (("alice", "a"), ("bob", "b")):
        response = client.post("/items", json={"name": name}, headers={
            **TRACE, "Idempotency-Key": "k-1", "X-Apigateway-Api-Userinfo": userinfo(sub)})
        assert response.status_code == (201 if verified or sub == "alice" else 409), sub
    assert len(list(db.collection("items").stream())) == (2 if verified else 1)


# ------------------------------------------------------------------ consumers


def test_a_push_is_processed_and_acknowledged_with_its_delivery_attempt(serve):
    client, db = serve("consume", "consumer")
    response = client.post("/", json=push({"id": "i-1"}, attempt=2), headers=TRACE)
    assert response.status_code == 204
    (doc,) = db.collection("items").stream()
    assert doc.to_dict()["receive_count"] == 2 and doc.to_dict()["message_id"] == "m-1"


def test_a_failing_message_is_negatively_acknowledged_so_pubsub_retries(serve):
    client, db = serve("consume", "consumer")
    response = client.post("/", json=push({"id": "i-2", "fail": True}), headers=TRACE)
    assert response.status_code == 500 and "retried" in response.get_json()["message"]
    assert list(db.collection("items").stream()) == []


@pytest.mark.parametrize("body, content_type", [
    (b"not json", "application/json"),
    (json.dumps({"subscription": "s"}).encode(), "application/json"),
    (json.dumps({"message": {"messageId": "m", "data": "%%%"}}).encode(), "application/json"),
    (json.dumps({"message": {"messageId": "m", "data": base64.b64encode(b"nope").decode()}}).encode(), "application/json"),
    (b"x" * (2 * 1024 * 1024), "application/octet-stream"),
])
def test_unreadable_pushes_get_4xx_and_leave_no_trace(serve, body, content_type):
    client, db = serve("consume", "consumer")
    response = client.post("/", data=body, headers={**TRACE, "Content-Type": content_type})
    assert 400 <= response.status_code < 500
    assert list(db.collection("items").stream()) == []


def test_the_same_message_body_twice_is_processed_once(serve):
    client, db = serve("consume", "consumer", tables=("items", "idempotency"))
    before = sample_handlers.CALLS["consume"]
    for attempt in (1, 2):
        assert client.post("/", json=push({"id": "i-3"}, message_id=f"m-{attempt}"), headers=TRACE).status_code == 204
    assert sample_handlers.CALLS["consume"] == before + 1


# ------------------------------------------------------------------ tasks


def test_a_task_answers_by_the_workflows_http_contract(serve):
    client, _ = serve("task", "task")
    ok = client.post("/", json={"n": 7}, headers=TRACE)
    assert ok.status_code == 200 and ok.get_json() == {"seen": 7, "request_id": "0af7651916cd43dd8448eb211c80319c"}
    declined = client.post("/", json={"raise": "business"})
    assert declined.status_code == 422 and declined.get_json() == {"error": "PaymentDeclined", "message": "card declined"}
    bug = client.post("/", json={"raise": "bug"})
    assert bug.status_code == 500 and bug.get_json() == {"error": "TaskFailed", "message": "internal error"}
    assert client.post("/", data=b"{", headers={"Content-Type": "application/json"}).status_code == 400


# ------------------------------------------------------------------ logs


def test_logs_are_cloud_logging_json_with_the_trace():
    formatter = entry.CloudLoggingFormatter("anycloud-test")
    record = logging.LogRecord("anycloud", logging.WARNING, __file__, 1, "message failed", (), None)
    record.trace_id, record.message_id = "0af7651916cd43dd8448eb211c80319c", "m-1"
    line = json.loads(formatter.format(record))
    assert line["severity"] == "WARNING" and line["message"] == "message failed" and line["message_id"] == "m-1"
    assert line["logging.googleapis.com/trace"] == "projects/anycloud-test/traces/0af7651916cd43dd8448eb211c80319c"


def test_every_rendered_function_imports_in_a_fresh_process_with_only_its_environment(gcp_dev):
    """What Cloud Functions does at start: import main.py with the rendered environment (no
    network: clients are created on first use); the handler is resolved at import."""
    import os
    import subprocess
    import sys

    root = MAIN.parent.parent.parent
    code = ("import sys; sys.path.insert(0, 'runtime/gcp'); import main, runtime.gcp.entry as e; "
            "h = e.instance().handler; print(f'{h.__module__}:{h.__name__}')")
    for fn in gcp_dev.of_type("gcp:cloudfunctionsv2/function:Function"):
        env = {k: str(v) for k, v in fn.inputs["serviceConfig"]["environmentVariables"].items()}
        if env.get("ANYCLOUD_TRIGGERS") == "start":  # a workflow's starter has no handler to resolve
            continue
        # the source's root, and the test services' handlers (a team's are in the source itself)
        path = os.pathsep.join([str(root), str(SERVICE_FUNCTIONS)])
        env.update(PATH=os.environ.get("PATH", ""), PYTHONPATH=path, GOOGLE_CLOUD_PROJECT="anycloud-test")
        out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
        assert out.returncode == 0, (fn.name, out.stderr[-500:])
        assert out.stdout.strip().splitlines()[-1] == env["ANYCLOUD_HANDLER"], fn.name
