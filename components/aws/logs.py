"""Encrypted log groups with retention: the runtime never creates its own, unencrypted, forever."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .context import AwsContext


def log_group(ctx: AwsContext, kind: str, name: str, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        f"{name}-{kind}-logs",
        name=ctx.log_group_name(kind, name),
        retention_in_days=ctx.log_retention,
        kms_key_id=ctx.key.arn if ctx.key else None,
        opts=ctx.opts(parent),
    )
