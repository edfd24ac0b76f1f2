"""`python -m components check`: render a stack offline, summarise it and run the policy pack.

No Pulumi CLI, no credentials, no network: the program runs under the recording mock
engine with the stack's config, and the CrossGuard pack in policy/ runs over the result
(or over a `pulumi stack export` given with --from). Exit codes: 0 no mandatory violation,
1 mandatory violations, 2 bad config or input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policy import POLICIES
from policy.coverage import NAME as COVERAGE
from policy.coverage import unreviewed
from policy.offline import PolicyInputError, Report, evaluate, load_export

from .declaration import PROJECT_DIR, default_project_dir, load_service
from .dev.cli import add_commands as add_local_commands
from .export import to_export
from .mock_engine import Rendering, render
from .program import run
from .settings import CLOUDS, NAMESPACE, SettingsError
from .spec import Choice, Fail, Map, Parallel, ServiceSpec, SpecError, Succeed, Task, Wait, describe_error
from .stackfile import SECRET_PLACEHOLDER, StackConfig, StackFileError, load_stack

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


def prepare(stack: StackConfig, spec: ServiceSpec, cloud: str | None) -> StackConfig:
    """Apply --cloud and stand in for secrets the stack file does not hold yet."""
    if cloud is not None:
        stack.config[f"{NAMESPACE}:cloud"] = cloud
    for secret in spec.secrets:
        key = f"{NAMESPACE}:{secret.config_key}"
        if key not in stack.config:
            stack.notes.append(
                f"{key} is not set in Pulumi.{stack.stack}.yaml; `pulumi up` needs it: "
                f"pulumi config set --secret {key} VALUE -s {stack.stack}"
            )
            stack.config[key] = SECRET_PLACEHOLDER
            stack.secret_keys.append(key)
    return stack


def render_stack(stack: StackConfig, spec: ServiceSpec, functions_dir: Path = PROJECT_DIR / "functions") -> Rendering:
    return render(lambda: run(spec, functions_dir), stack.config, stack.secret_keys, project=stack.project,
                  stack=stack.stack)


# ------------------------------------------------------------------------- summary


def _step_line(name: str, step: Any) -> str:
    if isinstance(step, Task):
        extra = [f"retry {'/'.join(r.errors)} x{r.attempts}" for r in step.retry]
        extra += [f"catch {'/'.join(c.errors)} -> {c.next}" for c in step.catch]
        text = f"task {step.function}" + (f" -> state.{step.result}" if step.result else "")
        text += f", then {step.next or 'end'}" + (f" ({'; '.join(extra)})" if extra else "")
    elif isinstance(step, Choice):
        rules = [f"{r.path} {r.op} {r.value!r} -> {r.next}" for r in step.rules]
        text = "choice " + "; ".join(rules) + (f"; else -> {step.default}" if step.default else "")
    elif isinstance(step, Parallel):
        text = f"parallel {' | '.join(b.start for b in step.branches)}" + (f" -> state.{step.result}" if step.result else "")
        text += f", then {step.next or 'end'}"
    elif isinstance(step, Map):
        text = f"map over state.{step.items} with {step.iterator.start}, then {step.next or 'end'}"
    elif isinstance(step, Wait):
        text = f"wait {step.seconds} s, then {step.next or 'end'}"
    elif isinstance(step, Fail):
        text = f"fail {step.error}"
    else:
        assert isinstance(step, Succeed)
        text = "succeed"
    return f"{name}: {text}"


def summarize(stack: StackConfig, spec: ServiceSpec, rendering: Rendering, seconds: float) -> dict[str, Any]:
    by_type = Counter(r.type for r in rendering.resources)
    routes = []
    if spec.api:
        # The stack's apiAuth wins over the declaration, as in settings.effective_auth.
        jwt = bool(stack.config.get(f"{NAMESPACE}:apiAuth") or spec.api.auth)
        for route in spec.api.routes:
            auth = "public" if route.public else ("jwt" if jwt else "none (dev)")
            routes.append({"route": route.key, "function": route.function, "auth": auth})
    return {
        "project": stack.project,
        "stack": stack.stack,
        "cloud": stack.config.get(f"{NAMESPACE}:cloud"),
        "environment": stack.config.get(f"{NAMESPACE}:environment", "dev"),
        "resources": len(rendering.resources),
        "render_seconds": round(seconds, 3),
        "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
        "routes": routes,
        "workflows": {w.name: [_step_line(n, s) for n, s in w.steps.items()] for w in spec.workflows},
        "outputs": {k: v for k, v in rendering.outputs.items() if k != "limitations"},
        "notes": stack.notes,
        "limitations": list(rendering.outputs.get("limitations", [])),
    }


def decommissioning(stack: StackConfig) -> bool:
    return stack.config.get(f"{NAMESPACE}:decommission", "false").strip().lower() == "true"


def policy_config(stack: StackConfig, spec: ServiceSpec) -> dict[str, Any]:
    """What the pack needs to know about the stack: its environment (dev rules for a stack being
    decommissioned: its protection is off on purpose), key choice, public routes."""
    return {
        "environment": "dev" if decommissioning(stack) else stack.config.get(f"{NAMESPACE}:environment", "dev"),
        "config": {
            "requireCustomerManagedKeys": stack.config.get(f"{NAMESPACE}:customerManagedKeys", "true") == "true",
            "publicRoutes": [r.key for r in spec.api.routes if r.public] if spec.api else [],
        },
    }


def print_violations(report: Report, not_reviewed: Counter[str]) -> None:
    """The policies' findings, then the types no policy read (policy/coverage.py) apart."""
    grouped = report.by_policy()
    grouped.pop(COVERAGE, None)
    mandatory = len(report.mandatory)
    if not grouped:
        print(f"\nPolicies: {len(POLICIES)} evaluated, no violations.")
    else:
        advisory = sum(len(v) for v in grouped.values()) - mandatory
        print(f"\nPolicy violations: {mandatory} mandatory, {advisory} advisory")
        for name, violations in grouped.items():
            print(f"  [{violations[0].level}] {name}")
            for v in violations:
                print(f"    {v.urn}\n      {v.message}")
    for note in report.notes:
        print(f"  note: {note}")
    if not_reviewed:
        print(f"\nNot reviewed: {len(not_reviewed)} resource type(s) that no policy reads (the pack's guarantees stop here):")
        for type_, count in sorted(not_reviewed.items()):
            print(f"  {type_} ({count} resource{'s' if count > 1 else ''})")


