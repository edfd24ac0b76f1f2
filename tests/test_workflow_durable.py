"""The Durable definition's shape, and the generic orchestrator's behaviour on the real SDK
beyond the parity table: replay determinism, the failure message, the HTTP contract's edges,
the timeout race and map concurrency."""

from __future__ import annotations

import json

import pytest
from azure.durable_functions import DurableOrchestrationContext
from azure.durable_functions.constants import HTTP_ACTION_NAME
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as Event
from azure.durable_functions.orchestrator import Orchestrator

from components.spec import Branch, Catch, Map, Retry, SpecError, Task, Wait
from components.workflow.durable import compile_durable
from runtime.azure.durable import ORCHESTRATOR_NAME, orchestrator
from tests.support import durable_driver
from tests.support.durable_driver import T0, NonDeterministic, _event
from tests.support.workflow_scenarios import FULFIL, PICK, TIMEOUT, flow


def targets(workflow) -> dict[str, str]:
    return {f: f"https://{f}.azurewebsites.net/api/task" for f in workflow.task_functions()}


def run(workflow, state, answers, audience=None):
    """Run `workflow` on the driver; `answers` maps function to a handler."""
    http = {targets(workflow)[f]: handler for f, handler in answers.items()}
    definition = compile_durable(workflow, targets(workflow), audience)
    return durable_driver.run({ORCHESTRATOR_NAME: orchestrator}, ORCHESTRATOR_NAME,
                              {"definition": definition, "input": state}, http)


def ok(result=None, seconds=0.0):
    return lambda state: (200, result, seconds)


# ------------------------------------------------------------------------------ compiler


def test_fulfil_order_compiles_to_plain_ordered_data():
    definition = compile_durable(FULFIL, targets(FULFIL), "api://backends")
    assert json.dumps(definition) == json.dumps(compile_durable(FULFIL, targets(FULFIL), "api://backends"))
    assert json.loads(json.dumps(definition)) == definition
    assert list(definition) == ["workflow", "start", "steps"] and definition["start"] == "reserve-stock"
    assert definition["steps"]["reserve-stock"] == {
        "kind": "task",
        "target": "https://reserve-stock.azurewebsites.net/api/task",
        "audience": "api://backends",
        "timeout_s": None,
        "result": "reservation",
        "retry": [{"errors": ["TaskFailed"], "delays": [2, 4, 8]}],
        "catch": [{"errors": ["OutOfStock"], "next": "mark-failed"}],
        "task_failed_excludes": ["Timeout", "OutOfStock"],
        "next": "check-total",
    }
    assert definition["steps"]["check-total"] == {
        "kind": "choice", "rules": [{"path": "order.total", "op": ">", "value": 0, "next": "charge-payment"}], "default": "release-invalid"}
    assert definition["steps"]["order-failed"] == {
        "kind": "fail", "error": "OrderFailed", "cause": "Payment declined or stock unavailable; stock released"}
    parallel = definition["steps"]["ship-and-notify"]
    assert parallel["kind"] == "parallel" and parallel["result"] == "fulfilment"
    assert [b["start"] for b in parallel["branches"]] == ["ship", "notify"]
    assert parallel["branches"][1]["steps"]["notify"]["result"] is None


def test_choice_exists_map_and_wait_keep_their_parameters():
    pick = compile_durable(PICK, {})["steps"]["pick"]
    exists = [(r["path"], r["value"]) for r in pick["rules"] if r["op"] == "exists"]
    assert exists == [("order.coupon", True), ("order.total", False)] and pick["default"] == "gold"
    each = flow("each", {"each": Map(items="order.lines", iterator=Branch(start="price", steps={"price": Task(function="price")}),
                                     max_concurrency=4, result="priced")})
    step = compile_durable(each, targets(each))["steps"]["each"]
    assert (step["items"], step["max_concurrency"], step["iterator"]["start"]) == ("order.lines", 4, "price")
    wait = compile_durable(flow("pause", {"pause": Wait(seconds=5)}), {})["steps"]["pause"]
    assert wait == {"kind": "wait", "seconds": 5, "next": None}


def test_retry_entries_after_all_never_match_and_delays_follow_the_backoff():
    workflow = flow("entries", {"call": Task(function="work", timeout_s=3,
                                       retry=(Retry(errors=("Busy",), attempts=4, interval_s=2, backoff_rate=1.5, max_delay_s=4),
                                              Retry(errors=("all",), attempts=1), Retry(errors=("Late",), attempts=1)),
                                       catch=(Catch(errors=("TaskFailed",), next="call"),))})
    step = compile_durable(workflow, targets(workflow))["steps"]["call"]
    assert step["retry"] == [{"errors": ["Busy"], "delays": [2, 3, 4, 4]}, {"errors": ["all"], "delays": [1]}]
    assert step["task_failed_excludes"] == ["Timeout", "Busy", "Late"] and step["timeout_s"] == 3


def test_every_task_function_needs_a_target():
    with pytest.raises(SpecError, match="workflows.fulfil-order: no task target for charge-payment"):
        compile_durable(FULFIL, {f: t for f, t in targets(FULFIL).items() if f != "charge-payment"})


# --------------------------------------------------------------------------- orchestrator


def replay(history: list[dict], input_) -> str:
    context = {"history": history, "instanceId": "i-0", "isReplaying": False, "parentInstanceId": None,
               "input": json.dumps(input_), "upperSchemaVersion": durable_driver.REPLAY_SCHEMA_V2}
    return Orchestrator(orchestrator).handle(DurableOrchestrationContext.from_json(json.dumps(context)))


