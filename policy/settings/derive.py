"""Derive the settings catalogue from the installed provider SDKs and write its modules.

    python -m policy.settings.derive          # rewrite keys.py, tls.py, local_auth.py, recovery.py
    python -m policy.settings.derive --check  # exit 1 when they differ from what the SDKs give

A promise is found by the name of the property that writes it, wherever it sits in a type's
inputs (`disableLocalAuth`, `properties.disableLocalAuth`, `features.disableLocalAuth`, ...), in
the types of the services the promise applies to (RULES below: name patterns, services, and the
few types or properties set aside, each with the reason). What no property name can say (the
places app settings are written, server parameters that carry a TLS floor, key types whose
material KMS cannot rotate) is listed here, and each entry is held to the SDK like the rest:
derivation fails when a listed type or property does not exist. tests/test_settings_catalogue.py
runs the derivation against the installed SDKs and compares it with the committed modules.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import pprint
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import sdk

HERE = Path(__file__).resolve().parent
CLOUDS = ("aws", "gcp", "azure-native")
#: Azure's inventory of resources in AWS accounts: its properties describe AWS, not Azure settings.
IGNORED_MODULES = ("azure-native:awsconnector:",)

# ------------------------------------------------------------------ customer-managed keys

#: Properties naming the customer-managed key that encrypts a resource's data, per cloud.
KEY_LEAVES = {
    "aws": r"kmsKeyId|kmsKeyArn|kmsMasterKeyId|kmsKeyIdentifier|kmsKey|kmsEncryptionKey|encryptionKeyArn|"
           r"encryptionAtRestKmsKeyArn|keyId",
    "gcp": r"kmsKeyName|kmsKeyNames|kmsKey|cryptoKeyName|encryptionKeyName|defaultKmsKeyName|kmsKeySelfLink|"
           r"encryptionKey|customerManagedKey|cmekKeyName",
    "azure-native": r"keyVaultKeyUri|keyVaultUri|keyIdentifier|keyUrl|keyUri|primaryKeyURI|primaryKeyUri|"
                    r"keyEncryptionKeyUrl",
}
#: Azure properties naming a key version outright (set: the consumer keeps that version).
VERSION_LEAVES = r"keyVersion|encryptionKeyVersion"
#: Switches that let a consumer of a versioned Azure key follow each new version.
FOLLOW_LATEST_LEAVES = r"rotationToLatestKeyVersionEnabled|autoRotationEnabled|enableAutoRotation"
#: AWS switches that turn encryption at rest on (unset means off for these services).
SWITCH_LEAVES = r"storageEncrypted|encrypted|atRestEncryptionEnabled"

#: The policy owning the customer-managed-key promise of each service (type-token prefixes).
CMK_OWNERS = {
    "tables-encrypted": "aws:dynamodb/ aws:rds/ aws:docdb/ aws:neptune/ aws:keyspaces/ aws:timestreamwrite/ "
                        "aws:memorydb/ aws:elasticache/ aws:redshift/ aws:redshiftserverless/ aws:dsql/ aws:qldb/ "
                        "gcp:firestore/ gcp:sql/ gcp:spanner/ gcp:bigtable/ gcp:alloydb/ gcp:bigquery/ gcp:redis/ "
                        "gcp:memorystore/ azure-native:cosmosdb: azure-native:dbforpostgresql: "
                        "azure-native:dbformysql: azure-native:redisenterprise: azure-native:kusto:",
    "queues-encrypted": "aws:sqs/ aws:sns/ aws:kinesis/ aws:msk/ aws:mq/ aws:cloudwatch/eventBus: "
                        "aws:cloudwatch/eventArchive: gcp:pubsub/ gcp:eventarc/ gcp:managedkafka/ "
                        "azure-native:servicebus: azure-native:eventhub:",
    "functions-encrypted": "aws:lambda/ aws:ecr/ gcp:cloudfunctions/ gcp:cloudfunctionsv2/ gcp:artifactregistry/ "
                           "gcp:cloudrunv2/ azure-native:containerregistry:",
    "secrets-encrypted": "aws:secretsmanager/ aws:ssm/parameter: gcp:secretmanager/ gcp:parametermanager/ "
                         "azure-native:appconfiguration:",
    "storage-encrypted": "aws:efs/ aws:ebs/ aws:fsx/ aws:backup/ gcp:storage/ gcp:filestore/ azure-native:storage:",
    "logs-encrypted": "aws:cloudwatch/logGroup: gcp:logging/ azure-native:operationalinsights:",
    "workflows-encrypted": "aws:sfn/ gcp:workflows/",
}
#: Types of those services that hold no data of their own, with why.
CMK_SET_ASIDE = {
    "aws:rds/clusterActivityStream:ClusterActivityStream": "an audit stream whose key the API requires anyway",
    "aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy": "a copy of a snapshot, keyed by its source",
    "aws:rds/snapshotCopy:SnapshotCopy": "a copy of a snapshot, keyed by its source",
    "aws:rds/exportTask:ExportTask": "a one-off export job",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": "the API requires its key",
    "aws:rds/customDbEngineVersion:CustomDbEngineVersion": "an engine image, not data",
    "aws:rds/integration:Integration": "a zero-ETL link; the data stays in its source and target",
    "aws:redshift/integration:Integration": "a zero-ETL link; the data stays in its source and target",
    "aws:redshift/snapshotCopyGrant:SnapshotCopyGrant": "a grant, not data",
    "aws:memorydb/snapshot:Snapshot": "a copy of a cluster, keyed by it",
    "aws:timestreamwrite/table:Table": "its key path is the rejected-records S3 location; the data uses the database's key",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "its key paths are the destinations' S3 keys",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "the key encrypts filter criteria only",
    "aws:lambda/capacityProvider:CapacityProvider": "compute capacity, not data",
    "aws:ebs/snapshotCopy:SnapshotCopy": "a copy of a snapshot, keyed by its source",
    "aws:ebs/snapshotImport:SnapshotImport": "an import job",
    "gcp:alloydb/backup:Backup": "a backup taken on request, keyed by its cluster",
    "gcp:bigquery/connection:Connection": "a connection's credentials, not data",
    "gcp:bigquery/dataTransferConfig:DataTransferConfig": "a transfer job; its tables use the dataset's key",
    "gcp:bigquery/job:Job": "a job; its destination tables use the dataset's key",
    "gcp:bigquery/table:Table": "a table without its own key uses its dataset's defaultEncryptionConfiguration",
    "gcp:spanner/backupSchedule:BackupSchedule": "backups use the database's encryption unless told otherwise",
    "gcp:storage/batchOperationsJob:BatchOperationsJob": "a job",
    "gcp:storage/transferJob:TransferJob": "a job",
    "gcp:storage/bucketObject:BucketObject": "an object without its own key uses its bucket's defaultKmsKeyName",
    "azure-native:kusto:ReadWriteDatabase": "a database uses its cluster's key unless told otherwise",
    "azure-native:containerregistry:ExportPipeline": "keyVaultUri names the SAS token's secret, not a key",
    "azure-native:containerregistry:ImportPipeline": "keyVaultUri names the SAS token's secret, not a key",
}
#: Types the key applies to only in some forms: (property, the values that make it apply).
CMK_WHEN = {
    "aws:ssm/parameter:Parameter": ("type", ("SecureString",)),
}
#: Key material KMS cannot rotate automatically (imported), and why.
UNROTATABLE = {
    "aws:kms/externalKey:ExternalKey": "its material is imported, and KMS rotates only the material it generates",
    "aws:kms/replicaExternalKey:ReplicaExternalKey": "it replicates imported material, which KMS does not rotate",
}
#: GCP key fields that report versions in use (outputs kept in the inputs' schema), not a choice.
PIN_SET_ASIDE = {
    ("gcp:firestore/database:Database", "cmekConfig.activeKeyVersions[]"),
}

# ------------------------------------------------------------------ local and shared-key auth (Azure)

#: Property name -> (value that turns key auth off, whether unset is already off).
LOCAL_AUTH_LEAVES = {
    "disableLocalAuth": (True, False),
    "allowSharedKeyAccess": (False, False),
    "disableAccessKeyAuthentication": (True, False),
    "passwordAuth": ("Disabled", False),
    "localAuth": ("Disabled", False),
    "azureADOnlyAuthentication": (True, False),
    "adminUserEnabled": (False, True),   # the registry's admin user is off unless turned on
    "hasSharedKey": (False, True),       # a storage local user gets no shared key unless asked
}
#: Where a sibling resource can write the same switch, unset on the parent is not judged
#: (sql.ServerAzureADOnlyAuthentication and its managed-instance form set it for the server).
LOCAL_AUTH_SIBLING_SET = {
    ("azure-native:sql:Server", "administrators.azureADOnlyAuthentication"),
    ("azure-native:sql:ManagedInstance", "administrators.azureADOnlyAuthentication"),
}
#: Where an app's settings and connection strings are written (key-based connection strings,
#: Key Vault references): the site and slot themselves, and the resources that replace them.
SETTING_PLACES = {
    "azure-native:web:WebApp": ("siteConfig.appSettings[].value", "siteConfig.connectionStrings[].connectionString"),
    "azure-native:web:WebAppSlot": ("siteConfig.appSettings[].value", "siteConfig.connectionStrings[].connectionString"),
    "azure-native:web:WebAppApplicationSettings": ("properties{}",),
    "azure-native:web:WebAppApplicationSettingsSlot": ("properties{}",),
    "azure-native:web:WebAppConnectionStrings": ("properties{}.value",),
    "azure-native:web:WebAppConnectionStringsSlot": ("properties{}.value",),
    "azure-native:app:ContainerApp": ("template.containers[].env[].value",),
    "azure-native:app:Job": ("template.containers[].env[].value",),
}

# ------------------------------------------------------------------ TLS minimums

#: Properties holding a minimum TLS version; `scmMinTlsVersion` falls back to the site's when unset.
TLS_VERSION_LEAVES = r"minimumTlsVersion|minimalTlsVersion|minTlsVersion|scmMinTlsVersion|minimumTlsVersionAllowed|" \
                     r"minSupportedTlsVersion"
TLS_UNSET_ALLOWED = ("scmMinTlsVersion",)
#: Switches for old protocol versions: name -> (value that turns them off, whether unset is off).
TLS_SWITCH_LEAVES = {"tlsV1": ("Disabled", False), "tls10Enabled": (False, True), "tls11Enabled": (False, True)}
#: Policies that already judge a type's TLS floor with more around it (HTTPS only, FTP, ...).
TLS_OWNERS = {
    "azure-native:storage:StorageAccount": "azure-storage-https-tls12",
    "azure-native:cosmosdb:DatabaseAccount": "azure-cosmosdb-tls12",
    "azure-native:servicebus:Namespace": "azure-servicebus-tls12",
    "azure-native:web:WebApp": "azure-app-service-https-tls12-no-ftp",
    "azure-native:web:WebAppSlot": "azure-app-service-https-tls12-no-ftp",
}
#: Gateways' and domains' TLS policies are the transport policies' (endpoints-tls12, issue 20 mechanism 5).
TLS_SET_ASIDE = {
    "azure-native:cdn:AFDCustomDomain": "a custom domain's TLS policy: endpoints-tls12",
    "azure-native:apimanagement:GatewayHostnameConfiguration": "an API gateway's hostname TLS policy: endpoints-tls12",
    "gcp:compute/sSLPolicy:SSLPolicy": "a load balancer's SSL policy: endpoints-tls12",
    "gcp:compute/regionSslPolicy:RegionSslPolicy": "a load balancer's SSL policy: endpoints-tls12",
    "gcp:networksecurity/tlsInspectionPolicy:TlsInspectionPolicy": "the floor a TLS-inspecting proxy asks of "
                                                                   "upstream servers, not one a service offers",
}
#: Server parameters that set a database's TLS floor: type -> (list of parameters or "" for the
#: resource itself, name property, value property, {parameter: rule}). Rules: "version" (one
#: minimum), "versions" (a comma list, each accepted), or the values allowed.
TLS_PARAMETERS = {
    "azure-native:dbforpostgresql:Configuration": ("", "configurationName", "value",
                                                   {"ssl_min_protocol_version": "version"}),
    "azure-native:dbformysql:Configuration": ("", "configurationName", "value", {"tls_version": "versions"}),
    "aws:rds/parameterGroup:ParameterGroup": ("parameters[]", "name", "value",
                                              {"ssl_min_protocol_version": "version", "tls_version": "versions"}),
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": ("parameters[]", "name", "value",
                                                            {"ssl_min_protocol_version": "version",
                                                             "tls_version": "versions"}),
    # DocumentDB: `tls` enabled accepts TLS 1.0-1.3; tls1.2+, tls1.3+ and fips-140-3 do not.
    "aws:docdb/clusterParameterGroup:ClusterParameterGroup": ("parameters[]", "name", "value",
                                                              {"tls": ("tls1.2+", "tls1.3+", "fips-140-3")}),
}

# ------------------------------------------------------------------ backups, deletion protection, PITR (prod)

#: Services holding tables and databases: those of the tables-encrypted promise.
RECOVERY_PREFIXES = CMK_OWNERS["tables-encrypted"]
#: Property name -> (required: True, a value, or ("min", n)). Values are the API's own switches;
#: GCP's `deletionProtection` booleans that only stop the provider from deleting are not read
#: (their documentation says "Terraform" or "Pulumi"), the API flags beside them are.
RECOVERY_LEAVES = {
    "deletionProtection": True,
    "deletionProtectionEnabled": True,
    "enableDropProtection": True,
    "pointInTimeRecovery": True,
    "pointInTimeRecoveryEnabled": True,
    "backupRetentionPeriod": ("min", 1),
    "backupRetentionDays": ("min", 7),
}
#: Nested spellings: the switch inside an object named by a leaf above.
RECOVERY_NESTED = {"pointInTimeRecovery": {"enabled": True, "status": "ENABLED"}}
#: Whether unset is already protected, when the SDK's documentation says the default is on.
_DEFAULT_ON = re.compile(r"(default(?:s)?(?: value)? (?:is|to) `?(true|PROTECTED)`?|by default it is `?true`?)", re.I)
_PROVIDER_GUARD = re.compile(r"\b(terraform|pulumi|the provider)\b|in state\b", re.I)
#: Requirements that the properties' names cannot carry (they replace a derived one on the same property).
RECOVERY_EXTRA = {
    "gcp:bigtable/table:Table": (("deletionProtection",), "PROTECTED", False, ""),
    "gcp:sql/databaseInstance:DatabaseInstance": (("settings.backupConfiguration.enabled",), True, False,
                                                  "masterInstanceName"),
}
#: Alternatives: MySQL keeps its point-in-time log as binary logs.
RECOVERY_ALTERNATIVES = {
    ("gcp:sql/databaseInstance:DatabaseInstance", "settings.backupConfiguration.pointInTimeRecoveryEnabled"):
        ("settings.backupConfiguration.binaryLogEnabled",),
}
#: A requirement that does not apply to a replica (Cloud SQL replicas and RDS read replicas
#: take no backups of their own): type -> the property that makes it a replica.
REPLICA_MARK = {"gcp:sql/databaseInstance:DatabaseInstance": "masterInstanceName",
                "aws:rds/instance:Instance": "replicateSourceDb"}
REPLICA_EXEMPT = r"backup|pointInTimeRecovery|binaryLog"
RECOVERY_SET_ASIDE = {
    "aws:rds/clusterInstance:ClusterInstance": "an Aurora instance is protected and backed up by its cluster",
    "gcp:bigtable/logicalView:LogicalView": "a view over a table, holding no data of its own",
    "gcp:bigtable/materializedView:MaterializedView": "a view over a table, recomputed from it",
}


# ------------------------------------------------------------------ derivation


def leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1].rstrip("[]{}")


def _matches(pattern: str, path: str) -> bool:
    return re.fullmatch(pattern, leaf(path)) is not None


def _cloud(token: str) -> str:
    return token.split(":", 1)[0]


def _prefixed(token: str, prefixes: str) -> bool:
    return any(token.startswith(p) for p in prefixes.split())


class Catalogue:
    """Every (type, path) of the installed SDKs, with their documentation."""

    def __init__(self) -> None:
        self.paths = {t: p for cloud in CLOUDS for t, p in sdk.all_paths(cloud).items()
                      if not t.startswith(IGNORED_MODULES)}

    def require(self, token: str, *paths: str) -> None:
        if token not in self.paths:
            raise SystemExit(f"derive: {token} is not a type of the installed SDK")
        for path in paths:
            if path and path not in self.paths[token]:
                raise SystemExit(f"derive: {token} has no input {path}")

    def find(self, pattern: str, tokens: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
        out = {}
        for token in tokens if tokens is not None else self.paths:
            found = tuple(p for p in self.paths[token] if _matches(pattern, p))
            if found:
                out[token] = found
        return out


def derive_keys(cat: Catalogue) -> dict[str, Any]:
    cmk: dict[str, Any] = {}
    for policy, prefixes in CMK_OWNERS.items():
        for token in sorted(t for t in cat.paths if _prefixed(t, prefixes) and t not in CMK_SET_ASIDE):
            found = cat.find(KEY_LEAVES[_cloud(token)], [token]).get(token)
            if not found:
                continue
            depth = min(p.count(".") for p in found)
            required = tuple(p for p in found if p.count(".") == depth)
            checked = tuple(p for p in found if p not in required)
            when = CMK_WHEN.get(token)
            if when:
                cat.require(token, when[0])
            cmk[token] = (policy, required, checked, when)
    switches = {t: tuple(p for p in paths if "." not in p)
                for t, paths in cat.find(SWITCH_LEAVES, [t for t in cmk if t.startswith("aws:")]).items()}
    keyed = {t: p for cloud in ("gcp", "azure-native")
             for t, p in cat.find(KEY_LEAVES[cloud], [t for t in cat.paths if t.startswith(cloud + ":")]).items()}
    pins = {t: tuple(p for p in paths if (t, p) not in PIN_SET_ASIDE) for t, paths in keyed.items()}
    versions = cat.find(VERSION_LEAVES, [t for t in cat.paths if t.startswith("azure-native:")])
    latest = cat.find(FOLLOW_LATEST_LEAVES, [t for t in cat.paths if t.startswith("azure-native:")])
    for token in UNROTATABLE:
        cat.require(token)
    return {
        "CMK": cmk,
        "SWITCHES": {t: p for t, p in switches.items() if p},
        "KEY_PATHS": {t: p for t, p in pins.items() if p},
        "VERSION_PATHS": versions,
        "FOLLOW_LATEST": latest,
        "UNROTATABLE": dict(UNROTATABLE),
    }


def derive_local_auth(cat: Catalogue) -> dict[str, Any]:
    azure = [t for t in cat.paths if t.startswith("azure-native:")]
    switches: dict[str, list[tuple[str, Any, bool]]] = {}
    for token, paths in cat.find("|".join(LOCAL_AUTH_LEAVES), azure).items():
        for path in paths:
            required, unset_ok = LOCAL_AUTH_LEAVES[leaf(path)]
            switches.setdefault(token, []).append((path, required, unset_ok or (token, path) in LOCAL_AUTH_SIBLING_SET))
    for token, path in LOCAL_AUTH_SIBLING_SET:
        cat.require(token, path)
    for token, places in SETTING_PLACES.items():
        cat.require(token, *places)
    return {"SWITCHES": {t: tuple(v) for t, v in sorted(switches.items())}, "SETTING_PLACES": dict(SETTING_PLACES)}


def derive_tls(cat: Catalogue) -> dict[str, Any]:
    tokens = [t for t in cat.paths if t not in TLS_SET_ASIDE]
    versions = {t: tuple((p, leaf(p) in TLS_UNSET_ALLOWED) for p in paths)
                for t, paths in cat.find(TLS_VERSION_LEAVES, tokens).items()}
    switches = {t: tuple((p, *TLS_SWITCH_LEAVES[leaf(p)]) for p in paths)
                for t, paths in cat.find("|".join(TLS_SWITCH_LEAVES), tokens).items()}
    for token, (items, name, value, _) in TLS_PARAMETERS.items():
        at = f"{items}." if items else ""
        cat.require(token, items, at + name, at + value)
    for token in TLS_OWNERS:
        cat.require(token)
    return {"VERSIONS": versions, "SWITCHES": switches, "PARAMETERS": dict(TLS_PARAMETERS),
            "OWNERS": dict(TLS_OWNERS)}


def derive_recovery(cat: Catalogue) -> dict[str, Any]:
    tables: dict[str, list[tuple[tuple[str, ...], Any, bool, str]]] = {}
    tokens = [t for t in cat.paths if _prefixed(t, RECOVERY_PREFIXES) and t not in RECOVERY_SET_ASIDE]
    for token, paths in cat.find("|".join(RECOVERY_LEAVES), tokens).items():
        docs = cat.paths[token]
        for path in paths:
            doc = docs[path]
            if _cloud(token) == "gcp" and leaf(path) == "deletionProtection" and _PROVIDER_GUARD.search(doc):
                continue
            nested = RECOVERY_NESTED.get(leaf(path), {})
            inner = [f"{path}.{k}" for k in nested if f"{path}.{k}" in docs]
            target, required = (inner[0], nested[leaf(inner[0])]) if inner else (path, RECOVERY_LEAVES[leaf(path)])
            if not inner and any(p.startswith(path + ".") for p in docs):
                continue  # an object without a switch we know
            unset_ok = bool(_DEFAULT_ON.search(doc)) or (
                isinstance(required, tuple) and "default is `0`" not in doc.lower())
            alternatives = RECOVERY_ALTERNATIVES.get((token, target), ())
            unless = REPLICA_MARK.get(token, "") if re.search(REPLICA_EXEMPT, target) else ""
            cat.require(token, target, *alternatives, unless)
            tables.setdefault(token, []).append(((target, *alternatives), required, unset_ok, unless))
    for token, entry in RECOVERY_EXTRA.items():
        cat.require(token, *entry[0], entry[3])
        kept = [e for e in tables.get(token, []) if e[0][0] != entry[0][0]]
        tables[token] = [*kept, entry]
    return {"TABLES": {t: tuple(v) for t, v in sorted(tables.items())}}


#: What each generated name holds (written above it in the module).
DOCS = {
    "CMK": "type -> (owning policy, paths one of which must name a customer-managed key, paths checked when set, "
           "condition (property, values) or None)",
    "SWITCHES": "type -> switches that must be on",
    "KEY_PATHS": "type -> paths naming a key: a version in them (GCP .../cryptoKeyVersions/N, Azure .../keys/K/<version>) "
                 "pins it",
    "VERSION_PATHS": "type -> paths naming a key version outright: set, the resource keeps that version",
    "FOLLOW_LATEST": "type -> switches with which a versioned key still follows each new version",
    "UNROTATABLE": "key types whose material KMS cannot rotate -> why",
    "SETTING_PLACES": "type -> where an app's settings and connection strings are written",
    "VERSIONS": "type -> (path of a minimum TLS version, whether unset is allowed)",
    "PARAMETERS": "type -> (parameter list path or '' for the resource, name path, value path, {parameter: rule})",
    "OWNERS": "type -> the policy that judges its TLS floor with the rest of its transport settings",
    "TABLES": "type -> ((paths one of which must meet it, requirement, whether unset is allowed, replica mark), ...)",
}
DOCS_BY_MODULE = {"local_auth": {"SWITCHES": "type -> ((path, value that turns key auth off, whether unset is off), ...)"},
                  "tls": {"SWITCHES": "type -> ((path, value that turns an old protocol off, whether unset is off), ...)"}}

MODULES = {
    "keys": (derive_keys, "Where a customer-managed key reaches a resource, and where a key version is pinned."),
    "local_auth": (derive_local_auth, "Where Azure local (key) auth is switched, and where apps keep connection strings."),
    "tls": (derive_tls, "Where a data store's or app service's TLS floor is written: versions, old-protocol switches, server parameters."),
    "recovery": (derive_recovery, "Where backups, point-in-time recovery and deletion protection are switched (prod)."),
}


def derive() -> dict[str, dict[str, Any]]:
    cat = Catalogue()
    return {name: build(cat) for name, (build, _) in MODULES.items()}


def render(name: str, data: dict[str, Any]) -> str:
    versions = ", ".join(f"{sdk.PACKAGES[c][1]} {sdk.version(c)}" for c in CLOUDS)
    lines = [f'"""{MODULES[name][1]}', "",
             f"Generated by `python -m policy.settings.derive` from {versions}",
             f"on {datetime.date.today().isoformat()}; do not edit: change the rules in derive.py and run it again.",
             '"""', "", f"SDK = {versions!r}", ""]
    for key, value in data.items():
        lines.append(f"#: {DOCS_BY_MODULE.get(name, {}).get(key, DOCS[key])}")
        lines.append(f"{key} = {pprint.pformat(value, width=118, sort_dicts=True)}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed modules instead of writing")
    args = parser.parse_args(argv)
    derived = derive()
    stale = []
    for name, data in derived.items():
        if args.check:
            module = importlib.import_module(f"policy.settings.{name}")
            if any(getattr(module, k, None) != v for k, v in data.items()):
                stale.append(name)
        else:
            (HERE / f"{name}.py").write_text(render(name, data))
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m policy.settings.derive", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
