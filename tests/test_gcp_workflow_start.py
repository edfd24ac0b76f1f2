"""One execution per id on GCP: the deployed program claims the id before running any task.

The rendered `sourceContents` runs on the Workflows interpreter with the argument the workflow's
starter creates the execution with (the start message); the Firestore connector's createDocument
is a stand-in answering as Firestore does (the document, or a 409 error for an existing id). The
starter itself (functions/runtime/gcp/start.py) runs from its rendered environment against a
stand-in of the Executions API.
"""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from google.auth.credentials import AnonymousCredentials

from runtime.gcp import entry
from runtime.gcp.messaging import Clients, Executions
from runtime.gcp.start import start_argument
from tests.support.google_standin import StandIn
from tests.support.workflows_interpreter import Interpreter, WorkflowError, validate

CREATE_DOCUMENT = "googleapis.firestore.v1.projects.databases.documents.createDocument"
ORDER = {"order": {"order_id": "7d0c0a1e-0000-4000-8000-000000000001", "total": 2500}}


def event(execution_id: str, state: dict) -> dict:
    """The execution argument the starter creates for a start message."""
    return json.loads(start_argument({"execution_id": execution_id, "input": state}))


def push(body, attempt: int = 1) -> bytes:
    data = base64.b64encode(json.dumps(body).encode()).decode()
    return json.dumps({"message": {"data": data, "messageId": f"m-{attempt}"}, "subscription": "s",
                       "deliveryAttempt": attempt}).encode()


class Claims:
    """createDocument as Firestore answers it: the new document, or ALREADY_EXISTS (409)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}

    def __call__(self, args: dict) -> dict:
        path = f"{args['parent']}/{args['collectionId']}/{args['documentId']}"
        if path in self.documents:
            raise WorkflowError({"code": 409, "message": "ALREADY_EXISTS: Document already exists",
                                 "tags": ["HttpError"]})
        self.documents[path] = args["body"]
        return {"name": path, **args["body"]}


@pytest.fixture
def deployed(gcp_dev):
    (workflow,) = gcp_dev.of_type("gcp:workflows/workflow:Workflow")
    program = yaml.safe_load(workflow.inputs["sourceContents"])
    validate(program)
    urls = {f.outputs["serviceConfig"]["uri"] for f in gcp_dev.of_type("gcp:cloudfunctionsv2/function:Function")}
    handlers = {url: (lambda request: (200, {"ok": True})) for url in urls}
    env = {**workflow.inputs["userEnvVars"], "GOOGLE_CLOUD_PROJECT_ID": "anycloud-orders-4711"}
    return program, handlers, env


def test_the_first_start_runs_and_a_duplicate_ends_without_calling_a_task(deployed):
    program, handlers, env = deployed
    claims = Claims()
    first = Interpreter(program, handlers, env, {CREATE_DOCUMENT: claims}).run(event("order-1", ORDER))
    assert first.status == "SUCCEEDED", first.error
    tasks = [c for c in first.calls if c.method == "POST"]
    assert tasks and all(c.body.get("order") == ORDER["order"] for c in tasks[:1])
    (claim_path,) = claims.documents
    assert claim_path.endswith("/documents/starts/fulfil-order/ids/order-1")
    assert claim_path.startswith("projects/anycloud-orders-4711/databases/")
    assert claims.documents[claim_path]["fields"]["expires_at"]["timestampValue"].endswith("Z")

    again = Interpreter(program, handlers, env, {CREATE_DOCUMENT: claims}).run(event("order-1", ORDER))
    assert again.status == "SUCCEEDED" and again.result == {"duplicate": "order-1"}
    assert [c.method for c in again.calls] == ["CONNECTOR"]

    other = Interpreter(program, handlers, env, {CREATE_DOCUMENT: claims}).run(event("order-2", ORDER))
    assert other.status == "SUCCEEDED" and [c for c in other.calls if c.method == "POST"]


def test_a_claim_that_fails_otherwise_fails_the_execution_before_any_task(deployed):
    program, handlers, env = deployed

    def unavailable(args):
        raise WorkflowError({"code": 503, "message": "UNAVAILABLE", "tags": ["HttpError"]})

    run = Interpreter(program, handlers, env, {CREATE_DOCUMENT: unavailable}).run(event("order-3", ORDER))
    assert run.status == "FAILED" and run.error["code"] == 503
    assert [c.method for c in run.calls] == ["CONNECTOR"]


@pytest.fixture
def starter(gcp_dev):
    """The rendered starter, its Executions calls going to a stand-in that answers as the API does."""
    (fn,) = [f for f in gcp_dev.of_type("gcp:cloudfunctionsv2/function:Function") if f.name == "fulfil-order-start"]
    env = {k: str(v) for k, v in fn.inputs["serviceConfig"]["environmentVariables"].items()}
    standin = StandIn()
    workflow = env["ANYCLOUD_START_WORKFLOW"]
    clients = Clients({"executions": lambda: Executions(standin.url, credentials=AnonymousCredentials())})
    entry.reset()
    assert isinstance(entry.instance(env), entry.Starter)  # what the entrypoint serves with this environment
    entry.reset()
    yield entry.Starter(env, clients), standin, workflow
    standin.close()


def test_the_rendered_starter_creates_one_execution_with_the_start_message(starter, gcp_dev):
    instance, standin, workflow = starter
    (rendered,) = gcp_dev.of_type("gcp:workflows/workflow:Workflow")
    assert workflow == rendered.id
    standin.answers[("POST", f"/v1/{workflow}/executions")] = lambda body: (200, {"name": f"{workflow}/executions/e1"})
    status, _, _ = instance.handle("POST", "/", {}, {}, push({"execution_id": "order-1", "input": ORDER}))
    assert status == 204
    (call,) = standin.received
    assert call.path == f"/v1/{workflow}/executions"
    assert json.loads(call.body["argument"]) == {"execution_id": "order-1", "input": ORDER}


def test_a_refused_start_is_retried_and_an_unreadable_one_is_dead_lettered_never_started(starter):
    instance, standin, workflow = starter
    standin.answers[("POST", f"/v1/{workflow}/executions")] = lambda body: (503, {"error": {"code": 503}})
    status, body, _ = instance.handle("POST", "/", {}, {}, push({"execution_id": "order-2", "input": ORDER}))
    assert status == 500 and body["error"] == "StartFailed"  # Pub/Sub redelivers, then dead-letters
    for bad in ({"input": ORDER}, {"execution_id": "", "input": ORDER}, {"execution_id": "x", "input": [1]}):
        status, body, _ = instance.handle("POST", "/", {}, {}, push(bad))
        assert status == 400 and body["error"] == "MalformedMessage", bad
    assert len(standin.received) == 1  # only the first, refused one reached the API
    assert instance.handle("GET", "/", {}, {}, b"")[0] == 404
