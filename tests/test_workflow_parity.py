"""One scenario table, three engines: the ASL on moto's Step Functions, the Workflows YAML on
tests/support/workflows_interpreter.py and the Durable definition on the generic orchestrator
(real azure-functions-durable SDK, replayed by tests/support/durable_driver.py) must agree on
status, error name, final state, task calls (with their input states, so retries count) and
the sleeps between retries.

Tasks follow each cloud's contract. On AWS a TaskError reaches Step Functions as an
exception class named after the error (the AWS adapter); any other exception passes
through, so Lambda reports its Python class (here RuntimeError) where the portable name is
TaskFailed. On GCP the engine POSTs the state and reads DESIGN.md's HTTP contract: 200 and
the result, 422 ``{"error", "message"}``, 500 ``{"error": "TaskFailed", "message":
"internal error"}``; a call longer than the task's timeout times out. On Azure the
orchestrator makes the same POST as a durable HTTP call and reads the same contract; the
behaviour's duration is when the response arrives, and a durable timer races it.

What is compared is the portable meaning, so each engine's spelling is translated first:
Step Functions' ``States.X`` is ``X``, the unnamed exception's class is ``TaskFailed``, and
a caught error's cause is the TaskError's message (ASL keeps the Lambda error document as
JSON); for TaskFailed and Timeout the cause is engine text by design (GCP's 500 hides the
exception, moto's timeout has none), so only its presence is compared.

Timeouts are real on moto (TimeoutSeconds ends a handler that sleeps past it, as States.Timeout)
and virtual on the interpreter and the Durable driver; moto's Wait also sleeps for real, so
both stay at 1 s. Durable, like Workflows, lets sibling branches run to completion (it cannot
cancel them) and reports the first failure in branch order; no scenario tells that apart
from Step Functions stopping them.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass

import pytest
import yaml

from components.spec import (
    Branch,
    Choice,
    Map,
    Parallel,
    Retry,
    Rule,
    SpecError,
    Succeed,
    Task,
    Wait,
    WorkflowSpec,
)
from components.workflow.asl import compile_asl
from components.workflow.durable import compile_durable
from components.workflow.gcp import DEFAULT_TIMEOUT_S, compile_workflows, to_yaml
from runtime.azure.durable import ORCHESTRATOR_NAME, orchestrator
from tests.support import durable_driver
from tests.support.step_functions import arn, moto_step_functions, named_error
from tests.support.workflow_scenarios import (
    FULFIL,
    SCENARIOS,
    TIMEOUT,
    Behaviour,
    Scenario,
    Tasks,
    flow,
)
from tests.support.workflows_interpreter import (
    CallTimedOut,
    ProgramError,
    Request,
    Scope,
    WorkflowSyntaxError,
    evaluate,
    parse_expression,
    run,
    validate,
)

#: The exception an unnamed task failure raises on AWS; Lambda reports its class name.
AWS_UNNAMED_ERROR = RuntimeError
#: Error names whose cause is not a task's message on every engine.
ENGINE_CAUSES = ("TaskFailed", "Timeout")


def url(function: str) -> str:
    return f"https://{function}-x7k2q-ew.a.run.app"


def urls(workflow: WorkflowSpec) -> dict[str, str]:
    return {f: url(f) for f in workflow.task_functions()}


@dataclass
class Outcome:
    status: str
    error: str | None
    output: dict | None
    calls: list
    sleeps: list


def portable_name(name: str) -> str:
    return "TaskFailed" if name == AWS_UNNAMED_ERROR.__name__ else name.removeprefix("States.")


def portable(value, from_aws: bool):
    """`value` with every caught ``{error, cause}`` in portable form (see the module docstring)."""
    if isinstance(value, list):
        return [portable(v, from_aws) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: portable(v, from_aws) for k, v in value.items()}
    caught = out.get("error")
    if isinstance(caught, dict) and set(caught) == {"error", "cause"}:
        name, cause = caught["error"], caught["cause"]
        if from_aws:
            name = portable_name(name)
            cause = json.loads(cause)["errorMessage"] if cause.startswith("{") else cause
        assert isinstance(cause, str)
        out["error"] = {"error": name, "cause": "(engine text)" if name in ENGINE_CAUSES else cause}
    return out


def outcome(scenario: Scenario, status: str, error: str | None, output, tasks: Tasks, sleeps: list, from_aws: bool) -> Outcome:
    assert not tasks.overrun, f"more calls than scripted: {tasks.overrun}"
    counts: dict[str, int] = {}
    calls = []
    for function, state in tasks.calls:
        counts[function] = counts.get(function, 0) + 1
        calls.append((function, counts[function], portable(state, from_aws)))
    if scenario.calls is None:  # concurrent branches: the order of calls is not part of the meaning
        calls = sorted((f, json.dumps(s, sort_keys=True)) for f, _, s in calls)
    return Outcome(status.lower(), error, portable(output, from_aws), calls, sleeps)


# ---------------------------------------------------------------------------------- engines


def lambda_handler(tasks: Tasks, function: str):
    def handle(state, context):
        behaviour = tasks.answer(function, state)
        time.sleep(behaviour.takes_s)
        if behaviour.error:
            raise named_error(behaviour.error, behaviour.message)
        if behaviour.crash:
            raise AWS_UNNAMED_ERROR(behaviour.message)
        return behaviour.result

    return handle


def http_handler(tasks: Tasks, function: str):
    """DESIGN.md section 5: the task function's HTTP answer to the engine's POST."""

    def handle(request: Request) -> tuple[int, object]:
        behaviour = tasks.answer(function, request.body)
        if behaviour.takes_s > request.timeout:
            raise CallTimedOut
        if behaviour.error:
            return 422, {"error": behaviour.error, "message": behaviour.message}
        if behaviour.crash:
            return 500, {"error": "TaskFailed", "message": "internal error"}
        return 200, behaviour.result

    return handle


def durable_handler(tasks: Tasks, function: str):
    """DESIGN.md section 5 for the Durable driver: the same answers, and when they arrive."""

    def handle(state) -> durable_driver.HttpAnswer:
        behaviour = tasks.answer(function, state)
        if behaviour.error:
            return 422, {"error": behaviour.error, "message": behaviour.message}, behaviour.takes_s
        if behaviour.crash:
            return 500, {"error": "TaskFailed", "message": "internal error"}, behaviour.takes_s
        return 200, behaviour.result, behaviour.takes_s

    return handle


def on_step_functions(scenario: Scenario, execute) -> Outcome:
    workflow, tasks = scenario.workflow, Tasks(scenario.script)
    definition = compile_asl(workflow, {f: arn(f) for f in workflow.task_functions()})
    result = execute(definition, {f: lambda_handler(tasks, f) for f in workflow.task_functions()}, scenario.state, workflow.name)
    waits = {name: step.seconds for name, step in workflow.all_steps() if isinstance(step, Wait)}
    # moto really waits in Wait states; only retry sleeps are recorded. No scenario mixes the two.
    waited = [waits[e["stateEnteredEventDetails"]["name"]] for e in result.events if e["type"] == "WaitStateEntered"]
    error = portable_name(result.error) if result.error else None
    return outcome(scenario, result.status, error, result.output, tasks, result.delays + waited, from_aws=True)


def on_workflows(scenario: Scenario) -> Outcome:
    workflow, tasks = scenario.workflow, Tasks(scenario.script)
    handlers = {url(f): http_handler(tasks, f) for f in workflow.task_functions()}
    execution = run(compile_workflows(workflow, urls(workflow)), handlers, copy.deepcopy(scenario.state))
    error = execution.error["error"] if execution.status == "FAILED" else None
    return outcome(scenario, execution.status, error, execution.result, tasks, execution.sleeps, from_aws=False)


def on_durable(scenario: Scenario) -> Outcome:
    workflow, tasks = scenario.workflow, Tasks(scenario.script)
    definition = compile_durable(workflow, urls(workflow))
    http = {url(f): durable_handler(tasks, f) for f in workflow.task_functions()}
    execution = durable_driver.run({ORCHESTRATOR_NAME: orchestrator}, ORCHESTRATOR_NAME,
                                   {"definition": definition, "input": copy.deepcopy(scenario.state)}, http)
    error = json.loads(execution.error)["error"] if execution.status == "failed" else None
    return outcome(scenario, execution.status, error, execution.output, tasks, execution.sleeps, from_aws=False)


@pytest.fixture(scope="module")
def execute():
    with moto_step_functions() as executor:
        yield executor


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_engine_agrees(scenario, execute):
    aws, gcp, azure = on_step_functions(scenario, execute), on_workflows(scenario), on_durable(scenario)
    assert gcp == aws
    assert azure == aws
    assert (aws.status, aws.error) == (scenario.status, scenario.error)
    if scenario.calls is not None:
        assert [f for f, _, _ in aws.calls] == list(scenario.calls)


def test_scenarios_cover_the_semantics_they_promise():
    """Spot checks of the agreed outcomes, so that both engines cannot agree on a wrong answer."""
    by_name = {s.name: s for s in SCENARIOS}
    happy = on_workflows(by_name["happy-path"])
    assert happy.output == {"order": {"id": "o-1"}, "reservation": {"id": "r-1"}, "payment": {"receipt": "rcpt-9"}}
    caught = on_workflows(by_name["caught-out-of-stock-not-retried"])
    assert caught.calls[1][2]["error"] == {"error": "OutOfStock", "cause": "sku-1 sold out"}
    assert on_workflows(by_name["task-failed-retried-then-caught"]).sleeps == [1, 2]  # 1 x 3 capped at 2
    assert on_workflows(by_name["named-retry-exhausted-not-caught-as-task-failed"]).sleeps == [1, 1.5]
    timed_out = on_workflows(by_name["timeout-caught-not-as-task-failed"])
    assert timed_out.output["error"]["error"] == "Timeout" and "out" not in timed_out.output
    parallel = on_workflows(by_name["parallel-branch-fails-retried-then-caught"])
    assert [f for f, _ in parallel.calls] == ["left", "left", "recover", "right", "right"]
    assert parallel.output["error"] == {"error": "Broken", "cause": "left broke"} and "sides" not in parallel.output
    serial = on_workflows(by_name["map-three-one-at-a-time"])
    assert serial.output["priced"] == [{"item": "a", "index": 0, "price": 10}, {"item": "b", "index": 1, "price": 20},
                                      {"item": "c", "index": 2, "price": 30}]
    assert on_workflows(by_name["map-empty"]).output["priced"] == []
    assert on_workflows(by_name["wait"]).sleeps == [1]
    assert on_workflows(by_name["fulfil-order-reserve-flaky"]).sleeps == [2, 4]


def test_unnamed_errors_are_named_by_their_class_on_aws(execute):
    """The one translation of names the parity test makes, pinned: if the AWS adapter ever
    reports unnamed failures as TaskFailed, AWS_UNNAMED_ERROR's mapping can go."""
    scenario = next(s for s in SCENARIOS if s.name == "task-failed-retry-exhausted")
    workflow, tasks = scenario.workflow, Tasks(scenario.script)
    definition = compile_asl(workflow, {f: arn(f) for f in workflow.task_functions()})
    result = execute(definition, {f: lambda_handler(tasks, f) for f in workflow.task_functions()}, scenario.state)
    assert result.error == "RuntimeError"
    assert on_workflows(scenario).error == "TaskFailed"


