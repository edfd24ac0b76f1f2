"""Warm per-request overhead of each cloud's entrypoint against a bare handler of that platform.

For every case the same portable work runs twice, warm, in this process:

- through the entrypoint (`runtime.aws.entry.handler`), in a Lambda-sized process environment:
  what the Lambda runtime sets (about 25 variables) plus the function's rendered environment,
  tracing off (`POWERTOOLS_TRACE_DISABLED`: no X-Ray daemon here);
- through a bare Lambda handler that returns the same response without the adapter (no
  Powertools, no Context, no metrics): the floor a hand-written function would cost.

Cases: a route (`GET /health`, the orders service's handler), a consumer batch of 10 SQS
messages (a portable consumer that accepts each message), a workflow task (a portable task
returning a small result). The difference is the adapter's overhead per invocation. Metrics
are flushed to stdout by Powertools on every invocation, as on Lambda; stdout goes to
/dev/null while timing, so terminal speed is not measured.

    python benchmarks/overhead.py [--runs N] [--repeat R] [--json]

Each figure is the best of R rounds of N invocations (microseconds per invocation; GCP runs
N/10, since each goes through functions-framework's Flask app on both sides). The Azure
entrypoint joins as it lands.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(Path(__file__).resolve().parent)]

from tests.support.lambda_events import http_event, sqs_event, sqs_record  # noqa: E402

REGION = "eu-west-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:orders-dev-orders"

#: What the Lambda runtime puts in a Python 3.13 function's environment (values made up).
LAMBDA_RUNTIME_ENV = {
    "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_NAME": "orders-dev-health", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/anycloud/orders-dev/functions/health",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef",
    "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO",
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example", "AWS_SESSION_TOKEN": "example-token" * 20,
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "_HANDLER": "runtime.aws.entry.handler", "_X_AMZN_TRACE_ID": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4f2c6;Parent=1;Sampled=0",
    "TZ": ":UTC", "LANG": "en_US.UTF-8", "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "PYTHONPATH": "/var/runtime", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129", "_AWS_XRAY_DAEMON_PORT": "2000",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


class LambdaContext:
    function_name = "orders-dev-health"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:orders-dev-health"
    memory_limit_in_mb = 256
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/anycloud/orders-dev/functions/health"
    log_stream_name = "2026/12/01/[$LATEST]0123456789abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 3000


def rendered_environment(function: str) -> dict[str, str]:
    """The function's rendered environment in the dev stack (as `check --stack dev` renders it)."""
    from coldstart import rendered_functions

    return next(env for name, _, env in rendered_functions() if name == function)


# ------------------------------------------------------------------------------ bare handlers


def bare_route(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"status": "ok"})}


def bare_consumer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for record in event["Records"]:
        json.loads(record["body"])
    return {"batchItemFailures": []}


def bare_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"notified": True}


# ----------------------------------------------------------------------------------- timing


def per_call_us(call: Callable[[], Any], runs: int, repeat: int) -> float:
    best = float("inf")
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for _ in range(50):
            call()
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(runs):
                call()
            best = min(best, time.perf_counter() - start)
    return best / runs * 1e6


def aws_cases() -> list[tuple[str, str, dict[str, str], Any, Callable]]:
    """(case, function, environment overrides, event, bare handler)."""
    health = rendered_environment("health")
    consumer = {**health, "ANYCLOUD_FUNCTION": "bench-consumer", "ANYCLOUD_HANDLER": "overhead_handlers:accept"}
    task = {**health, "ANYCLOUD_FUNCTION": "bench-task", "ANYCLOUD_HANDLER": "overhead_handlers:notified"}
    batch = sqs_event([sqs_record(json.dumps({"order_id": f"o-{i}"}), queue_arn=QUEUE_ARN, message_id=f"m-{i}") for i in range(10)])
    return [
        ("route GET /health", "health", health, http_event("GET", "/health", request_id="req-1"), bare_route),
        ("consumer, batch of 10", "bench-consumer", consumer, batch, bare_consumer),
        ("task", "bench-task", task, {"order": {"order_id": "o-1"}}, bare_task),
    ]


