"""The generic Durable Functions orchestrator: runs a definition compiled by
components/workflow/durable.py with the portable semantics of DESIGN.md section 5.

Register it under ORCHESTRATOR_NAME (the function's own name, which DFApp uses); parallel
branches and map items call it back as sub-orchestrations. Start it with the input
``{"definition": <compiled definition>, "input": <state>}``: it returns the final state, or
fails with a message that is the JSON ``{"error", "cause"}`` (the caller reads the error name
from the failed instance's output, never from exception types, which Durable loses).

- Tasks are durable HTTP calls (``call_http``): POST the state to the step's target, with a
  token of the app's managed identity for the step's ``audience`` (the task app admits that
  identity only; the extension picks the identity from ``AZURE_CLIENT_ID``), and read
  DESIGN.md's contract from the response the extension records (``statusCode``, ``content``):
  2xx is the result, otherwise the body's ``error`` names the error (``TaskFailed`` when it
  names none) and its ``message`` is the cause. A call the extension cannot make at all fails
  the task (a bare exception), which is ``TaskFailed``. The Python SDK does not poll 202
  answers, so task functions answer synchronously.
- ``timeout_s``: a durable timer races the call (``task_any``); if the timer wins, the
  error is ``Timeout`` and the late response is ignored; if the call wins, the timer is
  cancelled. Both are history events, so replay decides the race the same way every time.
  Without ``timeout_s`` there is no race (the host's own HTTP limits apply).
- Retry is applied here, not with the SDK's RetryOptions (which has no backoff rate or max
  delay): the first retry entry matching the error is the only one consulted, and with
  retries left the orchestrator sleeps its precomputed delay with a durable timer and tries
  the step again. ``TaskFailed`` in an entry matches any error except the step's
  ``task_failed_excludes``.
- Catch stores ``{"error", "cause"}`` at ``state["error"]`` and goes to its step.
- Choice: a rule on a missing path does not match (``!=`` and ``exists: false`` do); values
  of another type than the literal never compare (booleans are not numbers). No match and no
  default fails with NoChoiceMatched.
- Parallel branches and map items are sub-orchestrations (each its own history and copy of
  the state, as in Step Functions and Workflows), joined with ``task_all``. A branch never
  fails its sub-orchestration: it returns ``{"ok": state}`` or ``{"error": {...}}``, so every
  branch runs to completion (as on Workflows; Durable cannot cancel the others anyway) and the
  first failure in branch (item) order is the step's error. Map keeps at most
  ``max_concurrency`` items running: it waits with ``task_any`` before starting the next.
- Wait is a durable timer; Succeed ends the graph with the state; Fail fails it.

Deterministic under replay: time is only ``context.current_utc_datetime``, every effect is a
durable task, and nothing here does I/O.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from azure.durable_functions import ManagedIdentityTokenSource

from ..workflow_state import error_matches, lookup, rule_matches, store

ORCHESTRATOR_NAME = "orchestrator"


class WorkflowFailed(Exception):
    """The orchestration's failure; its message is the JSON ``{"error", "cause"}``."""

    def __init__(self, error: dict):
        super().__init__(json.dumps(error))


def orchestrator(context):
    """Run ``input["definition"]`` on ``input["input"]``; with ``"branch": true`` return the
    outcome envelope (a parallel branch or map item) instead of failing."""
    request = context.get_input()
    outcome = yield from _graph(context, request["definition"], request["input"])
    if request.get("branch"):
        return outcome
    if "error" in outcome:
        raise WorkflowFailed(outcome["error"])
    return outcome["ok"]


def _graph(context, graph: dict, state: Any):
    """Run one graph; the outcome is ``{"ok": final state}`` or ``{"error": {error, cause}}``."""
    name = graph["start"]
    while True:
        step = graph["steps"][name]
        kind = step["kind"]
        if kind == "succeed":
            return {"ok": state}
        if kind == "fail":
            return {"error": {"error": step["error"], "cause": step["cause"]}}
        if kind == "wait":
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step["seconds"]))
            name = step["next"]
        elif kind == "choice":
            name = next((r["next"] for r in step["rules"] if rule_matches(state, r["path"], r["op"], r["value"])), step["default"])
            if name is None:
                return {"error": {"error": "NoChoiceMatched", "cause": "no rule of the choice step matched"}}
            continue
        else:
            outcome = yield from _with_retry(context, step, state)
            if "ok" in outcome:
                state, name = outcome["ok"], step["next"]
            else:
                name = next((c["next"] for c in step["catch"] if _handles(c, outcome["error"], step)), None)
                if name is None:
                    return outcome
                state = {**state, "error": outcome["error"]}
        if name is None:
            return {"ok": state}


