"""Cold start of every rendered Lambda function: import time in a fresh process, asset size.

Renders the dev stack (Pulumi.dev.yaml, offline, as `python -m components check --stack dev`
does), then for each rendered function starts a fresh interpreter whose environment is only
that function's rendered `environment.variables` plus ``PYTHONPATH=functions`` (the asset root,
/var/task on Lambda) and ``PATH``, and times, in the child, with time.perf_counter:

- import: ``import runtime.aws.entry``, which resolves ``ANYCLOUD_HANDLER`` (imports the
  handler's module) and builds the instance (Context, Logger, Metrics): what the Lambda
  runtime does before the first event, less the interpreter's own start.
- init as on Lambda: the same with what the Lambda runtime adds to the environment
  (``AWS_LAMBDA_FUNCTION_NAME``, ``LAMBDA_TASK_ROOT``, ``AWS_REGION``): the entrypoint then also
  loads the Tracer (the X-Ray SDK) and creates the function's boto3 clients during init, as
  it does on Lambda. No network call is made by either.

and the same way a bare ``import boto3``, for comparison. Each number is the median (and the
minimum) of N fresh processes, taken round robin across the cases (max in --json). The asset
is what components/packaging.py ships (`runtime_files`), zipped with deflate as Pulumi uploads
it; the asset has no bytecode, so the time to compile its modules is reported too (Lambda
compiles them at every cold start: /var/task is read-only).

    python benchmarks/coldstart.py [--runs N] [--cloud aws|gcp|azure] [--json]

Python and the installed packages stand in for the Lambda runtime (boto3) and the Powertools
layer (aws-lambda-powertools, pydantic, aws-xray-sdk); see the README for how the numbers
compare with Lambda's.

``--cloud azure``: for each rendered Function App, a fresh interpreter in the extracted Azure
package (what the program deploys: function_app.py, host.json and the runtime at its root),
with only the app's rendered app settings (plus ``PATH``) as its environment, times

- import: ``import function_app``, what the Python worker does when it indexes the app: the
  entry registers the triggers the settings name and builds the instance (handler import,
  Context; no client yet);
- first request, in the same process right after: one request through the function the app
  registered, as the host would deliver it: ``GET /health``, ``GET /orders/{id}`` (a Cosmos
  read), ``POST /orders`` (a Cosmos create and a queue send), a workflow task's ``POST
  /api/task`` (a conditional update), the consumer's queue message (idempotency record, read,
  start message sent), and the orchestrator app's start message (Durable client status and
  start) followed by the orchestrator's first episode. It includes importing and building the
  clients (azure-cosmos, azure-storage-queue, azure-identity's credential), but not the network
  or token requests: queues are Azurite (started here), Cosmos DB is the in-memory stand-in of
  tests/support (given to the client as its transport when the adapter builds it, with the order
  the request needs), the managed identity's token is a stand-in, and the Durable extension's
  HTTP API is answered in-process. Key Vault references are resolved, as App Service does.

and the same way a bare ``import azure.functions`` (a hand-written v2 function_app's floor).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import SERVICE
from components.check import prepare, render_stack
from components.packaging import FUNCTIONS_DIR, runtime_files
from components.stackfile import load_stack

LAMBDA = "aws:lambda/function:Function"
#: What the Lambda runtime itself sets (besides credentials, which nothing here needs).
LAMBDA_RUNTIME_ENV = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR)}

CHILD = """
import time
t0 = time.perf_counter()
{statement}
t1 = time.perf_counter()
print((t1 - t0) * 1000)
"""


GCP_FUNCTION = "gcp:cloudfunctionsv2/function:Function"
AZURE_APP = "azure-native:web:WebApp"


def rendered_functions(cloud: str = "aws") -> list[tuple[str, str, dict[str, str]]]:
    """(name, handler, environment) for each function of the rendered dev stack on `cloud`."""
    stack = prepare(load_stack(ROOT, "dev"), SERVICE, cloud)
    rendering = render_stack(stack, SERVICE)
    out = []
    if cloud == "azure":
        from tests.support.azure_stack import app_settings

        for web in rendering.of_type(AZURE_APP):
            settings = app_settings(web)
            out.append((web.name, settings.get("ANYCLOUD_HANDLER", "(Durable orchestrator)"), settings))
        return sorted(out)
    if cloud == "gcp":
        for fn in rendering.of_type(GCP_FUNCTION):
            variables = {k: str(v) for k, v in fn.inputs["serviceConfig"]["environmentVariables"].items()}
            out.append((fn.name, variables.get("ANYCLOUD_HANDLER", "(workflow starter)"), variables))
        return sorted(out)
    for fn in rendering.of_type(LAMBDA):
        variables = {k: str(v) for k, v in fn.inputs["environment"]["variables"].items()}
        out.append((fn.name, variables["ANYCLOUD_HANDLER"], variables))
    return sorted(out)


#: What each cloud's entrypoint import, its first-use clients and the bare baseline are.
GCP_ENTRY = "import runtime.gcp.entry"
#: Cloud Functions builds clients on first use; constructing them reaches no network (the
#: emulator address below is never dialled: construction does not connect).
GCP_INIT = ("import runtime.gcp.entry as e; i = e.instance(); "
            "[t._client() for t in i.resources.tables.values()]; "
            "[i.resources.queues[q]._clients.get('pubsub') for q in i.resources.queues]")
#: A workflow's starter has no declared resources; its Executions session needs Application Default
#: Credentials, which no process here has, so its init is the instance without the session.
GCP_STARTER_INIT = "import runtime.gcp.entry as e; e.instance()"
GCP_RUNTIME_ENV = {"GOOGLE_CLOUD_PROJECT": "anycloud-bench", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9", "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
                   "K_SERVICE": "bench", "FUNCTION_TARGET": "handle"}


def child_ms(statement: str, env: dict[str, str]) -> float:
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(FUNCTIONS_DIR), **env}
    out = subprocess.run([sys.executable, "-c", CHILD.format(statement=statement)], env=full, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"child failed for {statement!r}:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def asset(cloud: str) -> dict[str, Any]:
    files = runtime_files(cloud=cloud)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in files:
            archive.write(FUNCTIONS_DIR / rel, str(rel))
    sources = [(FUNCTIONS_DIR / rel) for rel in files if rel.suffix == ".py"]
    compile_times = []
    for _ in range(5):
        start = time.perf_counter()
        for path in sources:
            compile(path.read_bytes(), str(path), "exec")
        compile_times.append((time.perf_counter() - start) * 1000)
    return {
        "files": len(files),
        "bytes": sum((FUNCTIONS_DIR / rel).stat().st_size for rel in files),
        "zipped_bytes": len(buffer.getvalue()),
        "compile_ms": statistics.median(compile_times),
    }


#: The functions issue's done-when: every rendered handler imports in a fresh process in under a second.
IMPORT_BOUND_MS = 1000


# ------------------------------------------------------------------------------------ Azure

#: The child for one Function App: import function_app, then serve the first request. SETUP (a
#: JSON literal) holds the request and what the stand-ins need; the patches below take effect
#: when the adapter first builds a client, so that work is inside the request's time.
AZURE_CHILD = r"""
import json, sys, time
SETUP = json.loads(%(setup)r)
t0 = time.perf_counter()
import function_app
t1 = time.perf_counter()

