"""Encryption at rest on AWS, GCP and Azure: customer-managed keys, rotation, recoverable vaults.

With `requireCustomerManagedKeys` (the default) every data store, queue, workflow, function
environment, log group and secret names a customer-managed key; an AWS-managed alias such as
`alias/aws/sqs` is the provider's key, not the customer's. With it off, provider encryption must
still be switched on explicitly wherever the resource has a switch (DynamoDB, SQS, SNS, Step
Functions, S3, Azure Storage); where the cloud always encrypts with its own key and has no
switch (Lambda environment, CloudWatch Logs, Secrets Manager, every GCP resource, Cosmos DB,
Service Bus), there is then nothing to check.

Unknown values (a key created in the same preview) are read like any other value: the
`UnknownValueError` reaches the engine or the offline harness, which report the policy as not
run for that resource.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from .common import (
    CMK_PROPERTY,
    ResourceCheck,
    COSMOS_ACCOUNT,
    DYNAMODB_TABLE,
    FIRESTORE_DATABASE,
    GCP_FUNCTION_V1,
    GCP_FUNCTION_V2,
    GCP_WORKFLOW,
    GCS_BUCKET,
    KMS_KEY,
    LAMBDA_FUNCTION,
    LOG_GROUP,
    S3_BUCKETS,
    SERVICEBUS_NAMESPACE,
    SNS_TOPIC,
    SQS_QUEUE,
    STATE_MACHINE,
    STORAGE_ACCOUNT,
    as_list,
    config,
    get,
    named,
    require_cmk,
    resource_policy,
    resources_of,
    shown,
    stack_policy,
)
from .settings import applies, label, places, set_values
from .settings import keys as catalogue
from .settings import local_auth

# ------------------------------------------------------------------ type tokens

AWS_SECRET = "aws:secretsmanager/secret:Secret"
DYNAMODB_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
GCP_IMAGE_REPOSITORY = "gcp:artifactregistry/repository:Repository"
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)

PUBSUB_TOPIC = "gcp:pubsub/topic:Topic"
GCP_SECRET = "gcp:secretmanager/secret:Secret"
GCP_REGIONAL_SECRET = "gcp:secretmanager/regionalSecret:RegionalSecret"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"

KEY_VAULT = "azure-native:keyvault:Vault"
KEY_VAULT_KEY = "azure-native:keyvault:Key"

MAX_ROTATION_DAYS = "maxRotationDays"

# ------------------------------------------------------------------ helpers

_AWS_MANAGED_ALIAS = re.compile(r"(^|:)alias/aws/")
_GCP_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
_DAY = 86400
_AWS_KEY = "a key ARN arn:aws:kms:REGION:ACCOUNT:key/ID"
_GCP_KEY = "projects/P/locations/L/keyRings/R/cryptoKeys/K"


def _on(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _cmk_reason(example: str = "") -> str:
    return f"a customer-managed key{f' ({example})' if example else ''} is required (requireCustomerManagedKeys=true)"


def _aws_cmk_problem(value: Any, prop: str) -> str | None:
    """Why `value` is not a customer-managed KMS key, or None when it is one."""
    if value is None or value == "":
        return f"{prop} is not set; {_cmk_reason(_AWS_KEY)}"
    if isinstance(value, str) and _AWS_MANAGED_ALIAS.search(value):
        return f"{prop} is {value!r}, an AWS-managed key; {_cmk_reason(_AWS_KEY)}"
    return None


def _gcp_cmk(args: ResourceValidationArgs, report: ReportViolation, kind: str, prop: str) -> None:
    """GCP encrypts everything with Google-managed keys; a CMEK is only checked when required."""
    if require_cmk(args):
        value = get(args.props, prop)
        if not value:
            report(f"{named(args, kind)}: {prop} is {shown(value)}; {_cmk_reason(_GCP_KEY)}.")


def _key_vault_uri(properties: Any) -> bool:
    return bool(get(properties, "keyName")) and bool(get(properties, "keyVaultUri"))


# ------------------------------------------------------------------ tables


def _check_tables(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, cmk = args.props, require_cmk(args)
    if args.resource_type == DYNAMODB_TABLE:
        what = named(args, "DynamoDB table")
        enabled = get(props, "serverSideEncryption.enabled")
        if not _on(enabled):
            need = ("serverSideEncryption.enabled true with serverSideEncryption.kmsKeyArn a customer-managed key"
                    if cmk else "serverSideEncryption.enabled true (the AWS-managed key alias/aws/dynamodb at least)")
            report(f"{what}: serverSideEncryption.enabled is {shown(enabled)} (AWS-owned key, no KMS); {need} is required.")
        elif cmk and (problem := _aws_cmk_problem(get(props, "serverSideEncryption.kmsKeyArn"),
                                                  "serverSideEncryption.kmsKeyArn")):
            report(f"{what}: {problem}.")
        if cmk:
            # each replica is encrypted with a key in its own region: set on the replica, not the table
            for i, replica in enumerate(as_list(get(props, "replicas"))):
                if problem := _aws_cmk_problem(get(replica, "kmsKeyArn"), f"replicas[{i}].kmsKeyArn"):
                    report(f"{what}: replica in {shown(get(replica, 'regionName'))}: {problem}.")
    elif args.resource_type == DYNAMODB_REPLICA:
        if cmk and (problem := _aws_cmk_problem(get(props, "kmsKeyArn"), "kmsKeyArn")):
            report(f"{named(args, 'DynamoDB table replica')}: {problem}.")
    elif args.resource_type == FIRESTORE_DATABASE:
        _gcp_cmk(args, report, "Firestore database", "cmekConfig.kmsKeyName")
    elif args.resource_type == COSMOS_ACCOUNT and cmk:
        uri = get(props, "keyVaultKeyUri")
        if not uri:
            report(f"{named(args, 'Cosmos DB account')}: keyVaultKeyUri is {shown(uri)}; "
                   f"{_cmk_reason('a Key Vault key URI https://VAULT.vault.azure.net/keys/KEY')}.")


# ------------------------------------------------------------------ queues and topics


def _check_queues(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, cmk, typ = args.props, require_cmk(args), args.resource_type
    if typ == SQS_QUEUE:
        what, key = named(args, "SQS queue"), get(props, "kmsMasterKeyId")
        if cmk:
            if not key and _on(get(props, "sqsManagedSseEnabled")):
                report(f"{what}: kmsMasterKeyId is not set and sqsManagedSseEnabled is true, which encrypts with "
                       f"SQS-owned keys; {_cmk_reason(_AWS_KEY)}.")
            elif problem := _aws_cmk_problem(key, "kmsMasterKeyId"):
                report(f"{what}: {problem}.")
        elif not key and not _on(get(props, "sqsManagedSseEnabled")):
            report(f"{what}: kmsMasterKeyId is not set and sqsManagedSseEnabled is "
                   f"{shown(get(props, 'sqsManagedSseEnabled'))}; encryption at rest must be explicitly on: "
                   "a kmsMasterKeyId or sqsManagedSseEnabled true.")
    elif typ == SNS_TOPIC:
        what, key = named(args, "SNS topic"), get(props, "kmsMasterKeyId")
        if cmk:
            if problem := _aws_cmk_problem(key, "kmsMasterKeyId"):
                report(f"{what}: {problem}.")
        elif not key:
            report(f"{what}: kmsMasterKeyId is not set, so messages are stored unencrypted; "
                   "a KMS key (alias/aws/sns at least) is required.")
    elif typ == PUBSUB_TOPIC:
        _gcp_cmk(args, report, "Pub/Sub topic", "kmsKeyName")
    elif typ == SERVICEBUS_NAMESPACE and cmk:
        what = named(args, "Service Bus namespace")
        source = get(props, "encryption.keySource")
        vaults = as_list(get(props, "encryption.keyVaultProperties"))
        if not isinstance(source, str) or source.lower() != "microsoft.keyvault":
            report(f"{what}: encryption.keySource is {shown(source)}; {_cmk_reason()}: "
                   "encryption.keySource 'Microsoft.KeyVault' with encryption.keyVaultProperties.")
        elif not vaults or not all(_key_vault_uri(v) for v in vaults):
            report(f"{what}: encryption.keyVaultProperties is {shown(get(props, 'encryption.keyVaultProperties'))}; "
                   "every entry needs keyName and keyVaultUri of the customer-managed key.")
        sku = get(props, "sku.name")
        if not isinstance(sku, str) or sku.lower() != "premium":
            report(f"{what}: sku.name is {shown(sku)}; customer-managed keys are only available on the "
                   "'Premium' sku, which is required (requireCustomerManagedKeys=true).")


# ------------------------------------------------------------------ workflows


def _check_workflows(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == GCP_WORKFLOW:
        _gcp_cmk(args, report, "Workflow", "cryptoKeyName")
        return
    what = named(args, "State machine")
    kind = get(args.props, "encryptionConfiguration.type")
    if require_cmk(args):
        if kind != "CUSTOMER_MANAGED_KMS_KEY":
            report(f"{what}: encryptionConfiguration.type is {shown(kind)}; {_cmk_reason()}: "
                   "type 'CUSTOMER_MANAGED_KMS_KEY' with encryptionConfiguration.kmsKeyId.")
        elif problem := _aws_cmk_problem(get(args.props, "encryptionConfiguration.kmsKeyId"),
                                         "encryptionConfiguration.kmsKeyId"):
            report(f"{what}: {problem}.")
    elif kind not in ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"):
        report(f"{what}: encryptionConfiguration.type is {shown(kind)}; encryption must be explicitly on: "
               "'AWS_OWNED_KEY' or 'CUSTOMER_MANAGED_KMS_KEY'.")
    elif kind == "CUSTOMER_MANAGED_KMS_KEY" and not get(args.props, "encryptionConfiguration.kmsKeyId"):
        report(f"{what}: encryptionConfiguration.type is 'CUSTOMER_MANAGED_KMS_KEY' but "
               "encryptionConfiguration.kmsKeyId is not set; the key is required with that type.")


# ------------------------------------------------------------------ functions


def _check_functions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == GCP_IMAGE_REPOSITORY:
        _gcp_cmk(args, report, "Artifact Registry repository", "kmsKeyName")
        return
    if args.resource_type in (GCP_FUNCTION_V2, GCP_FUNCTION_V1):
        generation = "Cloud Function (gen 1)" if args.resource_type == GCP_FUNCTION_V1 else "Cloud Function"
        _gcp_cmk(args, report, generation, "kmsKeyName")
        return
    # Lambda always encrypts environment variables (alias/aws/lambda); a CMK is only checked when required.
    if not require_cmk(args) or not get(args.props, "environment.variables"):
        return
    if problem := _aws_cmk_problem(get(args.props, "kmsKeyArn"), "kmsKeyArn"):
        report(f"{named(args, 'Lambda function')}: has environment.variables and {problem}.")


# ------------------------------------------------------------------ logs


def _check_logs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # CloudWatch Logs always encrypts with its own key; a CMK is only checked when required.
    if require_cmk(args) and (problem := _aws_cmk_problem(get(args.props, "kmsKeyId"), "kmsKeyId")):
        report(f"{named(args, 'Log group')}: {problem}.")


# ------------------------------------------------------------------ secrets


def _gcp_secret_keys(props: Mapping[str, Any]) -> tuple[bool, str]:
    """(every replica customer-managed?, description of what is missing)."""
    auto = get(props, "replication.auto")
    if auto is not None:
        key = get(auto, "customerManagedEncryption.kmsKeyName")
        return bool(key), f"replication.auto.customerManagedEncryption.kmsKeyName is {shown(key)}"
    replicas = as_list(get(props, "replication.userManaged.replicas"))
    if not replicas:
        return False, "replication has neither auto nor userManaged replicas"
    missing = [get(r, "location", f"#{i}") for i, r in enumerate(replicas)
               if not get(r, "customerManagedEncryption.kmsKeyName")]
    return not missing, f"replication.userManaged.replicas {missing!r} have no customerManagedEncryption.kmsKeyName"


def _check_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not require_cmk(args):  # Secrets Manager and Secret Manager always encrypt with the provider's key
        return
    typ = args.resource_type
    if typ == AWS_SECRET:
        if problem := _aws_cmk_problem(get(args.props, "kmsKeyId"), "kmsKeyId"):
            report(f"{named(args, 'Secret')}: {problem}.")
        for i, replica in enumerate(as_list(get(args.props, "replicas"))):
            if problem := _aws_cmk_problem(get(replica, "kmsKeyId"), f"replicas[{i}].kmsKeyId"):
                report(f"{named(args, 'Secret')}: replica in {shown(get(replica, 'region'))}: {problem}.")
    elif typ == GCP_SECRET:
        ok, missing = _gcp_secret_keys(args.props)
        if not ok:
            report(f"{named(args, 'Secret')}: {missing}; {_cmk_reason()} for every replica.")
    elif typ == GCP_REGIONAL_SECRET:
        _gcp_cmk(args, report, "Regional secret", "customerManagedEncryption.kmsKeyName")


# ------------------------------------------------------------------ S3 (stack: encryption is a side resource)


def _s3_rule_problem(rules: Any, where: str, cmk: bool) -> str | None:
    """Why the server-side encryption rules at `where` are not acceptable, or None."""
    defaults = [get(r, "applyServerSideEncryptionByDefault") for r in as_list(rules)]
    defaults = [d for d in defaults if d is not None]
    if not defaults:
        return f"{where} has no applyServerSideEncryptionByDefault rule; {'SSE-KMS with a customer-managed key' if cmk else 'an sseAlgorithm'} is required"
    for d in defaults:
        algorithm, key = get(d, "sseAlgorithm"), get(d, "kmsMasterKeyId")
        if cmk:
            if algorithm not in ("aws:kms", "aws:kms:dsse"):
                return (f"{where} sseAlgorithm is {shown(algorithm)}; {_cmk_reason()}: "
                        "sseAlgorithm 'aws:kms' with kmsMasterKeyId")
            if problem := _aws_cmk_problem(key, f"{where} kmsMasterKeyId"):
                return problem
        elif algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
            return f"{where} sseAlgorithm is {shown(algorithm)}; 'AES256', 'aws:kms' or 'aws:kms:dsse' is required"
    return None


def _check_s3(args: StackValidationArgs, report: ReportViolation) -> None:
    cmk = require_cmk(args)
    buckets = resources_of(args, S3_BUCKETS)
    configs = resources_of(args, S3_ENCRYPTION)
    by_urn = {b.urn: b for b in buckets}
    covered: dict[str, list[Any]] = {}
    for c in configs:
        # The bucket it depends on (no need to read a name unknown during preview), else a literal name.
        targets = [d.urn for d in c.property_dependencies.get("bucket", []) if d.urn in by_urn]
        if targets:
            bucket = ", ".join(f"'{by_urn[u].name}'" for u in targets)
        else:
            name = get(c.props, "bucket")
            targets = [b.urn for b in buckets if name and get(b.props, "bucket") == name]
            bucket = shown(name)
        for urn in targets:
            covered.setdefault(urn, []).append(c)
        if problem := _s3_rule_problem(get(c.props, "rules"), "rules[0].applyServerSideEncryptionByDefault", cmk):
            report(f"{named(c, 'S3 encryption configuration')} for bucket {bucket}: {problem}.", c.urn)
    for b in buckets:
        if b.urn in covered:
            continue
        what = named(b, "S3 bucket")
        inline = get(b.props, "serverSideEncryptionConfiguration.rule")
        if inline is not None:  # the deprecated inline block still configures encryption
            if problem := _s3_rule_problem(inline, "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault", cmk):
                report(f"{what}: {problem}.", b.urn)
            continue
        need = "sseAlgorithm 'aws:kms' and a customer-managed kmsMasterKeyId" if cmk else "an explicit sseAlgorithm"
        report(f"{what}: no {S3_ENCRYPTION[0]} has its bucket property referring to it; one with {need} is required.",
               b.urn)


# ------------------------------------------------------------------ GCS and Azure Storage


def _check_storage(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == GCS_BUCKET:
        _gcp_cmk(args, report, "Storage bucket", "encryption.defaultKmsKeyName")
        return
    what, props = named(args, "Storage account"), args.props
    infra = get(props, "encryption.requireInfrastructureEncryption")
    if not _on(infra):
        report(f"{what}: encryption.requireInfrastructureEncryption is {shown(infra)}; true is required "
               "(a second layer of platform encryption at rest).")
    for service in ("blob", "file", "queue", "table"):
        enabled = get(props, f"encryption.services.{service}.enabled")
        if enabled is not None and not _on(enabled):
            report(f"{what}: encryption.services.{service}.enabled is {shown(enabled)}; it must not be switched off.")
    if require_cmk(args):
        source = get(props, "encryption.keySource")
        if not isinstance(source, str) or source.lower() != "microsoft.keyvault":
            report(f"{what}: encryption.keySource is {shown(source)}; {_cmk_reason()}: "
                   "'Microsoft.Keyvault' with encryption.keyVaultProperties.")
        elif not _key_vault_uri(get(props, "encryption.keyVaultProperties")):
            report(f"{what}: encryption.keyVaultProperties is {shown(get(props, 'encryption.keyVaultProperties'))}; "
                   "keyName and keyVaultUri of the customer-managed key are required.")


# ------------------------------------------------------------------ key rotation


def _gcp_seconds(value: Any) -> float | None:
    match = _GCP_DURATION.match(value) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


#: A GCP key named with its version (`.../cryptoKeyVersions/3`), an Azure key URI with its version
#: (`https://V.vault.azure.net/keys/K/<version>`), a Key Vault reference naming a secret version.
_GCP_PINNED = re.compile(r"/cryptoKeyVersions/([^/]+)/?$")
_AZURE_PINNED = re.compile(r"^https://[^/]+/keys/[^/]+/([^/?#]+)/?$", re.IGNORECASE)
_SECRET_PINNED = re.compile(r"@Microsoft\.KeyVault\((?:[^)]*SecretUri=[^)]*/secrets/[^/;)]+/([^/;)\s]+)"
                            r"|[^)]*SecretVersion=([^;)\s]+))", re.IGNORECASE)


def _aws_symmetric(props: Any) -> bool:
    """AWS rotates only symmetric encryption keys (neither asymmetric, HMAC nor in a custom key store)."""
    spec = get(props, "customerMasterKeySpec", get(props, "keySpec", "SYMMETRIC_DEFAULT"))
    usage = get(props, "keyUsage", "ENCRYPT_DECRYPT")
    return spec == "SYMMETRIC_DEFAULT" and usage == "ENCRYPT_DECRYPT" and not (
        get(props, "customKeyStoreId") or get(props, "xksKeyId"))


def _check_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, typ = args.props, args.resource_type
    if typ == KMS_KEY:
        if not _aws_symmetric(props):
            return
        enabled = get(props, "enableKeyRotation")
        if not _on(enabled):
            report(f"{named(args, 'KMS key')}: enableKeyRotation is {shown(enabled)}; true is required for a symmetric key.")
    elif typ in catalogue.UNROTATABLE:
        if _aws_symmetric(props):
            report(f"{named(args, 'KMS key')}: a symmetric encryption key that cannot rotate automatically: "
                   f"{catalogue.UNROTATABLE[typ]}; required: an aws.kms.Key with KMS-generated material and "
                   "enableKeyRotation true.")
    elif typ == CRYPTO_KEY:
        if get(props, "purpose", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
            return  # automatic rotation exists only for symmetric encryption keys
        if _on(imported := get(props, "importOnly")):
            report(f"{named(args, 'Crypto key')}: importOnly is {shown(imported)}, so Cloud KMS creates no versions "
                   "of it and it never rotates automatically; required: importOnly false with a rotationPeriod.")
        limit = int(config(args, MAX_ROTATION_DAYS, 90))
        period = get(props, "rotationPeriod")
        seconds = _gcp_seconds(period)
        if seconds is None:
            report(f"{named(args, 'Crypto key')}: rotationPeriod is {shown(period)}; a period of at most "
                   f"{limit} days is required, e.g. '{limit * _DAY}s'.")
        elif seconds > limit * _DAY:
            report(f"{named(args, 'Crypto key')}: rotationPeriod is {period!r} ({seconds / _DAY:g} days); "
                   f"at most {limit} days ('{limit * _DAY}s') is required.")
    elif typ == KEY_VAULT_KEY:
        actions = as_list(get(props, "properties.rotationPolicy.lifetimeActions"))
        rotate = [a for a in actions if str(get(a, "action.type", "")).lower() == "rotate"
                  and (get(a, "trigger.timeAfterCreate") or get(a, "trigger.timeBeforeExpiry"))]
        if not rotate:
            kinds = [get(a, "action.type") for a in actions]
            report(f"{named(args, 'Key Vault key')}: properties.rotationPolicy.lifetimeActions is "
                   f"{shown(kinds) if actions else 'not set'}; a 'rotate' action with trigger.timeAfterCreate "
                   "(e.g. 'P90D') is required.")


def _check_pins(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A consumer that names one version of its key keeps using it: rotation never reaches its data."""
    props, typ = args.props, args.resource_type
    what = named(args, label(typ))
    follows = [p for p in catalogue.FOLLOW_LATEST.get(typ, ()) if any(_on(v) for _, v in set_values(props, p))]
    for path in catalogue.KEY_PATHS.get(typ, ()):
        for where, value in set_values(props, path):
            if not isinstance(value, str):
                continue
            if pinned := _GCP_PINNED.search(value):
                report(f"{what}: {where} names key version {pinned.group(1)} ({value!r}), so the resource keeps that "
                       "version and rotation never reaches it; required: the key's name, without /cryptoKeyVersions/N.")
            elif typ.startswith("azure-native:") and not follows and (pinned := _AZURE_PINNED.search(value)):
                latest = catalogue.FOLLOW_LATEST.get(typ)
                report(f"{what}: {where} names key version {pinned.group(1)} ({value!r}), so the resource keeps that "
                       "version after the key rotates; required: the versionless key URI "
                       f"(https://VAULT.vault.azure.net/keys/KEY){f' or {latest[0]} true' if latest else ''}.")
    if not follows:
        for path in catalogue.VERSION_PATHS.get(typ, ()):
            for where, value in set_values(props, path):
                report(f"{what}: {where} is {shown(value)}, a pinned key version, so automatic key version updates are "
                       "off and rotation never reaches the resource; required: leave it unset (versionless key).")
    for path in local_auth.SETTING_PLACES.get(typ, ()):
        for where, value in set_values(props, path):
            if isinstance(value, str) and (pinned := _SECRET_PINNED.search(value)):
                report(f"{what}: {where} is a Key Vault reference to secret version {pinned.group(1) or pinned.group(2)}, "
                       "so the app keeps that value after the secret rotates; required: a reference without a version "
                       "(SecretUri=https://VAULT.vault.azure.net/secrets/NAME/ or VaultName=...;SecretName=...).")


