"""Entry point: `python -m components check --stack prod`."""

import sys

from .check import main

try:
    sys.exit(main())
except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error of the check
    sys.stderr.close()
    sys.exit(0)
