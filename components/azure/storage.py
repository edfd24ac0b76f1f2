"""The service's hardened storage accounts, by purpose.

Every account: no shared keys (Entra ID only, OAuth by default), no public blob access, TLS
1.2, HTTPS only, no cross-tenant replication, infrastructure (double) encryption, and with
customer-managed keys the service key through the account's own identity; queues and tables
use account-scoped encryption keys, which Azure allows only at creation.

Purposes, because Azure's data roles for a Functions host are account-wide:
- `data`: the service's queues and their poison queues, the workflows' start queues, and
  each app's deployment container. Every grant here names one queue or one container.
- `hosts`: `AzureWebJobsStorage` of every app except the orchestrators. The host needs
  Storage Blob Data Owner on its account (leases, keys, timers), so no business data and no
  deployment package lives here: an app that could write another app's package could run code
  as that app.
- `workflows` (only with workflows): the orchestrators' host storage and the Durable task hub,
  which needs Blob, Queue and Table Data Contributor on its account.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

from .context import AzureContext
from .keys import KEY_NAME, ServiceKey, key_user


@dataclass
class Account:
    purpose: str
    account: storage.StorageAccount

    @property
    def name(self) -> pulumi.Output[str]:
        return self.account.name

    @property
    def id(self) -> pulumi.Output[str]:
        return self.account.id

    @property
    def queue_endpoint(self) -> pulumi.Output[str]:
        """`https://<account>.queue.core.windows.net/` (what identity-based queue connections name)."""
        return self.account.primary_endpoints.queue

    @property
    def blob_endpoint(self) -> pulumi.Output[str]:
        return self.account.primary_endpoints.blob

    def queue_scope(self, queue: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.all(self.id, queue).apply(lambda v: f"{v[0]}/queueServices/default/queues/{v[1]}")

    def container_scope(self, container: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.all(self.id, container).apply(lambda v: f"{v[0]}/blobServices/default/containers/{v[1]}")


def _encryption(ctx: AzureContext, purpose: str, key: ServiceKey | None) -> tuple[dict, list]:
    """(identity and encryption arguments, resources the account waits for)."""
    account_keys = storage.EncryptionServiceArgs(enabled=True, key_type="Account")
    services = storage.EncryptionServicesArgs(blob=account_keys, file=account_keys, queue=account_keys,
                                              table=account_keys)
    if key is None:
        return {"encryption": storage.EncryptionArgs(key_source="Microsoft.Storage", services=services,
                                                     require_infrastructure_encryption=True)}, []
    identity, grant = key_user(ctx, f"storage-{purpose}", key)
    return {
        "identity": storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
        "encryption": storage.EncryptionArgs(
            key_source="Microsoft.Keyvault",
            key_vault_properties=storage.KeyVaultPropertiesArgs(key_name=KEY_NAME, key_vault_uri=key.vault_uri),
            encryption_identity=storage.EncryptionIdentityArgs(encryption_user_assigned_identity=identity.id),
            require_infrastructure_encryption=True,
            services=services,
        ),
    }, [grant]


def storage_account(ctx: AzureContext, purpose: str, key: ServiceKey | None, parent: pulumi.Resource) -> Account:
    encryption, waits_for = _encryption(ctx, purpose, key)
    account = storage.StorageAccount(
        f"storage-{purpose}",
        account_name=ctx.global_name(purpose, 24, hyphens=False),
        **ctx.common(),
        kind="StorageV2",
        sku=storage.SkuArgs(name="Standard_ZRS" if ctx.settings.prod else "Standard_LRS"),
        access_tier="Hot",
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        allow_blob_public_access=False,
        allow_cross_tenant_replication=False,
        minimum_tls_version="TLS1_2",
        enable_https_traffic_only=True,
        public_network_access="Enabled",
        **encryption,
        opts=ctx.opts(parent, protect=purpose == "data", depends_on=waits_for),
    )
    return Account(purpose=purpose, account=account)


@dataclass
class QueuePair:
    queue: storage.Queue
    poison: storage.Queue
    account: Account

    @property
    def url(self) -> pulumi.Output[str]:
        """`https://<account>.queue.core.windows.net/<queue>`: what a sender's wiring holds."""
        return pulumi.Output.all(self.account.queue_endpoint, self.queue.name).apply(
            lambda v: f"{v[0].rstrip('/')}/{v[1]}")


def queue_pair(ctx: AzureContext, name: str, account: Account, parent: pulumi.Resource) -> QueuePair:
    """A queue named `prefix-name` (at most 56 characters) and its `<queue>-poison`, made by the
    program: the host creates a missing poison queue only if its identity may create queues on
    the whole account, which no function identity may."""
    physical = ctx.physical(name, 56)
    made = {
        suffix: storage.Queue(
            f"{name}{suffix}", queue_name=f"{physical}{suffix}", account_name=account.name,
            resource_group_name=ctx.group_name, metadata={"anycloud_service": ctx.spec.name},
            opts=ctx.opts(parent, protect=True))
        for suffix in ("", "-poison")
    }
    return QueuePair(queue=made[""], poison=made["-poison"], account=account)


def container(ctx: AzureContext, name: str, account: Account, parent: pulumi.Resource) -> storage.BlobContainer:
    return storage.BlobContainer(
        name, container_name=ctx.physical(name, 63), account_name=account.name, resource_group_name=ctx.group_name,
        public_access="None", opts=ctx.opts(parent))
