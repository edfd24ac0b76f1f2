"""Local (key) auth off and no shared keys: every switch the catalogue has, the places app settings
are written, and Cloud Storage HMAC keys (policy/local_auth.py)."""

from __future__ import annotations

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import local_auth
from policy.offline import evaluate

STACK = "urn:pulumi:prod::anycloud::pulumi:pulumi:Stack::anycloud-prod"


def resource(typ: str, name: str, inputs: dict) -> dict:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": {}, "parent": STACK, "protect": False, "dependencies": [], "propertyDependencies": {}}


def run(resources, policy: str = "azure-local-auth-disabled"):
    report = evaluate(resources, "prod", policies=local_auth.POLICIES)
    return [v.message for v in report.violations if v.policy == policy], report.notes


def test_local_auth_requires_the_explicit_value():
    cosmos = resource("azure-native:cosmosdb:DatabaseAccount", "c", {"accountName": "c"})
    (message,), _ = run([cosmos])
    assert "disableLocalAuth is not set" in message
    storage = resource("azure-native:storage:StorageAccount", "s", {"accountName": "s", "allowSharedKeyAccess": True})
    (message,), _ = run([storage])
    assert "allowSharedKeyAccess is true" in message and "required: allowSharedKeyAccess false" in message


def test_switches_in_nested_places_and_other_spellings():
    workspace = resource("azure-native:operationalinsights:Workspace", "w", {"features": {"disableLocalAuth": "False"}})
    (message,), _ = run([workspace])
    assert "features.disableLocalAuth is 'False'" in message
    accepted = [
        resource("azure-native:operationalinsights:Workspace", "w", {"features": {"disableLocalAuth": "true"}}),
        resource("azure-native:dbforpostgresql:Server", "pg", {"authConfig": {"passwordAuth": "disabled"}}),
        # unset is already off for these, and a sibling resource can turn SQL logins off for a server
        resource("azure-native:containerregistry:Registry", "acr", {}),
        resource("azure-native:sql:Server", "sql", {"minimalTlsVersion": "1.2"}),
    ]
    assert run(accepted) == ([], [])
    sibling = resource("azure-native:sql:ServerAzureADOnlyAuthentication", "aad", {"azureADOnlyAuthentication": False})
    (message,), _ = run([sibling])
    assert "azureADOnlyAuthentication is false" in message and "SQL logins" in message


def test_settings_resources_are_read_like_the_site_and_unknown_values_are_not_guessed():
    settings = resource("azure-native:web:WebAppApplicationSettingsSlot", "s", {"properties": {
        "Storage": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=",
        "Later": UNKNOWN_STRING_VALUE,
        "Storage__accountName": "a"}})
    (message,), notes = run([settings])
    assert "properties.Storage (AccountKey=...)" in message and "abc" not in message and notes == []
    env = resource("azure-native:app:ContainerApp", "app", {"template": {"containers": [{"env": [
        {"name": "BUS", "value": "Endpoint=sb://b/;SharedAccessKeyName=a;SharedAccessKey=k"}]}]}})
    (message,), _ = run([env])
    assert "template.containers[0].env[BUS].value (SharedAccessKey=...)" in message


def test_gcs_hmac_keys_are_shared_secrets_until_inactive():
    active = resource("gcp:storage/hmacKey:HmacKey", "k", {"serviceAccountEmail": "a@p.iam.gserviceaccount.com"})
    (message,), _ = run([active], "gcp-storage-no-hmac-keys")
    assert "state is not set (ACTIVE when unset)" in message
    inactive = resource("gcp:storage/hmacKey:HmacKey", "k", {"serviceAccountEmail": "a@p.iam.gserviceaccount.com",
                                                             "state": "INACTIVE"})
    assert run([inactive], "gcp-storage-no-hmac-keys") == ([], [])
