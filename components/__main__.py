"""Entry point: `python -m components check --stack prod`, `python -m components dev` (the same as the
`anycloud` command)."""

from .cli import main

main()
