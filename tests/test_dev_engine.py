"""The local workflow engine's own promises (components/dev/engine.py), beyond the scenario table
it shares with the clouds' engines (tests/test_dev_engine_parity.py): one execution per id,
branches and map items really concurrent and map concurrency bounded, time scaling, the history,
unnamed failures kept out of the state, stop, reload, and no cloud SDK on import.

Nothing here asserts a duration: concurrency is shown by tasks that wait for each other (a bound
on the wait only turns a hang into a failure), sleeps by the injectable sleep.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from runtime.contracts import TaskError

from components.dev.engine import ABORTED, FAILED, INTERNAL_ERROR, MAP_THREADS, SUCCEEDED, Engine
from components.spec import Branch, Catch, Choice, Parallel, Retry, Rule, Succeed, Task, Wait
from tests.support.workflow_scenarios import FULFIL, HAPPY, ORDER, each, flow

ROOT = Path(__file__).resolve().parent.parent
#: A bound on waits that only a broken engine reaches (never a timing assertion).
HANG_S = 10


def answers(results: dict | None = None, calls: list | None = None):
    """An invoker answering `results[function]` (default ``{"by": function}``), recording calls."""

    def invoke(function, state, timeout_s):
        if calls is not None:
            calls.append((function, state))
        return (results or {}).get(function, {"by": function})

    return invoke


def run(engine: Engine, workflow: str, state: dict, execution_id: str = "e-1"):
    assert engine.start(workflow, execution_id, state)
    execution = engine.wait(workflow, execution_id, HANG_S)
    assert execution.status != "RUNNING"
    return execution


@pytest.fixture
def engines():
    """Engines a test makes, stopped at its end whatever happens."""
    made: list[Engine] = []

    def make(*args, **kwargs) -> Engine:
        made.append(Engine(*args, **kwargs))
        return made[-1]

    yield make
    for engine in made:
        assert engine.stop()


# ------------------------------------------------------------------------ one per id


def test_one_execution_per_id_whatever_its_status(engines):
    calls = []
    release = threading.Event()

    def invoke(function, state, timeout_s):
        calls.append(function)
        if state.get("block"):
            assert release.wait(HANG_S)
        if state.get("fail"):
            raise TaskError("Refused", "no")
        return "ok"

    engine = engines([HAPPY, flow("other", {"reserve": Task(function="reserve")})], invoke)
    assert engine.start("happy", "running", {"block": True})
    assert engine.start("happy", "running", {}) is False  # while it runs
    release.set()
    assert engine.wait("happy", "running", HANG_S).status == SUCCEEDED
    assert engine.start("happy", "running", {}) is False  # once it succeeded
    assert run(engine, "happy", {"fail": True}, "failed").status == FAILED
    assert engine.start("happy", "failed", {}) is False  # once it failed
    assert calls == ["reserve", "charge", "reserve"]  # the refused starts ran nothing
    assert [e.id for e in engine.executions("happy")] == ["running", "failed"]
    assert engine.executions("happy")[0].input == {"block": True}  # the first input is kept
    assert engine.start("other", "running", {})  # ids are per workflow
    assert engine.workflow("happy").start("failed", {}) is False  # the Context's Workflow is the same engine


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.start("happy", "", {}), "execution id must be 1-80 characters"),
        (lambda e: e.start("happy", "x" * 81, {}), "execution id must be 1-80 characters"),
        (lambda e: e.start("nope", "e-1", {}), "workflows: no workflow 'nope'; declared: happy"),
        (lambda e: e.start("happy", "e-1", ["a"]), "workflows.happy: the input must be a JSON object, not list"),
        (lambda e: e.start("happy", "e-1", {"at": object()}), "workflows.happy: the input is not JSON"),
        (lambda e: e.start("happy", "e-1", {"n": float("nan")}), "workflows.happy: the input is not JSON"),
        (lambda e: e.workflow("nope"), "no workflow 'nope'"),
        (lambda e: e.wait("happy", "never-started", 0), "workflows.happy: no execution 'never-started'"),
        (lambda e: e.executions("nope"), "no workflow 'nope'"),
        (lambda e: Engine([], answers(), time_scale=-1), "time_scale: -1 is not allowed"),
    ],
)
def test_bad_input_is_one_clear_error(engines, call, message):
    engine = engines([HAPPY], answers())
    with pytest.raises(ValueError, match=message):
        call(engine)
    assert engine.executions("happy") == []


# -------------------------------------------------------------------------- concurrency


def test_parallel_branches_run_at_the_same_time(engines):
    """Each branch's task waits for the other's to have started: only concurrent branches finish."""
    started = {"left": threading.Event(), "right": threading.Event()}

    def invoke(function, state, timeout_s):
        started[function].set()
        other = "right" if function == "left" else "left"
        if not started[other].wait(HANG_S):
            raise TaskError("Alone", f"{function} ran without {other}")
        return function.upper()

    side = lambda f: Branch(start=f, steps={f: Task(function=f, result="side")})  # noqa: E731
    workflow = flow("both", {"both": Parallel(branches=(side("left"), side("right")), result="sides")})
    execution = run(engines([workflow], invoke), "both", {"n": 1})
    assert execution.status == SUCCEEDED
    assert execution.output == {"n": 1, "sides": [{"n": 1, "side": "LEFT"}, {"n": 1, "side": "RIGHT"}]}  # branch order


@pytest.mark.parametrize(("limit", "items", "peak"), [(1, 4, 1), (2, 6, 2), (3, 7, 3), (0, 5, 5), (0, MAP_THREADS + 5, MAP_THREADS)])
def test_map_runs_at_most_max_concurrency_items_at_once(engines, limit, items, peak):
    """Every call waits until `peak` calls have overlapped once: fewer at once hangs (then fails),
    more at once shows in the count. 0 is no limit, but never more than MAP_THREADS threads:
    the map's workers (the execution's own thread is one) are counted when the peak is reached."""
    lock = threading.Condition()
    active, seen, workers = [0], [0], []

    def invoke(function, state, timeout_s):
        with lock:
            active[0] += 1
            seen[0] = max(seen[0], active[0])
            if active[0] == peak and not workers:
                workers.append(sum(1 for t in threading.enumerate() if t.name == "each/e-1 each") + 1)
            lock.notify_all()
            reached = lock.wait_for(lambda: seen[0] >= peak, HANG_S)
            active[0] -= 1
        if not reached:
            raise TaskError("TooFew", f"{active[0] + 1} at once")
        return state["item"] * 10

    execution = run(engines([each(limit)], invoke), "each", {"order": {"lines": list(range(items))}})
    assert execution.status == SUCCEEDED
    assert seen[0] == peak and workers == [peak]
    assert execution.output["priced"] == [{"item": i, "index": i, "price": i * 10} for i in range(items)]  # item order


def test_a_map_over_no_list_fails_the_step(engines):
    execution = run(engines([each(0)], answers()), "each", {"order": {"lines": "a,b"}})
    assert (execution.status, execution.error) == (FAILED, {"error": "TaskFailed", "cause": "order.lines is not a list"})


# ----------------------------------------------------------------------------- time


def test_time_scale_zero_runs_a_one_hour_wait_at_once(engines):
    """The real sleep (nothing injected): at time scale 0 a Wait(3600) does not hold the execution."""
    workflow = flow("hour", {"hour": Wait(seconds=3600, next="done"), "done": Succeed()})
    execution = run(engines([workflow], answers(), time_scale=0), "hour", {})
    assert execution.status == SUCCEEDED
    waited = next(e for e in execution.history if e.type == "WaitStarted")
    assert waited.data == {"seconds": 3600, "scaled_s": 0}


def test_time_scale_scales_every_wait_and_retry_delay(engines):
    sleeps = []
    flaky = iter([TaskError("Busy", "1"), TaskError("Busy", "2"), TaskError("Busy", "3")])

    def invoke(function, state, timeout_s):
        if function == "work":
            raise next(flaky)
        return None

    workflow = flow("scaled", {
        "pause": Wait(seconds=10, next="work"),
        "work": Task(function="work", retry=(Retry(errors=("Busy",), attempts=2, interval_s=4, backoff_rate=3.0, max_delay_s=10),),
                     next="done"),
        "done": Succeed(),
    })
    execution = run(engines([workflow], invoke, time_scale=0.5, sleep=sleeps.append), "scaled", {})
    assert (execution.status, execution.error) == (FAILED, {"error": "Busy", "cause": "3"})
    assert sleeps == [5.0, 2.0, 5.0]  # 10 s; then 4 and 4 x 3 capped at 10, halved
    retries = [e.data for e in execution.history if e.type == "RetryScheduled"]
    assert retries == [{"seconds": 4, "scaled_s": 2.0, "error": "Busy", "retry": 1},
                       {"seconds": 10, "scaled_s": 5.0, "error": "Busy", "retry": 2}]


# -------------------------------------------------------------------------- history


def test_the_history_records_every_step_and_task_call_with_its_input_and_output(engines):
    ticks = itertools.count(1000)
    results = {"reserve-stock": {"held": 2}, "charge-payment": {"receipt": "r-1"}, "ship": {"tracking": "t-1"}, "notify": None}
    seen = []
    engine = engines([FULFIL], answers(results), time_scale=0, clock=lambda: next(ticks),
                     listener=lambda workflow, execution_id, event: seen.append((workflow, execution_id, event)))
    execution = run(engine, "fulfil-order", ORDER, "o-1")
    assert execution.status == SUCCEEDED
    history = execution.history
    assert [h.at for h in history] == sorted(h.at for h in history) and execution.started < history[0].at
    assert execution.ended > history[-1].at
    assert (history[0].type, history[0].data) == ("ExecutionStarted", {"input": ORDER})
    assert (history[-1].type, history[-1].data) == ("ExecutionSucceeded", {"output": execution.output})
    assert seen == [("fulfil-order", "o-1", h) for h in history]  # the listener heard each event

    scheduled = {e.data["function"]: e for e in history if e.type == "TaskScheduled"}
    finished = {e.data["function"]: e for e in history if e.type == "TaskSucceeded"}
    called = ["reserve-stock", "charge-payment", "ship", "notify", "mark-completed"]
    assert sorted(scheduled) == sorted(finished) == sorted(called)
    assert scheduled["reserve-stock"].data["input"] == ORDER
    assert scheduled["charge-payment"].data["input"] == {**ORDER, "reservation": {"held": 2}}
    for function in called:
        assert finished[function].data["output"] == results.get(function, {"by": function})
        assert finished[function].data["duration_s"] >= 0
    assert (scheduled["ship"].branch, scheduled["notify"].branch) == ("ship-and-notify[0]", "ship-and-notify[1]")
    assert scheduled["mark-completed"].data["input"]["fulfilment"] == [
        {**ORDER, "reservation": {"held": 2}, "payment": {"receipt": "r-1"}, "shipment": {"tracking": "t-1"}},
        {**ORDER, "reservation": {"held": 2}, "payment": {"receipt": "r-1"}},
    ]
    steps = [(e.step, e.data["next"]) for e in history if e.type == "StepExited" and not e.branch]
    assert steps == [("reserve-stock", "check-total"), ("check-total", "charge-payment"), ("charge-payment", "ship-and-notify"),
                     ("ship-and-notify", "mark-completed"), ("mark-completed", "done"), ("done", None)]
    assert engine.get("fulfil-order", "o-1") == execution and engine.get("fulfil-order", "o-2") is None


def test_tasks_and_readers_get_copies(engines):
    """A task that changes its input, or a caller that changes a record, changes nothing else."""
    calls = []

    def invoke(function, state, timeout_s):
        calls.append(json.loads(json.dumps(state)))
        state["order"]["id"] = f"changed by {function}"
        return "done"

    engine = engines([HAPPY], invoke)
    state = {"order": {"id": "o-1"}}
    execution = run(engine, "happy", state)
    state["order"]["id"] = "changed by the caller"
    execution.output["order"]["id"] = "changed by a reader"
    execution.history[0].data["input"]["order"]["id"] = "changed by a reader"
    assert calls == [{"order": {"id": "o-1"}}, {"order": {"id": "o-1"}, "reservation": "done"}]
    again = engine.get("happy", "e-1")
    assert again.input == {"order": {"id": "o-1"}} and again.output["order"] == {"id": "o-1"}
    assert [e.data["input"] for e in again.history if e.type == "TaskScheduled"] == calls


def test_a_failing_listener_changes_no_execution(engines, caplog):
    def listener(workflow, execution_id, event):
        raise RuntimeError("console gone")

    execution = run(engines([HAPPY], answers(), listener=listener), "happy", {})
    assert execution.status == SUCCEEDED and len(execution.history) == 10
    assert caplog.text.count("workflow event listener failed") == 10


# ----------------------------------------------------------------------------- errors


def test_an_unnamed_failure_is_task_failed_and_its_text_stays_out_of_the_state(engines):
    """As on GCP and Azure (the 500 says "internal error"): the exception text is for the
    developer's history only, never in the cause that the state and the next steps see."""

    def invoke(function, state, timeout_s):
        if function == "work":
            raise RuntimeError("password=hunter2 rejected by db-7")
        return state["error"]

    workflow = flow("leaky", {
        "work": Task(function="work", catch=(Catch(errors=("TaskFailed",), next="report"),)),
        "report": Task(function="report", result="reported"),
    })
    execution = run(engines([workflow], invoke), "leaky", {})
    assert execution.output == {"error": {"error": "TaskFailed", "cause": INTERNAL_ERROR},
                                "reported": {"error": "TaskFailed", "cause": INTERNAL_ERROR}}
    failed = next(e for e in execution.history if e.type == "TaskFailed")
    assert failed.data["exception"] == "RuntimeError: password=hunter2 rejected by db-7"
    assert "hunter2" not in json.dumps([execution.output, [e.data for e in execution.history if e is not failed]])