def print_text(summary: dict[str, Any]) -> None:
    if "source" in summary:
        print(f"anycloud check: {summary['source']} ({summary['environment']} rules): {summary['resources']} resources")
    else:
        print(
            f"anycloud check: stack {summary['stack']} ({summary['cloud']}, {summary['environment']}): "
            f"{summary['resources']} resources rendered offline in {summary['render_seconds']:.2f} s"
        )
    print("\nResources by type:")
    for typ, count in summary["by_type"].items():
        print(f"  {count:4d}  {typ}")
    if summary.get("routes"):
        print("\nRoutes:")
        width = max(len(r["route"]) for r in summary["routes"])
        for r in summary["routes"]:
            print(f"  {r['route']:<{width}}  -> {r['function']:<16} {r['auth']}")
    for name, lines in summary.get("workflows", {}).items():
        print(f"\nWorkflow {name}:")
        for line in lines:
            print(f"  {line}")
    if summary.get("outputs"):
        print("\nOutputs:")
        for key, value in summary["outputs"].items():
            print(f"  {key}: {json.dumps(value, sort_keys=True)}")
    for note in summary.get("notes", []):
        print(f"\nnote: {note}")
    for limitation in summary.get("limitations", []):
        print(f"\nlimitation: {limitation}")


# ---------------------------------------------------------------------------- CLI


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anycloud", description="anycloud: check a stack offline, or run the service "
                                "locally (also: python -m components)")
    sub = p.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="render a stack offline, summarise it and run the policy pack")
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml")
    source.add_argument("--from", dest="from_file", type=Path, metavar="FILE",
                        help="evaluate the policy pack against a `pulumi stack export` (v3) file instead")
    check.add_argument("--environment", choices=("dev", "prod"),
                       help="with --from: which rules apply (default prod, the strictest)")
    check.add_argument("--cloud", choices=CLOUDS + ("all",), help="render onto this cloud instead of the stack's "
                       "anycloud:cloud (all: each cloud side by side, with --cost)")
    check.add_argument("--export", type=Path, metavar="FILE", help="write the rendered resources as a `pulumi stack export` (v3)")
    check.add_argument("--format", choices=("text", "json", "mermaid", "svg", "png"), default="text",
                       help="text or json; with --diagram: mermaid (the default), svg or png (Graphviz)")
    # The views (components/views.py), imported only when asked for.
    check.add_argument("--diagram", action="store_true", help="draw the stack's blocks and the grants between them")
    check.add_argument("--cost", action="store_true", help="the stack's monthly cost at rest and per million requests")
    check.add_argument("--requests-per-month", type=int, metavar="N", help="with --cost: the month's total at N requests")
    check.add_argument("--route", metavar="'METHOD /path'", help="with --cost: the route N requests take (default: the costliest)")
    check.add_argument("--compare", type=Path, metavar="NEW", help="with --from OLD: what the change to the export NEW "
                       "adds, removes and replaces, its picture and its cost, as a pull-request comment (Markdown)")
    check.add_argument("--output", type=Path, metavar="FILE", help="with --diagram, --cost or --compare: write there")
    check.add_argument("--strict", action="store_true",
                       help="fail (exit 1) when the cloud cannot do something the declaration asks for (a limitation)")
    check.add_argument("--dir", type=Path, default=default_project_dir(), help="the project directory (holds Pulumi.yaml)")
    check.add_argument("--service", default="app:SERVICE", help="module:attribute of the declared ServiceSpec")
    check.add_argument("--functions", type=Path, metavar="DIR",
                       help="the root the handlers' module:function names are relative to (default: <--dir>/functions)")
    add_local_commands(sub)
    return p


