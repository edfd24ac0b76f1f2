"""Cloud Tasks for the delayed sends of the GCP adapter: createTask over REST, then the dispatch.

No Cloud Tasks emulator ships on npm or PyPI, so this plays the two halves the adapter relies on,
on the REST stand-in (tests/support/google_standin.py) the real `CloudTasksClient` is pointed at:

- `projects.locations.queues.tasks.create` (POST /v2/{parent}/tasks with ``{"task": {httpRequest:
  {url, httpMethod, headers, body (base64)}, scheduleTime}}``, answered with the task and its name:
  https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create);
- the dispatch: once the clock reaches a task's scheduleTime, its request is sent with the queue's
  HTTP target applied (the URI override's path, enforced ALWAYS, replaces the task's own; POST),
  here to the stand-in's Pub/Sub publish path; a non-2xx answer is retried later (the rendered
  queue retries without limit), so a task is never dropped.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.support.google_standin import StandIn

QUEUE = "gcp:cloudtasks/queue:Queue"
RETRY_S = 1.0


@dataclass
class Task:
    name: str
    queue: str
    due: float
    request: dict[str, Any]
    answers: list[int] = field(default_factory=list)


def _seconds(rfc3339: str) -> float:
    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


class CloudTasksStandIn:
    """`queues`: Cloud Tasks queue path -> the publish path its HTTP target pins."""

    def __init__(self, standin: StandIn, queues: dict[str, str], clock: Callable[[], float]):
        self.standin, self.queues, self.clock = standin, queues, clock
        self.tasks: list[Task] = []
        self.dispatched: list[Task] = []
        for queue in queues:
            standin.answers[("POST", f"/v2/{queue}/tasks")] = lambda body, q=queue: self._create(q, body)

    @classmethod
    def of(cls, standin: StandIn, rendered: list[Any], clock: Callable[[], float]) -> CloudTasksStandIn:
        """From the rendered `gcp:cloudtasks/queue:Queue`s (their ids are the queue paths)."""
        return cls(standin, {q.id: q.inputs["httpTarget"]["uriOverride"]["pathOverride"]["path"] for q in rendered}, clock)

    def _create(self, queue: str, body: dict) -> tuple[int, Any]:
        task = body["task"]
        name = f"{queue}/tasks/{len(self.tasks) + len(self.dispatched) + 1}"
        self.tasks.append(Task(name, queue, _seconds(task["scheduleTime"]), task["httpRequest"]))
        return 200, {**task, "name": name}

    def next_due(self) -> float | None:
        return min((t.due for t in self.tasks), default=None)

    def run_due(self) -> int:
        """Dispatch every task whose time has come; how many were dispatched successfully."""
        done = 0
        for task in sorted([t for t in self.tasks if t.due <= self.clock()], key=lambda t: t.due):
            path = self.queues[task.queue]  # the queue's URI override, enforced ALWAYS
            payload = base64.b64decode(task.request.get("body", ""))
            request = urllib.request.Request(self.standin.url + path, data=payload, method="POST",
                                             headers={"content-type": "application/json"})
            try:
                with urllib.request.urlopen(request) as answer:
                    status = answer.status
            except urllib.error.HTTPError as err:
                status = err.code
            task.answers.append(status)
            if 200 <= status < 300:
                self.tasks.remove(task)
                self.dispatched.append(task)
                done += 1
            else:
                task.due = self.clock() + RETRY_S
        return done


def published_body(task: Task) -> Any:
    """The message a dispatched task published (its body's first message, decoded)."""
    request = json.loads(base64.b64decode(task.request["body"]))
    return json.loads(base64.b64decode(request["messages"][0]["data"]))