def _with_retry(context, step: dict, state: Any):
    tries = [0] * len(step["retry"])
    while True:
        outcome = yield from _attempt(context, step, state)
        if "ok" in outcome:
            return outcome
        entry = next((i for i, r in enumerate(step["retry"]) if _handles(r, outcome["error"], step)), None)
        if entry is None or tries[entry] >= len(step["retry"][entry]["delays"]):
            return outcome
        delay = step["retry"][entry]["delays"][tries[entry]]
        tries[entry] += 1
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=delay))


def _attempt(context, step: dict, state: Any):
    """One try of a task, parallel or map step; the outcome holds the new state."""
    if step["kind"] == "task":
        outcome = yield from _task(context, step, state)
    elif step["kind"] == "parallel":
        outcome = yield from _join(context, [(b, state) for b in step["branches"]], 0)
    else:
        items = lookup(state, step["items"])
        if not isinstance(items, list):
            return {"error": {"error": "TaskFailed", "cause": f"{step['items']} is not a list"}}
        runs = [(step["iterator"], {"item": item, "index": i}) for i, item in enumerate(items)]
        outcome = yield from _join(context, runs, step["max_concurrency"])
    if "error" in outcome or step["result"] is None:
        return outcome if "error" in outcome else {"ok": state}
    return {"ok": store(state, step["result"], outcome["ok"])}


def _task(context, step: dict, state: Any):
    token = ManagedIdentityTokenSource(step["audience"]) if step.get("audience") else None
    call = context.call_http("POST", step["target"], content=state, token_source=token)
    try:
        if step["timeout_s"] is None:
            yield call
        else:
            timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=step["timeout_s"]))
            winner = yield context.task_any([call, timer])
            if winner is timer:
                return {"error": {"error": "Timeout", "cause": f"no answer within {step['timeout_s']} s"}}
            timer.cancel()
            if isinstance(call.result, Exception):
                raise call.result
    except Exception as failed:  # the extension could not make the call; its text is all there is
        return {"error": {"error": "TaskFailed", "cause": str(failed)}}
    return _answer(call.result)


def _answer(response: dict) -> dict:
    """DESIGN.md section 5: the task's HTTP answer as a portable outcome."""
    content = response.get("content")
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = content
    status = response["statusCode"]
    if 200 <= status < 300:
        return {"ok": body}
    named = body if isinstance(body, dict) else {}
    name = named.get("error") if isinstance(named.get("error"), str) else "TaskFailed"
    cause = named.get("message") if isinstance(named.get("message"), str) else f"HTTP {status}"
    return {"error": {"error": name, "cause": cause}}


def _join(context, runs: list[tuple[dict, Any]], limit: int):
    """Run each (graph, state) as a branch sub-orchestration, at most `limit` at once (0: all);
    the outcome is the list of final states or the first error in list order."""
    started, running = [], []
    for graph, state in runs:
        if limit and len(running) >= limit:
            yield context.task_any(running)
            running = [t for t in running if not t.is_completed]
        task = context.call_sub_orchestrator(ORCHESTRATOR_NAME, {"definition": graph, "input": state, "branch": True})
        started.append(task)
        running.append(task)
    if not started:  # the SDK resolves an empty task_all to None, not []
        return {"ok": []}
    try:
        outcomes = yield context.task_all(started)
    except Exception as failed:  # a branch orchestration crashed instead of returning its outcome
        return {"error": {"error": "TaskFailed", "cause": str(failed)}}
    failed = [o for o in outcomes if "error" in o]
    return failed[0] if failed else {"ok": [o["ok"] for o in outcomes]}


def _handles(entry: dict, error: dict, step: dict) -> bool:
    """Whether a retry or catch entry of `step` matches `error`."""
    return error_matches(entry["errors"], error["error"], step["task_failed_excludes"])
