"""The offline harness behaves like the engine: unknowns, config, levels, stack correlation."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.export import to_export
from policy.common import get, resource_policy, stack_policy
from policy.offline import PolicyInputError, evaluate, load_export

ROOT = Path(__file__).resolve().parent.parent
STACK = "urn:pulumi:prod::anycloud::pulumi:pulumi:Stack::anycloud-prod"


def resource(typ: str, name: str, inputs: dict, **extra) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": extra.pop("outputs", {}), "parent": STACK, "protect": False, "dependencies": [],
            "propertyDependencies": extra.pop("propertyDependencies", {}), **extra}


def needs_key(args, report):
    if not get(args.props, "kmsKeyId"):
        report(f"{args.name} has no kmsKeyId.")


KEY_POLICY = resource_policy("test-needs-key", "Log groups need a key.", ["aws:cloudwatch/logGroup:LogGroup"], needs_key,
                             remediation="set kmsKeyId", config={"strict": {"type": "boolean", "default": True}})


def test_unknown_values_become_a_note_not_a_crash():
    unknown = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"kmsKeyId": UNKNOWN_STRING_VALUE})
    report = evaluate([unknown], policies=[KEY_POLICY])
    assert report.violations == []
    assert len(report.notes) == 1 and report.notes[0].startswith("test-needs-key: can't run on urn:pulumi:prod::anycloud::aws:cloudwatch")


def test_violations_carry_policy_level_urn_and_fix():
    bare = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {})
    (violation,) = evaluate([bare], policies=[KEY_POLICY]).violations
    assert (violation.policy, violation.level, violation.urn) == ("test-needs-key", "mandatory", bare["urn"])
    assert violation.message == "logs has no kmsKeyId. Fix: set kmsKeyId"


def test_levels_can_be_overridden_or_disabled():
    bare = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {})
    assert evaluate([bare], levels={"test-needs-key": "advisory"}, policies=[KEY_POLICY]).mandatory == []
    assert evaluate([bare], levels={"test-needs-key": "disabled"}, policies=[KEY_POLICY]).violations == []
    with pytest.raises(PolicyInputError, match="policy level test-needs-key='loud' is not allowed; allowed: mandatory, advisory, disabled"):
        evaluate([bare], levels={"test-needs-key": "loud"}, policies=[KEY_POLICY])


def test_config_defaults_pack_wide_and_per_policy_values():
    seen = []

    def record(args, report):
        seen.append(dict(args.get_config()))

    probe = resource_policy("test-probe", "Records its config.", ["aws:sqs/queue:Queue"], record, remediation="none",
                            config={"limit": {"type": "integer", "default": 3}})
    queue = resource("aws:sqs/queue:Queue", "q", {})
    evaluate([queue], "dev", config={"limit": 5, "unrelated": 1}, policies=[probe])
    evaluate([queue], config={"test-probe": {"limit": 7}}, policies=[probe])
    assert seen == [{"environment": "dev", "limit": 5}, {"environment": "prod", "limit": 7}]


def test_stack_policies_see_parents_and_property_dependencies():
    seen = {}

    def correlate(args, report):
        for r in args.resources:
            seen[r.name] = ([d.name for d in r.property_dependencies.get("queueUrl", [])], r.parent.name if r.parent else None)

    queue = resource("aws:sqs/queue:Queue", "q", {})
    policy = resource("aws:sqs/queuePolicy:QueuePolicy", "qp", {"queueUrl": "https://x"}, parent=queue["urn"],
                      propertyDependencies={"queueUrl": [queue["urn"]]})
    evaluate([queue, policy], policies=[stack_policy("test-correlate", "Correlates.", [], correlate, remediation="none")])
    assert seen == {"q": ([], None), "qp": (["q"], "q")}


def test_secrets_reach_policies_as_placeholders():
    seen = []
    secret = resource("aws:secretsmanager/secretVersion:SecretVersion", "v",
                      {"secretString": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAA"}})
    probe = resource_policy("test-secret", "Reads a secret.", [secret["type"]], lambda a, r: seen.append(a.props["secretString"]), remediation="none")
    evaluate([secret], policies=[probe])
    assert seen == ["[secret]"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not JSON"),
        (json.dumps({"version": 2, "deployment": {"resources": []}}), "version 2 is not allowed; allowed: a `pulumi stack export` with version 3"),
        (json.dumps({"version": 3, "deployment": {"resources": [{"type": "x"}]}}), "deployment.resources must be a list of resources with urn and type"),
    ],
)
def test_bad_export_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "export.json"
    path.write_text(text)
    with pytest.raises(PolicyInputError, match="^--from .*" + re.escape(message)):
        load_export(path)


def test_unknown_environment_is_refused():
    with pytest.raises(PolicyInputError, match="--environment: 'staging' is not allowed; allowed: dev, prod"):
        evaluate([], "staging")


def test_rendered_example_has_no_mandatory_violation(dev, prod, no_cmk):
    for rendering, env, cmk in ((dev, "dev", True), (prod, "prod", True), (no_cmk, "dev", False)):
        resources = to_export(rendering)["deployment"]["resources"]
        report = evaluate(resources, env, config={"requireCustomerManagedKeys": cmk, "publicRoutes": ["GET /health"]})
        assert report.mandatory == [], report.mandatory
        assert report.notes == []


def test_pack_entry_point_only_builds_the_pack():
    tree = ast.parse((ROOT / "policy" / "__main__.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"]
    assert len(calls) == 1
    assert "PolicyPack(" not in (ROOT / "policy" / "offline.py").read_text()
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file() and (ROOT / "policy" / "requirements.txt").is_file()


def test_the_pack_readme_lists_every_policy_with_its_level():
    from policy import POLICIES

    readme = (ROOT / "policy" / "README.md").read_text()
    for policy in POLICIES:
        assert f"| {policy.name} |" in readme and readme.split(f"| {policy.name} |")[1].split("\n")[0].strip().endswith(
            f"| {policy.enforcement_level.value} |"
        ), policy.name


def test_dev_policy_config_sets_dev_rules_for_every_policy():
    from policy import POLICIES

    config = json.loads((ROOT / "policy" / "config.dev.json").read_text())
    assert config == {p.name: {"environment": "dev"} for p in POLICIES}
