"""Cosmos DB for NoSQL: one serverless account and database per service, a container per table.

The account: serverless (no idle throughput charge), local (key) authentication off so only
Entra ID identities with data-plane roles get in, key-based metadata writes off (containers
change through ARM only), TLS 1.2, continuous backup (point-in-time restore, 7 days), and
with customer-managed keys the service key through the account's own user-assigned identity,
which Cosmos requires with continuous backup. Strong consistency (one region): a function
instance reads what another just wrote, which the idempotency records rely on (a duplicate
request must see the first one's record). Prod: `protect` on the account, database and
containers, and a CanNotDelete lock on the database, which holds the containers. Not on the
account: a lock is inherited by every resource below its scope, and the account's children
include the SQL role assignments (the grants), so dropping or replacing a grant would fail
with ScopeLocked and leave the old, wider grant in place
(https://learn.microsoft.com/azure/cosmos-db/resource-locks; policy azure-no-lock-above-managed-children).

A container per table: partition key `/<partition key>`, per-item TTL enabled with no default
expiry (`default_ttl` -1; the Azure adapter writes the neutral TTL attribute's epoch seconds
as the item's `ttl`), and an indexing policy that serves every `IndexSpec`: everything is
range-indexed and each index with a sort key gets composite indexes (partition, sort) in both
sort orders, which Cosmos needs to filter on one and order by the other.

Grants are Cosmos data-plane role assignments (not Azure RBAC), scoped to the one container:
Built-in Data Reader for `read`, Built-in Data Contributor for `write`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from ..spec import SpecError, TableSpec
from .arm import Arm
from .context import AzureContext
from .identity import Identity
from .keys import ServiceKey, key_user

#: Cosmos DB built-in data-plane role definitions.
DATA_ROLES = {"read": "00000000-0000-0000-0000-000000000001", "write": "00000000-0000-0000-0000-000000000002"}
DATABASE = "tables"


@dataclass
class Tables:
    account: Arm
    database: Arm
    containers: dict[str, Arm] = field(default_factory=dict)

    def url(self, table: str) -> pulumi.Output[str]:
        """`https://<account>.documents.azure.com:443/dbs/<db>/colls/<container>`: a table's wiring."""
        return self.account.documentEndpoint.apply(lambda e: f"{e.rstrip('/')}/dbs/{DATABASE}/colls/{table}")

    def scope(self, table: str) -> pulumi.Output[str]:
        return self.account.id.apply(lambda account: f"{account}/dbs/{DATABASE}/colls/{table}")


def create_account(ctx: AzureContext, key: ServiceKey | None) -> Tables:
    encryption: dict = {}
    waits_for: list = []
    if key is not None:
        identity, grant = key_user(ctx, "cosmos", key)
        waits_for.append(grant)
        encryption = {
            "identity": {"type": "UserAssigned", "userAssignedIdentities": [identity.id]},
            "defaultIdentity": identity.id.apply(lambda i: f"UserAssignedIdentity={i}"),
            "keyVaultKeyUri": key.uri,
        }
    account = Arm("azure-native:cosmosdb:DatabaseAccount", "tables", {
        "accountName": ctx.global_name("tables", 44),
        **ctx.common(),
        "kind": "GlobalDocumentDB",
        "createMode": "Default",
        "databaseAccountOfferType": "Standard",
        "locations": [{"locationName": ctx.location, "failoverPriority": 0, "isZoneRedundant": ctx.settings.prod}],
        "capabilities": [{"name": "EnableServerless"}],
        "consistencyPolicy": {"defaultConsistencyLevel": "Strong"},
        "disableLocalAuth": True,
        "disableKeyBasedMetadataWriteAccess": True,
        "minimalTlsVersion": "Tls12",
        "publicNetworkAccess": "Enabled",
        "backupPolicy": {"type": "Continuous", "continuousModeProperties": {"tier": "Continuous7Days"}},
        **encryption,
    }, ctx.opts(ctx.parent, protect=True, depends_on=waits_for), outputs=("documentEndpoint",))
    database = Arm("azure-native:cosmosdb:SqlResourceSqlDatabase", "tables-database", {
        "accountName": account.name, "databaseName": DATABASE, "resourceGroupName": ctx.group_name,
        "resource": {"id": DATABASE}, "tags": ctx.tags,
    }, ctx.opts(account, protect=True))
    if ctx.settings.guarded:
        Arm("azure-native:authorization:ManagementLockByScope", "tables-lock", {
            "lockName": "anycloud-do-not-delete", "level": "CanNotDelete", "scope": database.id,
            "notes": "anycloud prod tables: remove this lock deliberately before deleting the database",
        }, ctx.opts(database))
    return Tables(account=account, database=database)


def check_key_names(spec: TableSpec) -> None:
    """Cosmos DB owns `ttl` and names starting with `_`, and the Azure adapter stores an
    attribute named `id` (unless it is the partition key, whose value becomes the document id)
    or starting with `~` under another name, so such key attributes could not be indexed."""
    keys = [("sort_key", spec.sort_key)] + [(f"indexes.{i.name}.partition_key", i.partition_key) for i in spec.indexes] \
        + [(f"indexes.{i.name}.sort_key", i.sort_key) for i in spec.indexes]
    for where, key in [("partition_key", spec.partition_key), *keys]:
        if key is None:
            continue
        if key.name == "ttl" or key.name.startswith(("_", "~")) or (key.name == "id" and where != "partition_key"):
            raise SpecError(f"tables.{spec.name}.{where}: {key.name!r} is reserved by Cosmos DB on Azure; allowed: "
                            "another attribute name (not ttl, not starting with _ or ~, id only as the partition key)")


def indexing_policy(spec: TableSpec) -> dict:
    composite = [
        [{"path": f"/{index.partition_key.name}", "order": "ascending"}, {"path": f"/{index.sort_key.name}", "order": order}]
        for index in spec.indexes if index.sort_key for order in ("ascending", "descending")
    ]
    return {
        "automatic": True,
        "indexingMode": "consistent",
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": '/"_etag"/?'}],
        **({"compositeIndexes": composite} if composite else {}),
    }


def create_table(ctx: AzureContext, tables: Tables, spec: TableSpec, parent: pulumi.Resource) -> None:
    tables.containers[spec.name] = Arm("azure-native:cosmosdb:SqlResourceSqlContainer", spec.name, {
        "accountName": tables.account.name,
        "databaseName": DATABASE,
        "containerName": spec.name,
        "resourceGroupName": ctx.group_name,
        "resource": {
            "id": spec.name,
            "partitionKey": {"paths": [f"/{spec.partition_key.name}"], "kind": "Hash", "version": 2},
            "defaultTtl": -1,
            "indexingPolicy": indexing_policy(spec),
        },
        "tags": ctx.tags,
    }, ctx.opts(parent, protect=True, depends_on=[tables.database]))


def table_grant(ctx: AzureContext, name: str, who: Identity, tables: Tables, table: str, verb: str,
                parent: pulumi.Resource) -> Arm:
    scope = tables.scope(table)
    return Arm("azure-native:cosmosdb:SqlResourceSqlRoleAssignment", name, {
        "accountName": tables.account.name,
        "resourceGroupName": ctx.group_name,
        "roleAssignmentId": ctx.assignment_name(scope, DATA_ROLES[verb], who.principal_id),
        "principalId": who.principal_id,
        "roleDefinitionId": tables.account.id.apply(lambda a: f"{a}/sqlRoleDefinitions/{DATA_ROLES[verb]}"),
        "scope": scope,
    }, ctx.opts(parent, depends_on=[tables.containers[table]]))