@pytest.mark.parametrize(
    ("timeout_s", "answer", "error", "exception"),
    [
        (5, TimeoutError("gave up"), {"error": "Timeout", "cause": "no answer within 5 s"}, None),
        # Without the step's timeout there is no race: a function's own timeout is TaskFailed, as on the clouds.
        (None, TimeoutError("gave up"), {"error": "TaskFailed", "cause": INTERNAL_ERROR}, "TimeoutError: gave up"),
        (None, TaskError("Timeout", "named so"), {"error": "Timeout", "cause": "named so"}, None),
        (None, {1, 2}, {"error": "TaskFailed", "cause": INTERNAL_ERROR}, "TypeError: Object of type set is not JSON serializable"),
        (None, SystemExit(3), {"error": "TaskFailed", "cause": INTERNAL_ERROR}, "SystemExit: 3"),
    ],
)
def test_what_a_task_answer_means(engines, timeout_s, answer, error, exception):
    def invoke(function, state, timeout):
        assert timeout == timeout_s  # the step's timeout, for invokers that enforce it themselves
        if isinstance(answer, BaseException):
            raise answer
        return answer

    workflow = flow("one", {"one": Task(function="one", timeout_s=timeout_s, result="out")})
    execution = run(engines([workflow], invoke), "one", {})
    assert (execution.status, execution.error) == (FAILED, error)
    failed = next(e for e in execution.history if e.type == "TaskFailed")
    assert failed.data.get("exception") == exception


