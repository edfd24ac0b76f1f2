"""Where a project's service declaration is found: shared by `anycloud check` and `anycloud dev`,
and light (no Pulumi SDK), so the local commands start quickly."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .spec import ServiceSpec

PROJECT_DIR = Path(__file__).resolve().parent.parent


def default_project_dir() -> Path:
    """`--dir`'s default: the working directory when it holds a Pulumi project (as the Pulumi CLI
    reads the project where it runs), else the project this package was installed from, so the
    commands work from a subfolder and from a second clone without reinstalling."""
    here = Path.cwd()
    return here if (here / "Pulumi.yaml").is_file() else PROJECT_DIR


def load_service(ref: str, project_dir: Path = PROJECT_DIR) -> ServiceSpec:
    """`module:ATTRIBUTE` naming the declared ServiceSpec (the program imports the same one),
    importable from the project directory wherever the command runs (the `anycloud` script
    does not put the working directory on the path)."""
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr or "SERVICE")
