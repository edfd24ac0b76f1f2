"""Key Vault: the service key, its rotation, and the identities that encrypt with it.

The key lives in a vault of its own: RBAC authorization (no access policies), soft delete
and purge protection (Azure Storage and Cosmos DB refuse a customer-managed key from a vault
without them), and no public network access beyond Azure's trusted services, which is how
Storage and Cosmos DB reach it. The key is RSA 3072 for wrap/unwrap only and rotates itself
every 11 months (its versionless URI lets both services follow rotation). Each consumer of
the key (each storage account, the Cosmos DB account) encrypts as its own user-assigned
identity holding Key Vault Crypto Service Encryption User on this key alone.

Secrets, when the service declares any, live in a second vault (secret.py): Flex Consumption
resolves Key Vault references over the public endpoint only, which the key vault denies.

ARM creates a key only if it does not exist: later edits of the key's properties are no-ops
in Azure, so they are settled here once. A purge-protected vault's name stays reserved for
its retention period after deletion (dev stacks keep the 7-day minimum, prod 90 days), so
vault names end in the stack instance's random suffix (context.py): a destroyed stack is
re-created at once under new names, and the old vaults purge themselves when retention ends.

A new role assignment takes a while to reach the data plane ("expect first-run 403s"), and
Storage and Cosmos DB check their key when the account is created, so each key consumer waits
`GRANT_PROPAGATION` after its key grant (a pulumiverse-time Sleep, which waits on create only).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .arm import Arm
from .context import AzureContext
from .identity import CRYPTO_ENCRYPTION_USER, Identity, assign, user_identity

KEY_NAME = "service-key"
ROTATE_AFTER = "P11M"
EXPIRES_AFTER = "P1Y"
#: How long a key consumer waits after its key grant before it is created.
GRANT_PROPAGATION = "120s"


@dataclass
class ServiceKey:
    vault: Arm
    key: Arm

    @property
    def vault_uri(self) -> pulumi.Output[str]:
        return self.vault.out("properties.vaultUri")

    @property
    def uri(self) -> pulumi.Output[str]:
        """Versionless, so consumers follow rotation."""
        return self.key.keyUri

    def scope(self) -> pulumi.Output[str]:
        return self.vault.id.apply(lambda vault: f"{vault}/keys/{KEY_NAME}")


def vault(ctx: AzureContext, name: str, public: bool, parent: pulumi.Resource) -> Arm:
    """A recoverable RBAC vault; without `public`, reachable by trusted Azure services only."""
    return Arm("azure-native:keyvault:Vault", name, {
        "vaultName": ctx.reusable_name(name, 24),
        **ctx.common(),
        "properties": {
            "tenantId": ctx.tenant,
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "enabledForDeployment": False,
            "enabledForDiskEncryption": False,
            "enabledForTemplateDeployment": False,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90 if ctx.settings.prod else 7,
            "enablePurgeProtection": True,
            "publicNetworkAccess": "Enabled",
            "networkAcls": {"defaultAction": "Allow" if public else "Deny", "bypass": "AzureServices"},
        },
    }, ctx.opts(parent, protect=True), outputs=("properties",))


def service_key(ctx: AzureContext) -> ServiceKey | None:
    """The vault and the key; None without customer-managed keys."""
    if not ctx.settings.customer_managed_keys:
        return None
    keys = vault(ctx, "keys", public=False, parent=ctx.parent)
    key = Arm("azure-native:keyvault:Key", "key", {
        "vaultName": keys.name,
        "keyName": KEY_NAME,
        "resourceGroupName": ctx.group_name,
        "properties": {
            "kty": "RSA",
            "keySize": 3072,
            "keyOps": ["wrapKey", "unwrapKey"],
            "rotationPolicy": {
                "attributes": {"expiryTime": EXPIRES_AFTER},
                "lifetimeActions": [{"trigger": {"timeAfterCreate": ROTATE_AFTER}, "action": {"type": "rotate"}}],
            },
        },
        "tags": ctx.tags,
    }, ctx.opts(keys, protect=True), outputs=("keyUri",))
    return ServiceKey(vault=keys, key=key)


def key_user(ctx: AzureContext, consumer: str, key: ServiceKey) -> tuple[Identity, pulumi.Resource]:
    """The identity `consumer` encrypts as, and what the consumer waits for: its grant on the key,
    settled (made once per consumer name, so several accounts may share one identity)."""
    def make() -> tuple[Identity, pulumi.Resource]:
        identity = user_identity(ctx, f"cmk-{consumer}", key.key)
        grant = assign(ctx, f"cmk-{consumer}-uses-key", identity, CRYPTO_ENCRYPTION_USER, key.scope(), key.key)
        settled = Arm("time:index/sleep:Sleep", f"cmk-{consumer}-grant-settled", {"createDuration": GRANT_PROPAGATION},
                      ctx.opts(grant, depends_on=[grant]))
        return identity, settled

    return ctx.once(("key-user", consumer), make)
