"""How a GCP stack meets its prices (components/cost.py, pricing/gcp.yaml): what costs at rest
(idle minimum instances, KMS key versions, secret versions per location, alerting conditions) and
what one request costs on its path (the gateway call; each function's request, vCPU and memory time
at its size; Pub/Sub throughput for each publish and push; Firestore reads and writes; a workflow's
start through its topic and starter function, its claim write and its steps).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..architecture import YAML_LOADER, Architecture, Stack
from ..cost import SECONDS_A_MONTH, Line, PriceTable, RequestPath, table_lines, without

FUNCTION = "gcp:cloudfunctionsv2/function:Function"
#: Memory -> vCPU of a function that sets no CPU (Cloud Run functions' documented table).
VCPU_OF_MIB = ((128, 0.083), (256, 0.167), (512, 0.333), (1024, 0.583), (2048, 1.0), (4096, 2.0), (8192, 2.0),
               (16384, 4.0), (32768, 8.0))
KIB_PER_TIB = 1024 ** 3


def region(stack: Stack) -> str:
    return next((str(stack.value(f, "location")) for f in stack.of_type(FUNCTION) if stack.value(f, "location")), "")


def _size(function: dict[str, Any]) -> tuple[float, float]:
    """(GiB, vCPU) of a function's instances."""
    config = (function.get("inputs") or {}).get("serviceConfig") or {}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(M|Mi|G|Gi)?", str(config.get("availableMemory") or "256M"))
    amount, unit = (float(match.group(1)), match.group(2) or "M") if match else (256.0, "M")
    mib = amount * 1024 if unit.startswith("G") else amount
    cpu = config.get("availableCpu")
    vcpu = float(cpu) if cpu else next((v for m, v in VCPU_OF_MIB if mib <= m), 8.0)
    return mib / 1024, vcpu


def _source(stack: Stack, workflow: dict[str, Any]) -> dict[str, Any]:
    source = yaml.load(str(stack.value(workflow, "sourceContents") or ""), Loader=YAML_LOADER) or {}
    return source if isinstance(source, dict) else {}


def _uri(function: dict[str, Any]) -> str:
    return str(((function.get("outputs") or {}).get("serviceConfig") or {}).get("uri") or "")


def at_rest(stack: Stack, arch: Architecture, prices: PriceTable) -> list[Line]:
    lines = []
    for function in stack.of_type(FUNCTION):
        count = int(((function.get("inputs") or {}).get("serviceConfig") or {}).get("minInstanceCount") or 0)
        if count:
            gib, vcpu = _size(function)
            what = f"minimum instances {stack.name(function)} ({count} x {gib * 1024:g} MiB, {vcpu:g} vCPU), idle"
            lines.append(Line("warm instances", what + ": CPU", count * vcpu * SECONDS_A_MONTH, "vCPU-s", prices["idle_vcpu_second"]))
            lines.append(Line("warm instances", what + ": memory", count * gib * SECONDS_A_MONTH, "GiB-s", prices["idle_gib_second"]))
    keys = len(stack.of_type("gcp:kms/cryptoKey:CryptoKey"))
    if keys:
        lines.append(Line("keys", "Cloud KMS key versions (one active each)", keys, "each", prices["key_version_month"]))
    replicas = 0
    for version in stack.of_type("gcp:secretmanager/secretVersion:SecretVersion"):
        secret = stack.find(["gcp:secretmanager/secret:Secret"], "id", (version.get("inputs") or {}).get("secret"))
        replication = ((secret or {}).get("inputs") or {}).get("replication") or {}
        replicas += len((replication.get("userManaged") or {}).get("replicas") or []) or 1
    if replicas:
        lines.append(Line("secrets", "Secret Manager secret versions x locations", replicas, "each", prices["secret_version_month"]))
    conditions = sum(len((p.get("inputs") or {}).get("conditions") or []) for p in stack.of_type("gcp:monitoring/alertPolicy:AlertPolicy"))
    if conditions:
        lines.append(Line("alarms and dashboards", "alerting policy conditions", conditions, "each", prices["alert_condition_month"]))
    return lines


def _invocation(name: str, function: dict[str, Any], prices: PriceTable, seconds: float) -> list[Line]:
    gib, vcpu = _size(function)
    return [Line("function invocations", f"{name}: request", 1, "requests", prices["function_request"]),
            Line("function invocations", f"{name}: {vcpu:g} vCPU x {seconds * 1000:g} ms", vcpu * seconds, "vCPU-s",
                 prices["function_vcpu_second"], ("function_duration_ms",)),
            Line("function invocations", f"{name}: {gib * 1024:g} MiB x {seconds * 1000:g} ms", gib * seconds, "GiB-s",
                 prices["function_gib_second"], ("function_duration_ms",))]


