"""Cosmos DB for NoSQL: one serverless account and database per service, a container per table.

The account: serverless (no idle throughput charge), local (key) authentication off so only
Entra ID identities with data-plane roles get in, key-based metadata writes off (containers
change through ARM only), TLS 1.2, continuous backup (point-in-time restore, 7 days), and
with customer-managed keys the service key through the account's own user-assigned identity,
which Cosmos requires with continuous backup. Prod: a CanNotDelete lock on the account and
`protect` on the account, database and containers.

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
from pulumi_azure_native import authorization, cosmosdb

from ..spec import TableSpec
from .context import AzureContext
from .identity import Identity
from .keys import ServiceKey, key_user

#: Cosmos DB built-in data-plane role definitions.
DATA_ROLES = {"read": "00000000-0000-0000-0000-000000000001", "write": "00000000-0000-0000-0000-000000000002"}
DATABASE = "tables"


@dataclass
class Tables:
    account: cosmosdb.DatabaseAccount
    database: cosmosdb.SqlResourceSqlDatabase
    containers: dict[str, cosmosdb.SqlResourceSqlContainer] = field(default_factory=dict)

    def url(self, table: str) -> pulumi.Output[str]:
        """`https://<account>.documents.azure.com:443/dbs/<db>/colls/<container>`: a table's wiring."""
        return pulumi.Output.all(self.account.document_endpoint, self.containers[table].name).apply(
            lambda v: f"{v[0].rstrip('/')}/dbs/{DATABASE}/colls/{v[1].rsplit('/', 1)[-1]}")

    def scope(self, table: str) -> pulumi.Output[str]:
        return self.account.id.apply(lambda account: f"{account}/dbs/{DATABASE}/colls/{table}")


def create_account(ctx: AzureContext, key: ServiceKey | None) -> Tables:
    encryption: dict = {}
    waits_for: list = []
    if key is not None:
        identity, grant = key_user(ctx, "cosmos", key)
        waits_for.append(grant)
        encryption = {
            "identity": cosmosdb.ManagedServiceIdentityArgs(type="UserAssigned",
                                                            user_assigned_identities=[identity.id]),
            "default_identity": identity.id.apply(lambda i: f"UserAssignedIdentity={i}"),
            "key_vault_key_uri": key.uri,
        }
    account = cosmosdb.DatabaseAccount(
        "tables",
        account_name=ctx.global_name("tables", 44),
        **ctx.common(),
        kind="GlobalDocumentDB",
        database_account_offer_type="Standard",
        locations=[cosmosdb.LocationArgs(location_name=ctx.location, failover_priority=0,
                                         is_zone_redundant=ctx.settings.prod)],
        capabilities=[cosmosdb.CapabilityArgs(name="EnableServerless")],
        consistency_policy=cosmosdb.ConsistencyPolicyArgs(default_consistency_level="Session"),
        disable_local_auth=True,
        disable_key_based_metadata_write_access=True,
        minimal_tls_version="Tls12",
        public_network_access="Enabled",
        backup_policy=cosmosdb.ContinuousModeBackupPolicyArgs(
            type="Continuous", continuous_mode_properties=cosmosdb.ContinuousModePropertiesArgs(tier="Continuous7Days")),
        **encryption,
        opts=ctx.opts(ctx.parent, protect=True, depends_on=waits_for),
    )
    if ctx.settings.prod:
        authorization.ManagementLockByScope(
            "tables-lock", lock_name="anycloud-do-not-delete", level="CanNotDelete", scope=account.id,
            notes="anycloud prod tables: remove this lock deliberately before deleting the account",
            opts=ctx.opts(account))
    database = cosmosdb.SqlResourceSqlDatabase(
        "tables-database", account_name=account.name, database_name=DATABASE, resource_group_name=ctx.group_name,
        resource=cosmosdb.SqlDatabaseResourceArgs(id=DATABASE), tags=ctx.tags, opts=ctx.opts(account, protect=True))
    return Tables(account=account, database=database)


def indexing_policy(spec: TableSpec) -> cosmosdb.IndexingPolicyArgs:
    composite = [
        [cosmosdb.CompositePathArgs(path=f"/{index.partition_key.name}", order="ascending"),
         cosmosdb.CompositePathArgs(path=f"/{index.sort_key.name}", order=order)]
        for index in spec.indexes if index.sort_key for order in ("ascending", "descending")
    ]
    return cosmosdb.IndexingPolicyArgs(
        automatic=True,
        indexing_mode="consistent",
        included_paths=[cosmosdb.IncludedPathArgs(path="/*")],
        excluded_paths=[cosmosdb.ExcludedPathArgs(path='/"_etag"/?')],
        composite_indexes=composite or None,
    )


def create_table(ctx: AzureContext, tables: Tables, spec: TableSpec, parent: pulumi.Resource) -> None:
    tables.containers[spec.name] = cosmosdb.SqlResourceSqlContainer(
        spec.name,
        account_name=tables.account.name,
        database_name=DATABASE,
        container_name=spec.name,
        resource_group_name=ctx.group_name,
        resource=cosmosdb.SqlContainerResourceArgs(
            id=spec.name,
            partition_key=cosmosdb.ContainerPartitionKeyArgs(paths=[f"/{spec.partition_key.name}"], kind="Hash",
                                                             version=2),
            default_ttl=-1,
            indexing_policy=indexing_policy(spec),
        ),
        tags=ctx.tags,
        opts=ctx.opts(parent, protect=True, depends_on=[tables.database]),
    )


def table_grant(ctx: AzureContext, name: str, who: Identity, tables: Tables, table: str, verb: str,
                parent: pulumi.Resource) -> cosmosdb.SqlResourceSqlRoleAssignment:
    role = tables.account.id.apply(lambda account: f"{account}/sqlRoleDefinitions/{DATA_ROLES[verb]}")
    scope = tables.scope(table)
    return cosmosdb.SqlResourceSqlRoleAssignment(
        name,
        account_name=tables.account.name,
        resource_group_name=ctx.group_name,
        role_assignment_id=ctx.assignment_name(scope, DATA_ROLES[verb], who.principal_id),
        principal_id=who.principal_id,
        role_definition_id=role,
        scope=scope,
        opts=ctx.opts(parent, depends_on=[tables.containers[table]]),
    )
