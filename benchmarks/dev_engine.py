"""How long `anycloud dev`'s local workflow engine (components/dev/engine.py) takes to run a whole
execution of the example's workflow, tasks answering at once and time scaled to 0: the engine's
own cost per execution (threads, history, JSON copies), from `start()` to the ended record.

Paths: the happy path (reserve, choice, charge, ship and notify in parallel, mark completed),
a flaky reservation (two TaskFailed retries: the retry delays at time scale 0) and a declined
payment (caught, compensated, failed).

    python benchmarks/dev_engine.py [--runs N] [--service app:SERVICE] [--json]

Each figure is the median and the best of N executions on one engine (milliseconds).
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from components.dev.engine import SUCCEEDED, Engine  # noqa: E402
from runtime.contracts import TaskError  # noqa: E402

ORDER = {"order": {"order_id": "o-1", "customer_id": "c-1", "total": 25, "lines": [{"sku": "sku-1", "quantity": 2}]}}


def invoker(path: str):
    """Instant tasks; `path` decides which of them fail and how."""
    reserves = {"count": 0}

    def invoke(function: str, state: dict, timeout_s: float | None):
        if function == "reserve-stock" and path == "flaky":
            reserves["count"] += 1
            if reserves["count"] % 3:
                raise RuntimeError("connection reset")
        if function == "charge-payment" and path == "declined":
            raise TaskError("PaymentDeclined", "card declined")
        return {"by": function}

    return invoke


def measure(workflow, path: str, runs: int) -> dict:
    engine = Engine([workflow], invoker(path), time_scale=0)
    times, status = [], None
    try:
        for i in range(runs):
            began = time.perf_counter()
            engine.start(workflow.name, f"run-{i}", ORDER)
            status = engine.wait(workflow.name, f"run-{i}", 10).status
            times.append((time.perf_counter() - began) * 1000)
    finally:
        engine.stop()
    return {"path": path, "status": status, "median_ms": statistics.median(times), "best_ms": min(times),
            "events": len(engine.get(workflow.name, "run-0").history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--service", default="app:SERVICE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    module, _, attr = args.service.partition(":")
    service = getattr(importlib.import_module(module), attr or "SERVICE")
    results = []
    for workflow in service.workflows:
        for path in ("happy", "flaky", "declined"):
            results.append({"workflow": workflow.name} | measure(workflow, path, args.runs))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'workflow':<16} {'path':<9} {'status':<10} {'events':>6} {'median ms':>10} {'best ms':>8}")
    for r in results:
        print(f"{r['workflow']:<16} {r['path']:<9} {r['status']:<10} {r['events']:>6} {r['median_ms']:>10.2f} {r['best_ms']:>8.2f}")
    if any(r["status"] != SUCCEEDED and r["path"] != "declined" for r in results):
        sys.exit("a happy or flaky execution did not succeed: the figures do not measure a full run")


if __name__ == "__main__":
    main()
