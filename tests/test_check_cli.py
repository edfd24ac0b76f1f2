"""The offline check (`python -m components check`), called in-process.

It checks the reference test service (tests/services), never the example: every call names it
with `--service` and `--functions`, in a project directory (`--dir`) holding stack files this
module writes, so a team's own app.py and Pulumi.*.yaml change nothing here.
A full render takes about a second, so this file renders four times: prod with --export
(shared by the export review tests), dev, prod as JSON, and a stack whose secret is set
with `--secret`. Bad-config cases stop before rendering and are fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.check import main
from components.mock_engine import SECRET_SIG, SIG_KEY
from components.stackfile import SECRET_PLACEHOLDER, load_stack
from policy.aws_actions import resource_level
from tests.services import FUNCTIONS, REFERENCE

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"issuer": "https://auth.example.com/", "audience": ["orders-api"]}
#: The reference service's stacks, as a team's Pulumi.dev.yaml and Pulumi.prod.yaml hold them.
DEV_STACK = {"anycloud:cloud": "aws", "anycloud:environment": "dev", "aws:region": "eu-west-1",
             "gcp:region": "europe-west1", "azure-native:location": "westeurope",
             "anycloud:allowedOrigins": ["http://localhost:3000"], "anycloud:logRetentionDays": 14,
             "anycloud:alertEmail": "dev-alerts@example.com"}
PROD_STACK = {**DEV_STACK, "anycloud:environment": "prod", "anycloud:allowedOrigins": ["https://shop.example.com"],
              "anycloud:apiAuth": AUTH, "anycloud:alertEmail": "oncall@example.com", "anycloud:logRetentionDays": 365,
              "anycloud:functions": {"create-order": {"warmInstances": 2}}}
ROUTES = ["POST /orders", "GET /orders/{order_id}", "GET /health"]
PROTECTED_IN_PROD = ("aws:dynamodb/table:Table", "aws:kms/key:Key", "aws:secretsmanager/secret:Secret")
#: type -> how to find the KMS key the resource is encrypted with.
ENCRYPTED = {
    "aws:dynamodb/table:Table": lambda i: i["serverSideEncryption"]["kmsKeyArn"] if i["serverSideEncryption"]["enabled"] else None,
    "aws:sqs/queue:Queue": lambda i: i.get("kmsMasterKeyId"),
    "aws:sns/topic:Topic": lambda i: i.get("kmsMasterKeyId"),
    "aws:cloudwatch/logGroup:LogGroup": lambda i: i.get("kmsKeyId"),
    "aws:secretsmanager/secret:Secret": lambda i: i.get("kmsKeyId"),
    "aws:sfn/stateMachine:StateMachine": lambda i: i["encryptionConfiguration"]["kmsKeyId"]
    if i["encryptionConfiguration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
    else None,
    "aws:lambda/function:Function": lambda i: i.get("kmsKeyArn"),
}


def check(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process on the reference test service; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    service = [] if "--service" in argv else ["--service", "tests.services:REFERENCE", "--functions", str(FUNCTIONS)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", *service, *argv])
    return code, out.getvalue(), err.getvalue()


def project(tmp_path: Path, stack: str, config: dict[str, Any]) -> Path:
    """A project dir with the real Pulumi.yaml and a Pulumi.<stack>.yaml holding `config`."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> Path:
    """A project dir with the reference service's dev and prod stack files."""
    directory = project(tmp_path_factory.mktemp("project"), "dev", DEV_STACK)
    return project(directory, "prod", PROD_STACK)


def resources(export: dict[str, Any], typ: str | None = None) -> list[dict[str, Any]]:
    found = [r for r in export["deployment"]["resources"] if typ is None or r["type"] == typ]
    assert found or typ is None, f"no {typ} in the export"
    return found


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def policy_documents(export: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource, document) for every JSON policy document anywhere in any resource's inputs."""
    for resource in resources(export):
        for value in walk(resource.get("inputs", {})):
            if isinstance(value, str) and value.lstrip().startswith("{") and "Statement" in value:
                document = json.loads(value)
                if "Statement" in document:
                    yield resource, document


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------ renders


