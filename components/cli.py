"""The `anycloud` command (also `python -m components`): `anycloud check --stack prod`,
`anycloud dev`, `anycloud invoke FUNCTION`."""

from __future__ import annotations

import gc
import sys


def main() -> None:
    from .dev.cli import COMMANDS

    if sys.argv[1:2] and sys.argv[1] in COMMANDS:
        # The local verbs: a long-running server keeps the collector on, and needs neither the
        # policy pack nor the Pulumi SDK that the check imports (components/dev/cli.py).
        from .dev.cli import main as local

        sys.exit(local())
    # A short-lived command whose allocations are nearly all long-lived: the provider SDK modules it
    # imports and the resources it renders. The cyclic collector would rescan that growing heap
    # hundreds of times and free almost nothing, so it stays off for the command's life (peak memory
    # grows by under a tenth; measured in benchmarks/render.py, docs/performance.md).
    gc.disable()
    from .check import main as check

    try:
        sys.exit(check())
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error of the check
        sys.stderr.close()
        sys.exit(0)