def test_replaying_the_same_history_gives_the_same_actions():
    """Every prefix of a recorded history (one per episode) replays to the same state twice."""
    flaky = iter([(500, {"error": "TaskFailed", "message": "internal error"}, 0), (200, {"held": 1}, 0)])
    answers = {"reserve-stock": lambda state: next(flaky), **{f: ok() for f in FULFIL.task_functions() if f != "reserve-stock"}}
    execution = run(FULFIL, {"order": {"id": "o-1", "total": 5}}, answers)
    assert execution.status == "succeeded" and execution.sleeps == [2]
    input_ = {"definition": compile_durable(FULFIL, targets(FULFIL)), "input": {"order": {"id": "o-1", "total": 5}}}
    ends = [i for i, e in enumerate(execution.history) if e["EventType"] == Event.ORCHESTRATOR_COMPLETED]
    states = [replay(execution.history[: end], input_) for end in ends]
    assert states == [replay(execution.history[: end], input_) for end in ends]
    actions = [json.loads(s)["actions"][0] for s in states]
    assert all(later[: len(earlier)] == earlier for earlier, later in zip(actions, actions[1:]))
    assert [a["actionType"] for a in actions[1]] == [8, 5]  # the failed call, then its retry's durable timer


def test_the_driver_catches_an_orchestrator_that_is_not_deterministic():
    seen = []

    def clock_reader(context):
        seen.append(1)  # stands in for wall-clock time: different on every replay
        yield context.call_http("POST", "https://a", content={"n": len(seen)})
        yield context.call_http("POST", "https://a", content={})

    with pytest.raises(NonDeterministic):
        durable_driver.run({"f": clock_reader}, "f", {}, {"https://a": ok()})


def test_a_failed_orchestration_reports_error_and_cause_as_json():
    declined = lambda state: (422, {"error": "PaymentDeclined", "message": "card declined"}, 0)  # noqa: E731
    answers = {**{f: ok() for f in FULFIL.task_functions()}, "charge-payment": declined}
    execution = run(FULFIL, {"order": {"id": "o-1", "total": 5}}, answers)
    assert json.loads(execution.error) == {"error": "OrderFailed", "cause": "Payment declined or stock unavailable; stock released"}


def test_a_call_the_extension_cannot_make_is_task_failed():
    """A TaskFailed history event (no response at all) carries only text: it is TaskFailed."""
    workflow = flow("one", {"call": Task(function="work")})
    input_ = {"definition": compile_durable(workflow, targets(workflow)), "input": {}}
    history = [_event(Event.ORCHESTRATOR_STARTED, T0), _event(Event.EXECUTION_STARTED, T0, Name="o", Version="", Input=json.dumps(input_)),
               _event(Event.TASK_SCHEDULED, T0, EventId=0, Name=HTTP_ACTION_NAME), _event(Event.ORCHESTRATOR_COMPLETED, T0),
               _event(Event.ORCHESTRATOR_STARTED, T0), _event(Event.TASK_FAILED, T0, TaskScheduledId=0, Reason="connection refused", Details="")]
    with pytest.raises(Exception, match=r'\{"error": "TaskFailed", "cause": "connection refused') as failed:
        replay(history, input_)
    assert "$OutOfProcData$" in str(failed.value)


@pytest.mark.parametrize(("status", "body", "error"), [(500, "gateway exploded", "TaskFailed"), (404, {"message": "no"}, "TaskFailed"),
                                                       (422, {"error": "OutOfStock", "message": "gone"}, "OutOfStock")])
def test_the_error_name_is_the_bodys_or_task_failed(status, body, error):
    workflow = flow("one", {"call": Task(function="work")})
    execution = run(workflow, {}, {"work": lambda state: (status, body, 0)})
    assert json.loads(execution.error)["error"] == error


def test_an_answer_within_the_timeout_cancels_the_timer():
    execution = run(TIMEOUT, {}, {"slow": ok({"fast": True}, seconds=0.5), "late": ok()})
    assert execution.status == "succeeded" and execution.output == {"out": {"fast": True}}
    kinds = [e["EventType"] for e in execution.history]
    assert Event.TIMER_CREATED in kinds and Event.TIMER_FIRED not in kinds and execution.sleeps == []


def test_map_starts_an_item_only_when_one_of_max_concurrency_finishes():
    each = flow("each", {"each": Map(items="xs", iterator=Branch(start="price", steps={"price": Task(function="price", result="p")}),
                                     max_concurrency=2, result="priced")})
    durations = {"a": 3.0, "b": 1.0, "c": 1.0}
    execution = run(each, {"xs": ["a", "b", "c"]}, {"price": lambda state: (200, state["item"], durations[state["item"]])})
    assert execution.output["priced"] == [{"item": x, "index": i, "p": x} for i, x in enumerate("abc")]
    episodes, created = 0, []
    for event in execution.history:
        episodes += event["EventType"] == Event.ORCHESTRATOR_STARTED
        if event["EventType"] == Event.SUB_ORCHESTRATION_INSTANCE_CREATED:
            created.append((episodes, json.loads(event["Input"])["input"]["item"], event["Timestamp"]))
    assert [c[:2] for c in created] == [(1, "a"), (1, "b"), (2, "c")]
    assert created[2][2] == _event(Event.ORCHESTRATOR_STARTED, T0.replace(second=1))["Timestamp"]  # when b finished


def test_task_calls_carry_a_managed_identity_token_for_the_audience_when_one_is_set():
    answers = {f: ok({}) for f in FULFIL.task_functions()}
    state = {"order": {"total": 10}}
    with_token = run(FULFIL, state, answers, audience="api://backends")
    assert with_token.status == "succeeded" and with_token.tokens
    assert set(with_token.tokens) == {"api://backends"}  # branches (sub-orchestrations) too
    assert set(run(FULFIL, state, answers).tokens) == {None}
