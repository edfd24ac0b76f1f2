"""Issue 20's promises (policy/audit_logging.py, secret_recovery.py, secrets_plaintext.py, secret_scan.py):
the type families and the properties they read held to the installed provider SDKs, detect-secrets'
verdicts on the values a stack carries, and the detector loaded only when a value is judged."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from policy import audit_logging, secret_recovery, secrets_plaintext
from policy.offline import evaluate
from policy.secret_scan import secret_kind

SDKS = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}


@cache
def sdk_classes() -> dict[str, tuple[str, str]]:
    """token -> (module, class) for every resource type the three SDKs register (`resource_modules`)."""
    out = {}
    for package in SDKS.values():
        text = (Path(importlib.import_module(package).__file__).parent / "__init__.py").read_text()
        for module in json.loads(re.search(r'resource_modules\s*=\s*"""(.*?)"""', text, re.S).group(1)):
            out.update({token: (module["fqn"], cls) for token, cls in module["classes"].items()})
    return out


def inputs_of(token: str) -> set[str]:
    """The engine-level input names of a type (the camelCase of its Python args)."""
    module, cls = sdk_classes()[token]
    params = inspect.signature(getattr(importlib.import_module(module), cls)._internal_init).parameters
    return {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), p) for p in params}


def family(pattern: str) -> set[str]:
    return {t for t in sdk_classes() if re.fullmatch(pattern, t)}


def test_the_type_families_are_every_such_type_of_the_sdks():
    assert set(audit_logging.GCP_AUDIT_CONFIGS) == family(r"gcp:\w+/\w+:(?i:iamauditconfig)")
    assert set(audit_logging.GCP_AUDITED_IAM_POLICIES) == family(r"gcp:(projects|folder|organizations)/iAMPolicy:IAMPolicy")
    assert set(audit_logging.GCP_EXCLUSIONS) == family(r"gcp:logging/\w+:\w+Exclusion")
    assert set(audit_logging.GCP_LOG_BUCKETS) == family(r"gcp:logging/\w+:\w+BucketConfig")
    assert set(audit_logging.GCP_LOGGING_SETTINGS) == {t for t in family(r"gcp:logging/\w+:\w+Settings")
                                                       if "disableDefaultSink" in inputs_of(t)}
    assert set(audit_logging.AZURE_DIAGNOSTIC_SETTINGS) == family(r"azure-native:\w+:\w*DiagnosticSetting")
    assert set(audit_logging.AZURE_AUDITING_POLICIES) == family(r"azure-native:\w+:\w*AuditingPolicy")
    assert set(audit_logging.APIM_DIAGNOSTICS) == family(r"azure-native:apimanagement:\w*Diagnostic")


def _first(path: str) -> str:
    return path.split(".")[0].removesuffix("[]")


def test_every_property_read_is_an_input_of_its_type():
    reads = {t: {_first(s.at or s.key) for s in switches} for t, switches in audit_logging.SWITCHES.items()}
    for token, keys in audit_logging.RETENTION.items():
        reads.setdefault(token, set()).update(key for key, _ in keys)
    for token, locations in secrets_plaintext.LOCATIONS.items():
        reads.setdefault(token, set()).update(_first(getattr(loc, "path", None) or loc.value_path) for loc in locations)
    reads.update({t: set() for t in [*audit_logging.READERS, *secret_recovery.CHECKS]})
    for token, keys in reads.items():
        assert token in sdk_classes(), token
        assert keys <= inputs_of(token), (token, keys - inputs_of(token))


@pytest.mark.parametrize("name, value, kind", [
    ("STRIPE_KEY", "sk_live_EXAMPLEexampleEXAMPLE0000", "Stripe Access Key"),
    ("LEGACY_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
    ("DATABASE_URL", "postgres://orders:hunter2hunter2@db.internal:5432/orders", "Basic Auth Credentials"),
    ("DB_PASSWORD", "Sup3r-S3cret!", "Secret Keyword"),
    ("Orders", "Server=tcp:x.database.windows.net;User ID=orders;Password=Sup3r-S3cret!;", "Secret Keyword"),
    ("BUS", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=send;"
            "SharedAccessKey=RkFLRS1zaGFyZWQtYWNjZXNzLWtleS1ub3QtcmVhbA==", "Base64 High Entropy String"),
    ("DOWNSTREAM", "https://x.azurewebsites.net/api/y?code=RkFLRS1mdW5jdGlvbi1rZXktZm9yLWFueWNsb3VkLXRlc3RzLW5vdC1yZWFs",
     "Base64 High Entropy String"),
    ("APP_CONFIG", '{"payments": {"apiKey": "Zm9vYmFyLWZha2UtYXBpLWtleS0wMTIzNDU2Nzg5"}}', "Secret Keyword"),
    # references, switches, numbers, ids and locators are configuration
    ("DB_PASSWORD", "@Microsoft.KeyVault(VaultName=orders-kv;SecretName=db-password)", None),
    ("ANYCLOUD_SECRET_PAYMENT_API_KEY", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/key-AbCdEf", None),
    ("API_KEY_SECRET", "projects/orders-4711/secrets/api-key/versions/latest", None),
    ("JWT_SECRET_PARAM", "/orders/prod/jwt-secret", None),
    ("API_KEY_SECRET_NAME", "orders/payment-api-key", None),
    ("SECRET_ID", "api-key", None),
    ("PASSWORD_MIN_LENGTH", "12", None),
    ("ENABLE_SECRET_ROTATION", "true", None),
    ("GIT_SHA", "9fceb02d0ae598e95dc970b74767f19372d61af8", None),
    ("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=810ffe73-a5d6-7017-f67b-cbd2dd0a8fe6;"
                                              "IngestionEndpoint=https://westeurope-1.in.applicationinsights.azure.com/", None),
    ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ClientId=e14ba124-99ca-8e37-52c0-656c19b75fb8;Authorization=AAD", None),
    ("COSMOS", "AccountEndpoint=https://orders.documents.azure.com:443/;", None),
    ("ANYCLOUD_KEYS_ORDERS", '{"key": ["order_id"], "indexes": {"by-customer": ["customer_id"]}, "ttl": "expires_at"}', None),
])
def test_secret_verdicts(name, value, kind):
    assert secret_kind(name, value) == kind


def _function(variables: dict) -> list[dict]:
    inputs = {"role": "arn:aws:iam::123456789012:role/fn", "environment": {"variables": variables}}
    return [{"urn": "urn:pulumi:prod::p::aws:lambda/function:Function::fn", "type": "aws:lambda/function:Function",
             "custom": True, "inputs": inputs, "outputs": inputs}]


def test_a_message_names_the_setting_and_never_the_secret():
    [violation] = [v for v in evaluate(_function({"STRIPE_KEY": "sk_live_EXAMPLEexampleEXAMPLE0000"})).violations
                   if v.policy == "no-plaintext-secrets-in-config"]
    assert "environment.variables.STRIPE_KEY holds a Stripe Access Key" in violation.message
    assert "sk_live" not in violation.message and "Fix: " in violation.message


def test_an_unknown_value_is_noted_and_the_known_ones_still_judged():
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string during preview
    report = evaluate(_function({"QUEUE_URL": unknown, "DB_PASSWORD": "Sup3r-S3cret!"}))
    assert [v.policy for v in report.violations if "DB_PASSWORD" in v.message] == ["no-plaintext-secrets-in-config"]
    assert any(n.startswith("no-plaintext-secrets-in-config: can't run") for n in report.notes)


def test_the_pack_imports_the_detector_only_to_judge_a_value():
    code = ("import sys, policy; assert 'detect_secrets' not in sys.modules; "
            "from policy.secret_scan import secret_kind; secret_kind('A', 'b'); assert 'detect_secrets' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
