"""Table change streams: where a stream's own dead letters go is kept and watched.

GCP. Eventarc delivers Firestore changes through a Pub/Sub subscription it creates and owns, on
which no dead-letter policy of the stack can be (https://cloud.google.com/eventarc/docs/retry-
events), so anycloud's adapter counts the deliveries of each change and, after the last one,
publishes it to a dead-letter topic itself (components/gcp/stream.py). The trigger names that
topic in its label `anycloud-dead-letters`; the label is what lets gcp-event-paths-dead-lettered
accept the trigger and queues-dead-lettered accept the topic's subscription, and this policy checks
that what it claims is there: the topic in the stack, a subscription on it keeping messages at
least the 24 hours Eventarc would have kept the event and never expiring, the destination
function's own account allowed to publish to it (roles/pubsub.publisher on that topic), and an
alert policy watching the topic or that subscription.

Azure. The Cosmos DB trigger checkpoints its lease whatever the invocation's outcome
(https://learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-changefeed-functions), so the
consumer's adapter writes a change that keeps failing to a Storage queue itself
(components/azure/stream.py). The consumer app names that queue's URL in its app setting
`ANYCLOUD_CHANGES_DEAD_LETTERS`; this policy checks that the queue is in the stack, that the app's
own identity may send to it (Storage Queue Data Message Sender or Contributor on that queue), and
that a log alert (scheduled query rule) watches it by name, as the Functions host's poison queues
are watched.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, Severity, StackValidationArgs

import re

from .azure_operations import _holder, _principals_of
from .common import (
    GCP_FUNCTION_V2,
    MANDATORY,
    PUBSUB_SUBSCRIPTION,
    ROLE_ASSIGNMENT,
    STORAGE_QUEUE,
    UNKNOWN_SETTING,
    USER_ASSIGNED_IDENTITY,
    WEB_APP,
    app_settings,
    dependency_urns,
    each_known,
    get,
    is_function_app,
    known,
    lower,
    named,
    resources_of,
    setting,
    shown,
    stack_policy,
)

EVENTARC_TRIGGER = "gcp:eventarc/trigger:Trigger"
PUBSUB_TOPIC = "gcp:pubsub/topic:Topic"
TOPIC_MEMBER = "gcp:pubsub/topicIAMMember:TopicIAMMember"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
DEAD_LETTERS_LABEL = "anycloud-dead-letters"
PUBLISHERS = ("roles/pubsub.publisher", "roles/pubsub.editor", "roles/pubsub.admin")
#: How long Eventarc keeps an event it could not deliver.
EVENTARC_RETENTION_S = 24 * 3600
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
#: The app setting naming a table stream consumer's dead-letter queue (components/azure/stream.py).
AZURE_DEAD_LETTERS_SETTING = "ANYCLOUD_CHANGES_DEAD_LETTERS"
#: Built-in roles that may send to a Storage queue: Queue Data Message Sender, Queue Data Contributor.
QUEUE_SENDER_ROLES = ("c6a89b2d-59bc-44d0-9896-0f6e12d7b80a", "974c5e8b-45b9-4653-ba55-5f855dd0fb88")
QUEUE_URL = re.compile(r"^https://([a-z0-9]{3,24})\.queue\.core\.windows\.net/([a-z0-9-]{3,63})/?$")


def _short(value: Any) -> str:
    return str(value or "").rsplit("/", 1)[-1]


def dead_letter_label(trigger_props: Any) -> str | None:
    """The dead-letter topic an Eventarc trigger's destination publishes to itself, if it says so."""
    value = get(trigger_props, f"labels.{DEAD_LETTERS_LABEL}")
    return value if isinstance(value, str) and value else None


def labelled_topics(args: StackValidationArgs) -> set[str]:
    """Short names of the topics Eventarc triggers in the stack name as their dead-letter topic."""
    return {t for t in (dead_letter_label(r.props) for r in resources_of(args, [EVENTARC_TRIGGER])) if t}


def keeps_stream_dead_letters(subscription: Any, args: StackValidationArgs) -> bool:
    """Whether `subscription` reads a topic a trigger's destination dead-letters to (checked here)."""
    return _short(known(subscription.props, "topic")) in labelled_topics(args)


def _seconds(value: Any) -> float | None:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    topics = resources_of(args, [PUBSUB_TOPIC])
    subs = resources_of(args, [PUBSUB_SUBSCRIPTION])
    members = resources_of(args, [TOPIC_MEMBER])
    alerts = resources_of(args, [ALERT_POLICY])
    functions = resources_of(args, [GCP_FUNCTION_V2])

    def check(trigger: Any) -> None:
        name = dead_letter_label(trigger.props)
        if name is None:
            return
        what = named(trigger, "Eventarc trigger")
        topic = next((t for t in topics if _short(get(t.props, "name")) == name), None)
        if topic is None:
            report(f"{what}: its label {DEAD_LETTERS_LABEL}={name} names no Pub/Sub topic of this stack; required: "
                   "the topic its destination publishes undeliverable changes to.", trigger.urn)
            return
        ids = {name, str(get(topic.props, "id") or ""), topic.urn}
        keepers = [s for s in subs if _short(get(s.props, "topic")) == name or topic.urn in dependency_urns(s, "topic")]
        kept = [s for s in keepers if get(s.props, "expirationPolicy.ttl") == ""
                and (_seconds(get(s.props, "messageRetentionDuration")) or 7 * 86400) >= EVENTARC_RETENTION_S]
        if not kept:
            report(f"{what}: nothing keeps what reaches its dead-letter topic '{name}'; required: a subscription on it "
                   "with expirationPolicy.ttl \"\" and messageRetentionDuration of at least 86400s (Pub/Sub drops what "
                   "a topic with no subscription receives).", trigger.urn)
        service = get(trigger.props, "destination.cloudRunService.service")
        function = next((f for f in functions if get(f.props, "name") == service), None)
        account = get(function.props, "serviceConfig.serviceAccountEmail") if function is not None else None
        publishes = any(get(m.props, "role") in PUBLISHERS and get(m.props, "member") == f"serviceAccount:{account}"
                        and (_short(get(m.props, "topic")) in ids or topic.urn in dependency_urns(m, "topic"))
                        for m in members)
        if account is None or not publishes:
            report(f"{what}: its destination '{service}' cannot publish to its dead-letter topic '{name}': no "
                   f"roles/pubsub.publisher on that topic for the function's own account ({account}); its dead "
                   "letters would fail, and Eventarc would drop the change after 24 hours.", trigger.urn)
        watched = {name, *(_short(get(s.props, "name")) for s in keepers)}
        alerted = any(any(f'"{w}"' in str(get(c, "conditionThreshold.filter") or "") for w in watched)
                      for a in alerts for c in (get(a.props, "conditions") or []))
        if not alerted:
            report(f"{what}: no alert policy watches its dead-letter topic '{name}' or the subscription keeping it; "
                   "required: an alert on topic/send_message_operation_count or the keeping subscription's "
                   "num_undelivered_messages, as on every dead-letter store.", trigger.urn)

    each_known(resources_of(args, [EVENTARC_TRIGGER]), check)
    _check_azure(args, report)


