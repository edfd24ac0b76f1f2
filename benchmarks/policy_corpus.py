"""How much of the adversarial corpus the pack gets right, per mechanism (tests/policy_corpus/).

    python benchmarks/policy_corpus.py            # a table: violators caught, clean stacks passed
    python benchmarks/policy_corpus.py --misses   # and the cases it gets wrong
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.policy_corpus import cases, judge  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the cases the pack gets wrong")
    args = parser.parse_args()
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # caught, bad, passed, ok
    misses = []
    for case in cases():
        right, _ = judge(case)
        row = tally[case.mechanism]
        offset = 0 if case.expect == "bad" else 2
        row[offset] += right
        row[offset + 1] += 1
        if not right:
            misses.append(case)
    total = [sum(col) for col in zip(*tally.values())] if tally else [0, 0, 0, 0]
    print(f"{'mechanism':<28} {'violators caught':>17} {'clean passed':>13}")
    for mechanism, (caught, bad, passed, ok) in sorted(tally.items()) + [("all", total)]:
        print(f"{mechanism:<28} {f'{caught}/{bad}':>17} {f'{passed}/{ok}':>13}")
    if args.misses:
        for case in misses:
            print(f"  missed {case.id} ({case.expect}, {case.policy or 'clean'}): {case.why}")


if __name__ == "__main__":
    main()
