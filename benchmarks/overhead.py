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
N/10, since each goes through functions-framework's Flask app on both sides).

Azure: both sides are functions registered on an azure-functions `FunctionApp` and called as
the Python worker calls them (a `func.HttpRequest`, or the `QueueMessage` its queue converter
makes), in an environment of what the Functions host sets plus the app's rendered app
settings: the Azure entry's (`function_app.py`: `entry.create_app()`, its `http` and `consume`
functions reaching `Instance.http` / `Instance.consume`) against bare functions answering the
same. One queue message per invocation (the host calls a queue function per message). The
route and task cases carry a caller's token, which the entry verifies on every request (an
RS256 signature against keys fetched once, from a local stand-in of Entra ID), as deployed.
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
from collections.abc import Iterator
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


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ is exactly `values` inside the block (what a function's process would see)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def compare(cloud: str, case: str, adapter: Callable[[], Any], bare: Callable[[], Any], runs: int,
            repeat: int) -> dict[str, Any]:
    """One row: the entrypoint's and the bare function's warm time per call, in this environment."""
    ours, floor = per_call_us(adapter, runs, repeat), per_call_us(bare, runs, repeat)
    return {"cloud": cloud, "case": case, "environment_variables": len(os.environ), "entrypoint_us": round(ours, 1),
            "bare_us": round(floor, 1), "overhead_us": round(ours - floor, 1)}


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
    for case, _, function_env, event, bare in aws_cases():
        with environment({**LAMBDA_RUNTIME_ENV, **function_env}):
            import runtime.aws.entry as entry

            entry.reset()
            context = LambdaContext()
            entry.handler(event, context)  # init: handler import, Context, Logger, Metrics
            results.append(compare("aws", case, lambda: entry.handler(event, context), lambda: bare(event, context),
                                   runs, repeat))
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
    kept = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as bare_source:
        bare_source.write(BARE_GCP_SOURCE)
    try:
        for case, env, bare_target, call in cases:
            with environment({**kept, **env, "GOOGLE_CLOUD_PROJECT": "anycloud-bench"}):
                import runtime.gcp.entry as entry

                entry.reset()
                adapter_client = functions_framework.create_app(target="handle", source=main_py).test_client()
                bare_client = functions_framework.create_app(target=bare_target, source=bare_source.name).test_client()
                results.append(compare("gcp", case, lambda: call(adapter_client), lambda: call(bare_client), runs,
                                       repeat))
    finally:
        os.unlink(bare_source.name)
    return results


#: What the Functions host on Flex Consumption puts in a Python app's environment besides the
#: app settings (values made up).
AZURE_HOST_ENV = {
    "FUNCTIONS_EXTENSION_VERSION": "~4", "FUNCTIONS_WORKER_RUNTIME": "python", "FUNCTIONS_WORKER_RUNTIME_VERSION": "3.12",
    "WEBSITE_SITE_NAME": "orders-dev-health-4bdb63", "WEBSITE_HOSTNAME": "orders-dev-health-4bdb63.azurewebsites.net",
    "WEBSITE_INSTANCE_ID": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "WEBSITE_RESOURCE_GROUP": "orders-dev-rg", "WEBSITE_OWNER_NAME": "00000000-0000-0000-0000-000000000000+orders-dev-rg",
    "WEBSITE_SKU": "FlexConsumption", "REGION_NAME": "West Europe", "WEBSITE_AUTH_ENABLED": "True",
    "AzureWebJobsScriptRoot": "/home/site/wwwroot", "HOME": "/home", "LANG": "C.UTF-8", "TZ": "UTC",
    "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": "/home/site/wwwroot:/home/site/wwwroot/.python_packages/lib/site-packages",
    "IDENTITY_ENDPOINT": "http://localhost:8081/msi/token", "IDENTITY_HEADER": "0123456789abcdef",
    "MSI_ENDPOINT": "http://localhost:8081/msi/token", "MSI_SECRET": "0123456789abcdef",
    "CONTAINER_NAME": "orders-dev-health-4bdb63_0", "FUNCTIONS_LOGS_MOUNT_PATH": "/var/log/functionsLogs",
}