def _message(name: str, prices: PriceTable, assumed: dict[str, float]) -> Line:
    kib = 2 * max(assumed["message_kb"], 1)  # the publish and the push delivery, each billed at 1 KB at least
    return Line("queue", f"{name}: publish and push", kib / KIB_PER_TIB, "TiB", prices["message_tib"], ("message_kb",))


def happy_path(source: dict[str, Any]) -> tuple[int, set[str]]:
    """(steps run, URLs called with http.*) on a Workflows source's happy path: `main` from its first
    step; a switch's first condition; a try's steps, never its except or retry; subworkflows called
    by name; a parallel's every branch, a for's body once."""
    urls: set[str] = set()

    def run(steps: list[Any], depth: int = 0) -> int:
        count, index, names = 0, 0, [next(iter(s)) for s in steps if isinstance(s, dict) and s]
        budget = 10_000
        while 0 <= index < len(steps) and budget and depth < 50:
            budget -= 1
            body = next(iter(steps[index].values())) or {}
            count += 1
            jump = body.get("next")
            if "try" in body:
                inner = body["try"]
                count += run(inner["steps"], depth + 1) if isinstance(inner, dict) and "steps" in inner else 0
            if "steps" in body:
                count += run(body["steps"], depth + 1)
            for branch in ((body.get("parallel") or {}).get("branches") or []):
                count += sum(run(b.get("steps") or [], depth + 1) for b in branch.values())
            if "for" in body:
                count += run((body["for"] or {}).get("steps") or [], depth + 1)
            call = body.get("call")
            if isinstance(call, str) and call in source and isinstance(source[call], dict):
                count += run(source[call].get("steps") or [], depth + 1)
            elif isinstance(call, str) and call.startswith("http."):
                urls.add(str((body.get("args") or {}).get("url")))
            if "switch" in body:
                first = (body["switch"] or [{}])[0]
                count += run(first.get("steps") or [], depth + 1)
                jump = first.get("next", jump)
                if "return" in first or "raise" in first:
                    break
            if "return" in body or "raise" in body or jump == "end":
                break
            index = names.index(jump) if jump in names else (len(steps) if jump else index + 1)
        return count

    return run((source.get("main") or {}).get("steps") or []), urls


def per_request(stack: Stack, arch: Architecture, path: RequestPath, prices: PriceTable,
                assumed: dict[str, float]) -> list[Line]:
    skipped = set()
    for key in path.workflows:  # tasks off the happy path are not called
        _, urls = happy_path(_source(stack, stack.by_urn[arch.blocks[key].urns[0]]))
        tasks = {a.target for a in arch.arrows if a.source == key and a.verb == "invoke"}
        skipped |= {t for t in tasks if _uri(stack.by_urn[arch.blocks[t].urns[0]]) not in urls}
    path = without(path, skipped)
    seconds = assumed["function_duration_ms"] / 1000
    lines = [Line("API calls", "API Gateway call", 1, "calls", prices["api_request"])]
    for key in path.functions:
        lines += _invocation(arch.blocks[key].name, stack.by_urn[arch.blocks[key].urns[0]], prices, seconds)
    for queue in path.messages:
        lines.append(_message(arch.blocks[queue].name, prices, assumed))
    lines += table_lines(arch, path, (1, "reads", prices["table_read"], ("table_item_kb",)),
                         (1, "writes", prices["table_write"], ("table_item_kb",)))
    for key in path.workflows:
        block = arch.blocks[key]
        members = [stack.by_urn[u] for u in block.urns]
        workflow = members[0]
        lines.append(_message(f"{block.name} start", prices, assumed))
        for starter in (m for m in members if m["type"] == FUNCTION):
            lines += _invocation(f"{block.name} starter", starter, prices, seconds)
        account = str(stack.value(workflow, "serviceAccount") or "").rsplit("/", 1)[-1]
        claims = [m for m in stack.of_type("gcp:projects/iAMMember:IAMMember")
                  if str((m.get("inputs") or {}).get("member") or "").endswith(account) and "datastore" in str((m.get("inputs") or {}).get("role"))]
        if account and claims:
            lines.append(Line("workflow", f"{block.name}: execution claim", len(claims), "writes", prices["table_write"]))
        steps, _ = happy_path(_source(stack, workflow))
        lines.append(Line("workflow", f"{block.name}: steps on the happy path", steps, "steps", prices["workflow_step"]))
    return lines
