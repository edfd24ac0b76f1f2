"""Entry point: `python -m components check --stack prod`."""

import gc
import sys

# A short-lived command whose allocations are nearly all long-lived: the provider SDK modules it
# imports and the resources it renders. The cyclic collector would rescan that growing heap
# hundreds of times and free almost nothing, so it stays off for the command's life (peak memory
# grows by under a tenth; measured in benchmarks/render.py and the README).
gc.disable()

from .check import main  # noqa: E402

try:
    sys.exit(main())
except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error of the check
    sys.stderr.close()
    sys.exit(0)
