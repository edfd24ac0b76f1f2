"""The local workflow engine of `anycloud dev`: runs a declared `WorkflowSpec` as it is, with the
meaning DESIGN.md section 5 gives it and the three compilers implement (components/workflow/
asl.py, gcp.py, durable.py; the generic Durable orchestrator, runtime/azure/durable.py, is the
closest model). Nothing is compiled to another engine's language; the shared rules (paths, storing
results, choice rules, error matching) come from runtime/workflow_state.py, the retry schedule
from components/workflow/retry.py. tests/test_dev_engine_parity.py holds it to the same scenarios
as the three clouds' engines.

- Task: ``invoke(function, state, timeout_s)`` gets a fresh JSON copy of the whole state; the
  answer, as JSON (a value no cloud could carry fails the task), goes to ``state[result]`` when
  the step sets `result`. A `runtime.contracts.TaskError` is its name with its message as the
  cause. With the step's ``timeout_s`` the engine races the call on a thread: no answer in time
  is ``Timeout`` and the late answer is ignored (Durable's timer, Step Functions'
  TimeoutSeconds); a `TimeoutError` from `invoke` is ``Timeout`` too. Anything else is
  ``TaskFailed`` with the cause "internal error", the answer the HTTP contract gives on GCP and
  Azure (runtime/dispatch.py): the exception's text is kept out of the state and recorded only
  in the history, for the developer. Without ``timeout_s`` there is no race, and a timeout is a
  failure like any other (the function's own timeout, as on the clouds).
- Retry and catch: the first entry matching the error wins, nothing after an entry listing
  ``all``; ``TaskFailed`` matches any error except ``Timeout`` and the names the step's own
  entries mention; each retry entry counts its own tries and sleeps `retry.delays`; a catch
  stores ``{error, cause}`` at ``state["error"]`` and moves to its step.
- Choice: the rules in order; none matching and no default fails with ``NoChoiceMatched``.
- Parallel: every branch on its own thread, all from the same state (no step changes a state in
  place); all run to completion, the first failure in branch order is the step's error, the
  final states in branch order its result. Map: the list at `items` (anything else fails with
  ``TaskFailed``), each element run with the state ``{"item", "index"}``, at most
  ``max_concurrency`` at once (0: no limit) and never more than MAP_THREADS, results in item order.
- Wait and retry delays sleep their seconds times `time_scale` (0: no sleep at all); a task's
  timeout is not scaled, it bounds real work.
- Succeed ends its graph with the state; Fail fails with its ``{error, cause}``.

Executions: at most one per id per workflow, whatever its status (`runtime.contracts.Workflow`);
each runs on its own thread with a timestamped history. `stop()` wakes executions that sleep or
wait for a timed task and ends them ABORTED; a task call without a timeout is waited for.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.contracts import TaskError, check_execution_id
from runtime.workflow_state import error_matches, lookup, rule_matches, store

from components.spec import Branch, Choice, Fail, Map, Parallel, Step, Succeed, Task, Wait, WorkflowSpec
from components.workflow.retry import delays, mentioned, until_all

RUNNING, SUCCEEDED, FAILED, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "ABORTED"
#: Most map items running at once, whatever `max_concurrency` says: Step Functions' inline Map
#: runs at most 40 iterations at once (docs.aws.amazon.com/step-functions/latest/dg/
#: concepts-asl-use-map-state-inline.html), so a long list never means a thread per item.
MAP_THREADS = 40
#: The cause of an unnamed task failure: what runtime/dispatch.py answers on GCP and Azure.
INTERNAL_ERROR = "internal error"

#: ``invoke(function, state, timeout_s)`` -> the task's JSON result; `timeout_s` is the step's
#: (None when it sets none).
Invoke = Callable[[str, dict, float | None], Any]
_LOG = logging.getLogger("anycloud.dev.engine")


@dataclass(frozen=True)
class Event:
    """One history entry: when (the engine's clock), what, at which step, in which branch (""
    at the top level, ``ship-and-notify[1]`` in a parallel step's second branch, ``each[3]`` for
    a map's fourth item, nested ones joined by "/"), and its data (states, errors, delays).
    Read-only, like every record the engine returns."""

    at: float
    type: str
    step: str | None = None
    branch: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Execution:
    """A snapshot of one execution; `error` is ``{error, cause}`` when it FAILED."""

    workflow: str
    id: str
    status: str
    input: dict
    output: dict | None
    error: dict | None
    started: float
    ended: float | None
    history: tuple[Event, ...]


class _Failure(Exception):
    """A step or graph failed with the portable ``{error, cause}``."""

    def __init__(self, error: dict):
        super().__init__(error["error"])
        self.error = error


class _Aborted(Exception):
    """The engine is stopping: the execution ends where it is."""


class _Run:
    """One execution while it runs and after; the engine's threads write it under `lock`."""

    def __init__(self, workflow: WorkflowSpec, execution_id: str, state: dict, started: float):
        self.workflow = workflow
        self.id = execution_id
        self.input = state
        self.status = RUNNING
        self.output: dict | None = None
        self.error: dict | None = None
        self.started = started
        self.ended: float | None = None
        self.history: list[Event] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def snapshot(self) -> Execution:
        with self.lock:
            return Execution(self.workflow.name, self.id, self.status, _json_copy(self.input), _json_copy(self.output),
                             _json_copy(self.error), self.started, self.ended, tuple(self.history))


class Engine:
    """Runs the declared workflows on threads of this process, tasks through `invoke`.

    `time_scale` multiplies every wait and retry delay (1: real time; 0: none). `clock` stamps
    the history (epoch seconds); `sleep(seconds)` replaces the real, stop-aware sleep (tests
    record the sleeps instead of waiting). `listener(workflow, execution_id, event)` hears each
    event as it is recorded, on the execution's threads (the dev server's log and console).
    """

    def __init__(
        self,
        workflows: Iterable[WorkflowSpec],
        invoke: Invoke,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] | None = None,
        listener: Callable[[str, str, Event], None] | None = None,
    ):
        if not time_scale >= 0:
            raise ValueError(f"time_scale: {time_scale!r} is not allowed; use a number of 0 or more (1: real time, 0: no waiting)")
        self._invoke = invoke
        self._scale = time_scale
        self._clock = clock
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._listener = listener
        self._lock = threading.Lock()
        self._workflows: dict[str, WorkflowSpec] = {}
        self._runs: dict[str, dict[str, _Run]] = {}
        self._wakers: set[threading.Event] = set()
        self.reload(workflows)

    # ------------------------------------------------------------------------- public API

    def reload(self, workflows: Iterable[WorkflowSpec]) -> None:
        """New executions run these definitions; running ones finish on the definition they
        started with (as on the clouds) and every execution's record is kept."""
        specs = {w.name: w for w in workflows}
        with self._lock:
            self._workflows = specs
            for name in specs:
                self._runs.setdefault(name, {})

    def start(self, workflow: str, execution_id: str, state: Mapping[str, Any]) -> bool:
        """Start an execution of `workflow` on the JSON object `state`; False, and nothing runs,
        when `execution_id` was started before (in any status). ValueError for an unknown
        workflow, a bad id or an input that is not a JSON object."""
        check_execution_id(execution_id)
        if not isinstance(state, Mapping):
            raise ValueError(f"workflows.{workflow}: the input must be a JSON object, not {type(state).__name__}")
        try:
            data = _json_copy(dict(state))
        except (TypeError, ValueError) as err:
            raise ValueError(f"workflows.{workflow}: the input is not JSON ({err})") from None
        with self._lock:
            spec = self._spec(workflow)
            if self._stopping.is_set():
                raise RuntimeError("the workflow engine is stopped; start a new one")
            runs = self._runs[workflow]
            if execution_id in runs:
                return False
            run = runs[execution_id] = _Run(spec, execution_id, data, self._clock())
            run.thread = threading.Thread(target=self._execute, args=(run,), name=f"workflow {workflow}/{execution_id}",
                                          daemon=True)
            run.thread.start()
        return True

    def workflow(self, name: str) -> LocalWorkflow:
        """`runtime.contracts.Workflow` for `name`: what a handler's ``ctx.workflows[name]`` holds."""
        with self._lock:
            self._spec(name)
        return LocalWorkflow(self, name)

    def get(self, workflow: str, execution_id: str) -> Execution | None:
        run = self._find(workflow).get(execution_id)
        return run.snapshot() if run else None

    def executions(self, workflow: str) -> list[Execution]:
        """Every execution of `workflow`, in the order they started."""
        return [run.snapshot() for run in self._find(workflow).values()]

    def wait(self, workflow: str, execution_id: str, timeout: float | None = None) -> Execution:
        """The execution once it has ended, or as it is after `timeout` seconds (still RUNNING)."""
        run = self._find(workflow).get(execution_id)
        if run is None:
            raise ValueError(f"workflows.{workflow}: no execution {execution_id!r}")
        run.done.wait(timeout)
        return run.snapshot()

    def stop(self, timeout: float = 10.0) -> bool:
        """End every execution: sleeping ones and those waiting for a timed task end ABORTED at
        once, others after their current task call. True when every execution thread ended
        within `timeout` seconds. Nothing starts afterwards."""
        with self._lock:
            self._stopping.set()
            for waker in self._wakers:
                waker.set()
            threads = [run.thread for runs in self._runs.values() for run in runs.values() if run.thread]
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    # ------------------------------------------------------------------------ executions

    def _spec(self, workflow: str) -> WorkflowSpec:
        if workflow not in self._workflows:
            raise ValueError(f"workflows: no workflow {workflow!r}; declared: {', '.join(sorted(self._workflows)) or 'none'}")
        return self._workflows[workflow]

    def _find(self, workflow: str) -> dict[str, _Run]:
        """A copy of `workflow`'s executions by id (a removed workflow's are still there)."""
        with self._lock:
            if workflow not in self._runs:
                self._spec(workflow)
            return dict(self._runs[workflow])

    def _execute(self, run: _Run) -> None:
        self._record(run, None, "", "ExecutionStarted", input=_json_copy(run.input))
        try:
            output = self._graph(run, run.workflow.start, run.workflow.steps, run.input, "")
        except _Failure as failure:
            self._finish(run, FAILED, "ExecutionFailed", error=failure.error)
        except _Aborted:
            self._finish(run, ABORTED, "ExecutionAborted")
        except BaseException as exc:  # a defect here must not leave the execution RUNNING forever
            self._finish(run, FAILED, "ExecutionFailed", error={"error": "EngineError", "cause": f"{type(exc).__name__}: {exc}"})
            raise
        else:
            self._finish(run, SUCCEEDED, "ExecutionSucceeded", output=output)

    def _finish(self, run: _Run, status: str, kind: str, output: dict | None = None, error: dict | None = None) -> None:
        self._record(run, None, "", kind, **({"output": _json_copy(output)} if output is not None else error or {}))
        with run.lock:
            run.status, run.output, run.error, run.ended = status, output, error, self._clock()
        run.done.set()

    def _record(self, run: _Run, step: str | None, branch: str, kind: str, /, **data: Any) -> None:
        event = Event(self._clock(), kind, step, branch, data)
        with run.lock:
            run.history.append(event)
        if self._listener is not None:
            try:
                self._listener(run.workflow.name, run.id, event)
            except Exception:  # the dev server's log or console must not change an execution
                _LOG.exception("workflow event listener failed on %s", kind)

    # ----------------------------------------------------------------------------- steps

    def _graph(self, run: _Run, name: str | None, steps: Mapping[str, Step], state: dict, branch: str) -> dict:
        """Run one graph from `name`; its final state, or _Failure."""
        while name is not None:
            if self._stopping.is_set():
                raise _Aborted
            step = steps[name]
            self._record(run, name, branch, "StepEntered", kind=step.type)
            if isinstance(step, Succeed):
                self._record(run, name, branch, "StepExited", output=_json_copy(state), next=None)
                return state
            if isinstance(step, Fail):
                raise self._failure(run, name, branch, {"error": step.error, "cause": step.cause})
            if isinstance(step, Choice):
                following = next((r.next for r in step.rules if rule_matches(state, r.path, r.op, _literal(r.op, r.value))),
                                 step.default)
                if following is None:
                    raise self._failure(run, name, branch, {"error": "NoChoiceMatched", "cause": f"no rule of choice step {name} matched"})
            elif isinstance(step, Wait):
                self._pause(run, name, branch, "WaitStarted", step.seconds)
                following = step.next
            else:
                state, following = self._guarded(run, name, step, state, branch)
            self._record(run, name, branch, "StepExited", output=_json_copy(state), next=following)
            name = following
        return state

    def _failure(self, run: _Run, name: str, branch: str, error: dict) -> _Failure:
        """The step's failure, recorded."""
        self._record(run, name, branch, "StepFailed", **error)
        return _Failure(error)

    def _guarded(self, run: _Run, name: str, step: Task | Parallel | Map, state: dict, branch: str) -> tuple[dict, str | None]:
        """Attempt the step, retrying and catching as its entries say; (state, next step)."""
        excludes = ("Timeout", *mentioned(step))
        retries = until_all(step.retry)
        schedules = [delays(r) for r in retries]
        tries = [0] * len(retries)
        while True:
            try:
                return self._attempt(run, name, step, state, branch), step.next
            except _Failure as failure:
                error = failure.error
            entry = next((i for i, r in enumerate(retries) if error_matches(r.errors, error["error"], excludes)), None)
            if entry is None or tries[entry] >= len(schedules[entry]):
                break
            delay = schedules[entry][tries[entry]]
            tries[entry] += 1
            self._pause(run, name, branch, "RetryScheduled", delay, error=error["error"], retry=tries[entry])
        target = next((c.next for c in until_all(step.catch) if error_matches(c.errors, error["error"], excludes)), None)
        if target is None:
            raise self._failure(run, name, branch, error)
        self._record(run, name, branch, "Caught", next=target, **error)
        return {**state, "error": error}, target

    def _attempt(self, run: _Run, name: str, step: Task | Parallel | Map, state: dict, branch: str) -> dict:
        """One try of a task, parallel or map step: the state with its result stored."""
        if isinstance(step, Task):
            result: Any = self._call(run, name, step, state, branch)
        elif isinstance(step, Parallel):
            result = self._join(run, name, [(b, state) for b in step.branches], len(step.branches), branch)
        else:
            items = lookup(state, step.items)
            if not isinstance(items, list):
                raise _Failure({"error": "TaskFailed", "cause": f"{step.items} is not a list"})
            limit = min(step.max_concurrency or MAP_THREADS, MAP_THREADS)
            result = self._join(run, name, [(step.iterator, {"item": it, "index": i}) for i, it in enumerate(items)], limit, branch)
        if step.result is None:
            return state
        try:
            return store(state, step.result, result)
        except TypeError as err:  # a parent on the path is not an object: a failure of the step, as on Workflows
            raise _Failure({"error": "TaskFailed", "cause": str(err)}) from None

    def _call(self, run: _Run, name: str, step: Task, state: dict, branch: str) -> Any:
        """Invoke the step's function once: its JSON result, or _Failure."""
        self._record(run, name, branch, "TaskScheduled", function=step.function, input=_json_copy(state), timeout_s=step.timeout_s)
        began = time.perf_counter()
        detail = None
        try:
            result = _json_copy(self._answer(run, step, _json_copy(state)))
        except TaskError as err:
            error = {"error": err.name, "cause": err.message}
        except TimeoutError as err:
            if step.timeout_s is None:  # no race: the function's own timeout, a failure like any other
                error, detail = {"error": "TaskFailed", "cause": INTERNAL_ERROR}, f"{type(err).__name__}: {err}"
            else:
                error = {"error": "Timeout", "cause": f"no answer within {step.timeout_s} s"}
        except _Aborted:
            raise
        except BaseException as err:  # SystemExit too: a function that exits has failed, as on the clouds
            error, detail = {"error": "TaskFailed", "cause": INTERNAL_ERROR}, f"{type(err).__name__}: {err}"
        else:
            self._record(run, name, branch, "TaskSucceeded", function=step.function, output=_json_copy(result),
                         duration_s=time.perf_counter() - began)
            return result
        self._record(run, name, branch, "TaskFailed", function=step.function, duration_s=time.perf_counter() - began,
                     **error, **({"exception": detail} if detail else {}))
        raise _Failure(error)

    def _answer(self, run: _Run, step: Task, payload: dict) -> Any:
        """`invoke`'s answer; with the step's timeout, raced on a thread (TimeoutError if late)."""
        if step.timeout_s is None:
            return self._invoke(step.function, payload, None)
        box: dict[str, Any] = {}
        answered = threading.Event()

        def call() -> None:
            try:
                box["result"] = self._invoke(step.function, payload, step.timeout_s)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the execution's thread
                box["error"] = exc
            finally:
                answered.set()

        with self._lock:
            self._wakers.add(answered)
        try:
            threading.Thread(target=call, name=f"task {step.function} of {run.workflow.name}/{run.id}", daemon=True).start()
            answered.wait(step.timeout_s)
        finally:
            with self._lock:
                self._wakers.discard(answered)
        if not box:  # the timeout passed, or stop() woke this wait
            if self._stopping.is_set():
                raise _Aborted
            raise TimeoutError(f"no answer within {step.timeout_s} s")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _join(self, run: _Run, name: str, jobs: list[tuple[Branch, dict]], limit: int, branch: str) -> list[dict]:
        """Run each (graph, state) with at most `limit` at once; the final states in job order,
        or the first failure in job order once every job has ended."""
        outcomes: list[tuple[str, Any]] = [("", None)] * len(jobs)
        queue = iter(range(len(jobs)))
        taking = threading.Lock()

        def work() -> None:
            while True:
                with taking:
                    i = next(queue, None)
                if i is None:
                    return
                graph, state = jobs[i]
                label = f"{branch}/{name}[{i}]" if branch else f"{name}[{i}]"
                try:
                    outcomes[i] = ("ok", self._graph(run, graph.start, graph.steps, state, label))
                except _Failure as failure:
                    outcomes[i] = ("error", failure.error)
                except BaseException as exc:  # noqa: BLE001 - _Aborted or a defect, re-raised below
                    outcomes[i] = ("raise", exc)

        workers = [threading.Thread(target=work, name=f"{run.workflow.name}/{run.id} {name}", daemon=True)
                   for _ in range(min(limit, len(jobs)) - 1)]
        for worker in workers:
            worker.start()
        work()  # this thread is one of the workers
        for worker in workers:
            worker.join()
        for kind, value in outcomes:
            if kind == "raise":
                raise value
        failed = next((value for kind, value in outcomes if kind == "error"), None)
        if failed is not None:
            raise _Failure(failed)
        return [value for _, value in outcomes]

    def _pause(self, run: _Run, name: str, branch: str, kind: str, seconds: float, /, **data: Any) -> None:
        """Sleep `seconds` scaled (a Wait step or a retry delay)."""
        scaled = seconds * self._scale
        self._record(run, name, branch, kind, seconds=seconds, scaled_s=scaled, **data)
        if scaled > 0:
            self._sleep(scaled)
        if self._stopping.is_set():
            raise _Aborted


@dataclass(frozen=True)
class LocalWorkflow:
    """A workflow of the engine as `runtime.contracts.Workflow`: ``start(id, state) -> bool``."""

    engine: Engine
    name: str

    def start(self, execution_id: str, state: Mapping[str, Any]) -> bool:
        return self.engine.start(self.name, execution_id, state)


def _literal(op: str, value: Any) -> Any:
    """A rule's literal as workflow_state.rule_matches takes it (``exists`` alone means true)."""
    return value is not False if op == "exists" else value


def _json_copy(value: Any) -> Any:
    """A copy of `value` as JSON carries it; TypeError/ValueError when it is not JSON."""
    return json.loads(json.dumps(value, allow_nan=False))
