"""Pub/Sub: a topic, a push subscription to the consumer, and a dead-letter topic that keeps.

Each message is pushed to the consumer's Cloud Run URL with an OIDC token of the
subscription's own service account, the only account allowed to invoke the consumer. A
failure (any non-2xx, or no answer within the ack deadline, which covers the consumer's
timeout) is retried with exponential back-off between 10 s and 10 min; after `max_receives`
deliveries Pub/Sub forwards the message to the dead-letter topic, whose own pull subscription
keeps it for 7 days (a topic with no subscription drops what it receives). The Pub/Sub
service agent may publish to that dead-letter topic and acknowledge on the source
subscription, on those two resources only. Subscriptions never expire for being idle.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from ..spec import QueueSpec
from .context import GcpContext
from .function import FunctionHandle
from .identity import PUBLISHER, SUBSCRIBER, invoker, service_account

#: The longest a subscription keeps an unacknowledged message.
MAX_RETENTION_S = 7 * 24 * 3600
MIN_ACK_DEADLINE_S = 10


@dataclass
class QueueHandle:
    topic: gcp.pubsub.Topic
    dead_letters: gcp.pubsub.Topic
    subscription: gcp.pubsub.Subscription | None = None
    kept: gcp.pubsub.Subscription | None = None


def topic(ctx: GcpContext, name: str, parent: pulumi.Resource) -> gcp.pubsub.Topic:
    """A CMEK topic (also used for workflow start topics)."""
    return gcp.pubsub.Topic(name, name=ctx.physical(name, 255), kms_key_name=ctx.key_name,
                            message_retention_duration=f"{MAX_RETENTION_S}s", opts=ctx.opts(parent, cmek=True))


def retention(spec: QueueSpec) -> str:
    return f"{min(spec.retention_days * 86400, MAX_RETENTION_S)}s"


def create_queue(ctx: GcpContext, spec: QueueSpec, parent: pulumi.Resource) -> QueueHandle:
    source = topic(ctx, spec.name, parent)
    dead_letters = topic(ctx, f"{spec.name}-dlq", parent)
    kept = gcp.pubsub.Subscription(
        f"{spec.name}-dlq-kept",
        name=ctx.physical(f"{spec.name}-dlq-kept", 255),
        topic=dead_letters.id,
        message_retention_duration=f"{MAX_RETENTION_S}s",
        ack_deadline_seconds=60,
        expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=ctx.opts(dead_letters),
    )
    handle = QueueHandle(topic=source, dead_letters=dead_letters, kept=kept)
    gcp.pubsub.TopicIAMMember(f"{spec.name}-dlq-agent-publishes", topic=dead_letters.id, role=PUBLISHER,
                              member=ctx.agent("gcp-sa-pubsub.iam.gserviceaccount.com"), opts=ctx.opts(dead_letters))
    return handle


def subscribe(ctx: GcpContext, spec: QueueSpec, queue: QueueHandle, consumer: FunctionHandle,
              parent: pulumi.Resource) -> gcp.pubsub.Subscription:
    """The push subscription: its own identity, the only account that may invoke the consumer."""
    pusher = service_account(ctx, f"{spec.name}-push", f"pushes queue {spec.name} to {consumer.spec.name}", parent)
    allowed = invoker(ctx, f"{spec.name}-push", consumer.function, pusher, parent)
    subscription = gcp.pubsub.Subscription(
        f"{spec.name}-to-{consumer.spec.name}",
        name=ctx.physical(f"{spec.name}-{consumer.spec.name}", 255),
        topic=queue.topic.id,
        ack_deadline_seconds=max(MIN_ACK_DEADLINE_S, consumer.spec.timeout_s),
        message_retention_duration=retention(spec),
        retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
        dead_letter_policy=gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
            dead_letter_topic=queue.dead_letters.id, max_delivery_attempts=spec.max_receives,
        ),
        push_config=gcp.pubsub.SubscriptionPushConfigArgs(
            push_endpoint=consumer.url,
            oidc_token=gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                service_account_email=pusher.email, audience=consumer.url,
            ),
        ),
        expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=ctx.opts(parent, depends_on=[allowed]),
    )
    gcp.pubsub.SubscriptionIAMMember(f"{spec.name}-agent-acknowledges", subscription=subscription.name, role=SUBSCRIBER,
                                     member=ctx.agent("gcp-sa-pubsub.iam.gserviceaccount.com"), opts=ctx.opts(subscription))
    queue.subscription = subscription
    return subscription
