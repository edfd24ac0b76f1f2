"""Time the policy pack's evaluation of each cloud's rendered prod stack, in process (best of N).

    python benchmarks/policy_eval.py [--repeat 5] [--slowest 5]

Renders each prod stack once (as `anycloud check` does), then evaluates the whole pack on its
export N times; prints resources, policies and the best time, and the slowest policies.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.check import from_stack, parser  # noqa: E402
from policy import POLICIES  # noqa: E402
from policy.offline import evaluate  # noqa: E402

STACKS = {"aws": "prod", "gcp": "prod-gcp", "azure": "prod-azure"}


def best(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--repeat", type=int, default=5)
    cli.add_argument("--slowest", type=int, default=5, help="how many of the slowest policies to list per cloud")
    args = cli.parse_args()
    print(f"{'cloud':<6} {'resources':>9} {'policies':>8} {'best ms':>8}   slowest policies (ms)")
    for cloud, stack in STACKS.items():
        _, resources, config = from_stack(parser().parse_args(["check", "--stack", stack]))
        total = best(lambda: evaluate(resources, **config), args.repeat)
        per = sorted(((best(lambda p=p: evaluate(resources, policies=[p], **config), args.repeat), p.name)
                      for p in POLICIES), reverse=True)[: args.slowest]
        slow = ", ".join(f"{name} {ms:.1f}" for ms, name in per)
        count = len([r for r in resources if not r["type"].startswith("pulumi:")])
        print(f"{cloud:<6} {count:>9} {len(POLICIES):>8} {total:>8.1f}   {slow}")


if __name__ == "__main__":
    main()
