"""The ASL compiler: exact output per step kind, statelint, and runs in moto's interpreter.

Run from the repository root (`python -m pytest`), which puts `app` and `components` on the path.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from statelint.linter import Linter

from tests.services import REFERENCE
from components.spec import (
    Branch,
    Catch,
    Choice,
    Fail,
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
from components.workflow.asl import LAMBDA_SERVICE_RETRY, RETHROW, compile_asl
from tests.support.step_functions import Run, arn, moto_step_functions, named_error

FULFIL = next(w for w in REFERENCE.workflows if w.name == "fulfil-order")


def flow(steps: dict, start: str | None = None) -> WorkflowSpec:
    return WorkflowSpec(name="test-flow", start=start or next(iter(steps)), steps=steps)


def asl(workflow: WorkflowSpec) -> dict:
    return compile_asl(workflow, {f: arn(f) for f in workflow.task_functions()})


def states(steps: dict, start: str | None = None) -> dict:
    return asl(flow(steps, start))["States"]


# ------------------------------------------------------------------------------ samples

SAMPLES = {
    "fulfil-order": FULFIL,
    "task": flow(
        {
            "call": Task(
                function="work",
                result="out.value",
                timeout_s=30,
                retry=(Retry(errors=("Busy", "Timeout"), attempts=4, max_delay_s=10), Retry(errors=("TaskFailed",)), Retry()),
                catch=(Catch(errors=("Gone",), next="gone"), Catch(errors=("TaskFailed",), next="gone"), Catch(next="gone")),
            ),
            "gone": Fail(error="Gone"),
        }
    ),
    "choice": flow(
        {
            "pick": Choice(
                rules=(
                    Rule(path="a.flag", op="==", value=True, next="ok"),
                    Rule(path="a.n", op="!=", value=1, next="ok"),
                    Rule(path="a.s", op=">=", value="m", next="ok"),
                    Rule(path="a.x", op="exists", value=False, next="ok"),
                ),
            ),
            "ok": Succeed(),
        }
    ),
    "parallel-map-wait": flow(
        {
            "both": Parallel(
                branches=(
                    Branch(start="one", steps={"one": Task(function="one", result="r")}),
                    Branch(start="pause", steps={"pause": Wait(seconds=1)}),
                ),
                result="both",
                retry=(Retry(errors=("TaskFailed",)),),
                catch=(Catch(errors=("OutOfStock",), next="failed"),),
                next="each",
            ),
            "each": Map(
                items="lines",
                iterator=Branch(start="price", steps={"price": Task(function="price", result="price")}),
                max_concurrency=2,
                next="failed",
            ),
            "failed": Fail(error="Stopped", cause="done"),
        }
    ),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_statelint_accepts_every_compiled_workflow(name):
    assert Linter.validate(asl(SAMPLES[name])) == []


def test_output_is_deterministic_and_keeps_step_names():
    assert json.dumps(asl(FULFIL)) == json.dumps(asl(FULFIL))
    definition = asl(FULFIL)
    assert definition["StartAt"] == "reserve-stock"
    assert set(FULFIL.steps) <= set(definition["States"])
    assert all("." in name for name in set(definition["States"]) - set(FULFIL.steps))


# ---------------------------------------------------------------------------- task, result


def test_task_invokes_lambda_with_whole_state_and_stores_exact_result_at_dotted_path():
    out = states({"call": Task(function="work", result="a.b", timeout_s=30)})
    assert out["call"] == {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn("work"), "Payload.$": "$"},
        "TimeoutSeconds": 30,
        "ResultSelector": {"value.$": "$.Payload"},
        "ResultPath": "$.a.b",
        "Next": "call.result",
        "Retry": [LAMBDA_SERVICE_RETRY],
    }
    assert out["call.result"] == {"Type": "Pass", "InputPath": "$.a.b.value", "ResultPath": "$.a.b", "End": True}


def test_task_without_result_drops_it():
    out = states({"call": Task(function="work", next="done"), "done": Succeed()})
    assert out["call"]["ResultPath"] is None
    assert "ResultSelector" not in out["call"] and "call.result" not in out
    assert out["call"]["Next"] == "done"


def test_lambda_service_errors_are_retried_first_as_aws_recommends():
    retry = states({"call": Task(function="work", retry=(Retry(),))})["call"]["Retry"]
    assert retry[0] == LAMBDA_SERVICE_RETRY
    assert set(retry[0]["ErrorEquals"]) == {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }


def test_every_non_terminal_step_without_next_ends():
    out = states(
        {
            "call": Task(function="work", next="pause"),
            "pause": Wait(seconds=5, next="both"),
            "both": Parallel(branches=(Branch(start="w", steps={"w": Wait(seconds=1)}),), next="each"),
            "each": Map(items="xs", iterator=Branch(start="m", steps={"m": Wait(seconds=1)})),
        }
    )
    assert out["pause"] == {"Type": "Wait", "Seconds": 5, "Next": "both"}
    assert out["each"]["End"] is True and "Next" not in out["each"]
    assert out["both"]["Branches"][0]["States"]["w"] == {"Type": "Wait", "Seconds": 1, "End": True}
    assert out["each"]["ItemProcessor"]["States"]["m"]["End"] is True


def test_succeed_and_fail():
    pick = Choice(rules=(Rule(path="a", op="exists", next="ok"),), default="no")
    out = states({"pick": pick, "ok": Succeed(), "no": Fail(error="Nope", cause="why")})
    assert out["ok"] == {"Type": "Succeed"}
    assert out["no"] == {"Type": "Fail", "Error": "Nope", "Cause": "why"}
    assert states({"no": Fail(error="Nope")})["no"] == {"Type": "Fail", "Error": "Nope"}


# ------------------------------------------------------------------------- retry and catch


def test_retry_fields_and_error_names():
    retry = states(SAMPLES["task"].steps)["call"]["Retry"]
    assert retry[1:] == [
        {"ErrorEquals": ["Busy", "States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 4, "BackoffRate": 2.0, "MaxDelaySeconds": 10},
        {"ErrorEquals": ["Gone"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
    ]


def test_all_stands_alone_and_entries_after_it_are_dropped():
    step = Task(function="work", retry=(Retry(errors=("Busy", "all"), attempts=1), Retry(errors=("Gone",))))
    retry = states({"call": step})["call"]["Retry"]
    assert retry[1:] == [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 2.0}]


def test_task_failed_retry_skips_names_the_step_handles_elsewhere():
    retry = states(FULFIL.steps)["charge-payment"]["Retry"]
    assert retry[1:] == [
        {"ErrorEquals": ["PaymentDeclined"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2.0},
    ]
    # A name a later entry handles is sent there, not to the TaskFailed entry.
    step = Task(
        function="work",
        retry=(Retry(errors=("TaskFailed",)), Retry(errors=("all",), attempts=5)),
        catch=(Catch(errors=("Gone",), next="gone"),),
    )
    later = states({"call": step, "gone": Succeed()})["call"]["Retry"]
    assert later[1] == {"ErrorEquals": ["Gone"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 2.0}


def test_catch_stores_error_and_cause_at_state_error():
    out = states(SAMPLES["task"].steps)
    assert out["call"]["Catch"] == [
        {"ErrorEquals": ["Gone"], "ResultPath": "$.error", "Next": "gone.caught"},
        {"ErrorEquals": ["Busy"], "ResultPath": "$.error", "Next": "gone.caught"},
        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "gone.caught"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "gone.caught"},
    ]
    assert out["gone.caught"] == {
        "Type": "Pass",
        "Parameters": {"error.$": "$.error.Error", "cause.$": "$.error.Cause"},
        "ResultPath": "$.error",
        "Next": "gone",
    }


def test_task_failed_catch_rethrows_a_name_the_step_only_retries():
    out = states(
        {
            "call": Task(function="work", retry=(Retry(errors=("Busy",)),), catch=(Catch(errors=("TaskFailed",), next="gone"),)),
            "gone": Succeed(),
        }
    )
    assert out["call"]["Catch"][0] == {"ErrorEquals": ["Busy"], "ResultPath": "$.error", "Next": "call.rethrow"}
    assert out["call.rethrow"] == RETHROW


# ---------------------------------------------------------------------------------- choice


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("==", True, {"BooleanEquals": True}),
        ("==", 1, {"NumericEquals": 1}),
        ("==", 1.5, {"NumericEquals": 1.5}),
        ("==", "a", {"StringEquals": "a"}),
        ("<", 2, {"NumericLessThan": 2}),
        ("<=", 2, {"NumericLessThanEquals": 2}),
        (">", "m", {"StringGreaterThan": "m"}),
        (">=", 0.5, {"NumericGreaterThanEquals": 0.5}),
    ],
)
def test_choice_comparison_by_literal_type_guarded_by_presence(op, value, expected):
    rule = states({"pick": Choice(rules=(Rule(path="a.b", op=op, value=value, next="ok"),)), "ok": Succeed()})["pick"]["Choices"][0]
    assert rule == {"And": [{"Variable": "$.a.b", "IsPresent": True}, {"Variable": "$.a.b", **expected}], "Next": "ok"}


def test_choice_not_equal_exists_and_default():
    out = states(SAMPLES["choice"].steps)["pick"]
    not_equal = {"And": [{"Variable": "$.a.n", "IsPresent": True}, {"Variable": "$.a.n", "NumericEquals": 1}]}
    assert out["Choices"][1] == {"Not": not_equal, "Next": "ok"}
    assert out["Choices"][3] == {"Variable": "$.a.x", "IsPresent": False, "Next": "ok"}
    assert "Default" not in out
    exists = Rule(path="a", op="exists", next="ok")
    assert states({"pick": Choice(rules=(exists,), default="ok"), "ok": Succeed()})["pick"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "ok"}],
        "Default": "ok",
    }


# ---------------------------------------------------------------------------- parallel, map


def test_parallel_branches_result_retry_and_catch():
    out = states(SAMPLES["parallel-map-wait"].steps)["both"]
    assert [b["StartAt"] for b in out["Branches"]] == ["one", "pause"]
    assert out["Branches"][0]["States"]["one.result"]["End"] is True
    assert out["ResultPath"] == "$.both"
    assert out["Retry"] == [
        {"ErrorEquals": ["OutOfStock"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
    ]
    assert out["Catch"] == [{"ErrorEquals": ["OutOfStock"], "ResultPath": "$.error", "Next": "failed.caught"}]


def test_map_uses_item_processor_with_item_and_index():
    out = states(SAMPLES["parallel-map-wait"].steps)["each"]
    assert "Iterator" not in out
    assert out["ItemsPath"] == "$.lines"
    assert out["ItemSelector"] == {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"}
    assert out["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert out["ItemProcessor"]["StartAt"] == "price"
    assert out["MaxConcurrency"] == 2
    assert out["ResultPath"] is None
    unbounded = Map(items="xs", iterator=Branch(start="m", steps={"m": Wait(seconds=1)}), result="ys")
    assert "MaxConcurrency" not in states({"each": unbounded})["each"]


# ---------------------------------------------------------------------------------- errors


def test_step_names_must_be_unique_across_branches():
    # Step Functions needs state names unique across the whole machine; the spec refuses it first.
    twice = Parallel(branches=(Branch(start="call", steps={"call": Task(function="work")}),), next="call")
    with pytest.raises(ValidationError, match="step names call are used twice"):
        flow({"both": twice, "call": Task(function="work")})


def test_every_function_needs_an_arn():
    with pytest.raises(SpecError, match="no function ARN for charge-payment"):
        compile_asl(FULFIL, {f: arn(f) for f in FULFIL.task_functions() if f != "charge-payment"})


# ------------------------------------------------------------------------------- execution


@pytest.fixture(scope="module")
def step_functions():
    """One moto account for the module; every test creates its own state machines."""
    with moto_step_functions() as executor:
        yield executor


@pytest.fixture
def execute(step_functions):
    """execute(workflow, handlers, state) runs the compiled workflow in moto's interpreter."""

    def run(workflow: WorkflowSpec, handlers: dict, state: dict) -> Run:
        return step_functions(asl(workflow), handlers, state, workflow.name)

    run.delays = step_functions.delays
    return run


