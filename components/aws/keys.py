"""The service's KMS key: rotation on, and a key policy that names who may use it and how.

The account root may administer the key but not use it directly; data-plane use is allowed
only through the AWS services that store the service's data (kms:ViaService), so an IAM
policy alone cannot decrypt outside DynamoDB, SQS, Secrets Manager, Step Functions or Lambda.
CloudWatch Logs and CloudWatch alarms (publishing to the encrypted SNS topic) are service
principals and get their own statements, each bound to this account's resources.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .context import AwsContext

ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
)
USE_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
#: Services that encrypt the service's data with this key on a caller's behalf.
VIA_SERVICES = ("dynamodb", "sqs", "secretsmanager", "states", "lambda")


def key_policy(ctx: AwsContext) -> pulumi.Output[str]:
    def build(values: list[str]) -> dict:
        partition, region, account = values
        root = f"arn:{partition}:iam::{account}:root"
        via = [f"{s}.{region}.amazonaws.com" for s in VIA_SERVICES]
        log_groups = f"arn:{partition}:logs:{region}:{account}:log-group:/anycloud/{ctx.prefix}/*"
        alarms = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{ctx.prefix}-*"
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": root}, "Action": list(ADMIN_ACTIONS), "Resource": "*"},
                {
                    "Sid": "UseThroughDataServices",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": list(USE_ACTIONS),
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via}},
                },
                {
                    "Sid": "GrantsForDataServices",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": ["kms:CreateGrant", "kms:RetireGrant"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via},
                        "Bool": {"kms:GrantIsForAWSResource": "true"},
                    },
                },
                {
                    "Sid": "CloudWatchLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": list(USE_ACTIONS),
                    "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
                },
                {
                    "Sid": "CloudWatchAlarmsToEncryptedTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": alarms}},
                },
            ],
        }

    return pulumi.Output.json_dumps(pulumi.Output.all(ctx.partition, ctx.region, ctx.account).apply(build))


def service_key(ctx: AwsContext) -> aws.kms.Key | None:
    """One customer-managed key per service, or None when `customerManagedKeys` is false."""
    if not ctx.settings.customer_managed_keys:
        return None
    key = aws.kms.Key(
        f"{ctx.spec.name}-key",
        description=f"anycloud {ctx.prefix}: encrypts tables, queues, secrets, logs, workflows and alarms",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30 if ctx.settings.prod else 7,
        policy=key_policy(ctx),
        opts=ctx.opts(ctx.parent, protect=True),
    )
    aws.kms.Alias(f"{ctx.spec.name}-key-alias", name=f"alias/anycloud/{ctx.prefix}", target_key_id=key.key_id, opts=ctx.opts(key))
    return key

