"""`anycloud check --diagram`, `--cost` and `--from OLD --compare NEW`: what a stack looks like,
what it costs and what a change does, from the same render or exports the check reads.

Imported only when one of them is asked for, so the plain check pays nothing for them.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

from .architecture import ArchitectureError, read
from .cost import PricingError, as_json, estimate, side_by_side, text
from .diagram import DiagramError, mermaid, render

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2
DIAGRAM_FORMATS, TEXT_FORMATS = ("mermaid", "svg", "png"), ("text", "json")  # --diagram; --cost and --compare


class ViewError(ValueError):
    """A combination of options that does not make sense (named in the message)."""


def _validate(args: argparse.Namespace) -> None:
    asked = [n for n, on in (("--diagram", args.diagram), ("--cost", args.cost), ("--compare", args.compare)) if on]
    if not asked:
        raise ViewError(f"--format {args.format} draws a diagram: add --diagram" if args.format not in ("text", "json")
                        else "--cloud all compares the clouds' cost: add --cost")
    if len(asked) > 1:
        raise ViewError(f"{' and '.join(asked)}: one at a time; allowed: --diagram, --cost or --compare")
    fmt = args.format
    if args.diagram and fmt not in ("text",) + DIAGRAM_FORMATS:
        raise ViewError(f"--format {fmt} with --diagram; allowed: mermaid, svg, png")
    if (args.cost or args.compare) and fmt not in TEXT_FORMATS:
        raise ViewError(f"--format {fmt} with {asked[0]}; allowed: text, json")
    if args.compare and not args.from_file:
        raise ViewError("--compare NEW compares with --from OLD: give both exports")
    if args.cloud == "all" and not (args.cost and args.stack):
        raise ViewError("--cloud all renders the stack on each cloud for --cost --stack; allowed with --diagram: aws, gcp, azure")
    if args.output is None and args.diagram and fmt == "png" and sys.stdout.isatty():
        raise ViewError("--format png writes binary: give --output FILE (or redirect the output)")
    if args.requests_per_month is not None and args.requests_per_month < 0:
        raise ViewError(f"--requests-per-month {args.requests_per_month}: allowed: 0 or more")


def _resources(args: argparse.Namespace, cloud: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The stack's resources (rendered, or read from --from) and a title for them."""
    from .check import from_export, from_stack

    if args.from_file:
        _, resources, _ = from_export(args)
        return resources, str(args.from_file)
    one = copy.copy(args)
    one.cloud, one.export = cloud or (args.cloud if args.cloud != "all" else None), (None if cloud else args.export)
    summary, resources, _ = from_stack(one)
    return resources, f"stack {summary['stack']} on {summary['cloud']}"


def _emit(args: argparse.Namespace, payload: str | bytes) -> None:
    if args.output:
        args.output.write_bytes(payload if isinstance(payload, bytes) else payload.encode())
        print(f"wrote {args.output}", file=sys.stderr)
    elif isinstance(payload, bytes):
        sys.stdout.buffer.write(payload)
    else:
        sys.stdout.write(payload)


def _diagram(args: argparse.Namespace) -> int:
    resources, title = _resources(args)
    arch = read(resources)
    fmt = "mermaid" if args.format == "text" else args.format
    _emit(args, mermaid(arch) if fmt == "mermaid" else render(arch, fmt, title))
    return EXIT_OK


def _cost(args: argparse.Namespace) -> int:
    from .settings import CLOUDS

    clouds = CLOUDS if args.cloud == "all" else (None,)
    estimates = {}
    for cloud in clouds:
        resources, _ = _resources(args, cloud)
        est = estimate(resources)
        estimates[est.cloud] = est
    if args.route and any(args.route not in e.routes for e in estimates.values()):
        known = sorted({r for e in estimates.values() for r in e.routes})
        raise ViewError(f"--route {args.route!r}: not a route of the stack; allowed: {', '.join(known) or 'none'}")
    if args.format == "json":
        _emit(args, json.dumps(as_json(estimates, args.requests_per_month, args.route), indent=2, sort_keys=True) + "\n")
    elif len(estimates) > 1:
        _emit(args, side_by_side(estimates, args.requests_per_month, args.route))
    else:
        _emit(args, text(next(iter(estimates.values())), args.requests_per_month, args.route))
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from policy.offline import evaluate, load_export

    from .check import from_export
    from .compare import changes, markdown

    _, old, _ = from_export(args)
    new = load_export(args.compare)
    environment = args.environment or "prod"
    report = evaluate(new, environment=environment)
    mandatory = len(report.mandatory)
    verdict = (f"Policy pack on the new stack ({environment} rules): "
               + (f"**{mandatory} mandatory violation(s)**; `anycloud check --from {args.compare}` lists them."
                  if mandatory else "no mandatory violation."))
    if args.format == "json":
        from .architecture import Stack

        found = changes(Stack(new).cloud, old, new)
        _emit(args, json.dumps({"changes": [c.__dict__ for c in found], "mandatory_violations": mandatory},
                               indent=2, sort_keys=True) + "\n")
    else:
        _emit(args, markdown(old, new, f"{args.from_file} -> {args.compare}", verdict))
    return EXIT_VIOLATIONS if mandatory else EXIT_OK


def show(args: argparse.Namespace) -> int:
    """Run the view asked for; the check's own input errors propagate to its handler."""
    try:
        _validate(args)
        if args.diagram:
            return _diagram(args)
        if args.cost:
            return _cost(args)
        return _compare(args)
    except (ArchitectureError, PricingError, DiagramError, ViewError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
