"""The pull-request workflow runs what CI runs, and previews every stack with its own cloud's credentials."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "policy.yml").read_text())
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def test_the_check_job_runs_ci_run():
    steps = WORKFLOW["jobs"]["check"]["steps"]
    assert [s.get("run") for s in steps if "run" in s] == [".ci/run"]


def test_every_stack_file_is_previewed():
    assert sorted(WORKFLOW["jobs"]["preview"]["strategy"]["matrix"]["stack"]) == STACKS


def test_every_cloud_of_the_stack_files_has_credentials_in_the_preview_job():
    clouds = {yaml.safe_load((ROOT / f"Pulumi.{s}.yaml").read_text())["config"]["anycloud:cloud"] for s in STACKS}
    assert clouds == {"aws", "gcp", "azure"}
    script = next(s["run"] for s in WORKFLOW["jobs"]["preview"]["steps"] if s.get("id") == "creds")
    env = WORKFLOW["jobs"]["preview"]["env"]
    for cloud, variable in {"aws": "AWS_ACCESS_KEY_ID", "gcp": "GOOGLE_CREDENTIALS", "azure": "ARM_CLIENT_SECRET"}.items():
        assert f'{cloud})' in script and f"${variable}" in script and variable in env
    assert "skipped" in script and "GITHUB_STEP_SUMMARY" in script


def test_ci_run_checks_every_stack_file_and_runs_the_tests():
    script = (ROOT / ".ci" / "run").read_text()
    assert 'for file in Pulumi.*.yaml' in script and "python -m components check --stack" in script
    assert script.rstrip().endswith("python -m pytest")
