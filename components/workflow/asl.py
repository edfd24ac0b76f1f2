"""Compile a WorkflowSpec to Amazon States Language (AWS Step Functions).

The portable meaning is DESIGN.md section 5; this is how ASL expresses it:

- The state is one JSON object. A task invokes its Lambda with the whole state through the
  optimized ``lambda:invoke`` integration. Its result arrives in an envelope (``Payload``,
  ``StatusCode``...), and ASL can only select objects, so the task keeps ``{"value": Payload}``
  at the result path and a Pass state ``<step>.result`` lifts ``value`` into place: the
  stored value is exactly the function's JSON, whatever its type. ``result=None`` drops it.
- Error names: a ``TaskError`` name as is, ``all`` -> States.ALL, ``Timeout`` ->
  States.Timeout (``timeout_s`` exceeded), ``TaskFailed`` -> States.TaskFailed. Step
  Functions' TaskFailed also matches *named* errors, so for a step, ``TaskFailed`` means
  "any error except Timeout and the names this step's retry and catch lists mention":
  before the first TaskFailed entry a guard sends those names where the portable rules
  would (the entry that names them or lists ``all``; else no retry, or a rethrow). So a
  declined payment that the step catches is never retried by a TaskFailed retry.
  Entries are tried in order and the first match wins; entries after ``all`` never match.
- Retry ``attempts`` counts retries after the first try (MaxAttempts): attempts=2 runs the
  task at most 3 times. Lambda service errors get AWS's recommended retry first.
- A catch stores ``{"error": name, "cause": text}`` at ``state["error"]`` (a Pass state
  ``<target>.caught`` renames Step Functions' Error/Cause). For a Lambda error the cause is
  the Lambda error document as JSON text (errorType, errorMessage, stackTrace).
- A choice rule on a missing path does not match (``!=`` does); plain ASL would stop the
  execution with States.Runtime. With no default and no match, the execution fails with
  States.NoChoiceMatched.
- Map runs each element with the state ``{"item": element, "index": i}``.

Generated state names contain a dot, which step names cannot, so they never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from components.spec import Catch, Choice, Fail, Parallel, Retry, Rule, SpecError, Step, Succeed, Task, Wait, WorkflowSpec

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# The retry AWS recommends for transient Lambda service errors on every Lambda task.
LAMBDA_SERVICE_RETRY = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}
STATES_ERRORS = {"all": "States.ALL", "TaskFailed": "States.TaskFailed", "Timeout": "States.Timeout"}
# Re-raise a caught error unchanged: ends this graph exactly as if it was never caught.
RETHROW = {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
COMPARISONS = {"==": "Equals", "!=": "Equals", "<": "LessThan", "<=": "LessThanEquals", ">": "GreaterThan", ">=": "GreaterThanEquals"}


def compile_asl(workflow: WorkflowSpec, function_arns: Mapping[str, str]) -> dict:
    """The state machine definition for `workflow`; `function_arns` maps function name to ARN."""
    missing = [f for f in workflow.task_functions() if f not in function_arns]
    if missing:
        raise SpecError(f"workflows.{workflow.name}: no function ARN for {', '.join(missing)}")
    return _graph(workflow.start, workflow.steps, function_arns)


def _graph(start: str, steps: Mapping[str, Step], arns: Mapping[str, str]) -> dict:
    states: dict[str, dict] = {}
    for name, step in steps.items():
        states.update(_states(name, step, arns))
    return {"StartAt": start, "States": states}


def _states(name: str, step: Step, arns: Mapping[str, str]) -> dict[str, dict]:
    """The state for `step`, then the helper states it needs."""
    if isinstance(step, Choice):
        choice = {"Type": "Choice", "Choices": [{**_condition(rule), "Next": rule.next} for rule in step.rules]}
        return {name: choice | ({"Default": step.default} if step.default else {})}
    if isinstance(step, Wait):
        return {name: {"Type": "Wait", "Seconds": step.seconds} | _then(step.next)}
    if isinstance(step, Succeed):
        return {name: {"Type": "Succeed"}}
    if isinstance(step, Fail):
        return {name: {"Type": "Fail", "Error": step.error} | ({"Cause": step.cause} if step.cause else {})}

    helpers: dict[str, dict] = {}
    if isinstance(step, Task):
        state = {"Type": "Task", "Resource": LAMBDA_INVOKE, "Parameters": {"FunctionName": arns[step.function], "Payload.$": "$"}}
        if step.timeout_s:
            state["TimeoutSeconds"] = step.timeout_s
    elif isinstance(step, Parallel):
        state = {"Type": "Parallel", "Branches": [_graph(b.start, b.steps, arns) for b in step.branches]}
    else:
        state = {
            "Type": "Map",
            "ItemsPath": _path(step.items),
            "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}} | _graph(step.iterator.start, step.iterator.steps, arns),
        }
        if step.max_concurrency:
            state["MaxConcurrency"] = step.max_concurrency

    if step.result is None:
        state["ResultPath"] = None
        state |= _then(step.next)
    elif isinstance(step, Task):
        lift = f"{name}.result"
        state |= {"ResultSelector": {"value.$": "$.Payload"}, "ResultPath": _path(step.result), "Next": lift}
        helpers[lift] = {"Type": "Pass", "InputPath": _path(step.result) + ".value", "ResultPath": _path(step.result)} | _then(step.next)
    else:
        state["ResultPath"] = _path(step.result)
        state |= _then(step.next)

    named = sorted({e for entry in step.retry + step.catch for e in entry.errors if e not in STATES_ERRORS})
    retry = ([LAMBDA_SERVICE_RETRY] if isinstance(step, Task) else []) + _handlers(step.retry, named, _retrier)

    def catcher(errors: Sequence[str], catch: Catch | None) -> dict:
        target = f"{catch.next}.caught" if catch else f"{name}.rethrow"
        helpers[target] = _caught(catch.next) if catch else RETHROW
        return {"ErrorEquals": _error_equals(errors), "ResultPath": "$.error", "Next": target}

    catch = _handlers(step.catch, named, catcher)
    return {name: state | ({"Retry": retry} if retry else {}) | ({"Catch": catch} if catch else {})} | helpers


def _handlers(entries: Sequence[Retry | Catch], named: list[str], render: Callable) -> list[dict]:
    """ASL Retry or Catch entries, first match wins; see the module docstring for the guard.

    `render(errors, entry)` builds one entry; `entry` is None for "no entry handles these".
    """
    last = next((i for i, e in enumerate(entries) if "all" in e.errors), len(entries) - 1)
    entries = entries[: last + 1]
    out, unmatched = [], named
    for i, entry in enumerate(entries):
        if "TaskFailed" in entry.errors and "all" not in entry.errors and unmatched:
            guarded = [n for n in unmatched if n not in entry.errors]
            handler = {n: next((e for e in entries[i + 1 :] if n in e.errors or "all" in e.errors), None) for n in guarded}
            for target in dict.fromkeys(handler.values()):
                out.append(render([n for n in guarded if handler[n] == target], target))
            unmatched = []
        out.append(render(entry.errors, entry))
        unmatched = [n for n in unmatched if n not in entry.errors]
    return out


def _retrier(errors: Sequence[str], retry: Retry | None) -> dict:
    if retry is None:
        return {"ErrorEquals": _error_equals(errors), "MaxAttempts": 0}
    out = {
        "ErrorEquals": _error_equals(errors),
        "IntervalSeconds": retry.interval_s,
        "MaxAttempts": retry.attempts,
        "BackoffRate": retry.backoff_rate,
    }
    return out | ({"MaxDelaySeconds": retry.max_delay_s} if retry.max_delay_s else {})


def _caught(target: str) -> dict:
    """Rename the caught Error/Cause to the portable {error, cause}, then go on to `target`."""
    return {
        "Type": "Pass",
        "Parameters": {"error.$": "$.error.Error", "cause.$": "$.error.Cause"},
        "ResultPath": "$.error",
        "Next": target,
    }


def _error_equals(errors: Sequence[str]) -> list[str]:
    """ASL needs States.ALL alone; it subsumes everything else in the list anyway."""
    if "all" in errors:
        return ["States.ALL"]
    return list(dict.fromkeys(STATES_ERRORS.get(e, e) for e in errors))


def _condition(rule: Rule) -> dict:
    variable = _path(rule.path)
    if rule.op == "exists":
        return {"Variable": variable, "IsPresent": rule.value is not False}
    kind = "Boolean" if isinstance(rule.value, bool) else "String" if isinstance(rule.value, str) else "Numeric"
    compare = {"And": [{"Variable": variable, "IsPresent": True}, {"Variable": variable, kind + COMPARISONS[rule.op]: rule.value}]}
    return {"Not": compare} if rule.op == "!=" else compare


def _path(dotted: str) -> str:
    return "$." + dotted


def _then(next_step: str | None) -> dict:
    return {"Next": next_step} if next_step else {"End": True}