class Recorder:
    """Task handlers that record each call's state and answer from a script."""

    def __init__(self, **answers):
        self.calls: list[tuple[str, dict]] = []
        self.answers = answers

    def handlers(self, functions: list[str]) -> dict:
        return {f: self._handler(f) for f in functions}

    def _handler(self, function: str):
        def handle(state, context):
            assert context.function_name == function
            self.calls.append((function, state))
            answer = self.answers.get(function.replace("-", "_"), {"by": function})
            answer = answer.pop(0) if isinstance(answer, list) else answer
            if isinstance(answer, Exception):
                raise answer
            return answer

        return handle

    def called(self) -> list[str]:
        return [f for f, _ in self.calls]

    def state_of(self, function: str) -> dict:
        return next(s for f, s in self.calls if f == function)


def test_fulfil_happy_path(execute):
    tasks = Recorder(notify=None)
    run = execute(FULFIL, tasks.handlers(FULFIL.task_functions()), {"order": {"id": "o-1", "total": 25}})
    assert run.status == "SUCCEEDED"
    assert run.output["reservation"] == {"by": "reserve-stock"}
    assert run.output["payment"] == {"by": "charge-payment"}
    ship, notify = run.output["fulfilment"]
    assert ship["shipment"] == {"by": "ship"} and "shipment" not in notify
    assert tasks.called()[:2] == ["reserve-stock", "charge-payment"] and tasks.called()[-1] == "mark-completed"
    assert tasks.state_of("charge-payment") == {"order": {"id": "o-1", "total": 25}, "reservation": {"by": "reserve-stock"}}