def test_no_matching_rule_and_no_default_fails_on_every_engine(execute):
    """Workflows and Durable raise NoChoiceMatched (Step Functions' States.NoChoiceMatched); moto's
    interpreter reports States.Runtime instead, so only the failure itself is compared."""
    workflow = flow("nomatch", {"pick": Choice(rules=(Rule(path="a", op="==", value=1, next="ok"),)), "ok": Succeed()})
    scenario = Scenario("no-match", workflow, {"a": 2})
    aws = execute(compile_asl(workflow, {}), {}, scenario.state)
    assert aws.status == "FAILED" and aws.error == "States.Runtime" and "No branching option" in aws.cause
    gcp = on_workflows(scenario)
    assert (gcp.status, gcp.error) == ("failed", "NoChoiceMatched")
    assert on_workflows(Scenario("match", workflow, {"a": 1})).status == "succeeded"
    azure = on_durable(scenario)
    assert (azure.status, azure.error) == ("failed", "NoChoiceMatched")
    assert on_durable(Scenario("match", workflow, {"a": 1})).status == "succeeded"


# ------------------------------------------------------------------------- compiled output

WORKFLOWS = {s.workflow.model_dump_json(): s.workflow for s in SCENARIOS}.values()


def http_calls(program: dict):
    """Every http.* call step in the program, at any depth."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if str(value.get("call", "")).startswith("http."):
                found.append(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(program)
    return found


def _step(program: dict, name: str) -> dict:
    return next(s[name] for s in program["main"]["steps"] if name in s)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_validator_accepts_every_compiled_program(workflow):
    validate(compile_workflows(workflow, urls(workflow)))


def test_every_task_call_is_an_oidc_post_to_its_own_function_and_carries_no_secret():
    workflow = FULFIL
    program = compile_workflows(workflow, urls(workflow))
    calls = http_calls(program)
    assert {c["args"]["url"] for c in calls} == set(urls(workflow).values())
    for call in calls:
        assert call["call"] == "http.post"
        assert call["args"]["auth"] == {"type": "OIDC", "audience": call["args"]["url"]}
        assert set(call["args"]) == {"url", "auth", "body", "timeout"}  # no headers: no token, no key
        assert call["args"]["body"] == "${state}"
    timeouts = {c["args"]["url"]: c["args"]["timeout"] for c in calls}
    assert set(timeouts.values()) == {DEFAULT_TIMEOUT_S}
    assert "sys.get_env" not in to_yaml(program) and "secret" not in to_yaml(program).lower()


def test_task_timeout_is_the_http_timeout():
    program = compile_workflows(TIMEOUT, urls(TIMEOUT))
    assert [c["args"]["timeout"] for c in http_calls(program)] == [1, DEFAULT_TIMEOUT_S]


def test_yaml_is_deterministic_and_is_the_program():
    text = to_yaml(compile_workflows(FULFIL, urls(FULFIL)))
    assert text == to_yaml(compile_workflows(FULFIL, urls(FULFIL)))
    assert yaml.safe_load(text) == compile_workflows(FULFIL, urls(FULFIL))
    assert text.startswith("main:\n") and "&id" not in text  # no YAML anchors for Workflows to resolve


def test_retry_delays_are_step_functions_backoff():
    workflow = flow("delays", {"call": Task(function="work", retry=(Retry(attempts=4, interval_s=2, backoff_rate=1.5, max_delay_s=4),))})
    entry = compile_workflows(workflow, urls(workflow))["main"]["steps"][1]["call"]["assign"]
    assert {"delays": [[2, 3, 4, 4]]} in entry and {"tries": [0]} in entry


def test_every_function_needs_a_url():
    with pytest.raises(SpecError, match="workflows.fulfil-order: no function URL for charge-payment"):
        compile_workflows(FULFIL, {f: u for f, u in urls(FULFIL).items() if f != "charge-payment"})


def _wait_branch(i: int) -> Branch:
    return Branch(start=f"w{i}", steps={f"w{i}": Wait(seconds=1)})


def test_workflows_limits_are_spec_errors():
    eleven = flow("wide", {"all": Parallel(branches=tuple(_wait_branch(i) for i in range(11)))})
    with pytest.raises(SpecError, match="parallel step all has 11 branches; Workflows allows 10"):
        compile_workflows(eleven, {})
    inner = Map(items="xs", iterator=Branch(start="deepest", steps={"deepest": Map(items="ys", iterator=_wait_branch(0))}))
    deep = flow("deep", {"outer": Map(items="zs", iterator=Branch(start="inner", steps={"inner": inner}))})
    with pytest.raises(SpecError, match="nest 3 deep"):
        compile_workflows(deep, {})


def test_map_concurrency_is_capped_at_workflows_limit():
    workflow = flow("many", {"each": Map(items="xs", iterator=_wait_branch(0), max_concurrency=50)})
    work = _step(compile_workflows(workflow, {}), "each__try")["try"]["steps"]
    assert next(s["each__join"] for s in work if "each__join" in s)["parallel"]["concurrency_limit"] == 20


# ----------------------------------------------------------------------- validator, itself


def broken(change) -> dict:
    program = copy.deepcopy(compile_workflows(FULFIL, urls(FULFIL)))
    change(program)
    return program


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: _step(p, "reserve_stock__check").update(next="nowhere"), "next 'nowhere' is not a step"),
        (lambda p: _step(p, "reserve_stock").update(call="http.post"), "exactly one of"),
        (lambda p: _step(p, "reserve_stock").update(retry={}), "assign steps do not take retry"),
        (lambda p: _step(p, "check_total__route0")["switch"][0].update(condition="${matched and and true}"), "unexpected 'and'"),
        (lambda p: _step(p, "check_total__route0")["switch"][0].update(condition="${matched"), "unbalanced"),
        (lambda p: _step(p, "mark_failed__check")["switch"][0].update(condition="done: ${failure == null}"), "whole value"),
        (lambda p: p["main"]["steps"].append({"reserve_stock": {"return": 1}}), "used twice"),
        (lambda p: _step(p, "release_stock__try")["try"]["steps"][0]["release_stock__call"]["args"].update(timeout=3600), "at most 1800"),
        (lambda p: _step(p, "release_stock__try")["try"]["steps"][0]["release_stock__call"]["args"].update(auth={"type": "Basic"}), "OIDC or OAuth2"),
        (lambda p: _step(p, "reserve_stock__try")["except"]["steps"][0]["reserve_stock__error"].update(call="no_such_sub"), "unknown call target"),
        (lambda p: _step(p, "reserve_stock__try")["except"]["steps"][0]["reserve_stock__error"]["args"].update(extra=1), "has no parameter extra"),
        (lambda p: p["ship_and_notify__graph0"]["steps"].insert(0, {"nest": {"call": "main"}}), "unknown call target 'main'"),
        (lambda p: p["ship_and_notify__graph0"]["steps"].insert(0, {"nest": {"call": "ship_and_notify__graph0", "args": {"state": 1}}}), "recursive call"),
    ],
)
def test_validator_names_what_is_wrong(change, message):
    with pytest.raises(WorkflowSyntaxError, match=message):
        validate(broken(change))


def test_validator_checks_branch_count_and_nesting_through_calls():
    eleven = {"main": {"steps": [{"p": {"parallel": {"branches": [{f"b{i}": {"steps": [{f"s{i}": {"return": i}}]}} for i in range(11)]}}}]}}
    with pytest.raises(WorkflowSyntaxError, match="1 to 10 branches"):
        validate(eleven)

    def nested(name: str, calls: str | None) -> dict:
        inner = [{f"{name}_call": {"call": calls}}] if calls else [{f"{name}_end": {"return": 0}}]
        return {"steps": [{f"{name}_p": {"parallel": {"branches": [{f"{name}_b": {"steps": inner}}]}}}]}

    program = {"main": nested("m", "one"), "one": nested("o", "two"), "two": nested("t", None)}
    with pytest.raises(WorkflowSyntaxError, match="parallel steps nest 3 deep"):
        validate(program)
    del program["two"]["steps"][0]["t_p"]["parallel"]
    program["two"]["steps"] = [{"t_end": {"return": 0}}]
    validate(program)  # two levels are allowed


# ------------------------------------------------------------------ interpreter, itself


def value_of(text: str, **variables):
    scope = Scope()
    scope.vars.update(variables)
    return evaluate(parse_expression(text), scope)


def test_expressions_follow_the_reference():
    assert value_of('not(x == 1) or y["a"] > 2', x=1, y={"a": 3}) is True
    assert value_of("not x == false", x=True) is True  # not binds tighter than ==
    assert value_of('"n=" + 2 + " " + 1.5', ) == "n=2 1.5"
    assert value_of("7 / 2") == 3.5 and value_of("7 // 2") == 3 and value_of("-(2 * 3) + 1") == -5
    assert value_of("1 == 1.0") is True and value_of("true == 1") is False
    assert value_of('false and m["missing"]', m={}) is False  # and short-circuits
    assert value_of('map.get(m, ["a", "b"])', m={"a": {"b": None}}) is None
    assert value_of('default(map.get(m, ["a", "x"]), 4)', m={"a": 1}) == 4
    assert value_of('"b" in m and 2 in l', m={"b": 1}, l=[1, 2]) is True
    assert value_of("len(list.concat(l, null))", l=[1]) == 2


@pytest.mark.parametrize(
    ("text", "tag"),
    [('m["x"]', "KeyError"), ("l[5]", "IndexError"), ('"a" < 1', "TypeError"), ("1 and true", "TypeError"), ("1 / 0", "ZeroDivisionError")],
)
def test_expression_errors_are_catchable_workflow_errors(text, tag):
    program = {"main": {"steps": [
        {"init": {"assign": [{"m": {}}, {"l": [1]}]}},
        {"t": {"try": {"steps": [{"x": {"assign": [{"v": "${" + text + "}"}]}}]},
               "except": {"as": "e", "steps": [{"keep": {"return": "${e.tags}"}}]}}},
    ]}}
    assert run(program, {}).result == [tag]


def test_retry_policy_uses_its_predicate_and_virtual_backoff():
    program = {
        "main": {"steps": [
            {"call": {"try": {"call": "http.post", "args": {"url": "https://f", "timeout": 5}, "result": "r"},
                      "retry": {"predicate": "${transient}", "max_retries": 3, "backoff": {"initial_delay": 1, "max_delay": 3, "multiplier": 2}}}},
            {"done": {"return": "${r.body}"}},
        ]},
        "transient": {"params": ["e"], "steps": [{"check": {"return": '${"HttpError" in e.tags and e.code == 503}'}}]},
    }
    answers = iter([(503, None), (503, None), (503, None), (200, "ok")])
    execution = run(program, {"https://f": lambda request: next(answers)})
    assert (execution.status, execution.result, execution.sleeps, execution.clock) == ("SUCCEEDED", "ok", [1, 2, 3], 6)
    refused = run(program, {"https://f": lambda request: (400, {"error": "Bad"})})
    assert refused.status == "FAILED" and refused.error["code"] == 400 and refused.error["body"] == {"error": "Bad"}
    assert len(refused.calls) == 1


def test_timeouts_are_virtual_and_tagged():
    program = {"main": {"steps": [{"c": {"call": "http.post", "args": {"url": "https://f", "timeout": 30}}}]}}

    def slow(request: Request):
        assert request.timeout == 30
        raise CallTimedOut

    execution = run(program, {"https://f": slow})
    assert execution.error["tags"] == ["TimeoutError", "OSError"] and execution.clock == 30


def test_scopes_except_locals_and_shared_branch_writes():
    program = {"main": {"steps": [
        {"init": {"assign": [{"kept": 0}]}},
        {"t": {"try": {"steps": [{"boom": {"raise": {"code": 1}}}]},
               "except": {"as": "e", "steps": [{"h": {"assign": [{"kept": "${e.code}"}, {"local": 1}]}}]}}},
        {"done": {"return": "${kept}"}},
    ]}}
    assert run(program, {}).result == 1
    program["main"]["steps"][2] = {"done": {"return": "${local}"}}
    with pytest.raises(ProgramError, match="'local' is used before it is assigned"):
        run(program, {})
    writes = {"main": {"steps": [
        {"init": {"assign": [{"a": 0}, {"b": 0}]}},
        {"p": {"parallel": {"shared": ["a"], "branches": [{"x": {"steps": [{"w": {"assign": [{"a": 1}, {"b": 1}]}}]}}]}}},
    ]}}
    with pytest.raises(ProgramError, match="assigns 'b', which is not in its shared list"):
        run(writes, {})


def test_unhandled_branch_errors_wait_for_every_branch():
    program = {"main": {"steps": [
        {"init": {"assign": [{"seen": 0}]}},
        {"p": {"parallel": {"shared": ["seen"], "branches": [
            {"bad": {"steps": [{"fail": {"raise": {"message": "no"}}}]}},
            {"good": {"steps": [{"count": {"assign": [{"seen": "${seen + 1}"}]}}]}},
        ]}}},
    ]}}
    execution = run(program, {})
    assert execution.error["tags"] == ["UnhandledBranchError"] and execution.error["branches"] == [{"message": "no"}]


def test_a_behaviour_past_the_timeout_times_out_on_the_interpreter():
    """The scenario contract's timeout: the interpreter asks the handler with the call's timeout."""
    tasks = Tasks({"slow": Behaviour(takes_s=2)})
    with pytest.raises(CallTimedOut):
        http_handler(tasks, "slow")(Request("POST", url("slow"), {}, 1, None))
    assert http_handler(tasks, "slow")(Request("POST", url("slow"), {}, 5, None)) == (200, None)
