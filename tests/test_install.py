"""Install only what your cloud needs: rendering a stack imports its own cloud's provider SDK
and nothing of another's, and that cloud's extra in pyproject.toml installs everything it imports."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.support.pins import extras, pinned

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_PREFIXES = ("pulumi_", "pulumiverse_")
RENDER = """
import io, json, sys, contextlib
from components.check import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["check", "--stack", sys.argv[1]])
print(json.dumps([code, sorted({m.split(".")[0] for m in sys.modules})]))
"""


def requirement_name(requirement: str) -> str:
    """A distribution's normalised name (PEP 503): `pulumi_aws` and `Pulumi-AWS` are `pulumi-aws`."""
    return requirement.split("[")[0].split("==")[0].lower().replace("_", "-")


@pytest.mark.parametrize("stack, cloud", [("prod", "aws"), ("prod-gcp", "gcp"), ("prod-azure", "azure")])
def test_a_stack_imports_only_what_its_cloud_extra_installs(stack, cloud):
    done = subprocess.run([sys.executable, "-c", RENDER, stack], cwd=ROOT, capture_output=True, text=True, timeout=120)
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    providers = {m for m in modules if m.startswith(PROVIDER_PREFIXES) and m != "pulumi_policy"}
    distributions = packages_distributions()
    needed = {requirement_name(distributions[m][0]) for m in providers}
    installed = {requirement_name(r) for r in extras()[cloud]}
    assert needed <= installed, f"{cloud} imports {needed - installed} that `.[{cloud}]` does not install"
    others = {requirement_name(r) for other, reqs in extras().items() if other not in (cloud, "dev") for r in reqs}
    assert not (needed & (others - installed)), f"{cloud} imports another cloud's SDK: {needed & (others - installed)}"


def test_every_extra_and_the_base_pin_exact_versions():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in [*project["dependencies"], *(r for reqs in project["optional-dependencies"].values() for r in reqs)]:
        assert "==" in requirement or requirement.startswith("anycloud["), requirement
    assert {"pulumi", "pulumi-aws", "pulumi-gcp", "pulumi-azure-native"} <= set(pinned())


def test_the_anycloud_command_is_the_check():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"anycloud": "components.cli:main"}


def test_a_cloud_whose_sdk_is_not_installed_says_which_extra_to_install(monkeypatch):
    import importlib

    import components.platform as platform
    from components.settings import SettingsError

    real = importlib.import_module

    def without_gcp(name, *args):
        if name == "components.gcp.platform":
            raise ModuleNotFoundError("No module named 'pulumi_gcp'", name="pulumi_gcp")
        return real(name, *args)

    monkeypatch.setattr(platform.importlib, "import_module", without_gcp)
    with pytest.raises(SettingsError) as info:
        platform.select_platform("gcp")
    assert str(info.value) == ("anycloud:cloud: 'gcp' needs its provider SDK (pulumi_gcp is not installed); allowed: "
                               'install the gcp extra (pip install -e ".[gcp]")')