def measure_aws(runs: int, repeat: int) -> list[dict[str, Any]]:
    results = []
    saved = dict(os.environ)
    try:
        for case, _, function_env, event, bare in aws_cases():
            os.environ.clear()
            os.environ.update({**LAMBDA_RUNTIME_ENV, **function_env})
            import runtime.aws.entry as entry

            entry.reset()
            context = LambdaContext()
            entry.handler(event, context)  # init: handler import, Context, Logger, Metrics
            adapter = per_call_us(lambda: entry.handler(event, context), runs, repeat)
            floor = per_call_us(lambda: bare(event, context), runs, repeat)
            results.append({"cloud": "aws", "case": case, "environment_variables": len(os.environ),
                            "entrypoint_us": round(adapter, 1), "bare_us": round(floor, 1),
                            "overhead_us": round(adapter - floor, 1)})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return results


#: A bare functions-framework function answering like the adapter would, per case.
BARE_GCP_SOURCE = '''
import json
import flask


def bare_route(request):
    return flask.Response(json.dumps({"status": "ok"}), status=200, headers={"content-type": "application/json"})


def bare_consumer(request):
    json.loads(__import__("base64").b64decode(request.get_json()["message"]["data"]))
    return flask.Response("", status=204)


def bare_task(request):
    request.get_json()
    return flask.Response(json.dumps({"notified": True}), status=200, headers={"content-type": "application/json"})
'''


def measure_gcp(runs: int, repeat: int) -> list[dict[str, Any]]:
    """Both sides through functions-framework's app (Flask's test client), so the difference
    is the adapter: routing, the contracts, logging; one Pub/Sub push is one message."""
    import base64
    import tempfile

    import functions_framework

    from coldstart import rendered_functions

    health = next(env for name, _, env in rendered_functions("gcp") if name == "health")
    consumer = {**health, "ANYCLOUD_FUNCTION": "bench-consumer", "ANYCLOUD_HANDLER": "overhead_handlers:accept",
                "ANYCLOUD_TRIGGERS": "consumer"}
    consumer.pop("ANYCLOUD_ROUTES", None)
    task = {**consumer, "ANYCLOUD_FUNCTION": "bench-task", "ANYCLOUD_HANDLER": "overhead_handlers:notified",
            "ANYCLOUD_TRIGGERS": "task"}
    push = {"message": {"data": base64.b64encode(b'{"order_id": "o-1"}').decode(), "messageId": "m-1"},
            "subscription": "projects/p/subscriptions/s", "deliveryAttempt": 1}
    trace = {"X-Cloud-Trace-Context": "0af7651916cd43dd8448eb211c80319c/1;o=1"}
    cases = [("route GET /health", health, "bare_route", lambda c: c.get("/health", headers=trace)),
             ("consumer, one push", consumer, "bare_consumer", lambda c: c.post("/", json=push, headers=trace)),
             ("task", task, "bare_task", lambda c: c.post("/", json={"order": {"order_id": "o-1"}}, headers=trace))]
    main_py = str(ROOT / "functions" / "runtime" / "gcp" / "main.py")
    results = []
    saved = dict(os.environ)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as bare_source:
        bare_source.write(BARE_GCP_SOURCE)
    try:
        for case, env, bare_target, call in cases:
            os.environ.clear()
            os.environ.update({**{k: v for k, v in saved.items() if k in ("PATH", "HOME")}, **env,
                               "GOOGLE_CLOUD_PROJECT": "anycloud-bench"})
            import runtime.gcp.entry as entry

            entry.reset()
            adapter_client = functions_framework.create_app(target="handle", source=main_py).test_client()
            bare_client = functions_framework.create_app(target=bare_target, source=bare_source.name).test_client()
            adapter = per_call_us(lambda: call(adapter_client), runs, repeat)
            floor = per_call_us(lambda: call(bare_client), runs, repeat)
            results.append({"cloud": "gcp", "case": case, "environment_variables": len(os.environ),
                            "entrypoint_us": round(adapter, 1), "bare_us": round(floor, 1),
                            "overhead_us": round(adapter - floor, 1)})
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.unlink(bare_source.name)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure_aws(args.runs, args.repeat) + measure_gcp(max(1, args.runs // 10), args.repeat)
    if args.json:
        print(json.dumps({"python": platform.python_version(), "machine": platform.machine(), "results": results}, indent=2))
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; best of {args.repeat} x {args.runs}")
    print(f"{'cloud':6} {'case':24} {'env vars':>8} {'entrypoint us':>14} {'bare us':>8} {'overhead us':>12}")
    for r in results:
        print(f"{r['cloud']:6} {r['case']:24} {r['environment_variables']:>8} {r['entrypoint_us']:>14} {r['bare_us']:>8} {r['overhead_us']:>12}")


if __name__ == "__main__":
    main()
