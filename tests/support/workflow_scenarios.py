"""The scenario table every workflow engine runs (DESIGN.md section 5: same definition, same
meaning): a workflow, what each task does on each call, the input state, and the outcome
the portable semantics promise.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    Succeed,
    Task,
    Wait,
    WorkflowSpec,
)

FULFIL = next(w for w in REFERENCE.workflows if w.name == "fulfil-order")


@dataclass(frozen=True)
class Behaviour:
    """One call of a task: a result, a named TaskError, any other failure (`crash`), and
    how long the call takes (past the task's timeout it times out)."""

    result: Any = None
    error: str | None = None
    crash: bool = False
    message: str = ""
    takes_s: float = 0.0


def returns(value: Any) -> Behaviour:
    return Behaviour(result=value)


def raises(name: str, message: str = "") -> Behaviour:
    return Behaviour(error=name, message=message or f"{name} happened")


def crashes(message: str = "connection reset by the database") -> Behaviour:
    return Behaviour(crash=True, message=message)


def hangs(seconds: float) -> Behaviour:
    return Behaviour(result={"late": True}, takes_s=seconds)


@dataclass(frozen=True)
class Scenario:
    name: str
    workflow: WorkflowSpec
    state: dict
    #: Per function: one Behaviour for every call, or a list with one per call.
    #: An unscripted function returns {"by": <function>}.
    script: Mapping[str, Behaviour | Sequence[Behaviour]] = field(default_factory=dict)
    status: str = "succeeded"
    error: str | None = None
    #: The functions called, in order; None where branches run concurrently.
    calls: tuple[str, ...] | None = None


class Tasks:
    """Answers task calls from a scenario's script and records each call's state."""

    def __init__(self, script: Mapping[str, Behaviour | Sequence[Behaviour]]):
        self.script = script
        self.calls: list[tuple[str, Any]] = []
        self.overrun: list[str] = []
        self.lock = threading.Lock()

    def answer(self, function: str, state: Any) -> Behaviour:
        with self.lock:
            count = sum(1 for f, _ in self.calls if f == function)
            self.calls.append((function, state))
            planned = self.script.get(function, returns({"by": function}))
            if isinstance(planned, Behaviour):
                return planned
            if count >= len(planned):
                self.overrun.append(function)
                return raises("Unscripted", f"{function} called {count + 1} times")
            return planned[count]


def flow(name: str, steps: dict) -> WorkflowSpec:
    return WorkflowSpec(name=name, start=next(iter(steps)), steps=steps)


GUARDED = flow(
    "guarded",
    {
        "work": Task(
            function="work",
            result="out",
            retry=(Retry(errors=("TaskFailed",), attempts=2, interval_s=1),),
            catch=(Catch(errors=("OutOfStock",), next="restock"), Catch(errors=("PaymentDeclined",), next="refund")),
            next="done",
        ),
        "restock": Task(function="restock", next="done"),
        "refund": Task(function="refund", next="done"),
        "done": Succeed(),
    },
)

RECOVERING = flow(
    "recovering",
    {
        "work": Task(
            function="work",
            retry=(Retry(errors=("TaskFailed",), attempts=2, interval_s=1, backoff_rate=3.0, max_delay_s=2),),
            catch=(Catch(errors=("TaskFailed",), next="recover"),),
        ),
        "recover": Task(function="recover", result="recovered"),
    },
)

# A name the step retries is not TaskFailed, so the TaskFailed catch must not take it.
BUSY = flow(
    "busy",
    {
        "work": Task(
            function="work",
            retry=(Retry(errors=("Busy",), attempts=2, interval_s=1, backoff_rate=1.5),),
            catch=(Catch(errors=("TaskFailed",), next="recover"),),
        ),
        "recover": Task(function="recover"),
    },
)

# TaskFailed never catches Timeout, even listed first.
TIMEOUT = flow(
    "timeout",
    {
        "slow": Task(
            function="slow",
            timeout_s=1,
            result="out",
            catch=(Catch(errors=("TaskFailed",), next="wrong"), Catch(errors=("Timeout",), next="late")),
        ),
        "wrong": Fail(error="WrongCatch"),
        "late": Task(function="late"),
    },
)

PICK = flow(
    "pick",
    {
        "pick": Choice(
            rules=(
                Rule(path="order.status", op="==", value="rush", next="rush"),
                Rule(path="order.vip", op="==", value=True, next="vip"),
                Rule(path="order.total", op=">", value=100, next="big"),
                Rule(path="order.total", op=">=", value=50, next="medium"),
                Rule(path="order.total", op="<", value=0, next="negative"),
                Rule(path="order.total", op="<=", value=0, next="zero"),
                Rule(path="order.coupon", op="exists", next="coupon"),
                Rule(path="order.total", op="exists", value=False, next="no-total"),
                Rule(path="order.tier", op="!=", value="gold", next="not-gold"),
            ),
            default="gold",
        ),
        "rush": Fail(error="Rush"),
        "vip": Fail(error="Vip"),
        "big": Fail(error="Big"),
        "medium": Fail(error="Medium"),
        "negative": Fail(error="Negative"),
        "zero": Fail(error="Zero"),
        "coupon": Fail(error="Coupon"),
        "no-total": Fail(error="NoTotal"),
        "not-gold": Fail(error="NotGold"),
        "gold": Succeed(),
    },
)


def _side(function: str) -> Branch:
    return Branch(start=function, steps={function: Task(function=function, result="side")})


BOTH = flow(
    "both",
    {
        "both": Parallel(
            branches=(_side("left"), _side("right")),
            result="sides",
            retry=(Retry(errors=("Broken",), attempts=1, interval_s=1),),
            catch=(Catch(errors=("Broken",), next="recover"),),
            next="done",
        ),
        "recover": Task(function="recover", next="done"),
        "done": Succeed(),
    },
)


def each(max_concurrency: int) -> WorkflowSpec:
    return flow(
        "each",
        {
            "each": Map(
                items="order.lines",
                iterator=Branch(start="price", steps={"price": Task(function="price", result="price")}),
                max_concurrency=max_concurrency,
                result="priced",
            )
        },
    )


# A map inside a parallel branch: the deepest nesting Workflows allows.
NESTED = flow(
    "nested",
    {
        "both": Parallel(
            branches=(
                Branch(start="each", steps={"each": Map(items="order.lines", iterator=Branch(
                    start="price", steps={"price": Task(function="price", result="price")}), result="priced")}),
                _side("right"),
            ),
            result="sides",
        )
    },
)

PAUSE = flow("pause", {"pause": Wait(seconds=1, next="done"), "done": Succeed()})

HAPPY = flow(
    "happy",
    {
        "reserve": Task(function="reserve", result="reservation", next="charge"),
        "charge": Task(function="charge", result="payment.receipt"),
    },
)

ORDER = {"order": {"id": "o-1", "total": 25}}

SCENARIOS = [
    Scenario("happy-path", HAPPY, {"order": {"id": "o-1"}}, {"reserve": returns({"id": "r-1"}), "charge": returns("rcpt-9")},
             calls=("reserve", "charge")),
    Scenario("caught-out-of-stock-not-retried", GUARDED, ORDER, {"work": raises("OutOfStock", "sku-1 sold out")},
             calls=("work", "restock")),
    Scenario("caught-payment-declined-not-retried", GUARDED, ORDER, {"work": raises("PaymentDeclined", "card declined")},
             calls=("work", "refund")),
    Scenario("task-failed-retried-until-success", GUARDED, ORDER, {"work": [crashes(), crashes(), returns(7)]},
             calls=("work", "work", "work")),
    Scenario("task-failed-retry-exhausted", GUARDED, ORDER, {"work": crashes()},
             status="failed", error="TaskFailed", calls=("work", "work", "work")),
    Scenario("task-failed-retried-then-caught", RECOVERING, ORDER, {"work": crashes()},
             calls=("work", "work", "work", "recover")),
    Scenario("named-retry-exhausted-not-caught-as-task-failed", BUSY, ORDER, {"work": raises("Busy", "try later")},
             status="failed", error="Busy", calls=("work", "work", "work")),
    Scenario("timeout-caught-not-as-task-failed", TIMEOUT, ORDER, {"slow": hangs(1.5)}, calls=("slow", "late")),
    *[
        Scenario(f"choice-{name}", PICK, state, status="failed" if error else "succeeded", error=error, calls=())
        for name, state, error in [
            ("string-equals", {"order": {"status": "rush", "total": 500}}, "Rush"),
            ("boolean-equals", {"order": {"vip": True}}, "Vip"),
            ("greater", {"order": {"total": 101}}, "Big"),
            ("greater-or-equal", {"order": {"total": 50}}, "Medium"),
            ("less", {"order": {"total": -1}}, "Negative"),
            ("less-or-equal", {"order": {"total": 0}}, "Zero"),
            ("exists", {"order": {"total": 10, "coupon": None}}, "Coupon"),
            ("not-exists", {"order": {"tier": "gold"}}, "NoTotal"),
            ("missing-path-not-equal", {"order": {"total": 10}}, "NotGold"),
            ("missing-parent", {}, "NoTotal"),
            ("other-type-does-not-compare", {"order": {"total": "lots", "vip": 1, "tier": "gold"}}, None),
            ("default", {"order": {"total": 10, "tier": "gold"}}, None),
        ]
    ],
    Scenario("parallel-branch-fails-retried-then-caught", BOTH, ORDER,
             {"left": Behaviour(error="Broken", message="left broke", takes_s=0.2), "right": returns("R")}),
    Scenario("map-empty", each(0), {"order": {"lines": []}}, calls=()),
    Scenario("map-three-concurrently", each(0), {"order": {"lines": ["a", "b", "c"]}}, {"price": returns(10)}),
    Scenario("map-three-one-at-a-time", each(1), {"order": {"lines": ["a", "b", "c"]}},
             {"price": [returns(10), returns(20), returns(30)]}, calls=("price", "price", "price")),
    Scenario("parallel-with-a-map-inside", NESTED, {"order": {"lines": ["a", "b"]}}, {"price": returns(5), "right": returns("R")}),
    Scenario("wait", PAUSE, ORDER, calls=()),
    Scenario("fulfil-order-happy", FULFIL, ORDER, {"notify": returns(None)}),
    Scenario("fulfil-order-reserve-flaky", FULFIL, ORDER, {"reserve-stock": [crashes(), crashes(), returns({"held": 2})]}),
    Scenario("fulfil-order-declined", FULFIL, ORDER, {"charge-payment": raises("PaymentDeclined", "card declined")},
             status="failed", error="OrderFailed", calls=("reserve-stock", "charge-payment", "release-stock", "mark-failed")),
    Scenario("fulfil-order-out-of-stock", FULFIL, ORDER, {"reserve-stock": raises("OutOfStock", "sku-1 sold out")},
             status="failed", error="OrderFailed", calls=("reserve-stock", "mark-failed")),
    Scenario("fulfil-order-invalid-total", FULFIL, {"order": {"id": "o-1", "total": 0}},
             status="failed", error="InvalidOrder", calls=("reserve-stock", "release-stock")),
]