from runtime.azure import cosmos, messaging

_managed_identity = messaging.managed_identity


def _cosmos_identity():
    _managed_identity()  # what the adapter does (azure.identity imported, the credential made) ...
    from azure.core.credentials import AccessToken

    class StandInToken:  # ... but its token comes from here, not from the identity endpoint
        def get_token(self, *scopes, **kwargs):
            return AccessToken("standin-aad-token", 4102444800)

    return StandInToken()


def _queue_identity():
    _managed_identity()
    from azure.core.credentials import AzureNamedKeyCredential

    return AzureNamedKeyCredential(*SETUP["azurite_key"])  # Azurite checks shared keys only


_cosmos_client = cosmos.Clients._client


def _client_on_standin(self, endpoint):
    from _cosmos_standin import CosmosStandIn, _partition_json

    standin = CosmosStandIn(endpoint=endpoint)
    for database, name, path, composite in SETUP["containers"]:
        standin.add_container(database, name, path, [[tuple(p) for p in c] for c in composite])
    for database, name, document in SETUP["documents"]:
        container = standin.containers[(database, name)]
        key = (_partition_json(standin._partition_of(container, document)), document["id"])
        standin._write(container, key, document)
    self._options["transport"] = standin
    return _cosmos_client(self, endpoint)


cosmos.managed_identity = _cosmos_identity
messaging.managed_identity = _queue_identity
if "orchestrator" not in SETUP["triggers"]:
    from runtime.azure import entry

    for table in entry.instance().resources.tables.values():
        # The instance's cosmos.Clients (build_tables: `container_for = Clients().container`)
        # makes its CosmosClient on first use; it is made on the stand-in instead of the network.
        (cell,) = table._container.__closure__
        clients = cell.cell_contents.__self__
        clients._factory = lambda endpoint, clients=clients: _client_on_standin(clients, endpoint)
