"""Stack config -> Settings: every bad value is one line naming the key, the value and what
is allowed; good values arrive typed; Pulumi.yaml declares what Settings reads; and a bad
value stops the program before any resource is registered.

Config is set the way the engine hands it to the program (strings; structured values as
JSON) through the recording mock engine, and read inside `@pulumi.runtime.test`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.mock_engine import configure
from components.settings import (
    KEYS,
    NAMESPACE,
    Settings,
    SettingsError,
    apply_overrides,
    effective_auth,
    effective_origins,
    load_settings,
)
from components.spec import ApiSpec, JwtAuth
from tests.conftest import program, refused_before_registering
from tests.services import REFERENCE

PROJECT = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
SECRET_KEY = "anycloud:paymentApiKey"
AUTH = {"issuer": "https://auth.example.com/", "audience": ["orders-api"]}
DEV = {"anycloud:cloud": "aws", "aws:region": "eu-west-1", SECRET_KEY: "s3cr3t"}
PROD = {**DEV, "anycloud:environment": "prod", "anycloud:apiAuth": json.dumps(AUTH)}
SECRET_HELP = f"allowed: a secret value (pulumi config set --secret {SECRET_KEY} VALUE)"
FUNCTIONS = "create-order, get-order, health, process-order, reserve-stock, charge-payment, release-stock, ship, notify, mark-completed, mark-failed"


def load(config: dict[str, str], secret_keys: tuple[str, ...] = (SECRET_KEY,)) -> Settings:
    """load_settings under the mock engine with this stack config."""
    configure(config, list(secret_keys), "anycloud", "test")
    box: dict[str, Settings] = {}

    @pulumi.runtime.test
    def body():
        box["settings"] = load_settings(REFERENCE)

    body()
    return box["settings"]


def refused(config: dict[str, str], secret_keys: tuple[str, ...] = (SECRET_KEY,)) -> str:
    with pytest.raises(SettingsError) as info:
        load(config, secret_keys)
    message = str(info.value)
    assert "\n" not in message
    return message


def overrides(value: dict[str, Any]) -> dict[str, str]:
    return {**DEV, "anycloud:functions": json.dumps(value)}


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "config, expected",
    [
        pytest.param(
            {SECRET_KEY: "s3cr3t"},
            "anycloud:cloud is not set; allowed: aws, gcp, azure (pulumi config set anycloud:cloud aws)",
            id="missing-cloud",
        ),
        pytest.param(
            {**DEV, "anycloud:cloud": "aws2"},
            "anycloud:cloud: 'aws2' is not allowed; allowed: aws, gcp, azure",
            id="unknown-cloud",
        ),
        pytest.param(
            {**DEV, "anycloud:environment": "staging"},
            "anycloud:environment: 'staging' is not allowed; allowed: dev, prod",
            id="unknown-environment",
        ),
        pytest.param(
            {**PROD, "anycloud:allowedOrigins": '["https://shop.example.com", "*"]'},
            "anycloud:allowedOrigins: '*' is not allowed; allowed: explicit https origins in prod; '*' lets any site call the API",
            id="star-origin-in-prod",
        ),
        pytest.param(
            {**DEV, "anycloud:allowedOrigins": '["ftp://shop.example.com"]'},
            "anycloud:allowedOrigins: 'ftp://shop.example.com' is not allowed; "
            "allowed: https://host[:port] (http only for localhost), or '*' outside prod",
            id="origin-bad-scheme",
        ),
        pytest.param(
            {**DEV, "anycloud:allowedOrigins": '["http://shop.example.com"]'},
            "anycloud:allowedOrigins: 'http://shop.example.com' is not allowed; "
            "allowed: https://host[:port] (http only for localhost), or '*' outside prod",
            id="origin-plain-http",
        ),
        pytest.param(
            {**DEV, "anycloud:allowedOrigins": '["https://shop.example.com/app"]'},
            "anycloud:allowedOrigins: 'https://shop.example.com/app' is not allowed; "
            "allowed: https://host[:port] (http only for localhost), or '*' outside prod",
            id="origin-with-path",
        ),
        pytest.param(
            {**DEV, "anycloud:allowedOrigins": '{"origin": "https://a.example.com"}'},
            'anycloud:allowedOrigins: \'{"origin": "https://a.example.com"}\' is not allowed; '
            'allowed: a list of origins like ["https://app.example.com"]',
            id="origins-not-a-list",
        ),
        pytest.param(
            {**DEV, "anycloud:logRetentionDays": "-7"},
            "anycloud:logRetentionDays: '-7' is not allowed; allowed: a whole number from 1 to 3653",
            id="negative-retention",
        ),
        pytest.param(
            {**DEV, "anycloud:logRetentionDays": "two weeks"},
            "anycloud:logRetentionDays: 'two weeks' is not allowed; allowed: a whole number from 1 to 3653",
            id="non-numeric-retention",
        ),
        pytest.param(
            {**DEV, "anycloud:logRetentionDays": "0"},
            "anycloud:logRetentionDays: '0' is not allowed; allowed: a whole number from 1 to 3653",
            id="zero-retention",
        ),
        pytest.param(
            {**DEV, "anycloud:logRetentionDays": "3654"},
            "anycloud:logRetentionDays: '3654' is not allowed; allowed: a whole number from 1 to 3653",
            id="retention-too-long",
        ),
        pytest.param(
            {**DEV, "anycloud:alertEmail": "oncall@"},
            "anycloud:alertEmail: 'oncall@' is not allowed; allowed: an e-mail address like oncall@example.com",
            id="malformed-email",
        ),
        pytest.param(
            {**DEV, "anycloud:alertEmail": "oncall example.com"},
            "anycloud:alertEmail: 'oncall example.com' is not allowed; allowed: an e-mail address like oncall@example.com",
            id="email-without-at",
        ),
        pytest.param(
            {**DEV, "anycloud:customerManagedKeys": "yes"},
            "anycloud:customerManagedKeys: 'yes' is not allowed; allowed: true or false",
            id="non-boolean-flag",
        ),
        pytest.param(
            {**DEV, "anycloud:apiAuth": '{"issuer": '},
            'anycloud:apiAuth: \'{"issuer": \' is not allowed; allowed: {"issuer": "https://...", "audience": ["..."]}',
            id="api-auth-malformed-json",
        ),
        pytest.param(
            {**DEV, "anycloud:apiAuth": json.dumps({"issuer": "https://auth.example.com/"})},
            'anycloud:apiAuth: JwtAuth.audience: Field required; allowed: {"issuer": "https://...", "audience": ["..."]}',
            id="api-auth-missing-audience",
        ),
        pytest.param(
            {**DEV, "anycloud:apiAuth": json.dumps({"issuer": "https://auth.example.com/", "audience": []})},
            "anycloud:apiAuth: JwtAuth.audience: Tuple should have at least 1 item after validation, not 0; "
            'allowed: {"issuer": "https://...", "audience": ["..."]}',
            id="api-auth-empty-audience",
        ),
        pytest.param(
            {**DEV, "anycloud:environment": "prod"},
            'anycloud:apiAuth: not set; required in prod for the non-public routes; allowed: {"issuer": "https://...", '
            '"audience": ["..."]}',
            id="prod-without-api-auth",
        ),
        pytest.param(
            {"anycloud:cloud": "aws"},
            f"{SECRET_KEY} is not set; {SECRET_HELP}",
            id="secret-missing",
        ),
        pytest.param(
            overrides({"ghost": {"memoryMb": 512}}),
            f"anycloud:functions.ghost: 'ghost' is not allowed; allowed: a declared function: {FUNCTIONS}",
            id="override-unknown-function",
        ),
        pytest.param(
            overrides({"create-order": {"memory": 512}}),
            "anycloud:functions.create-order.memory: 'memory' is not allowed; allowed: memoryMb, timeoutSeconds, warmInstances",
            id="override-unknown-field",
        ),
        pytest.param(
            overrides({"create-order": {"memoryMb": "512"}}),
            "anycloud:functions.create-order.memoryMb: '512' is not allowed; allowed: a whole number",
            id="override-string-number",
        ),
        pytest.param(
            overrides({"create-order": {"timeoutSeconds": 12.5}}),
            "anycloud:functions.create-order.timeoutSeconds: '12.5' is not allowed; allowed: a whole number",
            id="override-float",
        ),
        pytest.param(
            overrides({"create-order": {"warmInstances": True}}),
            "anycloud:functions.create-order.warmInstances: 'true' is not allowed; allowed: a whole number",
            id="override-bool",
        ),
        pytest.param(
            overrides({"create-order": 512}),
            "anycloud:functions.create-order: '512' is not allowed; "
            'allowed: {"<function>": {"memoryMb": 512, "timeoutSeconds": 10, "warmInstances": 1}}',
            id="override-not-an-object",
        ),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(config, expected):
    assert refused(config) == expected


def test_http_issuer_is_refused_naming_the_value_and_the_shape():
    message = refused({**PROD, "anycloud:apiAuth": json.dumps({**AUTH, "issuer": "http://auth.example.com/"})})
    assert message.startswith("anycloud:apiAuth: JwtAuth.issuer: ")
    assert "(got 'http://auth.example.com/')" in message
    assert message.endswith('allowed: {"issuer": "https://...", "audience": ["..."]}')


def test_secret_stored_in_plain_text_is_refused():
    assert refused(DEV, secret_keys=()) == f"{SECRET_KEY} is stored in plain text; {SECRET_HELP}"


def test_star_origin_is_allowed_in_dev():
    assert load({**DEV, "anycloud:allowedOrigins": '["*"]'}).allowed_origins == ("*",)


@pytest.mark.parametrize(
    "change, key, value, allowed",
    [
        ({"create-order": {"memoryMb": 99999}}, "create-order.memoryMb", "99999", "less than or equal to 4096"),
        ({"create-order": {"memoryMb": 64}}, "create-order.memoryMb", "64", "greater than or equal to 128"),
        ({"process-order": {"timeoutSeconds": 0}}, "process-order.timeoutSeconds", "0", "greater than or equal to 1"),
        ({"ship": {"warmInstances": 101}}, "ship.warmInstances", "101", "less than or equal to 100"),
    ],
)
def test_override_out_of_range_names_the_config_key(change, key, value, allowed):
    settings = load(overrides(change))
    with pytest.raises(SettingsError) as info:
        apply_overrides(REFERENCE, settings)
    message = str(info.value)
    assert message.startswith(f"anycloud:functions.{key}: '{value}' is not allowed; allowed: ")
    assert allowed in message
    assert "\n" not in message


def test_override_pushing_a_route_function_over_30_s_is_refused():
    settings = load(overrides({"create-order": {"timeoutSeconds": 31}}))
    with pytest.raises(SettingsError) as info:
        apply_overrides(REFERENCE, settings)
    assert str(info.value) == (
        "anycloud:functions: ServiceSpec: functions.create-order.timeout_s: 31 is too long for an HTTP route; allowed: at most 30"
    )


def test_overrides_apply_to_a_copy_of_the_spec():
    settings = load(overrides({"process-order": {"timeoutSeconds": 60, "memoryMb": 1024}, "create-order": {"warmInstances": 2}}))
    assert settings.function_overrides == {
        "process-order": {"timeout_s": 60, "memory_mb": 1024},
        "create-order": {"warm_instances": 2},
    }
    spec = apply_overrides(REFERENCE, settings)
    assert (spec.function("process-order").timeout_s, spec.function("process-order").memory_mb) == (60, 1024)
    assert spec.function("create-order").warm_instances == 2
    assert spec.function("get-order") == REFERENCE.function("get-order")
    assert REFERENCE.function("process-order").timeout_s == 30  # the declaration is untouched


# ------------------------------------------------------------------------ good values


def test_valid_settings_are_typed():
    settings = load(
        {
            **PROD,
            "anycloud:allowedOrigins": '["https://shop.example.com", "https://admin.example.com:8443"]',
            "anycloud:alertEmail": "oncall@example.com",
            "anycloud:logRetentionDays": "14",
            "anycloud:customerManagedKeys": "false",
            "anycloud:functions": '{"create-order": {"warmInstances": 2}}',
        }
    )
    assert settings.project == "anycloud" and settings.stack == "test"
    assert settings.cloud == "aws" and settings.environment == "prod" and settings.prod
    assert settings.allowed_origins == ("https://shop.example.com", "https://admin.example.com:8443")
    assert settings.alert_email == "oncall@example.com"
    assert settings.log_retention_days == 14
    assert settings.customer_managed_keys is False
    assert settings.api_auth == JwtAuth(issuer="https://auth.example.com/", audience=("orders-api",))
    assert settings.function_overrides == {"create-order": {"warm_instances": 2}}
    assert settings.secret_keys == ("paymentApiKey",)


@pytest.mark.parametrize("raw, value", [("true", True), ("TRUE", True), ("False", False), (" false ", False)])
def test_booleans_are_case_insensitive(raw, value):
    assert load({**DEV, "anycloud:customerManagedKeys": raw}).customer_managed_keys is value


def test_single_audience_string_and_single_origin_string_are_accepted():
    settings = load(
        {**DEV, "anycloud:apiAuth": json.dumps({"issuer": "https://a.example.com/", "audience": "orders-api"}), "anycloud:allowedOrigins": '"http://localhost:3000"'}
    )
    assert settings.api_auth.audience == ("orders-api",)
    assert settings.allowed_origins == ("http://localhost:3000",)


def test_unset_keys_take_the_defaults():
    settings = load(DEV)
    assert (settings.environment, settings.log_retention_days, settings.customer_managed_keys) == ("dev", 30, True)
    assert settings.allowed_origins == () and settings.alert_email is None and settings.api_auth is None
    assert settings.function_overrides == {} and not settings.prod


def test_stack_config_wins_over_the_declaration():
    declared = JwtAuth(issuer="https://declared.example.com/", audience=("declared",))
    api = ApiSpec(routes=REFERENCE.api.routes, cors_origins=("https://declared.example.com",), auth=declared)
    bare = Settings(project="anycloud", stack="test", cloud="aws")
    assert effective_auth(api, bare) == declared
    assert effective_origins(api, bare) == ("https://declared.example.com",)
    configured = bare.model_copy(update={"api_auth": JwtAuth(**AUTH), "allowed_origins": ("https://shop.example.com",)})
    assert effective_auth(api, configured).issuer == "https://auth.example.com/"
    assert effective_origins(api, configured) == ("https://shop.example.com",)


# ------------------------------------------------------------------ Pulumi.yaml declares it


@pytest.fixture(scope="module")
def declared() -> dict[str, Any]:
    return yaml.safe_load(PROJECT.read_text())["config"]


def test_pulumi_yaml_defaults_equal_the_settings_defaults(declared):
    fields = Settings.model_fields
    # no declared default: a stack's environment is explicit or the code's dev (config_keys.py says why)
    assert "default" not in declared["anycloud:environment"] and fields["environment"].default == "dev"
    assert declared["anycloud:logRetentionDays"]["default"] == fields["log_retention_days"].default == 30
    assert declared["anycloud:customerManagedKeys"]["default"] is fields["customer_managed_keys"].default is True
    assert "default" not in declared["anycloud:cloud"]  # required: no silent default cloud
    # and what load_settings returns when the keys are unset is the same
    settings = load(DEV)
    assert (settings.environment, settings.log_retention_days, settings.customer_managed_keys) == (
        "dev",
        declared["anycloud:logRetentionDays"]["default"],
        declared["anycloud:customerManagedKeys"]["default"],
    )


#: The keys settings.py really reads, found in its source (every read names `cfg` and the key).
READ_KEYS = sorted({a or b for a, b in re.findall(r'cfg, "(\w+)"|cfg\.get\("(\w+)"\)',
                                                  (Path(__file__).parents[1] / "components" / "settings.py").read_text())})


def test_the_keys_settings_reads_are_its_declared_keys():
    """config_keys.py refuses any anycloud key not in KEYS: a key read but not listed would be refused."""
    assert set(READ_KEYS) == set(KEYS)


@pytest.mark.parametrize("key", READ_KEYS)
def test_every_key_settings_reads_is_declared_with_a_description(declared, key):
    declaration = declared.get(f"{NAMESPACE}:{key}")
    assert isinstance(declaration, dict), f"{NAMESPACE}:{key} is not declared in Pulumi.yaml"
    assert len(declaration.get("description", "").strip()) > 10


@pytest.mark.parametrize(
    "key, typ", [("cloud", "string"), ("environment", "string"), ("allowedOrigins", "array"), ("logRetentionDays", "integer"), ("customerManagedKeys", "boolean")]
)
def test_declared_types(declared, key, typ):
    assert declared[f"{NAMESPACE}:{key}"]["type"] == typ


def test_nothing_stale_is_declared(declared):
    """Every anycloud key Pulumi.yaml declares is read by settings.py or is a service's secret
    (declared secret, described); which secrets the example needs is tests/example's to check."""
    others = {k: v for k, v in declared.items() if k.startswith(f"{NAMESPACE}:") and k.split(":", 1)[1] not in READ_KEYS}
    for key, declaration in others.items():
        assert declaration.get("secret") is True, f"{key} is declared but settings.py does not read it"
        assert len(declaration.get("description", "").strip()) > 10, key