def bare_azure_app():
    """Bare functions answering like the Azure entry does, per case."""
    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="health", methods=["GET"])
    def bare_route(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"status": "ok"}), status_code=200, headers={"content-type": "application/json"})

    @app.queue_trigger(arg_name="msg", queue_name="orders", connection="Queues")
    def bare_consumer(msg: func.QueueMessage) -> None:
        json.loads(msg.get_body())

    @app.route(route="task", methods=["POST"])
    def bare_task(req: func.HttpRequest) -> func.HttpResponse:
        req.get_json()
        return func.HttpResponse(json.dumps({"notified": True}), status_code=200, headers={"content-type": "application/json"})

    return {f.get_function_name(): f.get_user_function() for f in app.get_functions()}


def measure_azure(runs: int, repeat: int) -> list[dict[str, Any]]:
    import azure.functions as func
    from azure.functions.queue import QueueMessage

    from coldstart import rendered_functions

    from tests.support.azure_callers import EntraStandIn

    settings = {name: env for name, _, env in rendered_functions("azure")}
    entra = EntraStandIn(settings["health"]["ANYCLOUD_CALLER_TENANT"])
    health = {**settings["health"], "ANYCLOUD_CALLER_KEYS_URL": entra.keys_url}
    caller = entra.bearer(health["ANYCLOUD_CALLERS"].split(",")[0], health["ANYCLOUD_CALLER_AUDIENCE"])
    trigger = {k: v for k, v in settings["process-order"].items()
               if k.startswith(("ANYCLOUD_TRIGGER", "AzureFunctionsJobHost__extensions__queues__"))}
    consumer = {**{k: v for k, v in health.items() if k != "ANYCLOUD_ROUTES"}, **trigger,
                "ANYCLOUD_FUNCTION": "bench-consumer", "ANYCLOUD_HANDLER": "overhead_handlers:accept",
                "ANYCLOUD_TRIGGERS": "consumer"}
    task = {**{k: v for k, v in health.items() if k != "ANYCLOUD_ROUTES"}, "ANYCLOUD_FUNCTION": "bench-task",
            "ANYCLOUD_HANDLER": "overhead_handlers:notified", "ANYCLOUD_TRIGGERS": "task"}
    host = "https://orders-dev-health-4bdb63.azurewebsites.net/api/"
    headers = {"X-Request-Id": "0af76519-16cd-43dd-8448-eb211c80319c", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
               "Authorization": caller}
    route = func.HttpRequest("GET", host + "health", headers=headers, params={}, route_params={"path": "health"}, body=b"")
    state = json.dumps({"order": {"order_id": "o-1"}}).encode()
    call = func.HttpRequest("POST", host + "task", headers={"Content-Type": "application/json", "Authorization": caller},
                            params={}, route_params={"path": "task"}, body=state)
    message = QueueMessage(id="m-1", body=b'{"order_id": "o-1"}', dequeue_count=1)
    bare = bare_azure_app()
    cases = [("route GET /health", health, "http", route, "bare_route"),
             ("consumer, one message", consumer, "consume", message, "bare_consumer"),
             ("task", task, "http", call, "bare_task")]
    results = []
    for case, env, function, argument, bare_function in cases:
        with environment({**AZURE_HOST_ENV, **env}):
            import runtime.azure.entry as entry

            entry.reset()
            registered = {f.get_function_name(): f.get_user_function() for f in entry.create_app().get_functions()}
            ours, theirs = registered[function](argument), bare[bare_function](argument)
            if function == "http":  # the same answer on both sides
                assert (ours.status_code, json.loads(ours.get_body())) == (theirs.status_code, json.loads(theirs.get_body())), case
            results.append(compare("azure", case, lambda: registered[function](argument),
                                   lambda: bare[bare_function](argument), runs, repeat))
    entra.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = (measure_aws(args.runs, args.repeat) + measure_gcp(max(1, args.runs // 10), args.repeat)
               + measure_azure(args.runs, args.repeat))
    if args.json:
        print(json.dumps({"python": platform.python_version(), "machine": platform.machine(), "results": results}, indent=2))
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; best of {args.repeat} x {args.runs}")
    print(f"{'cloud':6} {'case':24} {'env vars':>8} {'entrypoint us':>14} {'bare us':>8} {'overhead us':>12}")
    for r in results:
        print(f"{r['cloud']:6} {r['case']:24} {r['environment_variables']:>8} {r['entrypoint_us']:>14} {r['bare_us']:>8} {r['overhead_us']:>12}")


if __name__ == "__main__":
    main()
