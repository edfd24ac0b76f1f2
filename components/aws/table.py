"""DynamoDB: on demand, encrypted with the service key, PITR, TTL, indexes; protected in prod.

A table that declares a `stream` (TableSpec.stream) writes its changes to its DynamoDB stream
as NEW_IMAGE: each record carries the item's key and, but for a delete, the item after the
change, which is what the consumer receives (the state, not the delta: components/spec.py
StreamSpec). A delete needs only the key, which every view type carries, so NEW_IMAGE serves
`deletes` too; the old image is never needed and is not written. stream.py renders the rest.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ..spec import TableSpec
from .context import AwsContext

KEY_TYPES = {"string": "S", "number": "N"}
STREAM_VIEW = "NEW_IMAGE"


def stored_safely(ctx: AwsContext) -> dict[str, Any]:
    """What every table of the service gets: the service key, PITR, deletion protection in prod."""
    return {
        "server_side_encryption": aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=ctx.key.arn if ctx.key else None),
        "point_in_time_recovery": aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        "deletion_protection_enabled": ctx.settings.guarded,
    }


def create_table(ctx: AwsContext, spec: TableSpec, parent: pulumi.Resource) -> aws.dynamodb.Table:
    return aws.dynamodb.Table(
        spec.name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=spec.partition_key.name,
        range_key=spec.sort_key.name if spec.sort_key else None,
        attributes=[aws.dynamodb.TableAttributeArgs(name=k.name, type=KEY_TYPES[k.type]) for k in spec.key_attributes()],
        global_secondary_indexes=[
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index.name,
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=key.name, key_type=key_type)
                    for key, key_type in ((index.partition_key, "HASH"), (index.sort_key, "RANGE"))
                    if key is not None
                ],
                projection_type="ALL",
            )
            for index in spec.indexes
        ]
        or None,
        ttl=aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True) if spec.ttl_attribute else None,
        stream_enabled=True if spec.stream else None,
        stream_view_type=STREAM_VIEW if spec.stream else None,
        **stored_safely(ctx),
        opts=ctx.opts(parent, protect=True),
    )


def index_arns(table: aws.dynamodb.Table, spec: TableSpec) -> list[pulumi.Output[str]]:
    """The table's ARN and each index ARN, named one by one (no `/index/*`)."""
    return [table.arn] + [table.arn.apply(lambda arn, n=i.name: f"{arn}/index/{n}") for i in spec.indexes]