request = SETUP["request"]
functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
if request["kind"] == "start":
    import asyncio

    extension = sys.modules["azure.durable_functions.models.DurableOrchestrationClient"]

    async def _status(url, function_invocation_id=None):
        return [404, ""]

    async def _start(url, data=None, trace_parent=None, trace_state=None, function_invocation_id=None):
        return [202, {"id": url.rsplit("/", 1)[1]}]

    extension.get_async_request, extension.post_async_request = _status, _start

t2 = time.perf_counter()
import azure.functions as func
from azure.functions.queue import QueueMessage  # what the worker's queue converter makes

if request["kind"] == "http":
    response = functions["http"](func.HttpRequest(
        request["method"], "https://app.azurewebsites.net/api/" + request["path"], headers=request["headers"],
        params={}, route_params={"path": request["path"]}, body=request["body"].encode()))
    outcome = response.status_code
elif request["kind"] == "queue":
    functions["consume"](QueueMessage(id="m-1", body=request["body"].encode(), dequeue_count=1))
    outcome = "completed"
else:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(functions["start"](msg=QueueMessage(id="m-1", body=request["body"].encode(), dequeue_count=1),
                                               client=request["binding"]))
    loop.close()
    episode = json.loads(functions["orchestrator"](request["context"]))
    outcome = "started; " + ",".join(str(a["actionType"]) for a in episode["actions"][0])
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t3 - t2) * 1000, "outcome": outcome}))
"""

#: The status each task app's order must have for its first request to succeed.
TASK_STATUS = {"reserve-stock": "PENDING", "charge-payment": "RESERVED", "release-stock": "RESERVED",
               "ship": "PAID", "notify": "PENDING", "mark-completed": "SHIPPED", "mark-failed": "PENDING"}
ORDER_BODY = {"customer_id": "cust-1", "items": [{"sku": "widget-1", "quantity": 2, "unit_price_cents": 1250}],
              "currency": "EUR", "payment_token": "tok_visa"}


def azure_first_request(settings: dict[str, str], order: Any, definition: Any, caller: str = "") -> tuple[str, dict]:
    """(what the first request is, the request for the child) for one app; `order` is the one
    the stand-in holds; `caller` the Authorization header of an HTTP request (the app verifies it,
    reading the signing keys on this first request). The orchestrator app's is a start message,
    then the orchestrator's first episode (the history the extension would send: the execution
    started with that input)."""
    kinds = settings.get("ANYCLOUD_TRIGGERS", "")
    routes = [r for r in settings.get("ANYCLOUD_ROUTES", "").split(",") if r]
    if kinds == "route":
        method, template = routes[0].split(" ", 1)
        path = template.replace("{order_id}", order.order_id).lstrip("/")
        body = json.dumps(ORDER_BODY) if method == "POST" else ""
        return f"{method} {template}", {"kind": "http", "method": method, "path": path, "body": body,
                                        "headers": {"Content-Type": "application/json", "X-Request-Id": "req-1",
                                                    "Authorization": caller}}
    if kinds == "task":
        return "POST /api/task", {"kind": "http", "method": "POST", "path": "task",
                                  "body": json.dumps({"order": order.workflow_order()}),
                                  "headers": {"Authorization": caller}}
    if kinds == "consumer":
        return "queue message", {"kind": "queue", "body": json.dumps({"order_id": order.order_id})}
    from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as Event

    started = {"definition": definition, "input": {"order": order.workflow_order()}}
    now = "2024-01-01T00:00:00.000000Z"
    history = [{"EventType": Event.ORCHESTRATOR_STARTED, "EventId": -1, "IsPlayed": False, "Timestamp": now},
               {"EventType": Event.EXECUTION_STARTED, "EventId": -1, "IsPlayed": False, "Timestamp": now,
                "Name": "orchestrator", "Version": "", "Input": json.dumps(started)}]
    context = {"history": history, "instanceId": order.order_id, "isReplaying": False, "parentInstanceId": None,
               "input": json.dumps(started), "upperSchemaVersion": 1}
    binding = {"taskHubName": settings["AzureFunctionsJobHost__extensions__durableTask__hubName"],
               "creationUrls": {}, "managementUrls": {}, "rpcBaseUrl": "http://127.0.0.1:17071/durabletask/"}
    start = {"instance_id": order.order_id, "input": {"order": order.workflow_order()}}
    return "start message + first episode", {"kind": "start", "body": json.dumps(start), "binding": json.dumps(binding),
                                             "context": json.dumps(context)}


def azure_main(runs: int, as_json: bool) -> None:
    import shutil
    import tempfile

    sys.path.insert(0, str(FUNCTIONS_DIR))
    from components.azure.deploy import build_zip
    from components.packaging import cloud_archive
    from orders.models import CreateOrder, Order, Status, now
    from runtime.azure.cosmos import document_id
    from tests.support import cosmos_standin
    from tests.support.azure_callers import EntraStandIn
    from tests.support.azure_stack import as_seen
    from tests.support.azurite import ACCOUNT, ACCOUNT_KEY, Azurite, running_azurite

    stack = prepare(load_stack(ROOT, "dev"), SERVICE, "azure")
    rendering = render_stack(stack, SERVICE)
    apps = rendered_functions("azure")
    package = build_zip(cloud_archive("azure"))
    containers = []
    for c in rendering.of_type("azure-native:cosmosdb:SqlResourceSqlContainer"):
        resource = c.inputs["resource"]
        composite = [[[p["path"], p["order"]] for p in index]
                     for index in resource["indexingPolicy"].get("compositeIndexes", [])]
        containers.append([c.inputs["databaseName"], resource["id"], resource["partitionKey"]["paths"][0], composite])
    entra = EntraStandIn(next(s["ANYCLOUD_CALLER_TENANT"] for _, _, s in apps if "ANYCLOUD_CALLER_TENANT" in s))
    with tempfile.TemporaryDirectory() as root, running_azurite() as address:
        zipfile.ZipFile(io.BytesIO(package)).extractall(root)
        shutil.copy(cosmos_standin.__file__, os.path.join(root, "_cosmos_standin.py"))
        azurite = Azurite(address)
        for queue in rendering.of_type("azure-native:storage:Queue"):
            azurite.queue(queue.inputs["queueName"])
        cases: dict[str, tuple[str, dict]] = {}
        for name, _, settings in apps:
            order = Order.new(CreateOrder.model_validate(ORDER_BODY), now())
            status = TASK_STATUS.get(settings.get("ANYCLOUD_FUNCTION", ""), "PENDING")
            stored = order.model_copy(update={"status": Status(status)}).to_item()
            document = {**stored, "id": document_id([order.order_id]), "ttl": 3600}  # as the adapter stores it
            definition = json.loads(settings["ANYCLOUD_DEFINITION"]) if "ANYCLOUD_DEFINITION" in settings else None
            callers = settings.get("ANYCLOUD_CALLERS")
            caller = entra.bearer(callers.split(",")[0], settings["ANYCLOUD_CALLER_AUDIENCE"]) if callers else ""
            what, request = azure_first_request(settings, order, definition, caller)
            setup = {"request": request, "triggers": settings.get("ANYCLOUD_TRIGGERS", ""), "containers": containers,
                     "documents": [["tables", "orders", document]], "azurite_key": [ACCOUNT, ACCOUNT_KEY]}
            keys = {"ANYCLOUD_CALLER_KEYS_URL": entra.keys_url} if callers else {}
            cases[name] = (what, {**as_seen(rendering, settings, address), **keys, "PATH": os.environ.get("PATH", "")},
                           AZURE_CHILD % {"setup": json.dumps(setup)})
        times: dict[str, list[dict]] = {name: [] for name in cases}
        floor: list[float] = []
        for _ in range(runs):
            for name, (_, env, program) in cases.items():
                out = subprocess.run([sys.executable, "-c", program], cwd=root, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
                times[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            floor.append(child_ms("import azure.functions", {}))
    entra.close()
    results = [{"function": name, "handler": handler, "first_request": cases[name][0],
                "outcome": times[name][0]["outcome"],
                "import_ms": summary([t["import_ms"] for t in times[name]]),
                "first_request_ms": summary([t["first_ms"] for t in times[name]])} for name, handler, _ in apps]
    bare = summary(floor)
    sources = [(n, b) for n, b in zip_entries(package) if n.endswith(".py")]
    compile_times = []
    for _ in range(5):
        start = time.perf_counter()
        for n, b in sources:
            compile(b, n, "exec")
        compile_times.append((time.perf_counter() - start) * 1000)
    asset_info = {"files": len(zip_entries(package)), "bytes": sum(len(b) for _, b in zip_entries(package)),
                  "zipped_bytes": len(package), "compile_ms": statistics.median(compile_times)}
    if as_json:
        print(json.dumps({"functions": results, "import_azure_functions_ms": bare, "asset": asset_info, "runs": runs},
                         indent=2))
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; median (min) of {runs} "
          "fresh processes\n")
    print("| function app | handler | import ms | first request | first request ms | package zipped KiB |")
    print("|---|---|---:|---|---:|---:|")
    kib = asset_info["zipped_bytes"] / 1024

    def cell(m: dict[str, float]) -> str:
        return f"{m['median']:.0f} ({m['min']:.0f})"

    for r in results:
        print(f"| {r['function']} | `{r['handler']}` | {cell(r['import_ms'])} | {r['first_request']} ({r['outcome']}) | "
              f"{cell(r['first_request_ms'])} | {kib:.1f} |")
    print(f"| bare `import azure.functions` | | {cell(bare)} | | | |")
    slowest = max(results, key=lambda r: r["import_ms"]["median"])
    print(f"\nslowest import: {slowest['function']} {slowest['import_ms']['median']:.0f} ms; package: "
          f"{asset_info['files']} files, {asset_info['bytes'] / 1024:.1f} KiB, {kib:.1f} KiB zipped; compiling its "
          f"modules: {asset_info['compile_ms']:.0f} ms")
    bound = "within" if slowest["import_ms"]["median"] < IMPORT_BOUND_MS else "OVER"
    print(f"the functions issue's bound, every handler importing in under {IMPORT_BOUND_MS} ms here: {bound}")


def zip_entries(package: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return [(n, archive.read(n)) for n in archive.namelist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement (median reported)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--cloud", choices=("aws", "gcp", "azure"), default="aws", help="whose entrypoint (default aws)")
    args = parser.parse_args()
    if args.cloud == "azure":
        azure_main(args.runs, args.json)
        return

    functions = rendered_functions(args.cloud)
    # Round robin: every measurement sees the same share of whatever else the machine is doing.
    if args.cloud == "gcp":
        baseline = "import google.cloud.firestore"
        cases = {"boto3": (baseline, {})}
        for name, _, env in functions:
            cases[f"import:{name}"] = (GCP_ENTRY, {**env, **GCP_RUNTIME_ENV})
            init = GCP_STARTER_INIT if env.get("ANYCLOUD_TRIGGERS") == "start" else GCP_INIT
            cases[f"init:{name}"] = (init, {**env, **GCP_RUNTIME_ENV})
    else:
        baseline = "import boto3"
        cases = {"boto3": (baseline, {})}
        for name, _, env in functions:
            cases[f"import:{name}"] = ("import runtime.aws.entry", env)
            cases[f"init:{name}"] = ("import runtime.aws.entry", {**env, **LAMBDA_RUNTIME_ENV, "AWS_LAMBDA_FUNCTION_NAME": f"orders-dev-{name}"})
    times: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(args.runs):
        for case, (statement, env) in cases.items():
            times[case].append(child_ms(statement, env))
    results = [
        {"function": name, "handler": handler, "import_ms": summary(times[f"import:{name}"]), "init_ms": summary(times[f"init:{name}"])}
        for name, handler, _ in functions
    ]
    boto3 = summary(times["boto3"])
    package = asset(args.cloud)

    if args.json:
        print(json.dumps({"functions": results, "import_boto3_ms": boto3, "asset": package, "runs": args.runs}, indent=2))
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; median (min) of {args.runs} fresh processes\n")
    init_label = "import + clients built" if args.cloud == "gcp" else "init ms as on Lambda"
    print(f"| function | handler | import ms | {init_label} | asset zipped KiB |")
    print("|---|---|---:|---:|---:|")
    kib = package["zipped_bytes"] / 1024

    def cell(m: dict[str, float]) -> str:
        return f"{m['median']:.0f} ({m['min']:.0f})"

    for r in results:
        print(f"| {r['function']} | `{r['handler']}` | {cell(r['import_ms'])} | {cell(r['init_ms'])} | {kib:.1f} |")
    print(f"| bare `{baseline}` | | {cell(boto3)} | | |")
    slowest = max(results, key=lambda r: r["import_ms"]["median"])
    print(
        f"\nslowest import: {slowest['function']} {slowest['import_ms']['median']:.0f} ms;"
        f" asset: {package['files']} files, {package['bytes'] / 1024:.1f} KiB, {kib:.1f} KiB zipped;"
        f" compiling its modules: {package['compile_ms']:.0f} ms"
    )
    bound = "within" if slowest["import_ms"]["median"] < IMPORT_BOUND_MS else "OVER"
    print(f"the functions issue's bound, every handler importing in under {IMPORT_BOUND_MS} ms here: {bound}")


if __name__ == "__main__":
    main()
