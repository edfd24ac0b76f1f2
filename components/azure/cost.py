"""How an Azure stack meets its prices (components/cost.py, pricing/azure.yaml): what costs at rest
(always-ready instances, Key Vault keys, metric and log alert rules) and what one request costs on
its path (the API Management call; each Flex Consumption execution at its instance memory, at the
always-ready rate where the app keeps instances ready; three queue operations a message; Cosmos DB
request units per read and write, and for a table's change stream reaching a consumer on the path,
its trigger's read of the change feed and the checkpoint it writes to its lease (a batch of one
change: the worst case); a Durable orchestration's start message, replays and storage).
"""

from __future__ import annotations

from typing import Any

from ..architecture import Architecture, Stack
from ..cost import SECONDS_A_MONTH, Line, PriceTable, RequestPath, per_resource, table_lines

APP = "azure-native:web:WebApp"
#: Put, get and delete for each message.
QUEUE_OPERATIONS_PER_MESSAGE = 3


def region(stack: Stack) -> str:
    return next((str(stack.value(a, "location")) for a in stack.of_type(APP) if stack.value(a, "location")), "")


def _scale(app: dict[str, Any]) -> dict[str, Any]:
    return (((app.get("inputs") or {}).get("functionAppConfig") or {}).get("scaleAndConcurrency") or {})


def _memory_gb(app: dict[str, Any]) -> float:
    return float(_scale(app).get("instanceMemoryMB") or 2048) / 1024


def _ready(app: dict[str, Any]) -> int:
    return sum(int(a.get("instanceCount") or 0) for a in _scale(app).get("alwaysReady") or [])


def at_rest(stack: Stack, arch: Architecture, prices: PriceTable) -> list[Line]:
    lines = []
    for app in stack.of_type(APP):
        if _ready(app):
            gb = _memory_gb(app)
            lines.append(Line("warm instances", f"always ready {stack.name(app)} ({_ready(app)} x {gb * 1024:g} MB), baseline",
                              _ready(app) * gb * SECONDS_A_MONTH, "GB-s", prices["always_ready_gb_second"]))
    return lines + per_resource(stack, prices, (
        ("azure-native:keyvault:Key", "keys", "Key Vault keys", "key_month"),
        ("azure-native:monitor:MetricAlert", "alarms and dashboards", "metric alert rules", "metric_alert_month"),
        ("azure-native:monitor:ScheduledQueryRule", "alarms and dashboards", "log search alert rules", "log_alert_month")))


def _execution(name: str, app: dict[str, Any], prices: PriceTable, seconds: float, runs: float = 1,
               category: str = "function invocations") -> list[Line]:
    gb = _memory_gb(app)
    rate = "always_ready_execution_gb_second" if _ready(app) else "function_gb_second"
    return [Line(category, f"{name}: execution", runs, "executions", prices["function_execution"]),
            Line(category, f"{name}: {gb * 1024:g} MB x {seconds * 1000:g} ms", runs * gb * seconds, "GB-s",
                 prices[rate], ("function_duration_ms",))]


def per_request(stack: Stack, arch: Architecture, path: RequestPath, prices: PriceTable,
                assumed: dict[str, float]) -> list[Line]:
    seconds = assumed["function_duration_ms"] / 1000
    lines = [Line("API calls", "API Management call", 1, "calls", prices["api_request"])]
    for key in path.functions:
        lines += _execution(arch.blocks[key].name, stack.by_urn[arch.blocks[key].urns[0]], prices, seconds)
    for queue in path.messages:
        lines.append(Line("queue", f"{arch.blocks[queue].name}: put, get, delete", QUEUE_OPERATIONS_PER_MESSAGE,
                          "operations", prices["queue_operation"], ("message_kb",)))
    lines += table_lines(arch, path, (assumed["cosmos_read_ru"], "RU", prices["request_unit"], ("cosmos_read_ru",)),
                         (assumed["cosmos_write_ru"], "RU", prices["request_unit"], ("cosmos_write_ru",)))
    for arrow in arch.arrows:
        if arrow.verb == "consume" and arch.blocks[arrow.source].kind == "table" and arrow.target in path.functions:
            table, consumer = arch.blocks[arrow.source].name, arch.blocks[arrow.target].name
            lines += [Line("tables", f"{consumer} reads the {table} change feed", assumed["cosmos_read_ru"], "RU",
                           prices["request_unit"], ("cosmos_read_ru",)),
                      Line("tables", f"{consumer} checkpoints its {table} lease", assumed["cosmos_write_ru"], "RU",
                           prices["request_unit"], ("cosmos_write_ru",))]
    for key in path.workflows:
        block = arch.blocks[key]
        tasks = sum(1 for a in arch.arrows if a.source == key and a.verb == "invoke")
        orchestrator = stack.by_urn[block.urns[0]]
        lines.append(Line("workflow", f"{block.name}: start message", QUEUE_OPERATIONS_PER_MESSAGE, "operations",
                          prices["queue_operation"], ("message_kb",)))
        lines += _execution(f"{block.name} orchestrator (start and a replay per task)", orchestrator, prices, seconds, tasks + 1,
                            "workflow")
        lines.append(Line("workflow", f"{block.name}: task hub storage ({tasks} tasks)",
                          tasks * assumed["durable_storage_operations_per_task"], "operations", prices["queue_operation"],
                          ("durable_storage_operations_per_task",)))
    return lines