def test_fulfil_declined_payment_compensates_without_retrying(execute):
    tasks = Recorder(charge_payment=named_error("PaymentDeclined", "card declined"))
    run = execute(FULFIL, tasks.handlers(FULFIL.task_functions()), {"order": {"id": "o-1", "total": 25}})
    assert run.status == "FAILED" and run.error == "OrderFailed"
    assert tasks.called() == ["reserve-stock", "charge-payment", "release-stock", "mark-failed"]
    error = tasks.state_of("release-stock")["error"]
    assert error["error"] == "PaymentDeclined"
    assert json.loads(error["cause"])["errorMessage"] == "card declined"
    assert tasks.state_of("mark-failed")["error"] == error


@pytest.mark.parametrize("order", [{"id": "o-1", "total": 0}, {"id": "o-1"}], ids=["zero-total", "missing-total"])
def test_fulfil_default_choice_releases_invalid_order(execute, order):
    tasks = Recorder()
    run = execute(FULFIL, tasks.handlers(FULFIL.task_functions()), {"order": order})
    assert run.status == "FAILED" and run.error == "InvalidOrder"
    assert tasks.called() == ["reserve-stock", "release-stock"]


def test_retry_until_success_with_backoff(execute):
    retry = Retry(errors=("TaskFailed",), attempts=2, interval_s=1, backoff_rate=3.0)
    workflow = flow({"call": Task(function="flaky", result="out", retry=(retry,))})
    tasks = Recorder(flaky=[RuntimeError("boom"), KeyError("x"), {"n": 3}])
    run = execute(workflow, tasks.handlers(["flaky"]), {"in": 1})
    assert run.status == "SUCCEEDED" and run.output == {"in": 1, "out": {"n": 3}}
    assert tasks.called() == ["flaky"] * 3
    assert execute.delays == [1, 3]


