"""Four engines, one meaning: every scenario of tests/support/workflow_scenarios.py runs on
`anycloud dev`'s local engine (components/dev/engine.py) and must give the same `Outcome` as on
the Workflows interpreter and the Durable driver: status, error name, final state, the task
calls with their input states (so retries count) and the sleeps between them.

Step Functions (moto) is not run again here: tests/test_workflow_parity.py already holds it equal
to those two on the same table, and rerunning it costs seconds of real waits for nothing more.

The local engine's tasks follow its own contract: a `TaskError` for a named error, any other
exception for an unnamed one, a result otherwise; a behaviour's duration is slept for real, so
the engine's own race against the step's ``timeout_s`` decides the timeout scenario (1 s, as on
moto). Sleeps are recorded through the engine's injectable sleep at time scale 1, never waited.
"""

from __future__ import annotations

import copy
import time

import pytest
from runtime.contracts import TaskError

from components.dev.engine import INTERNAL_ERROR, Engine, Execution
from tests.support.workflow_scenarios import SCENARIOS, Scenario, Tasks
from tests.test_workflow_parity import Outcome, on_durable, on_workflows, outcome

#: How long a scenario may take before the test gives up (not a timing assertion: a bound on a hang).
HANG_S = 30


def invoker(tasks: Tasks):
    """The scenario's behaviours through the local engine's `invoke`."""

    def invoke(function: str, state: dict, timeout_s: float | None):
        behaviour = tasks.answer(function, state)
        time.sleep(behaviour.takes_s)
        if behaviour.error:
            raise TaskError(behaviour.error, behaviour.message)
        if behaviour.crash:
            raise RuntimeError(behaviour.message)
        return behaviour.result

    return invoke


_runs: dict[str, tuple[Outcome, Execution]] = {}


def run_locally(scenario: Scenario) -> tuple[Outcome, Execution]:
    """The scenario's outcome and execution record on the local engine (run once per scenario:
    the spot checks reuse the parity test's runs, real task durations included)."""
    if scenario.name not in _runs:
        _runs[scenario.name] = _run(scenario)
    return _runs[scenario.name]


def _run(scenario: Scenario) -> tuple[Outcome, Execution]:
    tasks, sleeps = Tasks(scenario.script), []
    engine = Engine([scenario.workflow], invoker(tasks), sleep=sleeps.append)
    try:
        assert engine.start(scenario.workflow.name, "parity", copy.deepcopy(scenario.state))
        execution = engine.wait(scenario.workflow.name, "parity", HANG_S)
    finally:
        assert engine.stop()
    assert execution.status != "RUNNING", f"{scenario.name} did not end"
    error = execution.error["error"] if execution.error else None
    return outcome(scenario, execution.status, error, execution.output, tasks, sleeps, from_aws=False), execution


def on_local(scenario: Scenario) -> Outcome:
    return run_locally(scenario)[0]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_local_engine_agrees_with_the_clouds_engines(scenario):
    local = on_local(scenario)
    assert local == on_workflows(scenario)
    assert local == on_durable(scenario)
    assert (local.status, local.error) == (scenario.status, scenario.error)
    if scenario.calls is not None:
        assert [f for f, _, _ in local.calls] == list(scenario.calls)


def test_spot_checks_so_that_the_engines_cannot_agree_on_a_wrong_answer():
    by_name = {s.name: s for s in SCENARIOS}
    happy = on_local(by_name["happy-path"])
    assert happy.output == {"order": {"id": "o-1"}, "reservation": {"id": "r-1"}, "payment": {"receipt": "rcpt-9"}}
    assert on_local(by_name["task-failed-retried-then-caught"]).sleeps == [1, 2]  # 1 x 3 capped at 2
    assert on_local(by_name["fulfil-order-reserve-flaky"]).sleeps == [2, 4]
    parallel = on_local(by_name["parallel-branch-fails-retried-then-caught"])
    assert parallel.output["error"] == {"error": "Broken", "cause": "left broke"} and "sides" not in parallel.output
    assert [f for f, _ in parallel.calls] == ["left", "left", "recover", "right", "right"]  # every branch ran, twice
    _, timed_out = run_locally(by_name["timeout-caught-not-as-task-failed"])
    assert timed_out.output["error"] == {"error": "Timeout", "cause": "no answer within 1 s"} and "out" not in timed_out.output
    _, exhausted = run_locally(by_name["task-failed-retry-exhausted"])
    assert exhausted.error == {"error": "TaskFailed", "cause": INTERNAL_ERROR}
    _, declined = run_locally(by_name["fulfil-order-declined"])
    assert declined.error == {"error": "OrderFailed", "cause": "Payment declined or stock unavailable; stock released"}
    released = next(e for e in declined.history if e.type == "TaskScheduled" and e.data["function"] == "release-stock")
    assert released.data["input"]["error"] == {"error": "PaymentDeclined", "cause": "card declined"}
