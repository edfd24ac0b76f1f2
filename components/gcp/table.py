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
    guarded = ctx.settings.guarded
    database = gcp.firestore.Database(
        spec.name,
        name=ctx.physical(spec.name),
        location_id=ctx.region,
        type="FIRESTORE_NATIVE",
        cmek_config=gcp.firestore.DatabaseCmekConfigArgs(kms_key_name=ctx.key_name) if ctx.key else None,
        point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
        delete_protection_state="DELETE_PROTECTION_ENABLED" if guarded else "DELETE_PROTECTION_DISABLED",
        deletion_policy="DELETE",
        opts=ctx.opts(parent, api="firestore", protect=True, cmek=True),
    )
    # A query by partition key ordered by a sort key needs a composite index in Firestore: one
    # per declared index, and one for the table's own key when it has a sort key.
    # (Index names never contain a dot, so the table key's index name cannot collide.)
    own = [(f"{spec.name}.key", spec.partition_key, spec.sort_key)] if spec.sort_key else []
    declared = [(f"{spec.name}-{i.name}", i.partition_key, i.sort_key) for i in spec.indexes]
    for resource_name, partition, sort in own + declared:
        keys = [partition] + ([sort] if sort else [])
        gcp.firestore.Index(
            resource_name,
            database=database.name,
            collection=spec.name,
            query_scope="COLLECTION",
            fields=[gcp.firestore.IndexFieldArgs(field_path=k.name, order="ASCENDING") for k in keys],
            opts=ctx.opts(database, api="firestore"),
        )
    if spec.ttl_attribute:
        gcp.firestore.Field(
            f"{spec.name}-ttl",
            database=database.name,
            collection=spec.name,
            field=spec.ttl_attribute,
            ttl_config=gcp.firestore.FieldTtlConfigArgs(),
            opts=ctx.opts(database, api="firestore"),
        )
    return database
