"""A table's change stream on GCP: Firestore document events through Eventarc to the consumer.

Events. One Eventarc trigger per stream, for `google.cloud.firestore.document.v1.written` (a
document created, updated or deleted), filtered on the table's database and on the document
path pattern `<table>/{doc}` (`match-path-pattern`), delivered to the consumer function's Cloud
Run service as a binary-mode CloudEvent whose data is the protobuf `DocumentEventData`
(`eventDataContentType` application/protobuf; https://cloud.google.com/eventarc/standard/docs/
run/route-trigger-cloud-firestore). One trigger type covers the three kinds; without `deletes`
the adapter acknowledges a delete without delivering it. The trigger is in the database's own
region: Firestore sends its events to triggers in the database's location only.

Retries and dead letters. Eventarc delivers through a Pub/Sub subscription it creates and owns
(`eventarc-<region>-...`): a refused event is retried with back-off from 10 s to 600 s and
discarded after 24 hours (https://cloud.google.com/eventarc/docs/retry-events); the trigger's
own `retryPolicy.maxAttempts` accepts only 1 (pulumi-gcp 10.2.0 TriggerRetryPolicy), and a
dead-letter policy could only be put on Eventarc's subscription by hand, outside the stack. So
the adapter (functions/runtime/gcp/changes.py) counts the deliveries of each change itself, in
the stream's own `<table>-deliveries` Firestore database, and after `max_receives` failed ones
publishes the change to the stream's dead-letter topic (CMEK, a subscription keeping it 7 days,
alerted on: components/gcp/observability.py) and acknowledges it: nothing waits for the 24 hours
to run out. The trigger carries the label `anycloud-dead-letters=<that topic>`, which the pack
verifies (policy/streams.py).

Order. Firestore triggers do not guarantee order (https://cloud.google.com/functions/docs/
calling/cloud-firestore, "Limitations"). The deliveries database holds, per document, the
newest change delivered and a lease for the change being delivered, in one transaction: an
older state is acknowledged as superseded (the portable contract delivers states and may fold
them), and a change of an item waits while another change of the same item is being delivered.

Identity. The trigger runs as its own service account: `roles/eventarc.eventReceiver` (project
only: Eventarc has no finer level for it) and `roles/run.invoker` on this consumer's service
only; the Pub/Sub agent may mint its tokens (projects created before 8 April 2021). The
consumer holds `roles/datastore.user` on the deliveries database and publisher on its
dead-letter topic, nothing on the table itself unless it declared it. With customer-managed keys
the region's Eventarc `GoogleChannelConfig` names the service key (events from Google sources in
that region are then encrypted with it: https://cloud.google.com/eventarc/standard/docs/use-cmek).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from ..spec import TableSpec
from .context import GcpContext
from .function import FunctionHandle
from .identity import PUBLISHER, TOKEN_CREATOR, invoker, service_account, table_grant
from .queue import dead_letter_store
from .table import database, ttl_field

EVENT_TYPE = "google.cloud.firestore.document.v1.written"
CONTENT_TYPE = "application/protobuf"
EVENT_RECEIVER = "roles/eventarc.eventReceiver"
#: The label naming the stream's dead-letter topic (policy/streams.py checks what it claims).
DEAD_LETTERS_LABEL = "anycloud-dead-letters"
#: Label values are at most 63 characters, so the dead-letter topic's name is kept within them.
LABEL_MAX = 63
#: Where the deliveries database keeps its per-document records, and the field its TTL reads.
DELIVERIES_COLLECTION = "items"
EXPIRES_FIELD = "expires_at"


def stream_var(table: str) -> str:
    """`ANYCLOUD_STREAM_ORDERS`: the consumer's wiring for one table's stream (not a wired resource
    kind, so runtime/wiring.wired never reads it as one); functions/runtime/gcp/changes.py reads it."""
    return f"ANYCLOUD_STREAM_{table.upper().replace('-', '_')}"


@dataclass
class StreamStores:
    """What exists before the consumer does (its wiring names them)."""
    dead_letters: gcp.pubsub.Topic
    kept: gcp.pubsub.Subscription
    deliveries: gcp.firestore.Database


def create_stores(ctx: GcpContext, spec: TableSpec, parent: pulumi.Resource) -> StreamStores:
    """The stream's dead-letter topic with its kept subscription, and its deliveries database."""
    name = f"{spec.name}-changes"
    dead_letters, kept = dead_letter_store(ctx, name, parent, physical_limit=LABEL_MAX)
    deliveries = database(ctx, f"{spec.name}-deliveries", parent)
    ttl_field(ctx, f"{spec.name}-deliveries-ttl", deliveries, DELIVERIES_COLLECTION, EXPIRES_FIELD)
    return StreamStores(dead_letters=dead_letters, kept=kept, deliveries=deliveries)


