"""The rendered GCP dev stack running here: every function through the GCP entrypoint.

- Each rendered function becomes an `entry.Instance` built from exactly its rendered
  environment, with Firestore on the emulator (its tables are the rendered databases) and the
  Pub/Sub and Secret Manager clients pointed at a REST stand-in (tests/support/google_standin.py).
- Table streams: the emulator's writes become the CloudEvents the rendered Eventarc triggers
  deliver to their consumers, retried as Eventarc retries (tests/support/eventarc_standin.py);
  the stack's `clock` is the time of those retries and of the adapter's delivery leases.
- Delayed sends: the Cloud Tasks client creates tasks at the REST stand-in, dispatched to the
  rendered delays queue's pinned publish path when the clock reaches them
  (tests/support/cloud_tasks_standin.py).
- Routes get what API Gateway forwards (the appended path, the trace header, the verified
  claims). Pub/Sub is played by the harness from what the stand-in received: `deliver` pushes
  each queued message to the queue's consumer as the push subscription would, counts the
  delivery attempts, and moves a message to the dead-letter list after the rendered
  `maxDeliveryAttempts` non-2xx answers.
- A message on a workflow's start topic is pushed to the workflow's starter function like any
  queue's, and the execution its Executions client creates at the stand-in runs the deployed
  program (the rendered `sourceContents`) on the Workflows interpreter with that argument; its
  task calls go to the task functions' entrypoints, and its claim step's Firestore connector
  call goes to the emulator.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from google.api_core.exceptions import AlreadyExists
from google.auth.credentials import AnonymousCredentials

from components.mock_engine import Rendering
from runtime.gcp import entry
from runtime.gcp.messaging import Clients, Executions
from tests.support.cloud_tasks_standin import QUEUE, CloudTasksStandIn
from tests.support.eventarc_standin import TRIGGER, Clock, EventarcStandIn, Trigger
from tests.support.firestore_emulator import changes_file, emulator_client
from tests.support.google_standin import StandIn
from tests.support.workflows_interpreter import Execution, Interpreter, WorkflowError

FUNCTION = "gcp:cloudfunctionsv2/function:Function"
CREATE_DOCUMENT = "googleapis.firestore.v1.projects.databases.documents.createDocument"
PROJECT = "anycloud-test"
REGION = "europe-west1"


@dataclass
class Pending:
    topic: str
    body: Any
    message_id: str
    attempts: int = 0


@dataclass
class GcpStack:
    rendering: Rendering
    standin: StandIn
    secret_value: str
    instances: dict[str, entry.Instance | entry.Starter] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    consumers: dict[str, tuple[str, int]] = field(default_factory=dict)  # topic -> (function, max deliveries)
    dead_letters: list[Pending] = field(default_factory=list)
    #: What was published to a topic no push subscription reads: the dead letters the adapter
    #: published itself (a table stream's), which the topic's subscription keeps.
    kept: list[Pending] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    published: int = 0
    clock: Clock = field(default_factory=Clock)
    eventarc: EventarcStandIn | None = None
    tasks: CloudTasksStandIn | None = None
    #: function -> how many of its next task answers are lost (`lose_answers`).
    lost_answers: dict[str, int] = field(default_factory=dict)
    _read: int = 0  # stand-in requests already turned into messages

    @classmethod
    def create(cls, rendering: Rendering, secret_value: str) -> GcpStack:
        stack = cls(rendering, StandIn(), secret_value)
        options = {"api_endpoint": stack.standin.url}

        def publisher():
            from google.pubsub_v1 import PublisherClient

            return PublisherClient(transport="rest", credentials=AnonymousCredentials(), client_options=options)

        def secrets():
            from google.cloud.secretmanager import SecretManagerServiceClient

            return SecretManagerServiceClient(transport="rest", credentials=AnonymousCredentials(), client_options=options)

        def executions():
            return Executions(stack.standin.url, credentials=AnonymousCredentials())

        def tasks():
            from google.cloud.tasks_v2 import CloudTasksClient

            return CloudTasksClient(transport="rest", credentials=AnonymousCredentials(), client_options=options)

        clients = {"pubsub": publisher, "secretmanager": secrets, "executions": executions, "tasks": tasks}
        services = {}
        for fn in rendering.of_type(FUNCTION):
            env = {k: str(v) for k, v in fn.inputs["serviceConfig"]["environmentVariables"].items()}
            if env.get("ANYCLOUD_TRIGGERS") == "start":
                stack.instances[fn.name] = entry.Starter(env, clients=Clients(clients))
            else:
                stack.instances[fn.name] = entry.Instance(env, clients=Clients(clients), clock=stack.clock)
            stack.urls[fn.outputs["serviceConfig"]["uri"]] = fn.name
            services[fn.inputs["name"]] = fn.name
        triggers = [Trigger.of(t.inputs) for t in rendering.of_type(TRIGGER)]

        def to_service(service: str, headers: dict[str, str], body: bytes) -> int:
            return stack.instances[services[service]].handle("POST", "/", {}, headers, body)[0]

        stack.eventarc = EventarcStandIn(changes_file(), triggers, to_service, stack.clock, PROJECT, REGION)
        stack.tasks = CloudTasksStandIn.of(stack.standin, rendering.of_type(QUEUE), stack.clock)
        for sub in rendering.of_type("gcp:pubsub/subscription:Subscription"):
            endpoint = (sub.inputs.get("pushConfig") or {}).get("pushEndpoint")
            if endpoint:
                attempts = sub.inputs["deadLetterPolicy"]["maxDeliveryAttempts"]
                stack.consumers[sub.inputs["topic"]] = (stack.urls[endpoint], attempts)
        for workflow in rendering.of_type("gcp:workflows/workflow:Workflow"):
            stack.standin.answers[("POST", f"/v1/{workflow.id}/executions")] = \
                lambda body, w=workflow.id: (200, {"name": f"{w}/executions/{len(stack.standin.received)}",
                                                   "argument": body["argument"], "state": "ACTIVE"})
        for topic in [r.id for r in rendering.of_type("gcp:pubsub/topic:Topic")]:
            stack.standin.answers[("POST", f"/v1/{topic}:publish")] = stack._publish
        for secret in rendering.of_type("gcp:secretmanager/secret:Secret"):
            value = base64.b64encode(secret_value.encode()).decode()
            stack.standin.answers[("GET", f"/v1/{secret.id}/versions/latest:access")] = \
                lambda body, v=value, s=secret.id: (200, {"name": f"{s}/versions/1", "payload": {"data": v}})
        return stack

    def _publish(self, body: Any) -> tuple[int, Any]:
        self.published += len(body["messages"])
        return 200, {"messageIds": [str(self.published - i) for i in range(len(body["messages"]))]}

    def close(self) -> None:
        self.standin.close()

    # ------------------------------------------------------------------ callers

    def api(self, method: str, path: str, body: Any = None, headers: dict | None = None, sub: str = "user-1") -> dict:
        """A request as API Gateway forwards it to the route function that serves it."""
        from runtime.dispatch import match_route

        claims = base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")
        headers = {"x-cloud-trace-context": f"{abs(hash((method, path, self.published))):032x}/1;o=1",
                   "x-apigateway-api-userinfo": claims, **(headers or {})}
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        for instance in self.instances.values():
            if "route" in instance.triggers and match_route(instance.routes, method, path):
                status, answer, out = instance.handle(method, path, {}, headers, raw)
                return {"status": status, "json": answer, "headers": out}
        raise AssertionError(f"no route for {method} {path}")

    def queued(self) -> list[Pending]:
        """Messages published to a topic since the last call, in order; executions the starters
        created since then run first (on the interpreter, as Workflows would run them)."""
        out = []
        fresh, self._read = self.standin.received[self._read:], len(self.standin.received)
        for received in fresh:
            if received.refused:
                continue
            if received.method == "POST" and received.path.endswith("/executions"):
                self.executions.append(self.run_workflow(json.loads(received.body["argument"])))
                fresh += self.standin.received[self._read:]
                self._read = len(self.standin.received)
            if received.method != "POST" or not received.path.endswith(":publish"):
                continue
            topic = received.path[len("/v1/"):-len(":publish")]
            for m in received.body["messages"]:
                if topic not in self.consumers:  # a dead-letter topic: its subscription keeps it
                    self.kept.append(Pending(topic, json.loads(base64.b64decode(m["data"])), m.get("attributes", {}).get(
                        "anycloud-change", "")))
                    continue
                out.append(Pending(topic, json.loads(base64.b64decode(m["data"])), f"msg-{len(out)}-{self.published}"))
        return out

    def deliver(self, pending: list[Pending] | None = None) -> None:
        """Play Eventarc and Pub/Sub until nothing is left: the table changes committed so far go to
        their consumers (retried as Eventarc does), then each published message is pushed to its
        subscription's consumer (a queue's, or a workflow's starter) until acknowledged or
        dead-lettered; what those deliveries write or publish is delivered in turn."""
        todo = list(pending) if pending is not None else []
        while True:
            self.eventarc.run()
            todo += self.queued()  # runs the executions created so far, whose tasks write
            if todo:
                self.push(todo.pop(0))
            elif not self.eventarc.poll() and not self.tasks.run_due():
                due = self.tasks.next_due()
                if due is None:
                    return
                self.clock.now = max(self.clock.now, due)  # nothing else to do until the next delayed send

    def push(self, message: Pending) -> None:
        """One message through its push subscription: `maxDeliveryAttempts` deliveries at most (an
        injected process death answers nothing, a failed delivery like any other), then the
        dead-letter topic."""
        function, max_attempts = self.consumers[message.topic]
        while message.attempts < max_attempts:
            message.attempts += 1
            try:
                status, _, _ = self.instances[function].handle("POST", "/", {}, {}, self.push_body(message))
            except BaseException as exc:  # noqa: BLE001
                if not getattr(exc, "injected", False):
                    raise
                status = 0
            if 200 <= status < 300:
                return
        self.dead_letters.append(message)

    @staticmethod
    def push_body(message: Pending) -> bytes:
        data = base64.b64encode(json.dumps(message.body).encode()).decode()
        return json.dumps({"message": {"data": data, "messageId": message.message_id, "attributes": {}},
                           "subscription": "projects/p/subscriptions/s", "deliveryAttempt": message.attempts}).encode()

    def run_workflow(self, argument: Any) -> Execution:
        (workflow,) = self.rendering.of_type("gcp:workflows/workflow:Workflow")
        program = yaml.safe_load(workflow.inputs["sourceContents"])
        handlers = {url: self._task(name) for url, name in self.urls.items()}
        env = {**workflow.inputs["userEnvVars"], "GOOGLE_CLOUD_PROJECT_ID": PROJECT}
        return Interpreter(program, handlers, env, {CREATE_DOCUMENT: self._claim}).run(argument)

    def _task(self, name: str):
        def call(request) -> tuple[int, Any]:
            status, body, _ = self.instances[name].handle("POST", "/", {}, {}, json.dumps(request.body).encode())
            if self.lost_answers.get(name, 0) > 0:
                # The task ran; its answer never reached Workflows: Cloud Run's front end answers 503.
                self.lost_answers[name] -= 1
                return 503, {"message": "upstream connect error"}
            return status, body
        return call

    @staticmethod
    def _claim(args: dict) -> dict:
        """The Firestore connector's createDocument, on the emulator."""
        parent = args["parent"]
        database = parent.split("/databases/")[1].split("/")[0]
        document_path = parent.split("/documents/", 1)[1]
        client = emulator_client(database)
        ref = client.document(document_path).collection(args["collectionId"]).document(args["documentId"])
        try:
            ref.create({"expires_at": args["body"]["fields"]["expires_at"]["timestampValue"]})
        except AlreadyExists:
            raise WorkflowError({"code": 409, "message": "ALREADY_EXISTS", "tags": ["HttpError"]}) from None
        return {"name": ref.path}
