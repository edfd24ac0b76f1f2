"""The check as a pull-request gate: every mistake a team makes in a stack file or a handler
reference is refused with one line (exit 2) before anything is rendered, and `--strict` fails
on what the cloud cannot do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.config_keys import PROVIDERS, provider_keys
from components.handlers import check_handlers
from components.spec import FunctionSpec, ServiceSpec, SpecError
from tests.conftest import program
from tests.services import FUNCTIONS, REFERENCE
from tests.test_check_cli import DEV_STACK, ROOT, check, project, stacks  # noqa: F401 (stacks: a fixture)

AWS = {"anycloud:cloud": "aws", "aws:region": "eu-west-1"}
PROD = {**AWS, "anycloud:environment": "prod", "anycloud:apiAuth": {"issuer": "https://auth.example.com/",
                                                                    "audience": ["orders-api"]},
        "anycloud:allowedOrigins": ["https://shop.example.com"]}


def refused(tmp_path: Path, config: dict, stack: str = "x") -> str:
    code, out, err = check("--dir", str(project(tmp_path, stack, config)), "--stack", stack)
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1
    return err


@pytest.mark.parametrize("config, expected", [
    pytest.param({**AWS, "anycloud:enviroment": "prod"},
                 "error: anycloud:enviroment: unknown anycloud config key; did you mean anycloud:environment? "
                 "(pulumi config rm anycloud:enviroment)\n", id="environment-typo"),
    pytest.param({**AWS, "anycloud:logRetentionDay": 14}, "did you mean anycloud:logRetentionDays?", id="retention-typo"),
    pytest.param({**AWS, "anycloud:alertEmial": "a@example.com"}, "did you mean anycloud:alertEmail?", id="email-typo"),
    pytest.param({**AWS, "aws:regoin": "eu-west-1"},
                 "error: aws:regoin: unknown aws provider config key; did you mean aws:region?", id="provider-typo"),
    pytest.param({"anycloud:cloud": "gcp", "gcp:region": "europe-west1", "gcp:projct": "p"},
                 "did you mean gcp:project?", id="gcp-provider-typo"),
    pytest.param({"anycloud:cloud": "azure", "azure-native:location": "westeurope", "azure-native:subscriptionID": "s"},
                 "did you mean azure-native:subscriptionId?", id="azure-provider-typo"),
])
def test_an_unknown_key_is_refused_with_the_closest_known_one(tmp_path, config, expected):
    err = refused(tmp_path, config)
    assert err.startswith(expected) if expected.startswith("error:") else expected in err


def test_keys_of_a_cloud_not_selected_are_not_judged(tmp_path):
    """A stack file may carry every cloud's region (the examples do); only the selected provider's keys are read."""
    directory = project(tmp_path, "x", {**AWS, "gcp:regoin": "europe-west1", "azure-native:locaton": "westeurope"})
    code, _, err = check("--dir", str(directory), "--stack", "x")
    assert code == 0, err


@pytest.mark.parametrize("cloud", sorted(PROVIDERS))
def test_a_missing_region_is_the_same_error_on_every_cloud(tmp_path, cloud):
    provider = PROVIDERS[cloud]
    config = {"anycloud:cloud": cloud, "anycloud:alertEmail": "a@example.com"}
    assert refused(tmp_path, config) == (
        f"error: {provider.region_key}: not set; allowed: {provider.region_kind} such as {provider.region_example} "
        f"(pulumi config set {provider.region_key} {provider.region_example})\n")


@pytest.mark.parametrize("stack", ["prod", "prod-gcp", "production", "orders_prod"])
def test_a_stack_named_prod_never_renders_as_dev_by_omission(tmp_path, stack):
    config = {k: v for k, v in PROD.items() if k != "anycloud:environment"}
    assert refused(tmp_path, config, stack) == (
        f"error: anycloud:environment: not set, so stack {stack!r} would render as dev; allowed: set it explicitly "
        f"(pulumi config set anycloud:environment prod -s {stack})\n")


def test_an_explicit_environment_wins_over_the_stack_name(tmp_path):
    directory = project(tmp_path, "prod-copy", {**AWS, "anycloud:environment": "dev"})
    code, out, err = check("--dir", str(directory), "--stack", "prod-copy", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["environment"] == "dev"


def test_a_key_left_empty_is_unset(tmp_path):
    """`anycloud:apiAuth:` with no value says what is missing, not "'None' is not allowed"."""
    directory = project(tmp_path, "prod", {**PROD, "anycloud:apiAuth": None})
    assert "anycloud:apiAuth: null" in (directory / "Pulumi.prod.yaml").read_text()
    assert refused(tmp_path, {**PROD, "anycloud:apiAuth": None}, "prod").startswith(
        "error: anycloud:apiAuth: not set; required in prod")


def test_provider_keys_come_from_each_installed_sdk():
    for provider in PROVIDERS.values():
        for package in provider.packages:
            keys = provider_keys(package)
            assert keys and provider.region_key.split(":")[1] in keys | {"location"}, package
    assert "region" in provider_keys("pulumi_aws") and "project" in provider_keys("pulumi_gcp")
    assert "location" in provider_keys("pulumi_azure_native")


# ------------------------------------------------------------------ handlers


def with_handler(handler: str) -> ServiceSpec:
    data = REFERENCE.model_dump()
    data["functions"] = [{**f, "handler": handler} if f["name"] == "create-order" else f for f in data["functions"]]
    return ServiceSpec(**data)


@pytest.mark.parametrize("handler, expected", [
    ("reference.api:create_ordr", "functions.create-order.handler: 'reference.api:create_ordr': "
                                  "functions/reference/api.py defines no create_ordr; did you mean "
                                  "reference.api:create_order?"),
    ("referense.api:create_order", "functions.create-order.handler: 'referense.api:create_order': no module "
                                   "referense.api under functions/; did you mean reference.api:create_order?"),
])
def test_a_wrong_handler_is_refused_naming_the_function(handler, expected):
    with pytest.raises(SpecError) as info:
        check_handlers(with_handler(handler), FUNCTIONS)
    assert str(info.value) == expected


def test_a_wrong_handler_fails_the_check_before_rendering(tmp_path):
    directory = project(tmp_path, "dev", DEV_STACK)
    (directory / "svc.py").write_text("from tests.test_strict_check import with_handler\n"
                                     "BROKEN = with_handler('reference.api:create_ordr')\n")
    code, out, err = check("--dir", str(directory), "--stack", "dev", "--service", "svc:BROKEN",
                           "--functions", str(FUNCTIONS))
    assert (code, out) == (2, "")
    assert err.startswith("error: functions.create-order.handler: 'reference.api:create_ordr'")


def test_a_handler_bound_to_a_literal_or_unparsable_is_refused(tmp_path):
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "__init__.py").write_text("")
    (tmp_path / "team" / "api.py").write_text(
        "import json\nfrom functools import partial\n\nhandler_name = 'create'\n\n"
        "def create(request, ctx):\n    return None\n\nwrapped = partial(create)\n")
    (tmp_path / "team" / "broken.py").write_text("def create(:\n")
    spec = lambda handler: ServiceSpec(name="svc", functions=[FunctionSpec(name="one", handler=handler)],  # noqa: E731
                                       api={"routes": [{"method": "GET", "path": "/one", "function": "one"}]})
    check_handlers(spec("team.api:create"), root=tmp_path)
    check_handlers(spec("team.api:wrapped"), root=tmp_path)  # the result of a call may be callable
    check_handlers(spec("team.api:json"), root=tmp_path)
    with pytest.raises(SpecError, match="handler_name in .*api.py is not callable; allowed: a function"):
        check_handlers(spec("team.api:handler_name"), root=tmp_path)
    with pytest.raises(SpecError, match=r"broken.py line 1: .*allowed: valid Python"):
        check_handlers(spec("team.broken:create"), root=tmp_path)


def test_every_test_service_handler_resolves():
    from tests.services import SERVICES

    for spec in SERVICES.values():
        check_handlers(spec, FUNCTIONS)


# ------------------------------------------------------------------ --strict and the summary


def test_limitations_are_printed_once_and_strict_fails_on_them(stacks):
    code, out, _ = check("--dir", str(stacks), "--stack", "prod", "--cloud", "gcp")
    assert code == 0
    assert out.count("has no CORS") == 1 and "limitation: GCP API Gateway has no CORS" in out
    code, out, _ = check("--dir", str(stacks), "--stack", "prod", "--cloud", "gcp", "--strict")
    assert code == 1 and "--strict: " in out and "limitation(s) or unreviewed type(s) above fail the check" in out


def test_strict_passes_a_stack_without_limitations(stacks):
    code, out, _ = check("--dir", str(stacks), "--stack", "prod", "--strict")
    assert code == 0 and "limitation:" not in out


def test_the_summary_ends_with_the_next_command(stacks):
    code, out, _ = check("--dir", str(stacks), "--stack", "prod")
    assert code == 0 and out.rstrip().endswith("Next: pulumi up -s prod")
    code, out, _ = check("--dir", str(stacks), "--stack", "prod", "--cloud", "azure")
    assert out.rstrip().endswith("then pulumi up -s prod-azure")


# ------------------------------------------------------------------ smaller messages


def test_running_the_program_by_hand_says_how_to_run_it():
    done = subprocess.run([sys.executable, "__main__.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == ("error: this is a Pulumi program: deploy it with `pulumi up -s STACK`, or render and check "
                           "it offline with `python -m components check --stack STACK`\n")


def test_the_emulator_hint_names_the_project_directory(tmp_path):
    from tests.support.emulators import running_node

    package = tmp_path / "node_modules" / "@scope" / "server"
    with pytest.raises(pytest.fail.Exception) as info:
        with running_node("an emulator", package, [], lambda line: None, 1, cwd=tmp_path):
            pass
    assert str(info.value) == f"an emulator is not installed: run `npm ci` in {tmp_path} (where package.json is)"


# ------------------------------------------------------------------ a deployed stack keeps its cloud


def render_deployed(config: dict[str, str], deployed: dict) -> list:
    from components.mock_engine import render

    return render(program(), config, ["anycloud:paymentApiKey"], stack="dev", deployed=deployed).resources


def test_a_stack_deployed_on_aws_refuses_another_cloud_before_registering_anything():
    import pulumi

    from components.mock_engine import configure
    from components.settings import SettingsError
    from tests.conftest import GCP_DEV

    monitor = configure(GCP_DEV, ["anycloud:paymentApiKey"], "anycloud", "dev", deployed={"cloud": "aws"})
    raised = []

    @pulumi.runtime.test
    def body():
        with pytest.raises(SettingsError) as info:
            program()()
        raised.append(str(info.value))

    body()
    assert monitor.recorded == []
    assert raised == [
        "anycloud:cloud: stack 'dev' is deployed on aws; rendering it on gcp would delete every aws resource of the "
        "stack (tables and their data included); allowed: a new stack for gcp (pulumi stack init dev-gcp), or "
        "`pulumi config set anycloud:replacesCloud aws` to destroy the aws deployment deliberately"]


def test_the_same_cloud_and_a_deliberate_move_render():
    from tests.conftest import DEV, GCP_DEV

    assert render_deployed(DEV, {"cloud": "aws"})  # the same cloud again
    assert render_deployed(DEV, {})  # never deployed
    moved = render_deployed({**GCP_DEV, "anycloud:replacesCloud": "aws"}, {"cloud": "aws"})
    assert any(r.type.startswith("gcp:") for r in moved)


# ------------------------------------------------------------------ decommissioning a prod stack


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_decommission_drops_every_protection_and_nothing_else(cloud):
    """The last `up` before `pulumi destroy` of a prod stack: no protect, no deletion protection,
    no delete lock; every other input as in prod."""
    from tests.conftest import AZURE_PROD, GCP_PROD, PROD, render_config

    prod = render_config({"aws": PROD, "gcp": GCP_PROD, "azure": AZURE_PROD}[cloud], stack="prod")
    gone = render_config({**{"aws": PROD, "gcp": GCP_PROD, "azure": AZURE_PROD}[cloud], "anycloud:decommission": "true"},
                         stack="prod")
    assert any(r.protect for r in prod.resources) and not any(r.protect for r in gone.resources)
    protection = {"deletionProtectionEnabled", "deletionProtection", "deleteProtectionState", "forceDestroy"}
    from components.mock_engine import jsonable

    before = {(r.type, r.name): jsonable(r.inputs) for r in prod.resources}
    after = {(r.type, r.name): jsonable(r.inputs) for r in gone.resources}
    locks = {k for k in before if "ManagementLock" in k[0]}
    assert set(after) == set(before) - locks
    for key, inputs in after.items():
        changed = {k for k in set(inputs) | set(before[key]) if inputs.get(k) != before[key].get(k)}
        assert changed <= protection, (key, changed)
    text = json.dumps(list(after.values()))
    for on in ('"deletionProtectionEnabled": true', '"deletionProtection": true', "DELETE_PROTECTION_ENABLED"):
        assert on not in text


def test_a_decommissioning_stack_is_checked_with_dev_rules_and_says_what_comes_next(tmp_path):
    directory = project(tmp_path, "prod", {**PROD, "anycloud:decommission": True})
    code, out, err = check("--dir", str(directory), "--stack", "prod")
    assert code == 0, out + err
    assert "note: anycloud:decommission is true" in out and "`pulumi destroy -s prod`" in out


def test_types_no_policy_reads_are_listed_and_strict_fails_on_them_in_prod():
    export = ROOT / "tests" / "policy_fixtures" / "resource-types-reviewed" / "aws-bad.json"
    code, out, _ = check("--from", str(export))
    assert code == 0
    assert "Not reviewed: 1 resource type(s) that no policy reads" in out
    assert "  aws:budgets/budget:Budget (1 resource)" in out and "Policies: " in out
    code, out, _ = check("--from", str(export), "--strict")
    assert code == 1 and "--strict: 1 limitation(s) or unreviewed type(s) above fail the check" in out
    code, out, _ = check("--from", str(export), "--strict", "--environment", "dev", "--format", "json")
    assert code == 0 and json.loads(out)["unreviewed_types"] == ["aws:budgets/budget:Budget"]


def test_components_and_inert_types_are_not_reported():
    export = ROOT / "tests" / "policy_fixtures" / "resource-types-reviewed" / "aws-ok.json"
    code, out, _ = check("--from", str(export), "--strict", "--format", "json")
    assert code == 0 and json.loads(out)["unreviewed_types"] == []