def from_stack(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Render the stack offline: its summary, its resources in export shape, the pack's config."""
    if args.environment:
        raise StackFileError("--environment applies to --from; a stack's environment is its anycloud:environment")
    spec = load_service(args.service, args.dir.resolve())
    stack = load_stack(args.dir, args.stack)
    functions_dir = (args.functions or args.dir / "functions").resolve()
    if not functions_dir.is_dir():
        raise SpecError(f"--functions {args.functions or args.dir / 'functions'}: not a directory; allowed: the folder "
                        "the handlers' modules are in (default: <--dir>/functions)")
    declared_cloud = stack.config.get(f"{NAMESPACE}:cloud")
    stack = prepare(stack, spec, args.cloud)
    if decommissioning(stack):
        stack.notes.append(f"{NAMESPACE}:decommission is true: protect, deletion protection and delete locks are off, and "
                           f"the pack applies dev rules; after `pulumi up -s {stack.stack}`, `pulumi destroy -s "
                           f"{stack.stack}` deletes the stack and its data")
    started = time.perf_counter()
    rendering = render_stack(stack, spec, functions_dir)
    summary = summarize(stack, spec, rendering, time.perf_counter() - started)
    if args.cloud and args.cloud != declared_cloud:
        summary["stack_cloud"] = declared_cloud
    export = to_export(rendering)
    if args.export:
        args.export.write_text(json.dumps(export, indent=2, sort_keys=True) + "\n")
        summary["export"] = str(args.export)
    return summary, export["deployment"]["resources"], policy_config(stack, spec)


def from_export(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Read a `pulumi stack export`: its summary, its resources, the pack's config."""
    if args.cloud or args.export:
        raise PolicyInputError("--cloud and --export apply to --stack; --from evaluates the file as it is")
    resources = load_export(args.from_file)
    environment = args.environment or "prod"
    summary = {
        "source": str(args.from_file),
        "environment": environment,
        "resources": len([r for r in resources if not r["type"].startswith("pulumi:")]),
        "by_type": dict(sorted(Counter(r["type"] for r in resources if not r["type"].startswith("pulumi:")).items(),
                               key=lambda kv: (-kv[1], kv[0]))),
    }
    return summary, resources, {"environment": environment}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "check":  # anycloud dev, anycloud invoke (components/dev/cli.py)
        return args.run(args)
    try:
        if args.diagram or args.cost or args.compare or args.format not in ("text", "json") or args.cloud == "all":
            from .views import show

            return show(args)
        summary, resources, pack_config = from_export(args) if args.from_file else from_stack(args)
        report = evaluate(resources, **pack_config)
    except (SettingsError, SpecError, StackFileError, PolicyInputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as err:
        print(f"error: {describe_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    summary["violations"] = [
        {"policy": v.policy, "level": v.level, "urn": v.urn, "message": v.message} for v in report.violations
    ]
    summary["policy_notes"] = report.notes
    counts = unreviewed(r["type"] for r in resources if r.get("custom", True))
    summary["unreviewed_types"] = sorted(counts)
    strict_failures = summary.get("limitations", []) if args.strict else []
    if args.strict and summary["environment"] == "prod":
        strict_failures = strict_failures + [f"not reviewed: {t}" for t in summary["unreviewed_types"]]
    failed = bool(report.mandatory or strict_failures)
    if args.format == "json":
        summary["strict"] = args.strict
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print_text(summary)
        print_violations(report, counts)
        if args.export:
            print(f"\nexported {summary['resources']} resources to {args.export}")
        if strict_failures:
            print(f"\n--strict: {len(strict_failures)} limitation(s) or unreviewed type(s) above fail the check.")
        print(f"\nNext: {next_command(summary, failed)}")
    return EXIT_VIOLATIONS if failed else EXIT_OK


def next_command(summary: dict[str, Any], failed: bool) -> str:
    """What to run after this check: deploy when it passed, fix and re-check when it did not."""
    if "source" in summary:
        again = f"python -m components check --from {summary['source']}"
        return f"fix what is listed above, export again, then {again}" if failed else "nothing: the export passes the pack"
    stack, cloud = summary["stack"], summary["cloud"]
    if failed:
        return f"fix what is listed above, then python -m components check --stack {stack}"
    if "stack_cloud" in summary:  # --cloud rendered another cloud than the stack deploys to
        return (f"give {cloud} its own stack (copy Pulumi.{stack}.yaml to Pulumi.{stack}-{cloud}.yaml with "
                f"anycloud:cloud: {cloud}), then pulumi up -s {stack}-{cloud}")
    return f"pulumi up -s {stack}"