# ---------------------------------------------------------- bad config: nothing registered


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({**DEV, "anycloud:cloud": "aws2"}, id="unknown-cloud"),
        pytest.param({**PROD, "anycloud:allowedOrigins": '["*"]'}, id="star-origin-in-prod"),
        pytest.param({**DEV, "anycloud:logRetentionDays": "-1"}, id="negative-retention"),
        pytest.param(overrides({"create-order": {"memoryMb": 99999}}), id="override-out-of-range"),
    ],
)
def test_bad_config_registers_no_resource(config, prefix="anycloud:"):
    assert str(refused_before_registering(config, SettingsError)).startswith(prefix)


def test_a_gcp_stack_without_gcp_region_registers_no_resource():
    """The provider's own setting is checked before anything is registered, like anycloud:* keys."""
    test_bad_config_registers_no_resource({**DEV, "anycloud:cloud": "gcp"}, prefix="gcp:region: not set; allowed: ")


def test_an_azure_stack_without_its_location_registers_no_resource():
    test_bad_config_registers_no_resource({**DEV, "anycloud:cloud": "azure"},
                                          prefix="azure-native:location: not set; allowed: ")


def test_an_azure_api_without_a_publisher_email_registers_no_resource():
    """API Management needs a publisher e-mail; the stack's alertEmail is it."""
    config = {**DEV, "anycloud:cloud": "azure", "azure-native:location": "westeurope"}
    test_bad_config_registers_no_resource(config, prefix="anycloud:alertEmail: not set; Azure API Management")


def test_good_config_does_register_resources():
    """The control for the test above: the same harness records what the program registers."""
    monitor = configure(DEV, [SECRET_KEY], "anycloud", "test")

    @pulumi.runtime.test
    def body():
        program()()

    body()
    types = {r.type for r in monitor.recorded}
    assert {"anycloud:index:Service", "aws:kms/key:Key", "aws:lambda/function:Function"} <= types