@pytest.fixture(scope="module")
def prod_check(tmp_path_factory, stacks) -> tuple[int, str, dict[str, Any]]:
    """`check --stack prod --export FILE`, run once for the whole module."""
    path = tmp_path_factory.mktemp("export") / "prod.json"
    code, out, err = check("--dir", str(stacks), "--stack", "prod", "--export", str(path))
    assert err == ""
    return code, out, json.loads(path.read_text())


@pytest.fixture(scope="module")
def export(prod_check) -> dict[str, Any]:
    return prod_check[2]


def test_prod_check_exits_0_and_summarises_routes_and_workflow(prod_check):
    code, out, export = prod_check
    assert code == 0
    rendered = len(export["deployment"]["resources"]) - 1
    assert out.startswith(f"anycloud check: stack prod (aws, prod): {rendered} resources rendered offline in ")
    routes = {line.split("->")[0].strip(): line.split()[-1] for line in out.split("\nRoutes:\n")[1].split("\n\n")[0].splitlines()}
    assert routes == {"POST /orders": "jwt", "GET /orders/{order_id}": "jwt", "GET /health": "public"}
    assert "\nWorkflow fulfil-order:\n" in out
    for name in REFERENCE.workflows[0].steps:
        assert f"\n  {name}: " in out
    assert "charge-payment: task charge-payment -> state.payment" in out
    assert "catch PaymentDeclined -> release-stock" in out
    assert "  1  aws:kms/key:Key" in out
    assert f"exported {rendered} resources to " in out
    # Pulumi.prod.yaml holds no secret yet: the check renders and says what `pulumi up` needs
    assert "note: anycloud:paymentApiKey is not set in Pulumi.prod.yaml" in out


def test_dev_check_exits_0_without_auth_or_protection(stacks, tmp_path):
    path = tmp_path / "dev.json"
    code, out, err = check("--dir", str(stacks), "--stack", "dev", "--export", str(path))
    assert (code, err) == (0, "")
    assert out.startswith("anycloud check: stack dev (aws, dev): ")
    for route in ROUTES:
        assert route in out
    assert "none (dev)" in out and "jwt" not in out.split("\nRoutes:\n")[1].split("\n\n")[0]
    assert "\nWorkflow fulfil-order:\n" in out
    dev = json.loads(path.read_text())
    types = {r["type"] for r in resources(dev)}
    assert "aws:apigatewayv2/authorizer:Authorizer" not in types
    assert {r["inputs"]["authorizationType"] for r in resources(dev, "aws:apigatewayv2/route:Route")} == {"NONE"}
    for typ in PROTECTED_IN_PROD:
        assert all(r["protect"] is False for r in resources(dev, typ))
    assert all(r["inputs"]["deletionProtectionEnabled"] is False for r in resources(dev, "aws:dynamodb/table:Table"))


