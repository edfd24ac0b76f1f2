"""SQS: a queue and its dead-letter queue, encrypted, TLS only, drained by its consumer.

A message is delivered `max_receives` times, then moved to the DLQ (kept 14 days, the SQS
maximum, so it outlives the source queue's retention); it is never dropped. The visibility
timeout is six times the consumer's timeout, as AWS advises for Lambda consumers.
`dead_letter_queue` is also the dead-letter store of a table's change stream (stream.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..spec import FunctionSpec, QueueSpec
from .context import AwsContext

DLQ_RETENTION_S = 14 * 24 * 3600
VISIBILITY_FACTOR = 6
#: The TLS-only guard denies every SQS action, written `sqs:*` as AWS CDK's `enforceSSL` does.
#: An SQS policy statement may list at most 7 actions ("Amazon SQS policy quotas",
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html),
#: so a listed form cannot cover the service; a wildcard in a Deny takes permissions away.
TLS_DENY_ACTION = "sqs:*"


@dataclass
class QueuePair:
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue


def _encryption(ctx: AwsContext) -> dict:
    if ctx.key is None:
        return {"sqs_managed_sse_enabled": True}
    return {"kms_master_key_id": ctx.key.arn, "kms_data_key_reuse_period_seconds": 300}


def _tls_only(ctx: AwsContext, name: str, queue: aws.sqs.Queue) -> aws.sqs.QueuePolicy:
    """Deny every SQS action on the queue over plain HTTP."""
    policy = pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": TLS_DENY_ACTION,
                    "Resource": queue.arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
    return aws.sqs.QueuePolicy(f"{name}-tls-only", queue_url=queue.id, policy=policy, opts=ctx.opts(queue))


def dead_letter_queue(ctx: AwsContext, name: str, parent: pulumi.Resource) -> aws.sqs.Queue:
    """`name`: a queue kept 14 days, encrypted like every queue, TLS only."""
    dlq = aws.sqs.Queue(name, message_retention_seconds=DLQ_RETENTION_S, **_encryption(ctx), opts=ctx.opts(parent))
    _tls_only(ctx, name, dlq)
    return dlq


def create_queue(ctx: AwsContext, spec: QueueSpec, consumer: FunctionSpec, parent: pulumi.Resource) -> QueuePair:
    dlq = dead_letter_queue(ctx, f"{spec.name}-dlq", parent)
    queue = aws.sqs.Queue(
        spec.name,
        visibility_timeout_seconds=VISIBILITY_FACTOR * consumer.timeout_s,
        message_retention_seconds=spec.retention_days * 24 * 3600,
        receive_wait_time_seconds=20,
        redrive_policy=pulumi.Output.json_dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": spec.max_receives}),
        **_encryption(ctx),
        opts=ctx.opts(parent),
    )
    aws.sqs.RedriveAllowPolicy(
        f"{spec.name}-dlq-sources",
        queue_url=dlq.id,
        redrive_allow_policy=pulumi.Output.json_dumps({"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}),
        opts=ctx.opts(dlq),
    )
    _tls_only(ctx, spec.name, queue)
    return QueuePair(queue=queue, dlq=dlq)