def test_no_matching_choice_and_a_result_path_through_a_value_fail(engines):
    pick = flow("pick", {"pick": Choice(rules=(Rule(path="a", op="==", value=1, next="ok"),)), "ok": Succeed()})
    nested = flow("nested", {"set": Task(function="set", result="payment.receipt")})
    engine = engines([pick, nested], answers())
    assert run(engine, "pick", {"a": 2}).error == {"error": "NoChoiceMatched", "cause": "no rule of choice step pick matched"}
    assert run(engine, "pick", {"a": 1}, "e-2").status == SUCCEEDED
    assert run(engine, "nested", {"payment": "card"}).error == {
        "error": "TaskFailed", "cause": "cannot store the result at payment.receipt: payment holds a string, not an object"}
    assert run(engine, "nested", {"payment": {"card": 1}}, "e-2").output == {"payment": {"card": 1, "receipt": {"by": "set"}}}


# ------------------------------------------------------------------------ stop, reload


def test_stop_ends_sleeping_and_waiting_executions_and_their_threads():
    entered = threading.Event()
    release = threading.Event()

    def invoke(function, state, timeout_s):
        entered.set()
        release.wait(HANG_S)
        return None

    def listener(workflow, execution_id, event):
        if event.type == "WaitStarted":
            waiting.set()

    hour = flow("hour", {"hour": Wait(seconds=3600)})
    slow = flow("slow", {"slow": Task(function="slow", timeout_s=540)})
    waiting = threading.Event()
    engine = Engine([hour, slow], invoke, listener=listener)  # real time: only stop() can end these
    try:
        assert engine.start("hour", "h-1", {}) and engine.start("slow", "s-1", {})
        assert waiting.wait(HANG_S) and entered.wait(HANG_S)
        assert engine.stop()
    finally:
        release.set()
    for workflow, execution_id in [("hour", "h-1"), ("slow", "s-1")]:
        execution = engine.get(workflow, execution_id)
        assert (execution.status, execution.error, execution.history[-1].type) == (ABORTED, None, "ExecutionAborted")
    assert not [t for t in threading.enumerate() if t.name.startswith("workflow hour/") or t.name.startswith("workflow slow/")]
    with pytest.raises(RuntimeError, match="the workflow engine is stopped"):
        engine.start("hour", "h-2", {})


