"""The service's KMS key: rotation on, and a key policy that names who may use it and how.

The account root may administer the key but not use it directly; data-plane use is allowed
only through the AWS services that store the service's data (kms:ViaService), so an IAM
policy alone cannot decrypt outside DynamoDB, SQS, Secrets Manager, Step Functions or Lambda.
Step Functions' execution roles are the exception AWS documents: they call KMS directly, bound
to the service's state machines by encryption context. CloudWatch Logs, log delivery and
CloudWatch alarms (publishing to the encrypted SNS topic) are service principals and get their
own statements.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .context import AwsContext

#: What the account's administrators (and the deployer, through IAM) may do to the key, never
#: use it. Managing the alias needs the key policy too: KMS authorises CreateAlias, UpdateAlias
#: and DeleteAlias on the key as well as on the alias
#: (https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html), so without them
#: `alias/anycloud/...` cannot be created, and a dev stack cannot be destroyed. DisableKey and
#: DisableKeyRotation are the incident levers; an operator must not need to rewrite the policy
#: to pull them.
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
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
    "kms:UpdateAlias",
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
#: Services that encrypt the service's data with this key on a caller's behalf (Step Functions
#: for the deployer's CreateStateMachine/UpdateStateMachine, which need DescribeKey and
#: GenerateDataKey as the API caller).
VIA_SERVICES = ("dynamodb", "sqs", "secretsmanager", "states", "lambda")
#: Step Functions' execution roles call KMS themselves, and AWS warns that a kms:ViaService
#: condition on them "can prevent a new execution from starting or cause a running execution
#: to fail" (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
#: Their use is bound instead to the encryption context Step Functions sets: the state machine's
#: ARN for its data, and this literal SourceArn when it delivers logs (both as AWS documents them).
STATES_CONTEXT = "kms:EncryptionContext:aws:states:stateMachineArn"
LOG_DELIVERY_CONTEXT = "kms:EncryptionContext:SourceArn"
LOG_DELIVERY_PRINCIPAL = "delivery.logs.amazonaws.com"


def log_delivery_source(partition: str, region: str, account: str) -> str:
    """The SourceArn encryption context of Step Functions' log delivery (a literal `*`)."""
    return f"arn:{partition}:logs:{region}:{account}:*"


def key_policy(ctx: AwsContext) -> pulumi.Output[str]:
    def build(values: list[str]) -> dict:
        partition, region, account = values
        root = f"arn:{partition}:iam::{account}:root"
        via = [f"{s}.{region}.amazonaws.com" for s in VIA_SERVICES]
        log_groups = [f"arn:{partition}:logs:{region}:{account}:log-group:{p}*" for p in ctx.log_group_prefixes]
        alarms = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{ctx.prefix}-*"
        machines = f"arn:{partition}:states:{region}:{account}:stateMachine:{ctx.prefix}-*"
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
                    "Sid": "StepFunctionsExecutionRoles",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:CallerAccount": account}, "ArnLike": {STATES_CONTEXT: machines}},
                },
                {
                    "Sid": "StepFunctionsLogDeliveryDataKeys",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": ["kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {
                        "kms:CallerAccount": account, LOG_DELIVERY_CONTEXT: log_delivery_source(partition, region, account)}},
                },
                {
                    "Sid": "LogDeliveryReadsWorkflowData",
                    "Effect": "Allow",
                    "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
                    "Action": ["kms:Decrypt"],
                    "Resource": "*",
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

