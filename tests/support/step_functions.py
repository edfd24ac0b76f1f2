"""Execute ASL definitions in moto's Step Functions interpreter, tasks as in-process handlers.

Shared by tests/test_workflow_asl.py and tests/test_workflow_parity.py. A task handler is
``handler(state, context)``; raising ``named_error(name)`` fails the task with that error
name, as the AWS adapter does for a ``TaskError``. moto runs Wait states and TimeoutSeconds
in real time; retry sleeps are skipped and recorded (`fast_step_functions`).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import boto3
from moto import mock_aws

from tests.support.inprocess_lambda import (
    Handler,
    fast_step_functions,
    run_lambdas_inprocess,
)

MACHINES = itertools.count()
REGION, ACCOUNT = "us-east-1", "123456789012"


def arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"


def named_error(name: str, message: str = "") -> Exception:
    """An exception whose class name, and so its Lambda errorType, is `name`."""
    return type(name, (Exception,), {})(message)


@dataclass
class Run:
    status: str
    output: dict | None
    error: str | None
    events: list[dict]
    cause: str | None = None
    delays: list[float] = field(default_factory=list)


class Executor:
    """Runs a definition once per call; `delays` holds the retry sleeps of the last run."""

    def __init__(self, client, delays: list[float]):
        self.client = client
        self.delays = delays

    def __call__(self, definition: dict, handlers: Mapping[str, Handler], state: dict, name: str = "flow") -> Run:
        self.delays.clear()
        machine = self.client.create_state_machine(
            name=f"{name}-{next(MACHINES)}",
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/workflow",
        )["stateMachineArn"]
        with run_lambdas_inprocess({arn(f): h for f, h in handlers.items()}):
            execution = self.client.start_execution(stateMachineArn=machine, input=json.dumps(state))["executionArn"]
            deadline = time.monotonic() + 10
            while (done := self.client.describe_execution(executionArn=execution))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "execution did not finish"
                time.sleep(0.02)
        events = self.client.get_execution_history(executionArn=execution)["events"]
        output = json.loads(done["output"]) if done.get("output") else None
        return Run(done["status"], output, done.get("error"), events, done.get("cause"), list(self.delays))


@contextmanager
def moto_step_functions() -> Iterator[Executor]:
    """One moto account; every run creates its own state machine."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), fast_step_functions() as delays:
        yield Executor(boto3.client("stepfunctions", region_name=REGION), delays)
