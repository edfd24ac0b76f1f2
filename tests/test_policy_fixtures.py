"""Every policy, on every cloud it covers, against a compliant and a violating stack export.

Fixtures live in tests/policy_fixtures/<policy>/<cloud>-ok[-variant].json and
<cloud>-bad[-variant].json; a name containing "-dev" is evaluated with dev rules. A bad file
must be reported by its own policy (exit 1 when that policy is mandatory); an ok file must
pass the whole pack (exit 0) without a word from its own policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.check import main
from policy import POLICIES
from policy.common import ADVISORY, MANDATORY
from policy.offline import evaluate, load_export

FIXTURES = Path(__file__).parent / "policy_fixtures"
FILES = sorted(FIXTURES.glob("*/*.json"))
BY_NAME = {p.name: p for p in POLICIES}
CLOUD_OF_PREFIX = {"aws": "aws", "gcp": "gcp", "azure-native": "azure", "azuread": "azure"}


def environment(path: Path) -> str:
    return "dev" if "-dev" in path.stem else "prod"


def clouds(policy) -> set[str]:
    """The clouds whose types the policy reads ("*": every type, so every cloud)."""
    if "*" in policy.resource_types:
        return set(CLOUD_OF_PREFIX.values())
    return {CLOUD_OF_PREFIX[t.split(":", 1)[0]] for t in policy.resource_types}


def test_every_policy_has_an_ok_and_a_bad_fixture_per_cloud():
    missing = []
    for policy in POLICIES:
        for cloud in sorted(clouds(policy)):
            for kind in ("ok", "bad"):
                if not list((FIXTURES / policy.name).glob(f"{cloud}-{kind}*.json")):
                    missing.append(f"{policy.name}/{cloud}-{kind}")
    assert missing == []


def test_fixture_folders_name_real_policies():
    assert {p.parent.name for p in FILES} <= set(BY_NAME)


def test_every_policy_is_described_levelled_and_unique():
    assert len(BY_NAME) == len(POLICIES)
    for policy in POLICIES:
        assert policy.description and policy.remediation_steps and policy.severity is not None
        assert policy.enforcement_level in (MANDATORY, ADVISORY), policy.name
        assert policy.resource_types, policy.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(path: Path, capsys):
    policy = BY_NAME[path.parent.name]
    report = evaluate(load_export(path), environment(path))
    own = [v for v in report.violations if v.policy == policy.name]
    argv = ["check", "--from", str(path), "--environment", environment(path), "--format", "json"]
    code = main(argv)
    printed = json.loads(capsys.readouterr().out)
    if path.stem.split("-")[1] == "bad":
        assert own, f"{policy.name} did not report {path.name}"
        assert {v.level for v in own} == {policy.enforcement_level.value}
        assert all("Fix: " in v.message for v in own)
        assert code == (1 if policy.enforcement_level == MANDATORY else 0)
        assert any(v["policy"] == policy.name for v in printed["violations"])
    else:
        assert own == [], own
        assert report.mandatory == [], report.mandatory
        assert code == 0
