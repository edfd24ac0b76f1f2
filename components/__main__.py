"""Entry point: `python -m components check --stack prod`."""

import sys

from .check import main

sys.exit(main())
