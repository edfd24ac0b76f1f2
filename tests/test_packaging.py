"""The function asset holds runtime code only."""

from pathlib import Path

import pulumi

from components.packaging import function_archive, runtime_files


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