def test_reload_keeps_records_and_running_executions_keep_their_definition(engines):
    release = threading.Event()

    def invoke(function, state, timeout_s):
        if function == "reserve":
            release.wait(HANG_S)
        return function

    engine = engines([HAPPY], invoke)
    assert engine.start("happy", "old", {})
    changed = flow("happy", {"reserve": Task(function="reserve", result="r", next="refund"), "refund": Task(function="refund", result="f")})
    engine.reload([changed, each(0)])
    release.set()
    old = engine.wait("happy", "old", HANG_S).output
    assert old == {"reservation": "reserve", "payment": {"receipt": "charge"}}  # the definition it started with
    assert run(engine, "happy", {}, "new").output == {"r": "reserve", "f": "refund"}
    engine.reload([each(0)])
    assert [e.id for e in engine.executions("happy")] == ["old", "new"]  # a removed workflow's records stay
    with pytest.raises(ValueError, match="no workflow 'happy'; declared: each"):
        engine.start("happy", "newer", {})


# -------------------------------------------------------------------------- isolation


def test_importing_the_engine_loads_no_cloud_sdk():
    """Measured against what the interpreter loads before (a .pth file may create empty `google`
    namespace packages at startup)."""
    code = (
        "import sys; sys.path.insert(0, 'functions'); before = set(sys.modules)\n"
        "import components.dev.engine\n"
        "loaded = set(sys.modules) - before\n"
        "bad = sorted(m for m in loaded if m.split('.')[0] in ('boto3', 'botocore', 'google', 'azure', 'pulumi')"
        " or m.startswith('pulumi_'))\n"
        "print(len(loaded), bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) > 0 and " ".join(out[1:]) == "[]"
