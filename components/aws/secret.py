"""Secrets Manager: encrypted with the service key; the value comes from a Pulumi secret.

The secret is protected in prod; its version is not. A new value replaces the
`SecretVersion` (the provider forces a new resource for `secret_string`), and Pulumi refuses
to replace a protected resource, so protecting the version would block every key rotation.
Deleting a version never deletes the secret or its recovery window.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..spec import SecretSpec
from .context import AwsContext


def create_secret(ctx: AwsContext, spec: SecretSpec, parent: pulumi.Resource) -> aws.secretsmanager.Secret:
    secret = aws.secretsmanager.Secret(
        spec.name,
        name_prefix=f"{ctx.prefix}/{spec.name}-",
        description=f"anycloud {ctx.prefix}: {spec.name} (from config anycloud:{spec.config_key})",
        kms_key_id=ctx.key.arn if ctx.key else None,
        recovery_window_in_days=30 if ctx.settings.prod else 7,
        opts=ctx.opts(parent, protect=True),
    )
    aws.secretsmanager.SecretVersion(
        f"{spec.name}-value",
        secret_id=secret.id,
        secret_string=ctx.settings.secret(spec.config_key),
        opts=ctx.opts(secret),
    )
    return secret