def test_json_format(stacks, export):
    code, out, _ = check("--dir", str(stacks), "--stack", "prod", "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert {"resources", "by_type", "routes", "workflows", "outputs"} <= set(summary)
    assert (summary["cloud"], summary["environment"], summary["stack"]) == ("aws", "prod", "prod")
    assert summary["resources"] == len(export["deployment"]["resources"]) - 1
    assert sum(summary["by_type"].values()) == summary["resources"]
    assert summary["by_type"]["aws:lambda/function:Function"] == len(REFERENCE.functions)
    assert summary["routes"] == [
        {"route": "POST /orders", "function": "create-order", "auth": "jwt"},
        {"route": "GET /orders/{order_id}", "function": "get-order", "auth": "jwt"},
        {"route": "GET /health", "function": "health", "auth": "public"},
    ]
    steps = summary["workflows"]["fulfil-order"]
    assert [line.split(":")[0] for line in steps] == list(REFERENCE.workflows[0].steps)
    assert {"cloud", "api_url", "tables", "queues", "workflows", "functions"} <= set(summary["outputs"])
    assert summary["outputs"]["api_url"].startswith("https://")
    assert set(summary["outputs"]["tables"]) == {"orders", "idempotency"}
    assert set(summary["outputs"]["functions"]) == {f.name for f in REFERENCE.functions}


def test_secret_set_with_secret_never_appears_in_the_export(tmp_path):
    ciphertext = "v1:QmVlcEJvb3BTZWNyZXRDaXBoZXJ0ZXh0"
    stack = {**PROD_STACK, "anycloud:paymentApiKey": {"secure": ciphertext}}
    path = tmp_path / "out.json"
    code, out, err = check("--dir", str(project(tmp_path, "sec", stack)), "--stack", "sec", "--export", str(path))
    assert (code, err) == (0, "")
    assert "note:" not in out  # the secret is set: nothing to remind
    text = path.read_text()
    assert ciphertext not in text and "QmVlcEJvb3BTZWNyZXRDaXBoZXJ0ZXh0" not in text
    export = json.loads(text)
    (version,) = resources(export, "aws:secretsmanager/secretVersion:SecretVersion")
    assert version["inputs"]["secretString"] == {SIG_KEY: SECRET_SIG, "ciphertext": SECRET_PLACEHOLDER}
    # the placeholder appears only inside secret wrappers, never as a plain value
    wrapped = [v for v in walk(export) if isinstance(v, dict) and v.get(SIG_KEY) == SECRET_SIG]
    plain = [v for v in walk(export) if v == SECRET_PLACEHOLDER]
    assert wrapped and len(plain) == len(wrapped)
    assert all(set(w) == {SIG_KEY, "ciphertext"} for w in wrapped)


# --------------------------------------------------------------------------- the export


def test_export_is_a_version_3_stack_export(export):
    assert export["version"] == 3
    root, *rest = export["deployment"]["resources"]
    assert root["type"] == "pulumi:pulumi:Stack" and root["custom"] is False
    assert root["urn"] == "urn:pulumi:prod::anycloud::pulumi:pulumi:Stack::anycloud-prod"
    assert [r["type"] for r in rest].count("pulumi:pulumi:Stack") == 0
    urns = [r["urn"] for r in export["deployment"]["resources"]]
    assert len(urns) == len(set(urns))
    for r in rest:
        assert {"urn", "type", "custom", "parent", "inputs", "outputs", "protect"} <= set(r), r["urn"]
        assert r["parent"] in urns, r["urn"]
        assert r["urn"].startswith("urn:pulumi:prod::anycloud::") and f"{r['type']}::" in r["urn"], r["urn"]
        assert isinstance(r["custom"], bool) and isinstance(r["protect"], bool)
        if r["custom"]:
            assert r["id"] and r["outputs"], r["urn"]
    assert root["outputs"]["api_url"].startswith("https://")


def test_prod_protects_tables_key_and_secret(export):
    for typ in PROTECTED_IN_PROD:
        assert all(r["protect"] is True for r in resources(export, typ)), typ
    assert all(r["inputs"]["deletionProtectionEnabled"] is True for r in resources(export, "aws:dynamodb/table:Table"))
    # compute is not protected: redeploying it must stay possible
    assert all(r["protect"] is False for r in resources(export, "aws:lambda/function:Function"))


def test_no_allow_statement_has_a_wildcard_action(export):
    statements = 0
    for resource, document in policy_documents(export):
        for s in as_list(document["Statement"]):
            if s["Effect"] != "Allow":
                continue
            statements += 1
            assert "NotAction" not in s and "NotResource" not in s, resource["urn"]
            wide = [a for a in as_list(s["Action"]) if "*" in a]
            assert not wide, f"{resource['urn']} {s.get('Sid')}: {wide}"
            assert s.get("Principal") != "*" and as_list((s.get("Principal") or {}).get("AWS", [])) != ["*"], resource["urn"]
    assert statements > len(REFERENCE.functions)  # every function's policy was looked at


def test_resource_star_only_for_actions_without_resource_level_permissions(export):
    kms_key_policies = 0
    for resource, document in policy_documents(export):
        if resource["type"] == "aws:kms/key:Key":
            kms_key_policies += 1  # in a key policy, Resource "*" means "this key"
            continue
        for s in as_list(document["Statement"]):
            if s["Effect"] == "Allow" and "*" in as_list(s.get("Resource")):
                actions = as_list(s["Action"])
                assert all(resource_level(a) is False for a in actions), f"{resource['urn']} {s.get('Sid')}: {actions}"
    assert kms_key_policies == 1


def test_every_data_store_log_group_and_workflow_is_encrypted_with_the_service_key(export):
    (key,) = resources(export, "aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    key_arn = key["outputs"]["arn"]
    assert key_arn.startswith("arn:aws:kms:")
    for typ, key_of in ENCRYPTED.items():
        for r in resources(export, typ):
            assert key_of(r["inputs"]) == key_arn, r["urn"]
    log_groups = resources(export, "aws:cloudwatch/logGroup:LogGroup")
    assert len(log_groups) >= len(REFERENCE.functions) + 2  # one per function, the workflow, the API access log


def test_every_non_public_route_needs_a_jwt(export):
    (authorizer,) = resources(export, "aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer["inputs"]["authorizerType"] == "JWT"
    assert authorizer["inputs"]["jwtConfiguration"] == {"issuer": AUTH["issuer"], "audiences": AUTH["audience"]}
    routes = {r["inputs"]["routeKey"]: r["inputs"] for r in resources(export, "aws:apigatewayv2/route:Route")}
    assert set(routes) == {r.key for r in REFERENCE.api.routes}
    for route in REFERENCE.api.routes:
        inputs = routes[route.key]
        if route.public:
            assert inputs["authorizationType"] == "NONE"
        else:
            assert inputs["authorizationType"] == "JWT", route.key
            assert inputs["authorizerId"] == authorizer["id"], route.key


# --------------------------------------------------------------------------- bad input

PROD_BASE = {"anycloud:cloud": "aws", "anycloud:environment": "prod", "anycloud:apiAuth": AUTH, "anycloud:allowedOrigins": ["https://shop.example.com"]}


@pytest.mark.parametrize(
    "config, key, shown",
    [
        pytest.param({"anycloud:cloud": "aws2"}, "anycloud:cloud", "'aws2' is not allowed; allowed: aws, gcp, azure", id="unknown-cloud"),
        pytest.param({"aws:region": "eu-west-1"}, "anycloud:cloud", "is not set; allowed: aws, gcp, azure", id="missing-cloud"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:environment": "staging"}, "anycloud:environment", "'staging'", id="unknown-environment"),
        pytest.param({**PROD_BASE, "anycloud:allowedOrigins": ["*"]}, "anycloud:allowedOrigins", "'*' is not allowed", id="star-origin-in-prod"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:logRetentionDays": -5}, "anycloud:logRetentionDays", "'-5'", id="negative-retention"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:logRetentionDays": "two weeks"}, "anycloud:logRetentionDays", "'two weeks'", id="non-numeric-retention"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:alertEmail": "oncall.example.com"}, "anycloud:alertEmail", "'oncall.example.com'", id="malformed-email"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:customerManagedKeys": "yes"}, "anycloud:customerManagedKeys", "'yes' is not allowed; allowed: true or false", id="non-boolean-flag"),
        pytest.param({"anycloud:cloud": "gcp"}, "gcp:region", "not set; allowed: a Google Cloud region", id="gcp-without-region"),
        pytest.param({"anycloud:cloud": "azure"}, "azure-native:location", "not set; allowed: an Azure region", id="azure-without-location"),
        pytest.param({**PROD_BASE, "anycloud:apiAuth": None}, "anycloud:apiAuth", "not set; required in prod", id="prod-without-api-auth"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:paymentApiKey": "plain"}, "anycloud:paymentApiKey", "is stored in plain text", id="plain-text-secret"),
        pytest.param({"anycloud:cloud": "aws", "anycloud:functions": {"create-order": {"memoryMb": 99999}}}, "anycloud:functions.create-order.memoryMb", "'99999'", id="override-out-of-range"),
    ],
)
def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path, config, key, shown):
    config = {k: v for k, v in config.items() if v is not None}
    code, out, err = check("--dir", str(project(tmp_path, "x", config)), "--stack", "x")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.startswith(f"error: {key}")
    assert shown in err


def test_missing_stack_file_exits_2(tmp_path):
    code, out, err = check("--dir", str(project(tmp_path, "x", {"anycloud:cloud": "aws"})), "--stack", "nope")
    assert (code, out) == (2, "")
    assert err == f"error: --stack nope: no Pulumi.nope.yaml in {tmp_path.name}; allowed: x (a stack is its file: copy " \
                  "Pulumi.dev.yaml to Pulumi.nope.yaml and edit it)\n"


def test_invalid_yaml_exits_2(tmp_path):
    directory = project(tmp_path, "x", {})
    (directory / "Pulumi.x.yaml").write_text("config:\n  anycloud:cloud: [aws\n")
    code, out, err = check("--dir", str(directory), "--stack", "x")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("error: Pulumi.x.yaml:") and "is not valid YAML" in err


def test_a_bad_azure_location_exits_2(tmp_path):
    directory = project(tmp_path, "x", {"anycloud:cloud": "azure", "azure-native:location": "West Europe"})
    code, out, err = check("--dir", str(directory), "--stack", "x")
    assert (code, out) == (2, "")
    assert err == "error: azure-native:location: 'West Europe' is not allowed; allowed: a region name in lowercase " \
                  "letters and digits, such as westeurope or eastus2\n"


def test_unknown_cloud_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check", "--stack", "prod", "--cloud", "aws2"])
    assert info.value.code == 2
    assert "invalid choice: 'aws2'" in capsys.readouterr().err


# --------------------------------------------------------------- the stack file as Pulumi reads it


@pytest.mark.parametrize(
    "text, value",
    [("true", "true"), ("14", "14"), ("[https://a.example.com]", '["https://a.example.com"]'), ("{secure: v1:abc}", SECRET_PLACEHOLDER)],
)
def test_stack_file_values_reach_the_program_as_pulumi_passes_them(tmp_path, text, value):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.x.yaml").write_text(f"config:\n  anycloud:value: {text}\n")
    assert load_stack(tmp_path, "x").config["anycloud:value"] == value


@pytest.mark.parametrize("text", ["no", "010", "yes", "0x1F"])
def test_yaml_1_1_scalars_reach_the_program_literally(tmp_path, text):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.x.yaml").write_text(f"config:\n  anycloud:value: {text}\n")
    assert load_stack(tmp_path, "x").config["anycloud:value"] == text


# --------------------------------------------------------------- where the handlers are


def small_project(tmp_path: Path) -> Path:
    """A team's project: its own service module, its handlers under its own functions/, a dev stack."""
    directory = project(tmp_path, "dev", {"anycloud:cloud": "aws", "anycloud:environment": "dev", "aws:region": "eu-west-1"})
    (directory / "greeter.py").write_text(
        "from components.spec import ApiSpec, FunctionSpec, RouteSpec, ServiceSpec\n\n"
        "SERVICE = ServiceSpec(name='greeter', functions=[FunctionSpec(name='hello', handler='greet.api:hello')],\n"
        "                      api=ApiSpec(routes=[RouteSpec(method='GET', path='/hello', function='hello')]))\n")
    (directory / "functions" / "greet").mkdir(parents=True)
    (directory / "functions" / "greet" / "__init__.py").write_text("")
    (directory / "functions" / "greet" / "api.py").write_text("def hello(request, ctx):\n    return None\n")
    return directory


def test_handlers_resolve_under_the_project_functions_by_default(tmp_path):
    directory = small_project(tmp_path)
    code, out, err = check("--dir", str(directory), "--stack", "dev", "--service", "greeter:SERVICE", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["routes"] == [{"route": "GET /hello", "function": "hello", "auth": "none (dev)"}]


def test_functions_names_another_root_and_a_missing_one_is_refused(tmp_path):
    directory = small_project(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    code, out, err = check("--dir", str(directory), "--stack", "dev", "--service", "greeter:SERVICE",
                           "--functions", str(tmp_path / "elsewhere"))
    assert (code, out) == (2, "")
    assert err == ("error: functions.hello.handler: 'greet.api:hello': no module greet.api under elsewhere/; "
                   "allowed: a module under elsewhere/\n")
    code, out, err = check("--dir", str(directory), "--stack", "dev", "--service", "greeter:SERVICE",
                           "--functions", str(tmp_path / "nowhere"))
    assert (code, out) == (2, "")
    assert err == (f"error: --functions {tmp_path / 'nowhere'}: not a directory; allowed: the folder the handlers' "
                   "modules are in (default: <--dir>/functions)\n")


def test_the_project_is_the_working_directory_when_it_holds_one(tmp_path, monkeypatch):
    """As the Pulumi CLI: a second clone works without reinstalling; elsewhere, the installed project."""
    from components.check import parser
    from components.declaration import PROJECT_DIR

    monkeypatch.chdir(tmp_path)
    assert parser().parse_args(["check", "--stack", "dev"]).dir == PROJECT_DIR
    (tmp_path / "Pulumi.yaml").write_text("name: shop\nruntime: python\n")
    assert parser().parse_args(["check", "--stack", "dev"]).dir == tmp_path
    assert parser().parse_args(["dev"]).dir == tmp_path
