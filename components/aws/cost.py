"""How an AWS stack meets its prices (components/cost.py, pricing/aws.yaml): what costs at rest
(provisioned concurrency, KMS keys, secrets, alarms, dashboards) and what one request costs on
its path (the HTTP API call, each Lambda invocation at its memory and architecture, three SQS
requests a message, a DynamoDB unit per read or write, a Step Functions transition per state).
"""

from __future__ import annotations

import json
from typing import Any

from ..architecture import Architecture, Stack
from ..cost import SECONDS_A_MONTH, Line, PriceTable, RequestPath, per_resource, table_lines, without

FUNCTION, WARM = "aws:lambda/function:Function", "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
#: SendMessage, ReceiveMessage and DeleteMessage for each message (one message a receive: an upper bound).
QUEUE_REQUESTS_PER_MESSAGE = 3


def region(stack: Stack) -> str:
    for resource in stack.resources:
        arn = str(stack.value(resource, "arn") or "")
        if arn.startswith("arn:aws:") and arn.split(":")[3]:
            return arn.split(":")[3]
    return ""


def _memory_gb(stack: Stack, function: dict[str, Any]) -> float:
    return float(stack.value(function, "memorySize") or 128) / 1024


def _arch(stack: Stack, function: dict[str, Any]) -> str:
    return "arm" if "arm64" in (stack.value(function, "architectures") or []) else "x86"


def _warm(stack: Stack) -> dict[str, int]:
    """Function name -> provisioned instances."""
    warm: dict[str, int] = {}
    for config in stack.of_type(WARM):
        name = stack.value(config, "functionName")
        warm[name] = warm.get(name, 0) + int(stack.value(config, "provisionedConcurrentExecutions") or 0)
    return warm


def at_rest(stack: Stack, arch: Architecture, prices: PriceTable) -> list[Line]:
    lines = []
    warm = _warm(stack)
    for function in stack.of_type(FUNCTION):
        count = warm.get(stack.value(function, "name"), 0)
        if count:
            gb = _memory_gb(stack, function)
            lines.append(Line("warm instances", f"provisioned concurrency {stack.name(function)} ({count} x {gb * 1024:g} MB)",
                              count * gb * SECONDS_A_MONTH, "GB-s", prices[f"provisioned_gb_second_{_arch(stack, function)}"]))
    return lines + per_resource(stack, prices, (
        ("aws:kms/key:Key", "keys", "KMS keys", "key_month"),
        ("aws:secretsmanager/secret:Secret", "secrets", "Secrets Manager secrets", "secret_month"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarms and dashboards", "CloudWatch alarms", "alarm_month"),
        ("aws:cloudwatch/dashboard:Dashboard", "alarms and dashboards", "CloudWatch dashboards", "dashboard_month")))


def happy_path(definition: Any) -> tuple[int, set[str]]:
    """(states entered, Lambda ARNs invoked) on a state machine's happy path: from StartAt, each
    Choice's first rule, no retry, no catch; a Parallel's every branch, a Map's iterator once."""
    states, name = (definition or {}).get("States") or {}, (definition or {}).get("StartAt")
    entered, invoked, seen = 0, set(), set()
    while name in states and name not in seen:
        seen.add(name)
        state = states[name]
        entered += 1
        function = (state.get("Parameters") or {}).get("FunctionName") or (
            state.get("Resource") if str(state.get("Resource", "")).startswith("arn:aws:lambda:") else None)
        if function:
            invoked.add(str(function).split(":$", 1)[0])
        for inner in [*(state.get("Branches") or []), *[m for m in (state.get("ItemProcessor"), state.get("Iterator")) if m]]:
            count, functions = happy_path(inner)
            entered, invoked = entered + count, invoked | functions
        if state.get("Type") == "Choice":
            name = ((state.get("Choices") or [{}])[0]).get("Next") or state.get("Default")
        else:
            name = None if state.get("End") else state.get("Next")
    return entered, invoked


def _definition(stack: Stack, machine: dict[str, Any]) -> Any:
    definition = stack.value(machine, "definition")
    return json.loads(definition) if isinstance(definition, str) else definition


def per_request(stack: Stack, arch: Architecture, path: RequestPath, prices: PriceTable,
                assumed: dict[str, float]) -> list[Line]:
    skipped = set()
    for key in path.workflows:  # tasks off the happy path are not called
        _, invoked = happy_path(_definition(stack, stack.by_urn[arch.blocks[key].urns[0]]))
        tasks = {a.target for a in arch.arrows if a.source == key and a.verb == "invoke"}
        skipped |= {t for t in tasks if str(stack.value(stack.by_urn[arch.blocks[t].urns[0]], "arn")) not in invoked}
    path = without(path, skipped)
    lines = [Line("API calls", "HTTP API call", 1, "calls", prices["api_request"])]
    warm = _warm(stack)
    seconds = assumed["function_duration_ms"] / 1000
    for key in path.functions:
        function = stack.by_urn[arch.blocks[key].urns[0]]
        gb, kind = _memory_gb(stack, function), _arch(stack, function)
        duration = f"provisioned_duration_gb_second_{kind}" if warm.get(stack.value(function, "name")) else f"function_gb_second_{kind}"
        lines.append(Line("function invocations", f"{arch.blocks[key].name}: request", 1, "requests", prices["function_request"]))
        lines.append(Line("function invocations", f"{arch.blocks[key].name}: {gb * 1024:g} MB x {seconds * 1000:g} ms",
                          gb * seconds, "GB-s", prices[duration], ("function_duration_ms",)))
    for queue in path.messages:
        lines.append(Line("queue", f"{arch.blocks[queue].name}: send, receive, delete", QUEUE_REQUESTS_PER_MESSAGE,
                          "requests", prices["queue_request"], ("message_kb",)))
    lines += table_lines(arch, path, (1, "RRU", prices["table_read_unit"], ("table_item_kb",)),
                         (1, "WRU", prices["table_write_unit"], ("table_item_kb",)))
    for key in path.workflows:
        states, _ = happy_path(_definition(stack, stack.by_urn[arch.blocks[key].urns[0]]))
        lines.append(Line("workflow", f"{arch.blocks[key].name}: states on the happy path", states, "transitions",
                          prices["workflow_transition"]))
    return lines
