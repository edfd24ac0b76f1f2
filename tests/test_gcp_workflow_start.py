"""One execution per id on GCP: the deployed program claims the id before running any task.

The rendered `sourceContents` runs on the Workflows interpreter with the event Eventarc
delivers for a message on the start topic; the Firestore connector's createDocument is a
stand-in answering as Firestore does (the document, or a 409 error for an existing id).
"""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from tests.support.workflows_interpreter import Interpreter, WorkflowError, validate

CREATE_DOCUMENT = "googleapis.firestore.v1.projects.databases.documents.createDocument"
ORDER = {"order": {"order_id": "7d0c0a1e-0000-4000-8000-000000000001", "total": 2500}}


def event(execution_id: str, state: dict) -> dict:
    """The CloudEvent Eventarc hands a workflow for a Pub/Sub message (data base64-encoded)."""
    data = json.dumps({"execution_id": execution_id, "input": state}).encode()
    return {"type": "google.cloud.pubsub.topic.v1.messagePublished",
            "data": {"message": {"data": base64.b64encode(data).decode(), "messageId": "m-1"}, "subscription": "s"}}


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
