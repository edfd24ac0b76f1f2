"""How fast `anycloud dev` is for the example service (app:SERVICE), as a developer meets it:

- ready: from starting the process (`python -m components dev --port 0`, a fresh interpreter,
  bytecode cached as on a second run) to the first 200 on GET /health, the store a file in a
  tmp project (a fresh process per run);
- warm GET /health through the local server, over one kept-alive connection (client included);
- a full order: POST /orders, the consumer, the workflow to COMPLETED at --time-scale 0, seen by
  GET /orders/{id} polled without pause (the poll's own requests are in the figure);
- the dev process's memory after the orders: resident (VmRSS) and peak (VmHWM), from /proc.

    python benchmarks/dev.py [--starts N] [--requests N] [--orders N] [--json]

Figures are medians and the worst (p99 for requests); nothing here is a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = {"customer_id": "c-1", "items": [{"sku": "mug", "quantity": 2, "unit_price_cents": 1250}], "currency": "EUR",
         "payment_token": "tok_visa"}
ENV = {**os.environ, "ANYCLOUD_SECRET_PAYMENT_API_KEY": "bench-key"}


def project() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="anycloud-dev-bench-"))
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def start(folder: Path) -> tuple[subprocess.Popen, int, float]:
    """The dev process, its port, and the seconds from its start to the first 200 on /health."""
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "components", "dev", "--port", "0", "--time-scale", "0", "--dir",
                             str(folder), "--functions", str(ROOT / "functions")], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stdout:
        if " on http://127.0.0.1:" in line:
            port = int(line.split(" on http://127.0.0.1:", 1)[1].split()[0])
            break
    if port is None:
        raise SystemExit(f"anycloud dev did not start (exit {proc.wait()})")
    # Its log lines (one per invocation) are read and dropped, as a terminal would take them.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        if connection.getresponse().status == 200:
            connection.close()
            return proc, port, time.perf_counter() - began


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


def call(connection: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    connection.request(method, path, body=None if body is None else json.dumps(body),
                       headers={"content-type": "application/json"} if body is not None else {})
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read() or b"null")


def memory(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[key].split()[0]) / 1024 for name, key in (("rss_mb", "VmRSS"), ("peak_rss_mb", "VmHWM"))}


def measure(starts: int, requests: int, orders: int) -> dict:
    folder = project()
    try:
        ready = []
        for _ in range(starts):
            proc, port, seconds = start(folder)
            ready.append(seconds)
            stop(proc)
        proc, port, _ = start(folder)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for _ in range(50):  # warm up
                call(connection, "GET", "/health")
            health = []
            for _ in range(requests):
                began = time.perf_counter()
                call(connection, "GET", "/health")
                health.append((time.perf_counter() - began) * 1000)
            full = []
            for _ in range(orders):
                began = time.perf_counter()
                status, created = call(connection, "POST", "/orders", ORDER)
                assert status == 202, created
                while call(connection, "GET", f"/orders/{created['order_id']}")[1].get("status") != "COMPLETED":
                    pass
                full.append((time.perf_counter() - began) * 1000)
            used = memory(proc.pid)
        finally:
            stop(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    health.sort()
    return {
        "ready_s": {"median": statistics.median(ready), "worst": max(ready), "runs": starts},
        "warm_health_ms": {"median": statistics.median(health), "p99": health[int(len(health) * 0.99) - 1],
                           "requests": requests},
        "full_order_ms": {"median": statistics.median(full), "worst": max(full), "orders": orders},
        "memory": used,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.starts, args.requests, args.orders)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r = result
    print(f"anycloud dev, example service (Python {r['python']}, {r['cpus']} CPUs)")
    print(f"  ready to serve (start -> first 200 on /health): median {r['ready_s']['median']:.2f} s, "
          f"worst {r['ready_s']['worst']:.2f} s over {r['ready_s']['runs']} starts   (target < 2 s)")
    print(f"  warm GET /health:                               median {r['warm_health_ms']['median']:.3f} ms, "
          f"p99 {r['warm_health_ms']['p99']:.3f} ms over {r['warm_health_ms']['requests']}   (target < 2 ms)")
    print(f"  full order (POST -> COMPLETED, time scale 0):   median {r['full_order_ms']['median']:.1f} ms, "
          f"worst {r['full_order_ms']['worst']:.1f} ms over {r['full_order_ms']['orders']}   (target < 1 s)")
    print(f"  memory after the orders:                        RSS {r['memory']['rss_mb']:.0f} MB, peak "
          f"{r['memory']['peak_rss_mb']:.0f} MB   (target < 200 MB)")


if __name__ == "__main__":
    main()
