"""The service's hardened storage accounts, by purpose.

Every account: no shared keys (Entra ID only, OAuth by default), no public blob access, TLS
1.2, HTTPS only, no cross-tenant replication, infrastructure (double) encryption, and with
customer-managed keys the service key through the account's own identity; queues and tables
use account-scoped encryption keys, which Azure allows only at creation.

Purposes, because Azure's data roles for a Functions host are account-wide:
- `data`: the service's queues and their poison queues, the workflows' start queues, and
  each app's deployment container. Every grant here names one queue or one container.
- `host-<app>`: one per app, its `AzureWebJobsStorage`. The host needs Storage Blob Data Owner
  on its account (keys, leases, timers), which is account-wide: on a shared account any app
  could read or overwrite another's host keys and leases, so each app has its own and no
  business data or deployment package lives there. An orchestrator's host account also holds
  its Durable task hub (Blob, Queue and Table Data Contributor), so it is protected in prod:
  replacing it would lose every workflow instance. Storage accounts cost nothing at rest; a
  subscription has 250 per region (policy azure-storage-accounts-regional-quota). The host
  accounts share one customer-managed-key identity: its only power is wrapping and unwrapping
  with the service key, which every account uses anyway, and only Storage acts as it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .arm import Arm
from .context import AzureContext
from .keys import KEY_NAME, ServiceKey, key_user


@dataclass
class Account:
    purpose: str
    account: Arm

    @property
    def name(self) -> pulumi.Output[str]:
        return self.account.name

    @property
    def id(self) -> pulumi.Output[str]:
        return self.account.id

    @property
    def queue_endpoint(self) -> pulumi.Output[str]:
        """`https://<account>.queue.core.windows.net/` (what identity-based queue connections name)."""
        return self.account.out("primaryEndpoints.queue")

    @property
    def blob_endpoint(self) -> pulumi.Output[str]:
        return self.account.out("primaryEndpoints.blob")

    def queue_scope(self, queue: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.all(self.id, queue).apply(lambda v: f"{v[0]}/queueServices/default/queues/{v[1]}")

    def container_scope(self, container: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.all(self.id, container).apply(lambda v: f"{v[0]}/blobServices/default/containers/{v[1]}")


def _encryption(ctx: AzureContext, encryptor: str, key: ServiceKey | None) -> tuple[dict, list]:
    """(identity and encryption inputs, resources the account waits for); `encryptor` names the
    key identity (accounts of one kind share it)."""
    account_keys = {"enabled": True, "keyType": "Account"}
    services = {service: account_keys for service in ("blob", "file", "queue", "table")}
    if key is None:
        return {"encryption": {"keySource": "Microsoft.Storage", "services": services,
                               "requireInfrastructureEncryption": True}}, []
    identity, grant = key_user(ctx, f"storage-{encryptor}", key)
    return {
        "identity": {"type": "UserAssigned", "userAssignedIdentities": [identity.id]},
        "encryption": {
            "keySource": "Microsoft.Keyvault",
            "keyVaultProperties": {"keyName": KEY_NAME, "keyVaultUri": key.vault_uri},
            "encryptionIdentity": {"encryptionUserAssignedIdentity": identity.id},
            "requireInfrastructureEncryption": True,
            "services": services,
        },
    }, [grant]


def storage_account(ctx: AzureContext, purpose: str, key: ServiceKey | None, parent: pulumi.Resource,
                    protect: bool = False, encryptor: str | None = None) -> Account:
    """An account named for `purpose`; `protect` (prod only) for what holds data."""
    encryption, waits_for = _encryption(ctx, encryptor or purpose, key)
    account = Arm("azure-native:storage:StorageAccount", f"storage-{purpose}", {
        "accountName": ctx.global_name(purpose, 24, hyphens=False),
        **ctx.common(),
        "kind": "StorageV2",
        "sku": {"name": "Standard_ZRS" if ctx.settings.prod else "Standard_LRS"},
        "accessTier": "Hot",
        "allowSharedKeyAccess": False,
        "defaultToOAuthAuthentication": True,
        "allowBlobPublicAccess": False,
        "allowCrossTenantReplication": False,
        "minimumTlsVersion": "TLS1_2",
        "enableHttpsTrafficOnly": True,
        "publicNetworkAccess": "Enabled",
        **encryption,
    }, ctx.opts(parent, protect=protect, depends_on=waits_for), outputs=("primaryEndpoints",))
    return Account(purpose=purpose, account=account)


@dataclass
class QueuePair:
    queue: Arm
    poison: Arm
    account: Account

    @property
    def url(self) -> pulumi.Output[str]:
        """`https://<account>.queue.core.windows.net/<queue>`: what a sender's wiring holds."""
        return self._url(self.queue)

    @property
    def poison_url(self) -> pulumi.Output[str]:
        return self._url(self.poison)

    def _url(self, queue: Arm) -> pulumi.Output[str]:
        return pulumi.Output.all(self.account.queue_endpoint, queue.name).apply(lambda v: f"{v[0].rstrip('/')}/{v[1]}")


def queue_pair(ctx: AzureContext, name: str, account: Account, parent: pulumi.Resource) -> QueuePair:
    """A queue named `prefix-name` (at most 56 characters) and its `<queue>-poison`, made by the
    program: the host creates a missing poison queue only if its identity may create queues on
    the whole account, which no function identity may."""
    physical = ctx.physical(name, 56)
    made = {
        suffix: Arm("azure-native:storage:Queue", f"{name}{suffix}", {
            "queueName": f"{physical}{suffix}", "accountName": account.name, "resourceGroupName": ctx.group_name,
            "metadata": {"anycloud_service": ctx.spec.name},
        }, ctx.opts(parent, protect=True))
        for suffix in ("", "-poison")
    }
    return QueuePair(queue=made[""], poison=made["-poison"], account=account)


def host_account(ctx: AzureContext, app: str, key: ServiceKey | None, parent: pulumi.Resource,
                 holds_state: bool) -> Account:
    """The app's own host storage; `holds_state` (a Durable task hub) protects it in prod."""
    return storage_account(ctx, f"host-{app}", key, parent, protect=holds_state, encryptor="hosts")


def container(ctx: AzureContext, name: str, account: Account, parent: pulumi.Resource) -> Arm:
    return Arm("azure-native:storage:BlobContainer", name, {
        "containerName": ctx.physical(name, 63), "accountName": account.name, "resourceGroupName": ctx.group_name,
        "publicAccess": "None",
    }, ctx.opts(parent))
