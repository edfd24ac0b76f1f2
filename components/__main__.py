"""Entry point: `python -m components check --stack prod` (the same as the `anycloud` command)."""

from .cli import main

main()
