"""The function code asset: everything under functions/ that runs in the cloud.

Tests, caches and editor litter are left out, and so are the other clouds' adapters
(functions/runtime/<cloud>/), so a cloud's asset (and its hash, which decides whether Pulumi
updates the functions) changes only when code that runs there changes.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pulumi

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
EXCLUDED_DIRS = {"tests", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
#: The cloud adapters under functions/runtime/; a cloud's asset carries only its own.
ADAPTERS = ("aws", "gcp", "azure")


def runtime_files(root: Path = FUNCTIONS_DIR, cloud: str | None = None) -> list[Path]:
    """Files to ship, relative to `root`, sorted so the archive is deterministic; with `cloud`,
    without the other clouds' adapters."""
    others = {("runtime", a) for a in ADAPTERS if a != cloud} if cloud else set()
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not EXCLUDED_DIRS.intersection(rel.parts[:-1]) and path.suffix not in EXCLUDED_SUFFIXES:
            if not rel.name.startswith("test_") and rel.name != "conftest.py" and rel.parts[:2] not in others:
                files.append(rel)
    return files


@functools.cache
def function_archive(root: Path = FUNCTIONS_DIR, cloud: str | None = None) -> pulumi.AssetArchive:
    """One archive shared by every function of the service on `cloud` (built once per process)."""
    return pulumi.AssetArchive({str(rel): pulumi.FileAsset(str(root / rel)) for rel in runtime_files(root, cloud)})


#: Files a cloud's build expects at the root of the source: Cloud Functions' Python buildpack
#: runs `main.py` and installs `requirements.txt` from there; the Azure Functions host loads
#: `function_app.py` and reads `host.json`, and its remote build installs `requirements.txt`.
ROOT_FILES = {
    "gcp": {"main.py": "runtime/gcp/main.py", "requirements.txt": "runtime/gcp/requirements.txt"},
    "azure": {"function_app.py": "runtime/azure/function_app.py", "host.json": "runtime/azure/host.json",
              "requirements.txt": "runtime/azure/requirements.txt"},
}


@functools.cache
def cloud_archive(cloud: str, root: Path = FUNCTIONS_DIR) -> pulumi.AssetArchive:
    """The runtime with `cloud`'s adapter, plus its entry module, settings and the functions'
    own dependencies at the root."""
    assets = dict(function_archive(root, cloud).assets)
    assets.update({name: pulumi.FileAsset(str(root / source)) for name, source in ROOT_FILES[cloud].items()})
    return pulumi.AssetArchive(assets)


@functools.cache
def archive_digest(archive: pulumi.AssetArchive) -> str:
    """sha256 over the archive's paths and file contents: changes exactly when the code does."""
    digest = hashlib.sha256()
    for path in sorted(archive.assets):
        asset = archive.assets[path]
        digest.update(path.encode())
        if isinstance(asset, pulumi.FileAsset):
            with open(asset.path, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()
