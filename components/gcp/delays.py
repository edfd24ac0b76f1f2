"""Delayed sends on GCP: `queue.send(body, delay_s=n)` through Cloud Tasks.

Pub/Sub has no delayed delivery. What GCP users do is Cloud Tasks: a task scheduled at now + n
whose HTTP request publishes the message (https://cloud.google.com/tasks/docs/creating-http-target-
tasks). Each declared queue with a sender gets one Cloud Tasks queue, `<queue>-delays`, whose
queue-level HTTP target pins every task's request to the queue's own topic: the URI override
(enforced ALWAYS) is Pub/Sub's `projects/P/topics/T:publish` on pubsub.googleapis.com, POST, with
an OAuth token of the queue's delivery account (OAuth, not OIDC: the target is a Google API on
*.googleapis.com). So a sender can only enqueue publishes to that topic, and the delivery account
holds `roles/pubsub.publisher` on that topic alone. Senders hold `roles/cloudtasks.enqueuer` on
that Cloud Tasks queue only; their tasks name no token of their own. The Cloud Tasks service
agent may mint the delivery account's tokens.

A task is retried with back-off (1 s to 10 min) without limit (`maxAttempts` -1, no
`maxRetryDuration`): Cloud Tasks has no dead-letter queue and deletes a task whose attempts run
out, so a publish that keeps failing stays visible in the queue (and alerts: observability.py)
instead of being dropped. Once published, the message is the topic's like any other: pushed,
retried and dead-lettered by its subscription.

Keys: Cloud Tasks encrypts task bodies with a customer-managed key per project and region
(`projects.locations.updateCmekConfig`, https://cloud.google.com/tasks/docs/use-cmek), which
pulumi-gcp 10.2.0 has no resource for; the check says so (a note) and how to set it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from .context import GcpContext
from .identity import PUBLISHER, TOKEN_CREATOR, Identity, service_account

ENQUEUER = "roles/cloudtasks.enqueuer"
PUBSUB_HOST = "pubsub.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
MAX_BACKOFF = "600s"


def delays_var(queue: str) -> str:
    """A sender's wiring for a queue's delayed path, `ANYCLOUD_DELAYS_<QUEUE>` (not a wired resource
    kind): the Cloud Tasks queue's path. functions/runtime/gcp/messaging.py reads it."""
    return f"ANYCLOUD_DELAYS_{queue.upper().replace('-', '_')}"


@dataclass
class DelaysHandle:
    queue: gcp.cloudtasks.Queue
    path: pulumi.Output[str]  # projects/P/locations/L/queues/Q, what the Cloud Tasks client names


def create_delays(ctx: GcpContext, name: str, topic: gcp.pubsub.Topic, parent: pulumi.Resource) -> DelaysHandle:
    delivery = service_account(ctx, f"{name}-delays", f"publishes delayed messages to queue {name}", parent)
    agent, _ = ctx.service_agent("cloudtasks")
    allowed = [
        gcp.pubsub.TopicIAMMember(f"{name}-delays-publish", topic=topic.id, role=PUBLISHER, member=delivery.member,
                                  opts=ctx.opts(parent, api="pubsub")),
        gcp.serviceaccount.IAMMember(f"{name}-delays-agent-mints", service_account_id=delivery.account.name,
                                     role=TOKEN_CREATOR, member=agent, opts=ctx.opts(parent, api="iam")),
    ]
    queue = gcp.cloudtasks.Queue(
        f"{name}-delays",
        name=ctx.physical(f"{name}-delays", 100),
        location=ctx.region,
        http_target=gcp.cloudtasks.QueueHttpTargetArgs(
            http_method="POST",
            uri_override=gcp.cloudtasks.QueueHttpTargetUriOverrideArgs(
                scheme="HTTPS", host=PUBSUB_HOST, uri_override_enforce_mode="ALWAYS",
                path_override=gcp.cloudtasks.QueueHttpTargetUriOverridePathOverrideArgs(
                    path=topic.id.apply(lambda t: f"/v1/{t}:publish")),
            ),
            oauth_token=gcp.cloudtasks.QueueHttpTargetOauthTokenArgs(service_account_email=delivery.email, scope=SCOPE),
        ),
        retry_config=gcp.cloudtasks.QueueRetryConfigArgs(max_attempts=-1, min_backoff="1s", max_backoff=MAX_BACKOFF),
        stackdriver_logging_config=gcp.cloudtasks.QueueStackdriverLoggingConfigArgs(sampling_ratio=1.0),
        opts=ctx.opts(parent, api="cloudtasks", depends_on=allowed),
    )
    path = pulumi.Output.all(ctx.project, queue.name).apply(lambda v: f"projects/{v[0]}/locations/{ctx.region}/queues/{v[1]}")
    return DelaysHandle(queue=queue, path=path)


def allow_sender(ctx: GcpContext, name: str, delays: DelaysHandle, who: Identity, parent: pulumi.Resource) -> None:
    gcp.cloudtasks.QueueIamMember(name, name=delays.queue.name, location=ctx.region, project=ctx.project, role=ENQUEUER,
                                  member=who.member, opts=ctx.opts(parent, api="cloudtasks"))
