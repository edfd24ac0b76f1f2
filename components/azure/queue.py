"""Storage queues: the service queue and its poison queue on the data account, and what a
consumer app needs to drain it.

Storage queues, not Service Bus: Service Bus takes a customer-managed key only on its Premium
tier (hundreds of dollars a month per namespace), Storage queues on every account.

A consumer app's queue trigger uses the identity-based connection `ANYCLOUD_TRIGGER`
(the data account's queue endpoint, the app's identity) and the queue named in
`ANYCLOUD_TRIGGER_QUEUE`. The host retries a failed message after the visibility timeout and
moves it to `<queue>-poison` after `maxDequeueCount` dequeues; both are set in the app's
settings (`AzureFunctionsJobHost__extensions__queues__*`, the documented host.json
override), so the policy pack sees them. The consumer holds Storage Queue Data Contributor on
its queue (the documented Reader + Message Processor pair cannot release a failed message,
which is Update Message) and Message Sender on the poison queue (the poison move is a send);
nothing on the account.
"""

from __future__ import annotations

import pulumi

from .context import AzureContext
from .function import TRIGGER_CONNECTION, TRIGGER_QUEUE, AppHandle, host_settings
from .identity import QUEUE_CONTRIBUTOR, QUEUE_SENDER, Identity, assign
from .storage import QueuePair

#: Wait before a failed message is visible again (the host's retry delay).
RETRY_AFTER = "00:00:30"
#: The host fetches at most 32 messages at once.
MAX_BATCH = 32


def consumer_settings(queue: QueuePair, max_receives: int, batch_size: int, app_identity: Identity) -> dict:
    """The queue trigger's identity-based connection, queue and poison threshold."""
    return {
        **host_settings(TRIGGER_CONNECTION, queue.account, app_identity, "queue"),
        TRIGGER_QUEUE: queue.queue.name,
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": str(max_receives),
        "AzureFunctionsJobHost__extensions__queues__batchSize": str(min(batch_size, MAX_BATCH)),
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": RETRY_AFTER,
    }


def consumer_grants(ctx: AzureContext, name: str, app: AppHandle, queue: QueuePair, parent: pulumi.Resource) -> None:
    """Receive, release and delete on the queue; send (the poison move) on its poison queue."""
    assign(ctx, f"{name}-consumes", app.identity, QUEUE_CONTRIBUTOR, queue.account.queue_scope(queue.queue.name), parent)
    assign(ctx, f"{name}-poisons", app.identity, QUEUE_SENDER, queue.account.queue_scope(queue.poison.name), parent)


