"""The `anycloud` command (also `python -m components`): `anycloud check --stack prod`."""

from __future__ import annotations

import gc
import sys


def main() -> None:
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
