"""The settings catalogue (policy/settings/): derived from the installed provider SDKs, read by the
policies that own each promise, and read the way a stack spells things."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from policy import POLICIES
from policy.settings import derive, keys, local_auth, places, recovery, tls
from policy.settings import meets, same
from tests.support.derivations import derived_once

BY_NAME = {p.name: p for p in POLICIES}


SETTINGS = Path(derive.__file__).resolve().parent


def test_the_committed_catalogue_is_what_the_installed_sdks_give(pytestconfig):
    with derived_once(pytestconfig, "settings", SETTINGS.glob("*.py")):
        # derive() also fails when a listed type or property is not in the installed SDK
        for name, data in derive.derive().items():
            module = importlib.import_module(f"policy.settings.{name}")
            for key, value in data.items():
                assert getattr(module, key) == value, f"policy/settings/{name}.py {key} is stale: run python -m policy.settings.derive"


def test_a_listed_place_missing_from_the_sdk_fails_the_derivation():
    cat = derive.Catalogue.__new__(derive.Catalogue)
    cat.paths = {"aws:rds/cluster:Cluster": {"kmsKeyId": ""}}
    with pytest.raises(SystemExit, match="no input storageEncrypted"):
        cat.require("aws:rds/cluster:Cluster", "storageEncrypted")
    with pytest.raises(SystemExit, match="not a type"):
        cat.require("aws:rds/clusterr:Clusterr")


def test_each_promise_is_read_by_the_policy_that_owns_it():
    for token, (owner, *_) in keys.CMK.items():
        assert token in BY_NAME[owner].resource_types, (owner, token)
    rotation = set(BY_NAME["key-rotation"].resource_types)
    assert {*keys.KEY_PATHS, *keys.VERSION_PATHS, *keys.UNROTATABLE, *local_auth.SETTING_PLACES} <= rotation
    assert {*local_auth.SWITCHES, *local_auth.SETTING_PLACES} <= set(BY_NAME["azure-local-auth-disabled"].resource_types)
    floors = set(BY_NAME["tls12-minimum"].resource_types)
    for token in {*tls.VERSIONS, *tls.SWITCHES, *tls.PARAMETERS}:
        owner = tls.OWNERS.get(token, "tls12-minimum")
        assert token in (floors if owner == "tls12-minimum" else BY_NAME[owner].resource_types), token
    assert set(recovery.TABLES) <= set(BY_NAME["prod-tables-recoverable"].resource_types)


def test_the_catalogue_finds_the_places_beside_the_ones_the_renderer_uses():
    assert keys.CMK["aws:dynamodb/tableReplica:TableReplica"][:2] == ("tables-encrypted", ("kmsKeyArn",))
    assert keys.CMK["aws:ssm/parameter:Parameter"][3] == ("type", ("SecureString",))
    assert keys.CMK["gcp:spanner/database:Database"][1] == ("encryptionConfig.kmsKeyName", "encryptionConfig.kmsKeyNames[]")
    assert "gcp:bigquery/table:Table" not in keys.CMK  # a table uses its dataset's default key
    assert keys.FOLLOW_LATEST["azure-native:compute:DiskEncryptionSet"] == ("rotationToLatestKeyVersionEnabled",)
    assert ("features.disableLocalAuth", True, False) in local_auth.SWITCHES["azure-native:operationalinsights:Workspace"]
    assert ("administrators.azureADOnlyAuthentication", True, True) in local_auth.SWITCHES["azure-native:sql:Server"]
    assert tls.VERSIONS["azure-native:iothub:IotHubResource"] == (("properties.minTlsVersion", False),)
    assert "gcp:compute/sSLPolicy:SSLPolicy" not in tls.VERSIONS  # endpoints-tls12's
    table = dict((e[0][0], e[1:]) for e in recovery.TABLES["aws:dynamodb/table:Table"])
    assert table["replicas[].pointInTimeRecovery"] == (True, False, "")
    # a provider-side guard is not deletion protection; the API's own flags are
    assert [e[0] for e in recovery.TABLES["gcp:spanner/database:Database"]] == [("enableDropProtection",)]
    assert dict((e[0][0], e[2]) for e in recovery.TABLES["aws:qldb/ledger:Ledger"]) == {"deletionProtection": True}


def test_places_spell_lists_maps_and_what_is_missing():
    props = {"replicas": [{"regionName": "eu-west-1", "kmsKeyArn": "k"}, {"regionName": "us-east-1"}],
             "parameters": [{"name": "tls_version", "value": "TLSv1.2"}], "properties": {"A": "x"}}
    assert list(places(props, "replicas[].kmsKeyArn")) == [("replicas[0].kmsKeyArn", "k"), ("replicas[1].kmsKeyArn", None)]
    assert list(places(props, "parameters[].value")) == [("parameters[tls_version].value", "TLSv1.2")]
    assert list(places(props, "properties{}")) == [("properties.A", "x")]
    assert list(places({}, "encryption.keyVaultProperties[].keyVaultUri")) == [
        ("encryption.keyVaultProperties[].keyVaultUri", None)]
    assert list(places({}, "replicas[].pointInTimeRecovery", empty_lists=False)) == []


@pytest.mark.parametrize("value, required, expected", [
    (True, True, True), ("true", True, True), ("False", False, True), ("Disabled", "Disabled", True),
    ("disabled", "Disabled", True), (1, True, False), (7, ("min", 1), True), ("0", ("min", 1), False),
])
def test_requirements_accept_the_spellings_of_a_stack(value, required, expected):
    assert meets(value, required) is expected
    if not isinstance(required, tuple):
        assert same(value, required) is expected
