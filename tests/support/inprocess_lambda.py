"""Run Lambda functions as in-process Python handlers under moto, without Docker.

moto's Step Functions interpreter runs an ``arn:aws:states:::lambda:invoke`` task through a
boto3 Lambda client, which ``mock_aws`` routes to ``LambdaBackend.invoke``; moto would run
the function's code in a Docker container. ``run_lambdas_inprocess`` patches that method so
a registered function (by name or ARN) runs ``handler(event, context)`` in this process and
answers as the Lambda Python runtime does: the JSON-encoded return value, or for an exception
a function error ``{"errorType": <exception class name>, "errorMessage": str(exc)}`` — the
errorType is the error name Step Functions' Retry and Catch see. Other functions fall
through to moto. No Lambda function needs to exist in moto.

``fast_step_functions`` makes moto's interpreter quick enough for many executions per test
run: its retriers really sleep for IntervalSeconds (it records the delays instead, so tests
can assert the backoff), and it rebuilds a JSONPath parser for every path it evaluates (it
parses each path once).
"""

from __future__ import annotations

import functools
import json
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaBackend
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.utils import json_path

Handler = Callable[[Any, "LambdaContext"], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.time() + 900)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def _name(function: str) -> str:
    """`reserve-stock` from `arn:aws:lambda:<region>:<account>:function:reserve-stock[:alias]`."""
    return function.split(":")[6] if function.startswith("arn:") else function


@contextmanager
def run_lambdas_inprocess(handlers: Mapping[str, Handler]) -> Iterator[None]:
    """While active, invoking a function named (or ARN'd) in `handlers` calls it in-process."""
    by_name = {_name(k): v for k, v in handlers.items()}
    original = LambdaBackend.invoke

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        handler = handlers.get(function_name) or by_name.get(_name(function_name))
        if handler is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        arn = function_name if function_name.startswith("arn:") else f"arn:aws:lambda:{self.region_name}:{self.account_id}:function:{function_name}"
        context = LambdaContext(function_name=_name(function_name), invoked_function_arn=arn)
        try:
            payload = json.dumps(handler(json.loads(body or "{}"), context))
        except Exception as exc:  # the runtime reports every exception as a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_tb(exc.__traceback__),
                }
            )
        return payload.encode()

    with mock.patch.object(LambdaBackend, "invoke", invoke):
        yield


@contextmanager
def fast_step_functions() -> Iterator[list[float]]:
    """Skip moto's retry sleeps and reuse parsed JSONPaths; yields the delays it skipped."""
    delays: list[float] = []
    with (
        mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=delays.append)),
        mock.patch.object(json_path, "parse", functools.lru_cache(maxsize=None)(json_path.parse)),
        mock.patch.object(result_path, "parse", functools.lru_cache(maxsize=None)(result_path.parse)),
    ):
        yield delays
