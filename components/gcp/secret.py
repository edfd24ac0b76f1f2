"""Secret Manager: one secret per declared secret, replicated in the service's region with the
service key; its value is the Pulumi secret. The secret is protected in prod, its version is
not: a new value replaces the version, and a protected version would block rotation."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from ..spec import SecretSpec
from .context import GcpContext


def create_secret(ctx: GcpContext, spec: SecretSpec, parent: pulumi.Resource) -> gcp.secretmanager.Secret:
    replica = gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
        location=ctx.region,
        customer_managed_encryption=(
            gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(kms_key_name=ctx.key_name)
            if ctx.key else None
        ),
    )
    secret = gcp.secretmanager.Secret(
        spec.name,
        secret_id=ctx.physical(spec.name),
        replication=gcp.secretmanager.SecretReplicationArgs(
            user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(replicas=[replica]),
        ),
        deletion_protection=ctx.settings.guarded,
        opts=ctx.opts(parent, api="secretmanager", protect=True, cmek=True),
    )
    gcp.secretmanager.SecretVersion(
        f"{spec.name}-value",
        secret=secret.id,
        secret_data=ctx.settings.secret(spec.config_key),
        opts=ctx.opts(secret, api="secretmanager"),
    )
    return secret
