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

    python benchmarks/coldstart.py [--runs N] [--json]

Python and the installed packages stand in for the Lambda runtime (boto3) and the Powertools
layer (aws-lambda-powertools, pydantic, aws-xray-sdk); see the README for how the numbers
compare with Lambda's.
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


def rendered_functions(cloud: str = "aws") -> list[tuple[str, str, dict[str, str]]]:
    """(name, handler, environment) for each function of the rendered dev stack on `cloud`."""
    stack = prepare(load_stack(ROOT, "dev"), SERVICE, cloud)
    rendering = render_stack(stack, SERVICE)
    out = []
    if cloud == "gcp":
        for fn in rendering.of_type(GCP_FUNCTION):
            variables = {k: str(v) for k, v in fn.inputs["serviceConfig"]["environmentVariables"].items()}
            out.append((fn.name, variables["ANYCLOUD_HANDLER"], variables))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement (median reported)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--cloud", choices=("aws", "gcp"), default="aws", help="whose entrypoint (default aws)")
    args = parser.parse_args()

    functions = rendered_functions(args.cloud)
    # Round robin: every measurement sees the same share of whatever else the machine is doing.
    if args.cloud == "gcp":
        baseline = "import google.cloud.firestore"
        cases = {"boto3": (baseline, {})}
        for name, _, env in functions:
            cases[f"import:{name}"] = (GCP_ENTRY, {**env, **GCP_RUNTIME_ENV})
            cases[f"init:{name}"] = (GCP_INIT, {**env, **GCP_RUNTIME_ENV})
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
