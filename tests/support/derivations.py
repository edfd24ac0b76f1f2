"""Checks that a committed catalogue is what its generator derives from the installed provider
SDKs take seconds each (they parse thousands of SDK files). Their outcome is a function of the
SDKs' versions, the generator's code and the committed module, so a passing check is remembered
in pytest's cache under a digest of exactly those: it runs again whenever any of them changes
(an SDK upgrade, an edited generator, a hand-edited catalogue), on a fresh checkout, in CI, or
with `pytest --cache-clear`, and is reported as skipped, with why, only when nothing it reads
has changed since it passed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
from types import ModuleType
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SDKS = ("pulumi-aws", "pulumi-gcp", "pulumi-azure-native")
SCRIPTS = Path(__file__).resolve().parent.parent.parent / "scripts"


def load_script(name: str) -> ModuleType:
    """A generator of scripts/ as a module (its folder on the path while it loads, for sdk_inputs)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def digest(sources: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for sdk in SDKS:
        h.update(f"{sdk}=={importlib.metadata.version(sdk)}\n".encode())
    for path in sorted(sources):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@contextmanager
def derived_once(config: pytest.Config, name: str, sources: Iterable[Path]) -> Iterator[None]:
    """Run the body (the derivation and its comparison) unless the same inputs passed before."""
    key = f"anycloud/derivations/{name}"
    want = digest(sources)
    if config.cache.get(key, None) == want:
        pytest.skip(f"{name}: the SDKs, the generator and the catalogue are unchanged since this check passed")
    yield
    config.cache.set(key, want)
