"""Time the offline render against the floor the mock engine allows for the same graph.

For each case (the example `orders` service, generated services with 10, 100 and 1000
functions) this measures:

- real:  what `python -m components check --stack prod` does: load Pulumi.prod.yaml
         (components.stackfile.load_stack), components.check.prepare, then
         components.check.render_stack (the Pulumi program under the recording mock engine).
- floor: the very resources the real render recorded, registered again directly as plain
         `pulumi.CustomResource` / `pulumi.ComponentResource` objects (same type, name, parent,
         protect, dependencies and the recorded engine-level inputs) inside the same
         `mock_engine.render` harness: same mocks, same recording monitor. The difference is
         anycloud's own work: typed SDK classes, Outputs and apply chains, validation,
         IAM documents, the ASL compiler.

    python benchmarks/render.py [--repeat N] [--repeat-large N] [--sizes 10,100,1000] [--process-repeat N] [--json]
    python benchmarks/render.py --profile example      # cProfile of the real render, anycloud code only

Timings use time.perf_counter; real and floor runs alternate and each case reports the best
run (medians are in --json): other load on the machine only ever adds time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from components.check import prepare, render_stack
from components.mock_engine import Rendering, render
from components.spec import (
    ApiSpec,
    Catch,
    Choice,
    Fail,
    FunctionSpec,
    IndexSpec,
    Key,
    QueueSpec,
    Retry,
    RouteSpec,
    Rule,
    SecretSpec,
    ServiceSpec,
    Succeed,
    TableSpec,
    Task,
    WorkflowSpec,
)
from components.stackfile import StackConfig, load_stack
from floor import floor_program

STACK = "prod"
LARGE = 1000  # functions from which a case counts as large (fewer default repeats)


# ----------------------------------------------------------------- generated services


def generate_service(n: int) -> ServiceSpec:
    """A valid service with `n` functions: ~60% HTTP routes, ~10% queue consumers (one queue
    each), ~30% workflow tasks (workflows of up to 6 tasks with retry, catch to a compensation
    task, and a choice). Every function `uses` something. The first route is `create-order`
    so the prod stack's per-function override (functions.create-order.warmInstances) applies."""
    n_queues = max(1, n // 10)
    n_tasks = max(3, (n * 3) // 10)
    n_routes = n - n_queues - n_tasks
    if n_routes < 1:
        raise ValueError(f"{n} functions are too few for a generated service (need at least 5)")
    n_tables = max(2, n // 25)

    tables = tuple(
        TableSpec(
            name=f"table-{t:03d}",
            partition_key=Key(name="pk"),
            sort_key=Key(name="sk") if t % 2 else None,
            indexes=(IndexSpec(name="by-owner", partition_key=Key(name="owner"), sort_key=Key(name="created_at")),)
            if t % 3 == 0
            else (),
            ttl_attribute="expires_at" if t % 2 == 0 else None,
        )
        for t in range(n_tables)
    )
    secret = SecretSpec(name="api-key", config_key="benchApiKey")

    def table(i: int) -> TableSpec:
        return tables[i % n_tables]

    # Workflows: chunks of up to 6 task functions.
    task_names = [f"task-{i:04d}" for i in range(n_tasks)]
    chunks = [task_names[i : i + 6] for i in range(0, n_tasks, 6)]
    if len(chunks) > 1 and len(chunks[-1]) < 3:  # every workflow needs a main task and a compensation
        chunks[-2] += chunks.pop()
    workflows = []
    for w, chunk in enumerate(chunks):
        *main, compensate = chunk
        steps: dict[str, Any] = {}
        for j, fn in enumerate(main):
            last = j == len(main) - 1
            steps[f"step-{j}"] = Task(
                function=fn,
                result=f"r{j}",
                retry=(Retry(errors=("TaskFailed",), attempts=3, interval_s=2, backoff_rate=2.0, max_delay_s=30),),
                catch=(Catch(errors=("all",), next="compensate"),),
                next="check" if last else f"step-{j + 1}",
            )
        steps["check"] = Choice(rules=(Rule(path="r0.ok", op="==", value=True, next="done"),), default="compensate")
        steps["compensate"] = Task(function=compensate, next="failed")
        steps["failed"] = Fail(error="WorkflowFailed", cause="a task failed; compensated")
        steps["done"] = Succeed()
        workflows.append(WorkflowSpec(name=f"flow-{w:03d}", start="step-0", steps=steps))

    functions: list[FunctionSpec] = []
    routes: list[RouteSpec] = []
    for i in range(n_routes):
        name = "create-order" if i == 0 else f"route-{i:04d}"
        uses = [table(i).write() if i % 2 else table(i).read()]
        if i % 5 == 0:
            uses.append(table(i + 1).read())
        functions.append(FunctionSpec(name=name, handler="orders.api:create_order", uses=uses))
        method = ("GET", "POST", "PUT", "DELETE")[i % 4]
        path = f"/items-{i}" if i % 2 else f"/items-{i}/{{item_id}}"
        routes.append(RouteSpec(method=method, path=path, function=name, public=(i == 1)))
    queues = []
    for q in range(n_queues):
        name = f"consume-{q:04d}"
        queue = QueueSpec(name=f"queue-{q:04d}", consumer=name, batch_size=10, max_receives=5)
        queues.append(queue)
        uses = [table(q).write(), workflows[q % len(workflows)].start_access()]
        functions.append(FunctionSpec(name=name, handler="orders.consumer:process_order", timeout_s=30, uses=uses))
    # Routes send to the queues (a route with the queue's index).
    functions = [
        FunctionSpec(**{**f.model_dump(), "uses": [*f.uses, queues[i % n_queues].send()]}) if f.name.startswith("route-") and i % 3 == 0 else f
        for i, f in enumerate(functions)
    ]
    for i, name in enumerate(task_names):
        uses = [table(i).write()]
        if i == 0:
            uses.append(secret.read())
        functions.append(FunctionSpec(name=name, handler="orders.tasks:reserve_stock", timeout_s=20, uses=uses))

    return ServiceSpec(
        name="bench",
        functions=tuple(functions),
        api=ApiSpec(routes=tuple(routes)),
        queues=tuple(queues),
        tables=tables,
        workflows=tuple(workflows),
        secrets=(secret,),
    )


# ---------------------------------------------------------------------------- floor


def whole_process(cloud: str, repeat: int) -> dict[str, Any]:
    """`python -m components check --stack prod` as a user runs it, against a fresh interpreter
    that registers the same resources (from the check's own export) as plain resources."""
    import subprocess
    import tempfile

    # As a user runs it: with bytecode cached after the first run (this machine sets
    # PYTHONDONTWRITEBYTECODE, which would recompile the project's modules every time).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.json"
        check = [sys.executable, "-m", "components", "check", "--stack", STACK, "--cloud", cloud, "--format", "json"]
        subprocess.run(check + ["--export", str(export)], cwd=ROOT, env=env, check=True, capture_output=True)
        floor = [sys.executable, str(Path(__file__).resolve().parent / "floor.py"), str(export), cloud]
        subprocess.run(floor, cwd=ROOT, env=env, check=True, capture_output=True)  # its bytecode too
        real_times, floor_times = [], []
        for _ in range(repeat):
            for command, times in ((check, real_times), (floor, floor_times)):
                started = time.perf_counter()
                subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
                times.append((time.perf_counter() - started) * 1000)
    real_ms, floor_ms = min(real_times), min(floor_times)
    return {"cloud": cloud, "runs": repeat, "real_ms": round(real_ms, 1), "floor_ms": round(floor_ms, 1),
            "ratio": round(real_ms / floor_ms, 2),
            "ratio_of_medians": round(statistics.median(real_times) / statistics.median(floor_times), 2)}


# -------------------------------------------------------------------------- measuring


#: The cloud every case renders onto (--cloud).
CLOUD = "aws"


def real_render(spec: ServiceSpec) -> tuple[Rendering, StackConfig]:
    stack = prepare(load_stack(ROOT, STACK), spec, CLOUD)
    return render_stack(stack, spec), stack


GC_DURING_RUNS = True  # --gc-off: measure with CPython's cyclic collector paused (a diagnostic)


def _clock(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    if not GC_DURING_RUNS:
        gc.disable()
    try:
        started = time.perf_counter()
        result = fn()
        return (time.perf_counter() - started) * 1000, result
    finally:
        gc.enable()


def measure(case: str, functions: int, spec_ms: float, spec: ServiceSpec, repeat: int) -> dict[str, Any]:
    """Real and floor runs alternate (R F R F ...), so load from other processes hits both alike."""
    ms, (rendering, stack) = _clock(lambda: real_render(spec))
    real_times, floor_times = [ms], []
    recorded = rendering.resources
    program = floor_program(recorded)

    def floor_render() -> Rendering:
        return render(program, stack.config, stack.secret_keys, project=stack.project, stack=stack.stack)

    for run in range(repeat):
        ms, floor = _clock(floor_render)
        floor_times.append(ms)
        if len(floor.resources) != len(recorded):
            raise SystemExit(f"{case}: the floor registered {len(floor.resources)} resources, the real render {len(recorded)}")
        if sorted(r.urn for r in floor.resources) != sorted(r.urn for r in recorded):
            raise SystemExit(f"{case}: the floor's URNs differ from the real render's")
        del floor
        if run < repeat - 1:
            real_times.append(_clock(lambda: real_render(spec))[0])
    real_ms, floor_ms = min(real_times), min(floor_times)
    n = len(recorded)
    return {
        "case": case,
        "functions": functions,
        "resources": n,
        "runs": repeat,
        "spec_ms": round(spec_ms, 1),
        "real_ms": round(real_ms, 1),
        "floor_ms": round(floor_ms, 1),
        "real_median_ms": round(statistics.median(real_times), 1),
        "floor_median_ms": round(statistics.median(floor_times), 1),
        "real_ms_per_resource": round(real_ms / n, 3),
        "floor_ms_per_resource": round(floor_ms / n, 3),
        "ratio": round(real_ms / floor_ms, 2),
        "ratio_of_medians": round(statistics.median(real_times) / statistics.median(floor_times), 2),
    }


def cases(sizes: list[int]) -> list[tuple[str, int, float, ServiceSpec]]:
    from app import SERVICE

    out = [("example (orders)", len(SERVICE.functions), 0.0, SERVICE)]
    for n in sizes:
        started = time.perf_counter()
        spec = generate_service(n)
        out.append((f"generated {n}", n, (time.perf_counter() - started) * 1000, spec))
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| case | functions | resources | runs | real ms | floor ms | real ms/res | floor ms/res | real/floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['functions']} | {r['resources']} | {r['runs']} | {r['real_ms']:.1f} | {r['floor_ms']:.1f} "
            f"| {r['real_ms_per_resource']:.3f} | {r['floor_ms_per_resource']:.3f} | {r['ratio']:.2f}x |"
        )
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "pulumi": _version("pulumi"),
        "pulumi_aws": _version("pulumi_aws"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "stack": STACK,
        "gc_during_runs": GC_DURING_RUNS,
    }


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def profile(case: str, top: int, runs: int) -> None:
    """cProfile one real render; list the functions under components/ by own and cumulative time."""
    if case == "example":
        spec = cases([])[0][3]
    elif case.isdigit():
        spec = generate_service(int(case))
    else:
        raise SystemExit(f"--profile takes 'example' or a number of functions, not {case!r}")
    real_render(spec)  # warm imports and caches
    profiler = cProfile.Profile()
    for _ in range(runs):
        profiler.enable()
        real_render(spec)
        profiler.disable()
    stats = pstats.Stats(profiler)
    ours = str(ROOT / "components")
    rows = [(k, v) for k, v in stats.stats.items() if k[0].startswith(ours)]  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"{runs} real renders of {case}: {total * 1000:.0f} ms under cProfile (times below are totals over the runs)")
    for label, index in (("own time (tottime)", 2), ("cumulative time (cumtime)", 3)):
        print(f"\nanycloud functions by {label}:")
        for (path, line, fn), v in sorted(rows, key=lambda kv: -kv[1][index])[:top]:
            print(f"  {v[index] * 1000:8.1f} ms  {v[1]:7d} calls  {os.path.relpath(path, ROOT)}:{fn} (line {line})")
    sdk = [(k, v) for k, v in stats.stats.items() if "site-packages" in k[0] and "/pulumi" in k[0]]  # type: ignore[attr-defined]
    print("\nPulumi SDK functions by own time (what the calls above spend it on):")
    for (path, line, fn), v in sorted(sdk, key=lambda kv: -kv[1][2])[:top]:
        print(f"  {v[2] * 1000:8.1f} ms  {v[1]:7d} calls  {path.split('site-packages/')[-1]}:{fn} (line {line})")
    print("\n(cProfile sees the main thread only; the mock monitor runs in executor threads.)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs per small case (default 3)")
    p.add_argument("--repeat-large", type=int, default=1, help=f"runs for cases with >= {LARGE} functions (default 1)")
    p.add_argument("--sizes", default="10,100,1000", help="generated service sizes, in functions (default 10,100,1000)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    p.add_argument("--profile", metavar="CASE", help="instead: cProfile --repeat real renders of 'example' or of N functions")
    p.add_argument("--top", type=int, default=15, help="rows per profile listing")
    p.add_argument("--gc-off", action="store_true", help="pause the cyclic garbage collector during timed runs (diagnostic)")
    p.add_argument("--process-repeat", type=int, default=5, help="whole-process runs of the check and of its floor (default 5)")
    p.add_argument("--cloud", default="aws", choices=("aws", "gcp", "azure"), help="the cloud every case renders onto (default aws)")
    args = p.parse_args(argv)
    global GC_DURING_RUNS, CLOUD
    CLOUD = args.cloud
    GC_DURING_RUNS = not args.gc_off
    if args.profile:
        profile(args.profile, args.top, max(1, args.repeat))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    all_cases = cases(sizes)
    real_render(all_cases[0][3])  # warm-up: imports, the function archive, pydantic schemas
    results = []
    for case, functions, spec_ms, spec in all_cases:
        repeat = args.repeat_large if functions >= LARGE else args.repeat
        results.append(measure(case, functions, spec_ms, spec, max(1, repeat)))
        if not args.json:
            print(f"measured {case}: {results[-1]['resources']} resources", file=sys.stderr)
    process = whole_process(args.cloud, max(1, args.process_repeat))
    env = environment()
    if args.json:
        print(json.dumps({"environment": env, "results": results, "whole_process": process}, indent=2))
    else:
        print(
            f"Python {env['python']}, pulumi {env['pulumi']}, pulumi_aws {env['pulumi_aws']}, "
            f"{env['cpus']} CPUs ({env['machine']}); stack {STACK} on {CLOUD}; best of `runs`, real and floor alternating"
            f"{'' if GC_DURING_RUNS else '; cyclic GC paused'}\n"
        )
        print(markdown(results))
        print(f"\nWhole process, `python -m components check --stack {STACK} --cloud {process['cloud']}` against a fresh "
              f"interpreter registering the same export as plain resources (best of {process['runs']}): "
              f"{process['real_ms']} ms vs {process['floor_ms']} ms, {process['ratio']}x "
              f"({process['ratio_of_medians']}x of medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
