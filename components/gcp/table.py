"""Firestore: one native database per table, CMEK, point-in-time recovery, indexes and TTL.

A database per table keeps grants exact: Firestore has no per-collection IAM, but a Datastore
role's IAM condition can name one database. Documents live in the collection named after the
table. Prod: delete protection, `protect`, and `deletion_policy` DELETE so that `pulumi destroy`
fails on the protection instead of silently abandoning the data; dev: DELETE without protection.
The TTL attribute gets a TTL policy (it holds a timestamp, which the GCP adapter writes).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from ..spec import TableSpec
from .context import GcpContext


def create_table(ctx: GcpContext, spec: TableSpec, parent: pulumi.Resource) -> gcp.firestore.Database:
    prod = ctx.settings.prod
    database = gcp.firestore.Database(
        spec.name,
        name=ctx.physical(spec.name),
        location_id=ctx.region,
        type="FIRESTORE_NATIVE",
        cmek_config=gcp.firestore.DatabaseCmekConfigArgs(kms_key_name=ctx.key_name) if ctx.key else None,
        point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
        delete_protection_state="DELETE_PROTECTION_ENABLED" if prod else "DELETE_PROTECTION_DISABLED",
        deletion_policy="DELETE",
        opts=ctx.opts(parent, protect=True, cmek=True),
    )
    for index in spec.indexes:
        keys = [index.partition_key] + ([index.sort_key] if index.sort_key else [])
        gcp.firestore.Index(
            f"{spec.name}-{index.name}",
            database=database.name,
            collection=spec.name,
            query_scope="COLLECTION",
            fields=[gcp.firestore.IndexFieldArgs(field_path=k.name, order="ASCENDING") for k in keys],
            opts=ctx.opts(database),
        )
    if spec.ttl_attribute:
        gcp.firestore.Field(
            f"{spec.name}-ttl",
            database=database.name,
            collection=spec.name,
            field=spec.ttl_attribute,
            ttl_config=gcp.firestore.FieldTtlConfigArgs(),
            opts=ctx.opts(database),
        )
    return database
