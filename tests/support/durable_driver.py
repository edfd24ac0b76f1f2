"""Run an orchestrator on the real azure-functions-durable SDK without the Functions host.

The SDK's own tests (tests/orchestrator/ in Azure/azure-functions-durable-python) build an
orchestration history event by event and hand it to ``Orchestrator(fn).handle(context)``,
which replays the generator from the start and returns the actions it scheduled. This driver
plays the extension's part in a loop: it executes each new action, records the events the
extension would (TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated, then one
episode per completion, in order of a virtual clock), and replays until the orchestration
returns or fails. Each replay must re-issue the actions already executed, in order, or the
driver raises NonDeterministic.

- Durable HTTP calls go to ``http[uri]``, a callable given the decoded JSON body that answers
  ``(status, body, seconds)`` by DESIGN.md section 5; the response arrives ``seconds`` later.
- Timers fire at their ``fireAt``; a timer the orchestrator cancelled never fires. A timer
  scheduled on its own (not raced in a ``task_any``) that fires is a sleep.
- Sub-orchestrations run to completion, each with its own history, starting at the parent's
  time; their completion reaches the parent at the child's final time. Children of one
  parent therefore run one after the other here (their virtual times still overlap).

Replay schema V2 (``upperSchemaVersion`` 1), as the extension 2.x speaks it: actions are one
flat list with ``task_any``/``task_all`` as compound actions.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from azure.durable_functions import DurableOrchestrationContext
from azure.durable_functions.constants import DATETIME_STRING_FORMAT, HTTP_ACTION_NAME
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as Event
from azure.durable_functions.orchestrator import Orchestrator
from dateutil.parser import parse as parse_time

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
REPLAY_SCHEMA_V2 = 1
OUT_OF_PROC = "\n\n$OutOfProcData$:"
COMPOUND = (ActionType.WHEN_ANY, ActionType.WHEN_ALL)

HttpAnswer = tuple[int, Any, float]


class NonDeterministic(AssertionError):
    """A replay scheduled different actions than the history it replayed."""


@dataclass
class Execution:
    status: str  # "succeeded" or "failed"
    output: Any = None
    error: str | None = None  # the orchestration's failure message
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (uri, body) in call order
    tokens: list[str | None] = field(default_factory=list)  # each call's managed-identity token audience
    sleeps: list[float] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # the top-level instance's
    replays: int = 0


class Driver:
    def __init__(self, orchestrators: Mapping[str, Callable], http: Mapping[str, Callable[[Any], HttpAnswer]]):
        self.orchestrators = orchestrators
        self.http = http
        self.execution = Execution("running")
        self.events = itertools.count()

    def run(self, name: str, input_: Any) -> Execution:
        status, output, error, _, history = self.instance(name, "i-0", input_, T0)
        self.execution.status, self.execution.output, self.execution.error = status, output, error
        self.execution.history = history
        return self.execution

    def instance(self, name: str, instance_id: str, input_: Any, now: datetime):
        """Run one orchestration instance to its end: (status, output, error, end time, history)."""
        fn = self.orchestrators[name]
        encoded = json.dumps(input_)
        history = [_event(Event.ORCHESTRATOR_STARTED, now), _event(Event.EXECUTION_STARTED, now, Name=name, Version="", Input=encoded)]
        executed: list[dict] = []
        pending: list[tuple[datetime, int, dict]] = []  # (due, order, event)
        sleeps: dict[int, float] = {}  # timer id -> seconds, for timers that are sleeps
        while True:
            context = {"history": history, "instanceId": instance_id, "isReplaying": False, "parentInstanceId": None,
                       "input": encoded, "upperSchemaVersion": REPLAY_SCHEMA_V2}
            self.execution.replays += 1
            try:
                state = json.loads(Orchestrator(fn).handle(DurableOrchestrationContext.from_json(json.dumps(context))))
            except Exception as failed:
                data = str(failed).partition(OUT_OF_PROC)[2]
                if not data:
                    raise
                return "failed", None, json.loads(data)["error"], now, history
            if state["isDone"]:
                return "succeeded", state.get("output"), None, now, history
            actions = _flatten(state["actions"][0])
            if [_stable(a) for a, _ in actions[: len(executed)]] != [_stable(a) for a in executed]:
                raise NonDeterministic(f"{instance_id}: replay scheduled {actions[: len(executed)]}, history has {executed}")
            for task_id, (action, raced) in enumerate(actions[len(executed):], start=len(executed)):
                history.append(self.execute(action, task_id, raced, instance_id, now, pending, sleeps))
                executed.append(action)
            cancelled = {i for i, (a, _) in enumerate(actions) if a.get("isCanceled")}
            pending = [p for p in pending if p[2].get("TimerId") not in cancelled]
            heapq.heapify(pending)
            history.append(_event(Event.ORCHESTRATOR_COMPLETED, now))
            if not pending:
                raise AssertionError(f"{instance_id} waits for nothing: {state}")
            due, _, event = heapq.heappop(pending)
            now = max(now, due)
            if event["EventType"] == Event.TIMER_FIRED and event["TimerId"] in sleeps:
                self.execution.sleeps.append(sleeps[event["TimerId"]])
            history += [_event(Event.ORCHESTRATOR_STARTED, now), {**event, "Timestamp": _time(now)}]

    def execute(self, action: dict, task_id: int, raced: bool, instance_id: str, now: datetime, pending: list, sleeps: dict) -> dict:
        """Carry out one new action: queue its completion, return its scheduling event."""
        kind = action["actionType"]
        if kind == ActionType.CALL_HTTP:
            request = action["httpRequest"]
            body = json.loads(request["content"]) if request.get("content") else None
            self.execution.calls.append((request["uri"], body))
            self.execution.tokens.append((request.get("tokenSource") or {}).get("resource"))
            status, answer, seconds = self.http[request["uri"]](body)
            response = {"statusCode": status, "headers": {"Content-Type": "application/json"}, "content": json.dumps(answer)}
            self.queue(pending, now + timedelta(seconds=seconds), Event.TASK_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(response))
            return _event(Event.TASK_SCHEDULED, now, EventId=task_id, Name=HTTP_ACTION_NAME)
        if kind == ActionType.CREATE_TIMER:
            fire_at = parse_time(action["fireAt"])
            if not raced:
                sleeps[task_id] = (fire_at - now).total_seconds()
            self.queue(pending, fire_at, Event.TIMER_FIRED, TimerId=task_id, FireAt=action["fireAt"])
            return _event(Event.TIMER_CREATED, now, EventId=task_id, FireAt=action["fireAt"])
        if kind == ActionType.CALL_SUB_ORCHESTRATOR:
            child = f"{instance_id}:{task_id}"
            status, output, error, end, _ = self.instance(action["functionName"], child, json.loads(action["input"]), now)
            if status == "succeeded":
                self.queue(pending, end, Event.SUB_ORCHESTRATION_INSTANCE_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(output))
            else:
                self.queue(pending, end, Event.SUB_ORCHESTRATION_INSTANCE_FAILED, TaskScheduledId=task_id, Reason=error, Details="")
            return _event(Event.SUB_ORCHESTRATION_INSTANCE_CREATED, now, EventId=task_id, Name=action["functionName"],
                          Input=action["input"], InstanceId=child)
        raise AssertionError(f"the driver does not execute {ActionType(kind).name}")

    def queue(self, pending: list, due: datetime, kind: Event, **fields) -> None:
        heapq.heappush(pending, (due, next(self.events), {"EventType": kind, "EventId": -1, "IsPlayed": False, **fields}))


def run(orchestrators: Mapping[str, Callable], name: str, input_: Any, http: Mapping[str, Callable[[Any], HttpAnswer]]) -> Execution:
    """Run orchestration `name` with `input_` to its end; see the module docstring."""
    return Driver(orchestrators, http).run(name, input_)


def _flatten(actions: list[dict], raced: bool = False) -> list[tuple[dict, bool]]:
    """Atomic actions in task-id order, each with whether it is raced in a task_any."""
    out = []
    for action in actions:
        if action["actionType"] in COMPOUND:
            out += _flatten(action["compoundActions"], raced or action["actionType"] == ActionType.WHEN_ANY)
        else:
            out.append((action, raced))
    return out


def _stable(action: dict) -> dict:
    """An action as replay must repeat it: cancelling a timer later is not a change."""
    return {k: v for k, v in action.items() if k != "isCanceled"}


def _event(kind: Event, now: datetime, **fields) -> dict:
    return {"EventType": kind, "EventId": fields.pop("EventId", -1), "IsPlayed": False, "Timestamp": _time(now), **fields}


def _time(at: datetime) -> str:
    return at.strftime(DATETIME_STRING_FORMAT)
