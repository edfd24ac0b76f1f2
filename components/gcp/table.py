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


def database(ctx: GcpContext, name: str, parent: pulumi.Resource, *, protect: bool = False) -> gcp.firestore.Database:
    """A native database with the stack's key, point-in-time recovery and (prod) delete protection:
    a table's, or the bookkeeping one of a workflow's start claims or a stream's deliveries."""
    return gcp.firestore.Database(
        name,
        name=ctx.physical(name),
        location_id=ctx.region,
        type="FIRESTORE_NATIVE",
        cmek_config=gcp.firestore.DatabaseCmekConfigArgs(kms_key_name=ctx.key_name) if ctx.key else None,
        point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
        delete_protection_state="DELETE_PROTECTION_ENABLED" if ctx.settings.guarded else "DELETE_PROTECTION_DISABLED",
        deletion_policy="DELETE",
        opts=ctx.opts(parent, api="firestore", protect=protect, cmek=True),
    )


def ttl_field(ctx: GcpContext, name: str, db: gcp.firestore.Database, collection: str, field: str) -> None:
    """Firestore's TTL policy on `collection`.`field` (a timestamp)."""
    gcp.firestore.Field(name, database=db.name, collection=collection, field=field,
                        ttl_config=gcp.firestore.FieldTtlConfigArgs(), opts=ctx.opts(db, api="firestore"))


def create_table(ctx: GcpContext, spec: TableSpec, parent: pulumi.Resource) -> gcp.firestore.Database:
    db = database(ctx, spec.name, parent, protect=True)
    # A query by partition key ordered by a sort key needs a composite index in Firestore: one
    # per declared index, and one for the table's own key when it has a sort key.
    # (Index names never contain a dot, so the table key's index name cannot collide.)
    own = [(f"{spec.name}.key", spec.partition_key, spec.sort_key)] if spec.sort_key else []
    declared = [(f"{spec.name}-{i.name}", i.partition_key, i.sort_key) for i in spec.indexes]
    for resource_name, partition, sort in own + declared:
        keys = [partition] + ([sort] if sort else [])
        gcp.firestore.Index(
            resource_name,
            database=db.name,
            collection=spec.name,
            query_scope="COLLECTION",
            fields=[gcp.firestore.IndexFieldArgs(field_path=k.name, order="ASCENDING") for k in keys],
            opts=ctx.opts(db, api="firestore"),
        )
    if spec.ttl_attribute:
        ttl_field(ctx, f"{spec.name}-ttl", db, spec.name, spec.ttl_attribute)
    return db