def test_attempts_counts_retries_after_the_first_try(execute):
    workflow = flow({"call": Task(function="flaky", retry=(Retry(attempts=1),))})
    tasks = Recorder(flaky=[RuntimeError("boom"), RuntimeError("again"), {}])
    run = execute(workflow, tasks.handlers(["flaky"]), {})
    assert run.status == "FAILED" and run.error == "RuntimeError"
    assert tasks.called() == ["flaky"] * 2


GUARDED = flow(
    {
        "call": Task(function="work", retry=(Retry(errors=("Busy",), attempts=1),), catch=(Catch(errors=("TaskFailed",), next="recover"),)),
        "recover": Task(function="recover"),
    }
)


def test_task_failed_catch_takes_unnamed_errors(execute):
    tasks = Recorder(work=RuntimeError("boom"))
    run = execute(GUARDED, tasks.handlers(["work", "recover"]), {})
    assert run.status == "SUCCEEDED"
    assert tasks.state_of("recover")["error"]["error"] == "RuntimeError"


def test_a_name_the_step_retries_is_not_caught_as_task_failed(execute):
    tasks = Recorder(work=[named_error("Busy"), named_error("Busy")])
    run = execute(GUARDED, tasks.handlers(["work", "recover"]), {})
    assert run.status == "FAILED" and run.error == "Busy"
    assert tasks.called() == ["work", "work"]


def test_result_none_is_dropped_and_nested_results_are_exact(execute):
    workflow = flow({"noisy": Task(function="noisy", next="count"), "count": Task(function="count", result="a.b")})
    tasks = Recorder(noisy={"junk": 1}, count=7)
    run = execute(workflow, tasks.handlers(["noisy", "count"]), {"a": {"keep": True}})
    assert run.output == {"a": {"keep": True, "b": 7}}


def test_parallel_gives_each_branch_a_copy_and_collects_final_states(execute):
    workflow = flow(
        {
            "both": Parallel(
                branches=(
                    Branch(start="left", steps={"left": Task(function="left", result="side")}),
                    Branch(start="right", steps={"right": Task(function="right", result="side")}),
                ),
                result="sides",
            )
        }
    )
    tasks = Recorder(left="L", right="R")
    run = execute(workflow, tasks.handlers(["left", "right"]), {"x": 1})
    assert run.output == {"x": 1, "sides": [{"x": 1, "side": "L"}, {"x": 1, "side": "R"}]}


def test_map_runs_each_item_with_its_index(execute):
    workflow = flow(
        {
            "each": Map(
                items="order.lines",
                iterator=Branch(start="price", steps={"price": Task(function="price", result="price")}),
                max_concurrency=1,
                result="priced",
            )
        }
    )
    tasks = Recorder(price=[10, 20])
    run = execute(workflow, tasks.handlers(["price"]), {"order": {"lines": ["a", "b"]}})
    assert run.status == "SUCCEEDED"
    assert run.output["priced"] == [{"item": "a", "index": 0, "price": 10}, {"item": "b", "index": 1, "price": 20}]
    assert [s for _, s in tasks.calls] == [{"item": "a", "index": 0}, {"item": "b", "index": 1}]


def test_wait(execute):
    run = execute(flow({"pause": Wait(seconds=1, next="done"), "done": Succeed()}), {}, {"x": 1})
    assert run.status == "SUCCEEDED" and run.output == {"x": 1}
    assert any(e["type"] == "WaitStateExited" for e in run.events)
