"""Pub/Sub: a topic, a push subscription to the consumer, and a dead-letter topic that keeps.

Each message is pushed to the consumer's Cloud Run URL with an OIDC token of the
subscription's own service account, the only account allowed to invoke the consumer. A
failure (any non-2xx, or no answer within the ack deadline, which covers the consumer's
timeout) is retried with exponential back-off between 10 s and 10 min; after `max_receives`
deliveries Pub/Sub forwards the message to the dead-letter topic, whose own pull subscription
keeps it for 7 days (a topic with no subscription drops what it receives). The Pub/Sub
service agent (its ServiceIdentity) may publish to that dead-letter topic and acknowledge on the
source subscription, on those two resources only, and may mint the push identity's OIDC tokens
(needed in projects created before 8 April 2021, harmless after:
https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions). Subscriptions never
expire for being idle.

With a customer-managed key, a topic's message storage policy keeps its messages in the key's
region (https://cloud.google.com/pubsub/docs/resource-location-restriction): without one, Pub/Sub
stores a message in the region nearest its publisher.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from ..spec import QueueSpec
from .context import GcpContext
from .function import FunctionHandle
from .identity import PUBLISHER, SUBSCRIBER, TOKEN_CREATOR, invoker, service_account

#: The longest a subscription keeps an unacknowledged message.
MAX_RETENTION_S = 7 * 24 * 3600
MIN_ACK_DEADLINE_S = 10


@dataclass
class QueueHandle:
    topic: gcp.pubsub.Topic
    dead_letters: gcp.pubsub.Topic
    subscription: gcp.pubsub.Subscription | None = None
    kept: gcp.pubsub.Subscription | None = None


def topic(ctx: GcpContext, name: str, parent: pulumi.Resource, physical_limit: int = 255) -> gcp.pubsub.Topic:
    """A CMEK topic (also used for workflow start topics)."""
    in_key_region = gcp.pubsub.TopicMessageStoragePolicyArgs(allowed_persistence_regions=[ctx.region]) if ctx.key else None
    return gcp.pubsub.Topic(name, name=ctx.physical(name, physical_limit), kms_key_name=ctx.key_name,
                            message_storage_policy=in_key_region, message_retention_duration=f"{MAX_RETENTION_S}s",
                            opts=ctx.opts(parent, api="pubsub", cmek=True))


def retention(spec: QueueSpec) -> str:
    return f"{min(spec.retention_days * 86400, MAX_RETENTION_S)}s"


def dead_letter_store(ctx: GcpContext, name: str, parent: pulumi.Resource,
                      physical_limit: int = 255) -> tuple[gcp.pubsub.Topic, gcp.pubsub.Subscription]:
    """A CMEK dead-letter topic `<name>-dlq` and the subscription that keeps what reaches it for 7
    days, never expiring (a topic with no subscription drops what it receives)."""
    dead_letters = topic(ctx, f"{name}-dlq", parent, physical_limit)
    kept = gcp.pubsub.Subscription(
        f"{name}-dlq-kept",
        name=ctx.physical(f"{name}-dlq-kept", 255),
        topic=dead_letters.id,
        message_retention_duration=f"{MAX_RETENTION_S}s",
        ack_deadline_seconds=60,
        expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=ctx.opts(dead_letters, api="pubsub"),
    )
    return dead_letters, kept


def create_queue(ctx: GcpContext, name: str, parent: pulumi.Resource) -> QueueHandle:
    """A topic, its dead-letter topic, and the subscription that keeps the dead letters (also a
    workflow's start path: components/gcp/workflow.py)."""
    source = topic(ctx, name, parent)
    dead_letters, kept = dead_letter_store(ctx, name, parent)
    handle = QueueHandle(topic=source, dead_letters=dead_letters, kept=kept)
    agent, _ = ctx.service_agent("pubsub")
    gcp.pubsub.TopicIAMMember(f"{name}-dlq-agent-publishes", topic=dead_letters.id, role=PUBLISHER,
                              member=agent, opts=ctx.opts(dead_letters, api="pubsub"))
    return handle


def subscribe(ctx: GcpContext, name: str, queue: QueueHandle, consumer: FunctionHandle, max_receives: int,
              kept_for: str, parent: pulumi.Resource) -> gcp.pubsub.Subscription:
    """The push subscription: its own identity, the only account that may invoke the consumer;
    `max_receives` deliveries, then the dead-letter topic; unacknowledged messages kept `kept_for`."""
    target = consumer.shape.name
    pusher = service_account(ctx, f"{name}-push", f"pushes queue {name} to {target}", parent)
    agent, _ = ctx.service_agent("pubsub")
    allowed = [
        invoker(ctx, f"{name}-push", consumer.function, pusher, parent),
        gcp.serviceaccount.IAMMember(f"{name}-push-agent-mints", service_account_id=pusher.account.name,
                                     role=TOKEN_CREATOR, member=agent, opts=ctx.opts(parent, api="iam")),
    ]
    subscription = gcp.pubsub.Subscription(
        f"{name}-to-{target}",
        name=ctx.physical(f"{name}-{target}", 255),
        topic=queue.topic.id,
        ack_deadline_seconds=max(MIN_ACK_DEADLINE_S, consumer.shape.timeout_s),
        message_retention_duration=kept_for,
        retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
        dead_letter_policy=gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
            dead_letter_topic=queue.dead_letters.id, max_delivery_attempts=max_receives,
        ),
        push_config=gcp.pubsub.SubscriptionPushConfigArgs(
            push_endpoint=consumer.url,
            oidc_token=gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                service_account_email=pusher.email, audience=consumer.url,
            ),
        ),
        expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=ctx.opts(parent, api="pubsub", depends_on=allowed),
    )
    gcp.pubsub.SubscriptionIAMMember(f"{name}-agent-acknowledges", subscription=subscription.name, role=SUBSCRIBER,
                                     member=agent, opts=ctx.opts(subscription, api="pubsub"))
    queue.subscription = subscription
    return subscription
