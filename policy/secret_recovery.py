"""In prod, secrets and the keys they (and the data) depend on can be recovered after a delete.

Every provider keeps a deleted secret or key for a window in which a mistake can be undone; the
stack can shorten or skip it, or switch a key off:

- AWS Secrets Manager: `recoveryWindowInDays` 0 deletes at once (DeleteSecret
  ForceDeleteWithoutRecovery), 7-30 otherwise, 30 by default; replicas go with their primary.
- AWS KMS keys, replica keys, keys with imported material and their replicas:
  `deletionWindowInDays` (7-30, 30 by default, ScheduleKeyDeletion); `isEnabled`/`enabled` false
  disables the key and everything it encrypts becomes unreadable (DisableKey).
- GCP Secret Manager secrets and regional secrets: `deletionProtection` (false by default) stops a
  destroy from deleting the secret with every version; `ttl` / `expireTime` delete it on expiry
  ("Secret expiration"). Cloud KMS keys: `destroyScheduledDuration` (24 h minimum, 30 days by
  default) is how long a destroyed version can be restored; a version written DISABLED or
  DESTROYED cannot be used ("Key version states").
- Azure Key Vault: `softDeleteRetentionInDays` (7-90, 90 by default) on vaults and Managed HSMs;
  a Managed HSM also needs purge protection and soft delete on (the vault's are
  key-vaults-recoverable's); a key with `attributes.enabled` false cannot wrap or unwrap.

The floor for every window is `minRecoveryDays` (default 7, the shortest window AWS Secrets
Manager, AWS KMS and Azure Key Vault allow). Tables' backups and deletion protection are
prod-tables-recoverable's (policy/resilience.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .common import KEY_VAULT, KMS_KEY, config, get, is_prod, named, resource_policy, shown

AWS_SECRET = "aws:secretsmanager/secret:Secret"
KMS_REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
KMS_EXTERNAL_KEY = "aws:kms/externalKey:ExternalKey"
KMS_REPLICA_EXTERNAL_KEY = "aws:kms/replicaExternalKey:ReplicaExternalKey"
GCP_SECRETS = ("gcp:secretmanager/secret:Secret", "gcp:secretmanager/regionalSecret:RegionalSecret")
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
CRYPTO_KEY_VERSION = "gcp:kms/cryptoKeyVersion:CryptoKeyVersion"
MANAGED_HSM = "azure-native:keyvault:ManagedHsm"
KEY_VAULT_KEY = "azure-native:keyvault:Key"

MIN_RECOVERY = "minRecoveryDays"
_DAY = 86400
#: Key version states in which nothing can decrypt with the version.
UNUSABLE_VERSION_STATES = frozenset({"DISABLED", "DESTROYED", "DESTROY_SCHEDULED"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")

Finding = tuple[str, Any, str]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _window(props: Mapping[str, Any], key: str, floor: float, what: str) -> Iterator[Finding]:
    days = _number(get(props, key))
    if days is not None and days < floor:
        yield key, get(props, key), f"{what}; required: at least {floor:g} days"


def _enabled(props: Mapping[str, Any], key: str, what: str) -> Iterator[Finding]:
    if get(props, key) is False:
        yield key, False, f"{what}; required: true (or unset)"


def _aws_secret(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    days = _number(get(props, "recoveryWindowInDays"))
    if days == 0:
        yield ("recoveryWindowInDays", get(props, "recoveryWindowInDays"),
               "deletes the secret and its replicas at once, with no window to restore them; required: 7-30 days or unset (30)")
    else:
        yield from _window(props, "recoveryWindowInDays", floor, "a deleted secret's recovery window")


def _kms_key(enabled: str) -> Callable[[Mapping[str, Any], float], Iterator[Finding]]:
    def check(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
        yield from _window(props, "deletionWindowInDays", floor, "the window to cancel the key's deletion")
        yield from _enabled(props, enabled, "disables the key: what it encrypts cannot be read")
    return check


def _gcp_secret(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    if get(props, "deletionProtection") is not True:
        yield ("deletionProtection", get(props, "deletionProtection"),
               "a destroy deletes the secret with every version; required: true")
    for key in ("ttl", "expireTime"):
        if get(props, key):
            yield key, get(props, key), "deletes the secret when it expires; required: unset"


def _crypto_key(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    value = get(props, "destroyScheduledDuration")
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match and float(match.group(1)) < floor * _DAY:
        yield ("destroyScheduledDuration", value,
               f"the window to restore a destroyed key version; required: at least {floor:g} days ('{int(floor * _DAY)}s')")


def _crypto_key_version(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    state = get(props, "state")
    if isinstance(state, str) and state.upper() in UNUSABLE_VERSION_STATES:
        yield "state", state, "the version can no longer decrypt what it encrypted; required: ENABLED (or unset)"


def _vault(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    yield from _window(props, "properties.softDeleteRetentionInDays", floor, "how long deleted keys and secrets are kept")


def _managed_hsm(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    yield from _vault(props, floor)
    yield from _enabled(props, "properties.enableSoftDelete", "deleted keys are purged at once")
    if get(props, "properties.enablePurgeProtection") is not True:
        yield ("properties.enablePurgeProtection", get(props, "properties.enablePurgeProtection"),
               "deleted keys can be purged before their retention ends; required: true")


def _vault_key(props: Mapping[str, Any], floor: float) -> Iterator[Finding]:
    yield from _enabled(props, "properties.attributes.enabled", "disables the key: what it wraps cannot be unwrapped")


CHECKS: dict[str, Callable[[Mapping[str, Any], float], Iterator[Finding]]] = {
    AWS_SECRET: _aws_secret,
    KMS_KEY: _kms_key("isEnabled"),
    KMS_REPLICA_KEY: _kms_key("enabled"),
    KMS_EXTERNAL_KEY: _kms_key("enabled"),
    KMS_REPLICA_EXTERNAL_KEY: _kms_key("enabled"),
    **{t: _gcp_secret for t in GCP_SECRETS},
    CRYPTO_KEY: _crypto_key,
    CRYPTO_KEY_VERSION: _crypto_key_version,
    KEY_VAULT: _vault,
    MANAGED_HSM: _managed_hsm,
    KEY_VAULT_KEY: _vault_key,
}


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    floor = float(config(args, MIN_RECOVERY, 7))
    for key, value, why in CHECKS[args.resource_type](args.props, floor):
        report(f"{named(args, 'Resource')}: {key} is {shown(value)}: {why} in prod.")


POLICIES = [
    resource_policy(
        "prod-secrets-recoverable",
        "In prod, secrets and keys stay recoverable: no forced deletion or short recovery window (Secrets Manager "
        "recoveryWindowInDays, KMS deletionWindowInDays, Cloud KMS destroyScheduledDuration, Key Vault and Managed HSM "
        "softDeleteRetentionInDays; floor minRecoveryDays, default 7), Secret Manager deletionProtection on and no "
        "ttl/expireTime, Managed HSM purge protection, and no key disabled (AWS Secrets Manager DeleteSecret; KMS "
        "ScheduleKeyDeletion/DisableKey; Secret Manager 'Deletion protection' and 'Secret expiration'; Cloud KMS 'Key "
        "version states'; Key Vault 'soft-delete overview').",
        CHECKS,
        _check,
        remediation="leave the recovery and deletion windows at their defaults (or at least 7 days), set "
                    "deletionProtection true and no ttl/expireTime on Secret Manager secrets, enablePurgeProtection true on "
                    "Managed HSMs, and keep keys enabled; delete prod secrets and keys through the recovery window.",
        severity=Severity.HIGH,
        config={MIN_RECOVERY: {"type": "number", "minimum": 1, "default": 7,
                               "description": "The shortest recovery or deletion window allowed in prod, in days."}},
    ),
]