def _check_azure(args: StackValidationArgs, report: ReportViolation) -> None:
    queues = resources_of(args, [STORAGE_QUEUE])
    identities = resources_of(args, [USER_ASSIGNED_IDENTITY])
    assignments = resources_of(args, [ROLE_ASSIGNMENT])
    rules = resources_of(args, [SCHEDULED_QUERY_RULE])

    def check(app: Any) -> None:
        if not is_function_app(app.props):
            return
        found = setting(app_settings(app.props), AZURE_DEAD_LETTERS_SETTING)
        if found is None or found[1] is UNKNOWN_SETTING:
            return
        what = f"{named(app, 'Function app')}: its app setting {found[0]}"
        match = QUEUE_URL.match(str(found[1]).lower())
        if match is None:
            report(f"{what} is {shown(found[1])}; required: the URL of a Storage queue of this stack "
                   "(https://<account>.queue.core.windows.net/<queue>).", app.urn)
            return
        account, name = match.groups()
        queue = next((q for q in queues if lower(known(q.props, "queueName")) == name
                      and lower(known(q.props, "accountName")) in (None, account)), None)
        if queue is None:
            report(f"{what} names queue '{name}' in account '{account}', which is not in this stack; required: the "
                   "dead-letter queue created with the stream, so dead-lettered changes have a kept, watched home.",
                   app.urn)
            return
        mine = _principals_of(app, identities)
        sends = any(str(known(a.props, "roleDefinitionId") or "").lower().endswith(QUEUE_SENDER_ROLES)
                    and (queue.urn in dependency_urns(a, "scope")
                         or str(known(a.props, "scope") or "").lower().endswith(f"/queueservices/default/queues/{name}"))
                    and _holder(a, identities) & mine for a in assignments)
        if not sends:
            report(f"{what} names queue '{name}', but the app's own identity holds no Storage Queue Data Message Sender "
                   "(or Contributor) on that queue; its dead letters would fail, and the change would be retried "
                   "forever, blocking its partition.", app.urn)
        watched = any(f"'{name}'" in str(get(c, "query") or "").lower()
                      for r in rules for c in (get(r.props, "criteria.allOf") or []))
        if not watched:
            report(f"{what} names queue '{name}', but no log alert (scheduled query rule) watches it by name; required: "
                   "an alert on the consumer's dead-letter log line, as on every dead-letter store.", app.urn)

    each_known(resources_of(args, [WEB_APP]), check)


POLICIES = [
    stack_policy(
        "stream-dead-letters-kept-and-alerted",
        "A table stream whose consumer dead-letters changes itself (GCP: an Eventarc trigger labelled "
        f"{DEAD_LETTERS_LABEL}=<topic>, because Eventarc's own subscription can carry no dead-letter policy, "
        "https://cloud.google.com/eventarc/docs/retry-events) has that topic in the stack, a subscription keeping "
        "what reaches it at least 24 hours and never expiring, publisher on it for the destination function's own "
        "account, and an alert policy watching it. Azure: a function app whose app setting "
        f"{AZURE_DEAD_LETTERS_SETTING} names its Cosmos DB trigger's dead-letter queue (the trigger checkpoints "
        "whatever the outcome: https://learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-changefeed-functions) "
        "has that Storage queue in the stack, Queue Data Message Sender on it for its own identity, and a log alert "
        "naming it.",
        [EVENTARC_TRIGGER, PUBSUB_TOPIC, PUBSUB_SUBSCRIPTION, TOPIC_MEMBER, ALERT_POLICY, GCP_FUNCTION_V2,
         WEB_APP, STORAGE_QUEUE, ROLE_ASSIGNMENT, USER_ASSIGNED_IDENTITY, SCHEDULED_QUERY_RULE],
        _check,
        remediation="anycloud: components/gcp/stream.py and components/azure/stream.py render them all; elsewhere on "
                    "GCP: a CMEK topic, a subscription on it with expiration_policy ttl \"\", roles/pubsub.publisher for "
                    "the consumer's service account on the topic, and a gcp.monitoring.AlertPolicy on the topic's "
                    "send_message_operation_count; on Azure: a storage.Queue on a customer-key account, a "
                    "RoleAssignment of Storage Queue Data Message Sender on that queue for the app's identity, and a "
                    "monitor.ScheduledQueryRule whose query names the queue.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
