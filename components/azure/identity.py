"""User-assigned identities and the role assignments they hold, each on exactly one resource.

On Azure an identity belongs to an app, so every function gets its own Function App and its
own user-assigned identity; so do API Management's backend calls, each workflow's
orchestrator, and each customer-managed-key consumer. A grant is a role assignment whose
scope is the one resource it names (a queue, a blob container, a key, a secret), never a
resource group or subscription; Cosmos DB data access is Cosmos' own data-plane assignment,
scoped to one container (tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .arm import Arm
from .context import AzureContext

#: Built-in role definition GUIDs (the same in every tenant).
QUEUE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"       # Storage Queue Data Message Sender
QUEUE_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"  # Storage Queue Data Contributor
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"         # Storage Blob Data Owner
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"   # Storage Blob Data Contributor
TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"  # Storage Table Data Contributor
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"  # Monitoring Metrics Publisher
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"       # Key Vault Secrets User
CRYPTO_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"  # Key Vault Crypto Service Encryption User


@dataclass
class Identity:
    name: str
    identity: Arm

    @property
    def id(self) -> pulumi.Output[str]:
        return self.identity.id

    @property
    def principal_id(self) -> pulumi.Output[str]:
        return self.identity.principalId

    @property
    def client_id(self) -> pulumi.Output[str]:
        return self.identity.clientId


def user_identity(ctx: AzureContext, name: str, parent: pulumi.Resource) -> Identity:
    identity = Arm("azure-native:managedidentity:UserAssignedIdentity", f"{name}-identity",
                   {"resourceName": ctx.physical(name, 128), **ctx.common()}, ctx.opts(parent),
                   outputs=("principalId", "clientId"))
    return Identity(name=name, identity=identity)


def role_definition(ctx: AzureContext, guid: str) -> pulumi.Output[str]:
    return ctx.subscription.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}")


def assign(ctx: AzureContext, name: str, who: Identity, role: str, scope: pulumi.Input[str],
           parent: pulumi.Resource) -> Arm:
    """`role` for `who` on exactly `scope`; the principal type avoids ARM's PrincipalNotFound on
    an identity created seconds before."""
    return Arm("azure-native:authorization:RoleAssignment", name, {
        "principalId": who.principal_id,
        "principalType": "ServicePrincipal",
        "roleDefinitionId": role_definition(ctx, role),
        "roleAssignmentName": ctx.assignment_name(scope, role, who.principal_id),
        "scope": scope,
        "description": f"anycloud {ctx.prefix}: {who.name}",
    }, ctx.opts(parent))
