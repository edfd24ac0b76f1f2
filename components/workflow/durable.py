"""Compile a WorkflowSpec to the JSON definition the generic Durable Functions orchestrator
(functions/runtime/azure/durable.py) interprets.

The portable meaning is DESIGN.md section 5 (asl.py and gcp.py state it for their engines);
Durable has no workflow language, so the definition is plain data and the orchestrator does
what the other engines' runtimes do:

- A graph is ``{"start": step, "steps": {name: step}}``; each step has a ``kind`` (task,
  choice, parallel, map, wait, succeed, fail) and ``next`` (None ends the graph with the
  state). Keys come in a fixed order, so the same spec always gives the same JSON.
- A task has a ``target``: the opaque string `task_targets` gives for its function (the task
  app's URL), which the orchestrator POSTs the state to with a durable HTTP call (with a
  managed-identity token for ``audience`` when it is set) and reads by
  DESIGN.md's HTTP contract; ``result`` is the dotted path for the response body (None drops
  it) and ``timeout_s`` the time a durable timer races the call for (None: no race).
- Errors. Retry and catch entries keep their ``errors`` list, cut after the first entry
  listing ``all`` (first match wins, so later ones never match). ``task_failed_excludes`` is
  what ``TaskFailed`` does not match at this step: ``Timeout`` and every other name the
  step's retry and catch lists mention (the same rule as asl.py and gcp.py).
- Retry entries carry ``delays``: the wait before each retry, computed by the same rule as
  the Workflows compiler (IntervalSeconds x BackoffRate^(n-1), capped by MaxDelaySeconds; one
  delay per retry after the first try), which the orchestrator sleeps with durable timers.
- Catch entries name their target step; the orchestrator stores ``{error, cause}`` at
  ``state["error"]``.
- Choice rules keep path, op, value and next; ``exists`` carries value true or false.
  ``default`` may be None (then no match fails with NoChoiceMatched).
- Parallel holds its ``branches`` as graphs and Map its ``items`` path, ``iterator`` graph and
  ``max_concurrency`` (0: no limit); both store the list of final states at ``result``.
- Wait has ``seconds``; Fail has ``error`` and ``cause``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.spec import Catch, Choice, Fail, Map, Parallel, Retry, SpecError, Step, Succeed, Task, Wait, WorkflowSpec
from components.workflow.retry import delays as retry_delays
from components.workflow.retry import mentioned, until_all


def compile_durable(workflow: WorkflowSpec, task_targets: Mapping[str, str], audience: str | None = None) -> dict:
    """The definition for `workflow`; `task_targets` maps function name to what the
    orchestrator calls (the task function's URL), `audience` is what the orchestrator's
    managed-identity token for those calls names (None: calls carry no token)."""
    missing = [f for f in workflow.task_functions() if f not in task_targets]
    if missing:
        raise SpecError(f"workflows.{workflow.name}: no task target for {', '.join(missing)}")
    targets = {f: {"target": t, "audience": audience} for f, t in task_targets.items()}
    return {"workflow": workflow.name, **_graph(workflow.start, workflow.steps, targets)}


def _graph(start: str, steps: Mapping[str, Step], targets: Mapping[str, dict]) -> dict:
    return {"start": start, "steps": {name: _step(step, targets) for name, step in steps.items()}}


def _step(step: Step, targets: Mapping[str, dict]) -> dict:
    if isinstance(step, Choice):
        rules = [
            {"path": r.path, "op": r.op, "value": r.value is not False if r.op == "exists" else r.value, "next": r.next}
            for r in step.rules
        ]
        return {"kind": "choice", "rules": rules, "default": step.default}
    if isinstance(step, Wait):
        return {"kind": "wait", "seconds": step.seconds, "next": step.next}
    if isinstance(step, Succeed):
        return {"kind": "succeed"}
    if isinstance(step, Fail):
        return {"kind": "fail", "error": step.error, "cause": step.cause}
    if isinstance(step, Task):
        work = {"kind": "task", **targets[step.function], "timeout_s": step.timeout_s}
    elif isinstance(step, Parallel):
        work = {"kind": "parallel", "branches": [_graph(b.start, b.steps, targets) for b in step.branches]}
    else:
        work = {
            "kind": "map",
            "items": step.items,
            "iterator": _graph(step.iterator.start, step.iterator.steps, targets),
            "max_concurrency": step.max_concurrency,
        }
    return work | {"result": step.result, **_handlers(step), "next": step.next}


def _handlers(step: Task | Parallel | Map) -> dict:
    retries: Sequence[Retry] = until_all(step.retry)
    catches: Sequence[Catch] = until_all(step.catch)
    return {
        "retry": [{"errors": list(r.errors), "delays": retry_delays(r)} for r in retries],
        "catch": [{"errors": list(c.errors), "next": c.next} for c in catches],
        "task_failed_excludes": ["Timeout", *mentioned(step)],
    }