def _check_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in _KEY_TYPES:
        _check_keys(args, report)
    _check_pins(args, report)


_KEY_TYPES = frozenset({KMS_KEY, CRYPTO_KEY, KEY_VAULT_KEY, *catalogue.UNROTATABLE})
ROTATION_TYPES = sorted({*_KEY_TYPES, *catalogue.KEY_PATHS, *catalogue.VERSION_PATHS, *catalogue.FOLLOW_LATEST,
                         *local_auth.SETTING_PLACES})


# ------------------------------------------------------------------ Key Vault recoverability


def _check_vaults(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = named(args, "Key vault")
    soft = get(args.props, "properties.enableSoftDelete")
    if soft is not None and not _on(soft):
        report(f"{what}: properties.enableSoftDelete is {shown(soft)}; soft delete must stay on (true or unset).")
    purge = get(args.props, "properties.enablePurgeProtection")
    if not _on(purge):
        report(f"{what}: properties.enablePurgeProtection is {shown(purge)}; true is required so deleted keys "
               "cannot be purged before the retention period ends.")


# ------------------------------------------------------------------ every other type that holds data (catalogue)

_KEY_EXAMPLE = {"aws": _AWS_KEY, "gcp": _GCP_KEY, "azure-native": "a Key Vault key URI https://VAULT.vault.azure.net/keys/KEY"}


def _check_catalogued(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A type the settings catalogue lists for this promise: its encryption switches on, and with
    requireCustomerManagedKeys a customer-managed key in one of the places that name it (each
    element of a list: every replica, cluster or configuration)."""
    _, required, checked, when = catalogue.CMK[args.resource_type]
    props, what = args.props, named(args, label(args.resource_type))
    if not applies(props, when):
        return
    for path in catalogue.SWITCHES.get(args.resource_type, ()):
        if not _on(value := get(props, path)):
            report(f"{what}: {path} is {shown(value)}; true is required (encryption at rest, chosen at creation).")
    if not require_cmk(args):
        return
    if not any(all(v not in (None, "") for _, v in places(props, path)) for path in required):
        missing = [where for path in required for where, v in places(props, path) if v in (None, "")]
        report(f"{what}: {' or '.join(missing)} is not set; "
               f"{_cmk_reason(_KEY_EXAMPLE[args.resource_type.split(':', 1)[0]])}.")
    if args.resource_type.startswith("aws:"):
        for path in (*required, *checked):
            for where, value in set_values(props, path):
                if problem := _aws_cmk_problem(value, where):
                    report(f"{what}: {problem}.")


def _catalogued(policy: str, check: ResourceCheck, bespoke: tuple[str, ...]) -> tuple[list[str], ResourceCheck]:
    """The types a policy reads (its own and every catalogue type it owns) and its check for them."""
    types = sorted({*bespoke, *(t for t, entry in catalogue.CMK.items() if entry[0] == policy)})

    def dispatch(args: ResourceValidationArgs, report: ReportViolation) -> None:
        (check if args.resource_type in bespoke else _check_catalogued)(args, report)

    return types, dispatch


# ------------------------------------------------------------------ the policies

#: Where each cloud lists the services that take a customer-managed key, and how.
CMK_SOURCES = ("AWS KMS service integrations https://docs.aws.amazon.com/kms/latest/developerguide/service-integration.html, "
               "Cloud KMS CMEK services https://cloud.google.com/kms/docs/compatible-services, Azure data encryption "
               "models https://learn.microsoft.com/azure/security/fundamentals/encryption-models")
_CATALOGUE = ("; every other type of these services that holds data is read from the settings catalogue "
              "(policy/settings/keys.py, derived from the provider SDKs)")


def _cmk_policy(name: str, description: str, bespoke: list[str], check: ResourceCheck, remediation: str,
                **options: Any):
    types, dispatch = _catalogued(name, check, tuple(bespoke))
    return resource_policy(name, f"{description}{_CATALOGUE} ({CMK_SOURCES}).", types, dispatch,
                           remediation=remediation, config=CMK_PROPERTY, **options)


_GENERIC_FIX = (" Any other type: the key property the message names (kmsKeyId, kmsKeyName, encryptionKeyName, "
                "keyVaultProperties...), set when the resource is created.")

POLICIES = [
    _cmk_policy(
        "tables-encrypted",
        "Tables and databases are encrypted at rest with a customer-managed key: DynamoDB tables and every replica "
        "(inline or TableReplica), Firestore, Cosmos DB, and the other database services (RDS and Aurora, DocumentDB, "
        "Neptune, Keyspaces, ElastiCache, MemoryDB, Redshift, Cloud SQL, Spanner, Bigtable, AlloyDB, BigQuery datasets, "
        "Memorystore, Azure Database for PostgreSQL and MySQL, Redis Enterprise, Data Explorer)",
        [DYNAMODB_TABLE, DYNAMODB_REPLICA, FIRESTORE_DATABASE, COSMOS_ACCOUNT],
        _check_tables,
        "DynamoDB: serverSideEncryption {enabled: true, kmsKeyArn: <key ARN>}; Firestore: cmekConfig.kmsKeyName; "
        "Cosmos DB: keyVaultKeyUri (with an identity that can use the key)." + _GENERIC_FIX,
    ),
    _cmk_policy(
        "queues-encrypted",
        "Queues, topics, streams and event buses are encrypted at rest with a customer-managed key (SQS, SNS, Pub/Sub, "
        "Service Bus, Kinesis, MSK, Amazon MQ, EventBridge buses and archives, Eventarc, Managed Kafka, Event Hubs)",
        [SQS_QUEUE, SNS_TOPIC, PUBSUB_TOPIC, SERVICEBUS_NAMESPACE],
        _check_queues,
        "SQS/SNS: kmsMasterKeyId = a customer-managed key ARN (not alias/aws/*); Pub/Sub: kmsKeyName; "
        "Service Bus: sku Premium and encryption {keySource: 'Microsoft.KeyVault', keyVaultProperties: [{keyName, "
        "keyVaultUri}]}." + _GENERIC_FIX,
    ),
    _cmk_policy(
        "workflows-encrypted",
        "Workflow definitions and execution data are encrypted with a customer-managed key (Step Functions state "
        "machines and activities, GCP Workflows)",
        [STATE_MACHINE, GCP_WORKFLOW],
        _check_workflows,
        "Step Functions: encryptionConfiguration {type: 'CUSTOMER_MANAGED_KMS_KEY', kmsKeyId: <key ARN>}; "
        "Workflows: cryptoKeyName." + _GENERIC_FIX,
    ),
    _cmk_policy(
        "functions-encrypted",
        "Function environment variables and artifacts are encrypted with a customer-managed key (Lambda, Cloud Functions "
        "gen 2 and gen 1, Cloud Run services, jobs and worker pools, and the image repositories: Artifact Registry, "
        "ECR, Azure Container Registry)",
        [LAMBDA_FUNCTION, GCP_FUNCTION_V2, GCP_FUNCTION_V1, GCP_IMAGE_REPOSITORY],
        _check_functions,
        "Lambda: kmsKeyArn = a customer-managed key ARN when the function has environment variables; "
        "Cloud Functions: kmsKeyName; Cloud Run: template.encryptionKey; ECR: encryptionConfigurations "
        "[{encryptionType: KMS, kmsKey}]." + _GENERIC_FIX,
    ),
    _cmk_policy(
        "logs-encrypted",
        "Log stores are encrypted with a customer-managed key (CloudWatch log groups, Cloud Logging buckets and "
        "settings, Log Analytics dedicated clusters)",
        [LOG_GROUP],
        _check_logs,
        "CloudWatch: kmsKeyId = a key ARN whose policy lets logs.REGION.amazonaws.com use it for this log group; "
        "Cloud Logging: cmekSettings.kmsKeyName; Log Analytics cluster: keyVaultProperties." + _GENERIC_FIX,
        severity=Severity.MEDIUM,
    ),
    _cmk_policy(
        "secrets-encrypted",
        "Secrets and configuration are encrypted with a customer-managed key (Secrets Manager and each of its replicas, "
        "SSM SecureString parameters, Secret Manager on every replica and regional secrets, Parameter Manager, App "
        "Configuration)",
        [AWS_SECRET, GCP_SECRET, GCP_REGIONAL_SECRET],
        _check_secrets,
        "Secrets Manager: kmsKeyId = a customer-managed key ARN; SSM SecureString: keyId; Secret Manager: "
        "replication.auto.customerManagedEncryption.kmsKeyName or customerManagedEncryption on every userManaged "
        "replica." + _GENERIC_FIX,
    ),
    stack_policy(
        "s3-buckets-encrypted",
        "Every S3 bucket has a server-side encryption configuration (a separate resource in pulumi-aws 7) using SSE-KMS with a customer-managed key.",
        [*S3_BUCKETS, *S3_ENCRYPTION],
        _check_s3,
        remediation="Add an aws.s3.BucketServerSideEncryptionConfiguration with bucket=<bucket>.id and rules "
                    "[{applyServerSideEncryptionByDefault: {sseAlgorithm: 'aws:kms', kmsMasterKeyId: <key ARN>}, bucketKeyEnabled: true}].",
        config=CMK_PROPERTY,
    ),
    _cmk_policy(
        "storage-encrypted",
        "Object, file and block storage is encrypted with a customer-managed key (GCS buckets; Azure Storage accounts, "
        "with infrastructure encryption, and their encryption scopes; EFS and its replicas, EBS volumes, FSx, Backup "
        "vaults, Filestore)",
        [GCS_BUCKET, STORAGE_ACCOUNT],
        _check_storage,
        "GCS: encryption.defaultKmsKeyName; Azure Storage: encryption {keySource: 'Microsoft.Keyvault', "
        "keyVaultProperties: {keyName, keyVaultUri}, requireInfrastructureEncryption: true}; encryption scopes: source "
        "'Microsoft.KeyVault' with keyVaultProperties.keyUri; EFS/EBS: encrypted true with kmsKeyId." + _GENERIC_FIX,
    ),
    resource_policy(
        "key-rotation",
        "Encryption keys rotate automatically and the rotation reaches what they encrypt: AWS KMS symmetric keys "
        "(keys with imported material, ExternalKey, cannot rotate), GCP crypto keys at most every maxRotationDays "
        "(not import-only), Azure Key Vault keys with a rotate action; no consumer pins a key version (GCP "
        ".../cryptoKeyVersions/N, an Azure key URI with a version or keyVersion, unless the resource follows the "
        "latest version), and no App Service or Container Apps setting pins a Key Vault secret version. Consumers "
        "are every type with a key property in the settings catalogue (policy/settings/keys.py). Sources: "
        "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html, "
        "https://cloud.google.com/kms/docs/key-rotation, "
        "https://learn.microsoft.com/azure/storage/common/customer-managed-keys-overview#update-the-key-version, "
        "https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#rotation.",
        ROTATION_TYPES,
        _check_rotation,
        remediation="AWS: enableKeyRotation true on a KMS-generated key; GCP: rotationPeriod '7776000s' (90 days) or "
                    "shorter, and consumers name projects/P/locations/L/keyRings/R/cryptoKeys/K without a version; "
                    "Azure: properties.rotationPolicy.lifetimeActions [{action: {type: 'rotate'}, trigger: "
                    "{timeAfterCreate: 'P90D'}}], versionless key URIs, no keyVersion, Key Vault references without "
                    "a secret version.",
        severity=Severity.MEDIUM,
        config={MAX_ROTATION_DAYS: {"type": "integer", "minimum": 1, "default": 90,
                                    "description": "GCP crypto keys: the longest rotationPeriod allowed, in days."}},
    ),
    resource_policy(
        "key-vaults-recoverable",
        "Azure Key Vaults keep soft delete on and enable purge protection, so a deleted key cannot make data unreadable for good.",
        [KEY_VAULT],
        _check_vaults,
        remediation="Set properties.enablePurgeProtection true and leave properties.enableSoftDelete unset or true.",
    ),
]
