"""Key Vault secrets: one vault for the service's secrets, a secret per declared secret.

The vault is separate from the key's: Flex Consumption resolves Key Vault references over
the vault's public endpoint only (not even through VNet integration), so this vault accepts
public network traffic, with RBAC authorization, soft delete and purge protection; the key's
vault admits trusted Azure services only. Key Vault encrypts secrets with its own HSM-backed
keys; a customer-managed key is not an option for secrets.

A function that declared `read()` gets a Key Vault reference in its settings
(`@Microsoft.KeyVault(SecretUri=...)`, versionless so a new value is picked up), resolved by
the app's own identity, which holds Key Vault Secrets User on that one secret. The secret is
protected in prod; its value is the Pulumi secret and changes in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..spec import SecretSpec
from .arm import Arm
from .context import AzureContext
from .keys import vault


@dataclass
class SecretHandle:
    vault: Arm
    secret: Arm
    name: str

    @property
    def reference(self) -> pulumi.Output[str]:
        """Built from the vault's URI, not the secret's outputs: those carry the value, and a secret
        output would make the app's whole site config secret (and unreadable to the policy pack)."""
        return pulumi.Output.all(self.vault.out("properties.vaultUri"), self.secret.name).apply(
            lambda v: f"@Microsoft.KeyVault(SecretUri={v[0].rstrip('/')}/secrets/{self.name}/)")

    def scope(self) -> pulumi.Output[str]:
        return self.vault.id.apply(lambda v: f"{v}/secrets/{self.name}")


def secrets_vault(ctx: AzureContext) -> Arm:
    return ctx.once(("secrets-vault",), lambda: vault(ctx, "secrets", public=True, parent=ctx.parent))


def create_secret(ctx: AzureContext, spec: SecretSpec, parent: pulumi.Resource) -> SecretHandle:
    store = secrets_vault(ctx)
    secret = Arm("azure-native:keyvault:Secret", spec.name, {
        "vaultName": store.name,
        "secretName": spec.name,
        "resourceGroupName": ctx.group_name,
        "properties": {"value": ctx.settings.secret(spec.config_key), "contentType": "text/plain"},
        "tags": ctx.tags,
    }, ctx.opts(parent, protect=True, additional_secret_outputs=["properties"]))
    return SecretHandle(vault=store, secret=secret, name=spec.name)
