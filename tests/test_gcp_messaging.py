"""Queues, workflow starts and secrets on GCP through the real Pub/Sub and Secret Manager clients.

The generated clients run with the REST transport against a local stand-in of each endpoint
(tests/support/google_standin.py); the tests assert on the requests the clients send.
"""

from __future__ import annotations

import base64
import json

import pytest
from google.auth.credentials import AnonymousCredentials

from runtime.gcp.messaging import Clients, Queue, Secret, Workflow
from tests.support.cloud_tasks_standin import CloudTasksStandIn
from tests.support.google_standin import StandIn

TOPIC = "projects/anycloud-test/topics/orders-dev-orders"
START = "projects/anycloud-test/topics/orders-dev-fulfil-order-start"
SECRET = "projects/anycloud-test/secrets/orders-dev-payment-api-key"


@pytest.fixture
def google():
    standin = StandIn()
    options = {"api_endpoint": standin.url}

    def publisher():
        from google.pubsub_v1 import PublisherClient

        return PublisherClient(transport="rest", credentials=AnonymousCredentials(), client_options=options)

    def secrets():
        from google.cloud.secretmanager import SecretManagerServiceClient

        return SecretManagerServiceClient(transport="rest", credentials=AnonymousCredentials(), client_options=options)

    clients = Clients({"pubsub": publisher, "secretmanager": secrets})
    yield standin, clients
    standin.close()


def published(standin: StandIn, topic: str) -> list[tuple[dict, dict]]:
    out = []
    for r in standin.received:
        if r.path == f"/v1/{topic}:publish":
            for m in r.body["messages"]:
                out.append((json.loads(base64.b64decode(m["data"])), m.get("attributes", {})))
    return out


def test_send_publishes_the_body_as_json_and_returns_the_message_id(google):
    standin, clients = google
    standin.answers[("POST", f"/v1/{TOPIC}:publish")] = lambda body: (200, {"messageIds": ["1111"]})
    queue = Queue(TOPIC, clients, sender="create-order")
    assert queue.send({"order_id": "o-1", "total": 2500}) == "1111"
    assert published(standin, TOPIC) == [({"order_id": "o-1", "total": 2500}, {"anycloud-sender": "create-order"})]
    assert clients.created == ["pubsub"]


def test_a_delayed_send_is_a_cloud_tasks_task_that_publishes_then(google):
    standin, clients = google
    delays = "projects/anycloud-test/locations/europe-west1/queues/orders-dev-orders-delays"
    clock = [1_800_000_000.25]
    tasks = CloudTasksStandIn(standin, {delays: f"/v1/{TOPIC}:publish"}, lambda: clock[0])
    standin.answers[("POST", f"/v1/{TOPIC}:publish")] = lambda body: (200, {"messageIds": ["3333"]})

    def cloud_tasks():
        from google.cloud.tasks_v2 import CloudTasksClient

        return CloudTasksClient(transport="rest", credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": standin.url})

    clients = Clients({"tasks": cloud_tasks})
    queue = Queue(TOPIC, clients, sender="order-placed", delays=delays, clock=lambda: clock[0])
    name = queue.send({"order_id": "o-1"}, delay_s=900)
    (task,) = tasks.tasks
    assert name == task.name and task.due == pytest.approx(clock[0] + 900)
    assert task.request["url"] == f"https://pubsub.googleapis.com/v1/{TOPIC}:publish"
    assert clients.created == ["tasks"] and published(standin, TOPIC) == []
    clock[0] += 899
    assert tasks.run_due() == 0 and published(standin, TOPIC) == []
    clock[0] += 1
    assert tasks.run_due() == 1
    assert published(standin, TOPIC) == [({"order_id": "o-1"}, {"anycloud-sender": "order-placed"})]


def test_delays_out_of_range_or_unwired_are_refused_before_sending(google):
    standin, clients = google
    with pytest.raises(ValueError):
        Queue(TOPIC, clients, delays="projects/p/locations/l/queues/q").send({"a": 1}, delay_s=901)
    with pytest.raises(RuntimeError, match="no delays queue"):
        Queue(TOPIC, clients).send({"a": 1}, delay_s=30)
    assert standin.received == [] and clients.created == []


def test_start_publishes_the_start_message_the_workflow_claims(google):
    standin, clients = google
    standin.answers[("POST", f"/v1/{START}:publish")] = lambda body: (200, {"messageIds": ["2222"]})
    assert Workflow(START, clients).start("order-1", {"order": {"order_id": "order-1"}}) is True
    assert published(standin, START) == [({"execution_id": "order-1", "input": {"order": {"order_id": "order-1"}}}, {})]
    with pytest.raises(ValueError):
        Workflow(START, clients).start("", {})


def test_a_failed_publish_raises_so_the_caller_retries(google):
    standin, clients = google
    standin.answers[("POST", f"/v1/{TOPIC}:publish")] = lambda body: (403, {"error": {"code": 403, "message": "denied"}})
    from google.api_core.exceptions import Forbidden

    with pytest.raises(Forbidden):
        Queue(TOPIC, clients).send({"a": 1})


def test_the_secret_is_read_once_per_ttl(google):
    standin, clients = google
    value = base64.b64encode(b"sk_test_123").decode()
    path = f"/v1/{SECRET}/versions/latest:access"
    standin.answers[("GET", path)] = lambda body: (200, {"name": f"{SECRET}/versions/3", "payload": {"data": value}})
    now = [0.0]
    secret = Secret(SECRET, clients, ttl_s=300, clock=lambda: now[0])
    assert secret.get() == "sk_test_123" and secret.get() == "sk_test_123"
    now[0] = 301.0
    assert secret.get() == "sk_test_123"
    assert [r.path for r in standin.received] == [path, path]
