"""The function asset holds runtime code only."""

import json
from pathlib import Path

import pulumi
import pytest

from components.packaging import function_archive, runtime_files
from tests.support.pins import pinned


def test_runtime_files_leave_out_tests_and_caches(tmp_path: Path):
    for rel in ("orders/api.py", "orders/__init__.py", "shared/data.json", "orders/__pycache__/api.cpython-311.pyc",
                "tests/test_api.py", "orders/tests/helpers.py", "orders/test_models.py", "conftest.py",
                ".pytest_cache/v/cache", "orders/api.pyc"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert [str(p) for p in runtime_files(tmp_path)] == ["orders/__init__.py", "orders/api.py", "shared/data.json"]


def test_archive_maps_each_file_to_its_asset(tmp_path: Path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "api.py").write_text("def create_order(): ...")
    archive = function_archive(tmp_path)
    assert list(archive.assets) == ["orders/api.py"]
    asset = archive.assets["orders/api.py"]
    assert isinstance(asset, pulumi.FileAsset) and asset.path == str(tmp_path / "orders" / "api.py")
    assert function_archive(tmp_path) is archive  # built once per process


def test_the_gcp_source_has_its_entry_module_and_dependencies_at_the_root():
    from components.packaging import cloud_archive

    archive = cloud_archive("gcp")
    assert {"main.py", "requirements.txt", "runtime/gcp/entry.py", "orders/api.py"} <= set(archive.assets)
    assert not any(name.startswith("tests/") or "__pycache__" in name for name in archive.assets)
    main = Path(archive.assets["main.py"].path).read_text()
    assert "from runtime.gcp.entry import handle" in main


def test_the_azure_package_has_its_entry_module_host_settings_and_dependencies_at_the_root():
    from components.packaging import cloud_archive

    archive = cloud_archive("azure")
    assert {"function_app.py", "host.json", "requirements.txt", "runtime/azure/entry.py", "orders/api.py"} <= set(archive.assets)
    assert not [name for name in archive.assets if name.startswith(("runtime/aws/", "runtime/gcp/"))]
    assert "from runtime.azure.entry import create_app" in Path(archive.assets["function_app.py"].path).read_text()
    host = json.loads(Path(archive.assets["host.json"].path).read_text())
    assert host["version"] == "2.0" and host["extensionBundle"]["version"] == "[4.0.0, 5.0.0)"


@pytest.mark.parametrize("cloud, required", [
    ("gcp", {"functions-framework", "google-cloud-firestore", "google-cloud-pubsub", "google-cloud-secret-manager"}),
    ("azure", {"azure-functions", "azure-functions-durable", "azure-cosmos", "azure-storage-queue", "azure-identity"}),
])
def test_the_functions_install_what_the_tests_run_against(cloud, required):
    """Every pin the functions' requirements.txt shares with the tests' (pyproject.toml) is the same."""
    root = Path(__file__).resolve().parent.parent

    def pins(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split("==")
                out[name.split("[")[0].strip().lower()] = version.strip()
        return out

    shipped = pins(root / "functions" / "runtime" / cloud / "requirements.txt")
    tested = pinned()
    assert required <= set(shipped)
    assert {n: v for n, v in shipped.items() if n in tested and tested[n] != v} == {}
    assert set(shipped) - set(tested) == set(), "every shipped dependency is installed for the tests too"


def test_each_cloud_ships_only_its_own_adapter():
    aws = {str(f) for f in runtime_files(cloud="aws")}
    gcp = {str(f) for f in runtime_files(cloud="gcp")}
    assert "runtime/aws/entry.py" in aws and not [f for f in aws if f.startswith(("runtime/gcp/", "runtime/azure/"))]
    assert "runtime/gcp/entry.py" in gcp and not [f for f in gcp if f.startswith(("runtime/aws/", "runtime/azure/"))]
    assert "orders/api.py" in aws & gcp and "runtime/contracts.py" in aws & gcp
