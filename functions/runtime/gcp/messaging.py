"""Queues and workflow starts on Pub/Sub, secrets on Secret Manager, over the official clients.

Each client is created once per instance, on first use (`Clients`), so a function that sends
nothing never builds a publisher. The clients are the generated (GAPIC) ones, called
synchronously: a function publishes a message or two per request, and the batching publisher
would start background threads that a scaled-to-zero instance may never flush.

- `Queue.send` publishes the body as JSON. Pub/Sub has no delayed delivery: with `delay_s` > 0 it
  creates a Cloud Tasks task in the queue's delays queue (``ANYCLOUD_DELAYS_<QUEUE>``,
  components/gcp/delays.py) scheduled at now + `delay_s`, whose request is that same publish; the
  delays queue pins the URL to the queue's topic and adds its delivery account's OAuth token. It
  returns the task's name (the message gets its id when the task publishes it).
- `Workflow.start` publishes ``{"execution_id", "input"}`` to the workflow's start topic (the
  function holds publisher on that topic only; components/gcp/workflow.py). Whether the id ran
  before is decided by the workflow's own first step, which ends a duplicate at once, so the
  publisher cannot know it: `start` returns True when the start was accepted.
- The workflow's starter (start.py) creates executions with the Workflows Executions client.
- `Secret.get` reads the latest version, cached for `SECRET_TTL_S` per instance.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..clients import LazyClients
from ..contracts import check_delay, check_execution_id
from ..secrets import SECRET_TTL_S, CachedSecret

EXECUTION_ID, INPUT = "execution_id", "input"  # the start message (components/gcp/workflow.py)
DELAYS_PREFIX = "ANYCLOUD_DELAYS_"  # components/gcp/delays.py delays_var
PUBSUB_HOST = "pubsub.googleapis.com"


def _publisher() -> Any:
    from google.pubsub_v1 import PublisherClient

    return PublisherClient()


class Executions:
    """The Workflows Executions API's `create` (REST, https://cloud.google.com/workflows/docs/reference/
    executions/rest/v1/projects.locations.workflows.executions/create) over google-auth's
    AuthorizedSession: the generated client ships no REST transport, and this is its one call."""

    ENDPOINT = "https://workflowexecutions.googleapis.com"

    def __init__(self, endpoint: str = ENDPOINT, credentials: Any = None):
        from google.auth.transport.requests import AuthorizedSession

        if credentials is None:
            import google.auth

            credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        self._session = AuthorizedSession(credentials)
        self._endpoint = endpoint.rstrip("/")

    def create(self, workflow: str, argument: str, timeout_s: float = 30) -> str:
        """The new execution's name; raises on any refusal (the caller answers 500 and Pub/Sub retries)."""
        response = self._session.post(f"{self._endpoint}/v1/{workflow}/executions", json={"argument": argument},
                                      timeout=timeout_s)
        response.raise_for_status()
        return response.json()["name"]


def delays_var(queue: str) -> str:
    """`ANYCLOUD_DELAYS_<QUEUE>`: the Cloud Tasks queue of a queue's delayed sends."""
    return f"{DELAYS_PREFIX}{queue.upper().replace('-', '_')}"


def _tasks() -> Any:
    from google.cloud.tasks_v2 import CloudTasksClient

    return CloudTasksClient()


def _secret_manager() -> Any:
    from google.cloud.secretmanager import SecretManagerServiceClient

    return SecretManagerServiceClient()


class Clients(LazyClients):
    """One client per Google service for this instance, created on first use by its factory."""

    def __init__(self, factories: Mapping[str, Callable[[], Any]] | None = None):
        made = {"pubsub": _publisher, "tasks": _tasks, "secretmanager": _secret_manager, "executions": Executions,
                **(factories or {})}
        super().__init__(lambda service: made[service]())


def _data(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def publish(clients: Clients, topic: str, body: Any, attributes: Mapping[str, str]) -> str:
    """Publish `body` as JSON to `topic`; the message id."""
    from google.pubsub_v1 import PubsubMessage

    data = _data(body)
    response = clients.get("pubsub").publish(topic=topic, messages=[PubsubMessage(data=data, attributes=dict(attributes))])
    return response.message_ids[0]


class Queue:
    def __init__(self, topic: str, clients: Clients, sender: str = "", delays: str = "",
                 clock: Callable[[], float] = time.time):
        self.topic = topic
        self.delays = delays
        self._clients = clients
        self._clock = clock
        self._attributes = {"anycloud-sender": sender} if sender else {}

    def send(self, body: Any, *, delay_s: int = 0) -> str:
        check_delay(delay_s)
        if delay_s:
            return self._later(body, delay_s)
        return publish(self._clients, self.topic, body, self._attributes)

    def _later(self, body: Any, delay_s: int) -> str:
        """A Cloud Tasks task that publishes `body` at now + `delay_s` (its name)."""
        if not self.delays:
            raise RuntimeError(f"queue {self.topic}: no delays queue is wired (ANYCLOUD_DELAYS_<QUEUE>); the GCP "
                               "renderer wires one for every sender")
        from google.cloud.tasks_v2 import HttpMethod, HttpRequest, Task
        from google.protobuf import timestamp_pb2

        request = {"messages": [{"data": base64.b64encode(_data(body)).decode(), "attributes": self._attributes}]}
        at = timestamp_pb2.Timestamp()
        at.FromNanoseconds(int((self._clock() + delay_s) * 1e9))
        task = Task(http_request=HttpRequest(url=f"https://{PUBSUB_HOST}/v1/{self.topic}:publish", http_method=HttpMethod.POST,
                                             headers={"content-type": "application/json"},
                                             body=json.dumps(request, separators=(",", ":")).encode()),
                    schedule_time=at)
        return self._clients.get("tasks").create_task(parent=self.delays, task=task).name


class Workflow:
    def __init__(self, start_topic: str, clients: Clients):
        self.start_topic = start_topic
        self._clients = clients

    def start(self, execution_id: str, state: Mapping[str, Any]) -> bool:
        check_execution_id(execution_id)
        publish(self._clients, self.start_topic, {EXECUTION_ID: execution_id, INPUT: dict(state)}, {})
        return True


class Secret(CachedSecret):
    """The latest version's value, read at most once per `ttl_s` per instance."""

    def __init__(self, secret_id: str, clients: Clients, ttl_s: float = SECRET_TTL_S,
                 clock: Callable[[], float] = time.monotonic):
        self.secret_id = secret_id
        super().__init__(lambda: clients.get("secretmanager").access_secret_version(
            name=f"{secret_id}/versions/latest").payload.data.decode("utf-8"), ttl_s, clock)