def wiring(spec: TableSpec, database: gcp.firestore.Database, stores: StreamStores) -> pulumi.Output[str]:
    """The consumer's `ANYCLOUD_STREAM_<TABLE>`: where the changes come from and where they go."""
    stream = spec.stream
    keys = [k.name for k in (spec.partition_key, spec.sort_key) if k is not None]
    return pulumi.Output.all(database.name, stores.deliveries.name, stores.dead_letters.id).apply(
        lambda v: json.dumps({
            "table": spec.name, "database": v[0], "key": keys, "ttl": spec.ttl_attribute, "deliveries": v[1],
            "dead_letters": v[2], "max_receives": stream.max_receives, "deletes": stream.deletes,
        }, separators=(",", ":"), sort_keys=True))


def _channel(ctx: GcpContext) -> list[pulumi.Resource]:
    """The region's Eventarc channel config naming the service key (once per stack), or nothing
    without customer-managed keys."""
    if ctx.key is None:
        return []

    def make():
        name = ctx.project.apply(lambda p: f"projects/{p}/locations/{ctx.region}/googleChannelConfig")
        return [gcp.eventarc.GoogleChannelConfig("eventarc-channel", location=ctx.region, name=name,
                                                 crypto_key_name=ctx.key_name,
                                                 opts=ctx.opts(ctx.parent, api="eventarc", cmek=True))]
    return ctx.once(("eventarc-channel",), make)


def connect(ctx: GcpContext, spec: TableSpec, database: gcp.firestore.Database, stores: StreamStores,
            consumer: FunctionHandle, parent: pulumi.Resource) -> gcp.eventarc.Trigger:
    """The consumer's grants on the stream's stores, the trigger's identity, and the trigger."""
    name = f"{spec.name}-changes"
    target = consumer.shape.name
    table_grant(ctx, f"{name}-{target}-deliveries", consumer.identity, stores.deliveries, "write", parent)
    gcp.pubsub.TopicIAMMember(f"{name}-{target}-dead-letters", topic=stores.dead_letters.id, role=PUBLISHER,
                              member=consumer.identity.member, opts=ctx.opts(parent, api="pubsub"))
    sender = service_account(ctx, name, f"delivers {spec.name} changes to {target}", parent)
    agent, _ = ctx.service_agent("pubsub")
    allowed = [
        invoker(ctx, name, consumer.function, sender, parent),
        gcp.projects.IAMMember(f"{name}-receives-events", project=ctx.project, role=EVENT_RECEIVER,
                               member=sender.member, opts=ctx.opts(parent, api="cloudresourcemanager")),
        gcp.serviceaccount.IAMMember(f"{name}-agent-mints", service_account_id=sender.account.name,
                                     role=TOKEN_CREATOR, member=agent, opts=ctx.opts(parent, api="iam")),
    ]
    return gcp.eventarc.Trigger(
        name,
        name=ctx.physical(name),
        location=ctx.region,
        matching_criterias=[
            gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="type", value=EVENT_TYPE),
            gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="database", value=database.name),
            gcp.eventarc.TriggerMatchingCriteriaArgs(attribute="document", value=f"{spec.name}/{{doc}}",
                                                     operator="match-path-pattern"),
        ],
        destination=gcp.eventarc.TriggerDestinationArgs(
            cloud_run_service=gcp.eventarc.TriggerDestinationCloudRunServiceArgs(
                service=consumer.function.name, region=ctx.region, path="/")),
        service_account=sender.email,
        event_data_content_type=CONTENT_TYPE,
        labels={DEAD_LETTERS_LABEL: stores.dead_letters.name},
        opts=ctx.opts(parent, api=("eventarc", "firestore"), depends_on=[*allowed, *_channel(ctx)]),
    )
