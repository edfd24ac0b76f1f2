"""Resilience and data protection: dead-letter paths, consumer timeouts, batch failures, recoverable tables.

Stack policies see each resource's outputs over its inputs, as the engine passes them. They
correlate resources by property dependencies first, then by the identifiers the props carry
(ARNs, URLs, ids and names). Values only used to correlate are read leniently: an unknown one
(computed in the same preview) just fails to match. Values the policies judge are read with
`get`, so an unknown one raises `UnknownValueError`; stack policies check every other resource
first and then re-raise it, so the engine notes the policy as not run and still shows what it found.

SQS visibility: AWS asks for at least six times the function timeout, plus the mapping's
maximumBatchingWindowInSeconds when batching is on (messages are in flight, invisible, while
Lambda gathers a batch); missing values take the services' defaults (30 s visibility, 3 s timeout).
The prod-only rules (backups, deletion protection, Cosmos DB delete locks) read the pack's
`environment` config; dev stacks are not held to them.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from .azure_hierarchy import DELETE_LOCK_LEVELS, LOCK_BY_SCOPE, LOCKS, Hierarchy, delete_locks
from .common import (
    each_known,
    COSMOS_ACCOUNT,
    FIRESTORE_DATABASE,
    GCP_FUNCTION_V2,
    LAMBDA_FUNCTION,
    MANDATORY,
    MAX_DEQUEUE_COUNT,
    PUBSUB_SUBSCRIPTION,
    SQS_QUEUE,
    STORAGE_ACCOUNT,
    STORAGE_QUEUE,
    UNKNOWN_SETTING,
    WEB_APP,
    app_settings,
    as_list,
    config,
    dependency_urns,
    get,
    is_function_app,
    is_prod,
    known,
    named,
    resource_policy,
    resources_of,
    setting,
    shown,
    stack_policy,
)
from .streams import keeps_stream_dead_letters
from .dead_letter_stores import EVENT_SOURCE_MAPPING, routes, stores_queue
from .settings import label, meets, places, recovery, wanted
from .dead_letter_stores import READERS as ROUTE_TYPES
from .values import json_object as _json_object
from .values import number as _number
from .values import duration_text, seconds
from .values import number_text as _n

# ------------------------------------------------------------------ type tokens

SQS_REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
SQS_REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
LAMBDA_ALIAS = "aws:lambda/alias:Alias"


SERVICEBUS_QUEUE = "azure-native:servicebus:Queue"
SERVICEBUS_SUBSCRIPTION = "azure-native:servicebus:Subscription"
SERVICEBUS_TOPIC = "azure-native:servicebus:Topic"

#: Defaults the services apply when the property is absent.
SQS_DEFAULT_VISIBILITY = 30
LAMBDA_DEFAULT_TIMEOUT = 3
SQS_MAX_RECEIVE_COUNT = (1, 1000)
PUBSUB_DELIVERY_ATTEMPTS = (5, 100)
PUBSUB_DEFAULT_ACK_DEADLINE = 10
#: A subscription keeps unacknowledged messages 7 days unless messageRetentionDuration says otherwise.
PUBSUB_DEFAULT_RETENTION_S = 604800
GCF_DEFAULT_TIMEOUT = 60
#: Service Bus's "never" (TimeSpan.MaxValue, P10675199DT2H48M5.4775807S): the default message time to live
#: and auto-delete-on-idle.
SERVICEBUS_NEVER_S = 922337203685.0
#: SQS keeps a message 4 days unless messageRetentionSeconds says otherwise.
SQS_DEFAULT_RETENTION_S = 345600
#: The Functions host moves a message that keeps failing to `<queue>-poison` in the same account.
POISON_SUFFIX = "-poison"
QUEUE_NAME_MAX = 63
#: maxDequeueCount bounds: at least one delivery; at most 100, the portable max receives (the
#: service model caps max_receives at 100, as Pub/Sub caps delivery attempts), since a failed
#: message becomes visible again at once by default (visibilityTimeout 0) and is retried in a loop.
MAX_DEQUEUE = (1, 100)
#: How anycloud says an app is queue-triggered where one entrypoint serves every trigger: ANYCLOUD_TRIGGERS
#: lists `consumer` (a declared queue's consumer) or `orchestrator` (a workflow started from its start
#: queue), and ANYCLOUD_TRIGGER_QUEUE names the queue the trigger binds (`queue_name="%ANYCLOUD_TRIGGER_QUEUE%"`).
TRIGGERS_SETTING = "ANYCLOUD_TRIGGERS"
TRIGGER_QUEUE_SETTING = "ANYCLOUD_TRIGGER_QUEUE"
QUEUE_TRIGGERED = {"consumer", "orchestrator"}

VISIBILITY_MULTIPLIER = "visibilityTimeoutMultiplier"

# ------------------------------------------------------------------ helpers


def _ci(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def _text(props: Any, key: str) -> str | None:
    value = known(props, key)
    return value if isinstance(value, str) and value else None


def _deps(resource: Any, key: str) -> list[Any]:
    return list((resource.property_dependencies or {}).get(key) or [])


def _last(value: str, sep: str) -> str:
    return value.rstrip(sep).rsplit(sep, 1)[-1]


# ------------------------------------------------------------------ SQS identities


def _queue_ids(queue: Any) -> tuple[str | None, str | None, set[str]]:
    """(ARN, name, {url, id}) of an SQS queue as far as its props tell."""
    props = queue.props
    arn, name = _text(props, "arn"), _text(props, "name")
    ids = {v for v in (_text(props, "url"), _text(props, "id")) if v}
    if name is None and arn:
        name = _last(arn, ":")
    if name is None and ids:
        name = _last(min(ids), "/")
    return arn, name, ids


def _names_queue(arn: Any, queue: Any) -> bool:
    """Whether an SQS ARN string is this queue (equal ARN, or the same queue name)."""
    if not isinstance(arn, str) or ":sqs:" not in arn:
        return False
    q_arn, q_name, _ = _queue_ids(queue)
    return arn == q_arn or (q_name is not None and _last(arn, ":") == q_name)


def _attached_to(side: Any, queue: Any) -> bool:
    """Whether a side resource (RedrivePolicy) targets `queue` through its queueUrl."""
    if queue.urn in dependency_urns(side, "queueUrl"):
        return True
    url = _text(side.props, "queueUrl")
    if url is None:
        return False
    _, name, ids = _queue_ids(queue)
    return url in ids or (name is not None and _last(url, "/") == name)


def _redrive_target(resource: Any) -> str | None:
    """deadLetterTargetArn of a queue's or RedrivePolicy's redrive policy, read leniently (None when unknown)."""
    try:
        target = (_json_object(known(resource.props, "redrivePolicy")) or {}).get("deadLetterTargetArn")
    except UnknownValueError:
        return None
    return target if isinstance(target, str) else None


def _is_dead_letter_target(queue: Any, redrivers: list[tuple[Any, str | None]]) -> Any:
    """The queue or RedrivePolicy that sends its failures to `queue`, if any; `redrivers` pairs each with its
    deadLetterTargetArn (parsed once per policy run, not once per queue)."""
    for other, target in redrivers:
        if other is queue:
            continue
        if queue.urn in dependency_urns(other, "redrivePolicy") or _names_queue(target, queue):
            return other
    return None


def _redrive_problem(policy: Any) -> str | None:
    """Why a redrive policy value is not a usable dead-letter path; None when it is."""
    parsed = _json_object(policy)
    if parsed is None:
        return f"redrivePolicy is {shown(policy)}, not a JSON object"
    problems = []
    target = parsed.get("deadLetterTargetArn")
    if not isinstance(target, str) or not re.match(r"^arn:aws[\w-]*:sqs:", target):
        problems.append(f"deadLetterTargetArn is {shown(target)} (required: the dead-letter queue's ARN)")
    count = _number(parsed.get("maxReceiveCount"))
    low, high = SQS_MAX_RECEIVE_COUNT
    if count is None or not count.is_integer() or not low <= count <= high:
        problems.append(f"maxReceiveCount is {shown(parsed.get('maxReceiveCount'))} (required: an integer {low}-{high})")
    return f"redrivePolicy {'; '.join(problems)}" if problems else None


def _redrive_allowed(queue: Any, dlq: Any, sides: list[Any], what: str, report: ReportViolation) -> None:
    """The dead-letter queue's redrive allow policy (its own redriveAllowPolicy or a RedriveAllowPolicy on its
    URL) lets this queue use it: not denyAll, and byQueue lists the source's ARN; otherwise SQS refuses the
    source's redrive policy (\"Configuring a dead-letter queue redrive allow policy\",
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive-allow-policy.html)."""
    arn, name, _ = _queue_ids(queue)
    for holder, value in [(dlq, get(dlq.props, "redriveAllowPolicy"))] + [(s, get(s.props, "redriveAllowPolicy")) for s in sides]:
        policy = _json_object(value)
        if not policy:
            continue
        permission = str(policy.get("redrivePermission") or "").lower()
        sources = [s for s in as_list(policy.get("sourceQueueArns")) if isinstance(s, str)]
        listed = any(s == arn or (name is not None and _last(s, ":") == name) for s in sources)
        if permission == "denyall" or (permission == "byqueue" and (arn or name) and not listed):
            where = "its redriveAllowPolicy" if holder is dlq else f"{SQS_REDRIVE_ALLOW_POLICY} '{holder.name}'"
            report(f"{what}: its dead-letter queue {dlq.name} does not let it redrive there ({where} is "
                   f"{shown(policy)}), so SQS refuses the redrive policy; required: redrivePermission 'byQueue' "
                   "listing this queue's ARN in sourceQueueArns, or 'allowAll'.", queue.urn)


def _check_sqs_dead_letters(args: StackValidationArgs, report: ReportViolation) -> None:
    queues = resources_of(args, [SQS_QUEUE])
    side_policies = resources_of(args, [SQS_REDRIVE_POLICY])
    allow_policies = resources_of(args, [SQS_REDRIVE_ALLOW_POLICY])
    redrivers = [(r, _redrive_target(r)) for r in queues + side_policies]
    async_routes = routes(args.resources)

    def retention(queue: Any) -> float:
        value = _number(get(queue.props, "messageRetentionSeconds"))
        return SQS_DEFAULT_RETENTION_S if value is None else value

    def kept(queue: Any, redriver: Any, what: str) -> None:
        """SQS keeps a message's original enqueue time when it moves it to the DLQ: a DLQ that keeps
        messages for less time than its source drops them on arrival."""
        for dlq in queues:
            if dlq is not queue and (dlq.urn in dependency_urns(redriver, "redrivePolicy")
                                     or _names_queue(_redrive_target(redriver), dlq)):
                if retention(dlq) < retention(queue):
                    report(f"{what}: its dead-letter queue {dlq.name} keeps messages {_n(retention(dlq))} s, less than "
                           f"the {_n(retention(queue))} s it keeps them itself; SQS keeps a message's first enqueue "
                           "time, so dead letters older than that expire on arrival; required: DLQ "
                           "messageRetentionSeconds >= the source's (the maximum is 1209600).", queue.urn)
                _redrive_allowed(queue, dlq, [p for p in allow_policies if _attached_to(p, dlq)], what, report)
                return

    def check(queue: Any) -> None:
        what = named(queue, "SQS queue")
        inline = get(queue.props, "redrivePolicy")
        sides = [p for p in side_policies if _attached_to(p, queue)]
        if inline:
            problem = _redrive_problem(inline)
            if problem:
                report(f"{what}: {problem}.", queue.urn)
            else:
                kept(queue, queue, what)
            return
        if sides:
            for side in sides:
                problem = _redrive_problem(get(side.props, "redrivePolicy"))
                if problem:
                    report(f"{what}: {SQS_REDRIVE_POLICY} '{side.name}' {problem}.", queue.urn)
                else:
                    kept(queue, side, what)
            return
        if _is_dead_letter_target(queue, redrivers) or any(stores_queue(r, queue, _names_queue) for r in async_routes):
            return
        report(f"{what}: redrivePolicy is not set, no {SQS_REDRIVE_POLICY} targets it, and nothing in the stack "
               "uses it as its dead-letter store (a queue's redrive, a subscription's, target's or schedule's "
               "dead-letter queue, an on-failure destination); required: a redrivePolicy with deadLetterTargetArn (a "
               "dead-letter queue's ARN) and maxReceiveCount.", queue.urn)

    each_known(queues, check)


# ------------------------------------------------------------------ Pub/Sub and Service Bus dead letters


def _topic_key(value: Any, project: Any) -> tuple[str | None, str] | None:
    """(project or None, topic) from 'projects/P/topics/T' or a bare topic name."""
    if not isinstance(value, str) or not value:
        return None
    match = re.match(r"^(?://pubsub\.googleapis\.com/)?projects/([^/]+)/topics/([^/]+)$", value)
    if match:
        return match.group(1), match.group(2)
    return (project if isinstance(project, str) and project else None), _last(value, "/")


def _same_topic(a: tuple[str | None, str] | None, b: tuple[str | None, str] | None) -> bool:
    if a is None or b is None or a[1] != b[1]:
        return False
    return a[0] is None or b[0] is None or a[0] == b[0]


def _is_dead_letter_subscription(sub: Any, subs: list[Any]) -> bool:
    """Whether `sub` reads a topic another subscription dead-letters to (the DLQ's own subscription)."""
    topic_urns = dependency_urns(sub, "topic")
    topic = _topic_key(known(sub.props, "topic"), known(sub.props, "project"))
    for other in subs:
        if other is sub:
            continue
        if topic_urns & dependency_urns(other, "deadLetterPolicy"):
            return True
        target = _topic_key(known(other.props, "deadLetterPolicy.deadLetterTopic"), known(other.props, "project"))
        if _same_topic(topic, target):
            return True
    return False


def _check_pubsub_dead_letters(args: StackValidationArgs, report: ReportViolation) -> None:
    subs = resources_of(args, [PUBSUB_SUBSCRIPTION])
    sources: dict[str, list[Any]] = {}  # keeper subscription URN -> the subscriptions dead-lettering to its topic

    def check(sub: Any) -> None:
        what = named(sub, "Pub/Sub subscription")
        topic = get(sub.props, "deadLetterPolicy.deadLetterTopic")
        if not topic:
            if not _is_dead_letter_subscription(sub, subs) and not keeps_stream_dead_letters(sub, args):
                report(f"{what}: deadLetterPolicy.deadLetterTopic is {shown(topic)}; required: a dead-letter topic "
                       "(projects/P/topics/T), unless this subscription reads another subscription's dead-letter topic.",
                       sub.urn)
            return
        target = _topic_key(topic, known(sub.props, "project"))
        deps = dependency_urns(sub, "deadLetterPolicy")
        keepers = [other for other in subs if other is not sub and (deps & dependency_urns(other, "topic") or _same_topic(
            target, _topic_key(known(other.props, "topic"), known(other.props, "project"))))]
        if not keepers:
            report(f"{what}: its dead-letter topic {shown(topic)} has no subscription in the stack, and Pub/Sub drops "
                   "what a topic with no subscription receives; required: a subscription on the dead-letter topic "
                   "that keeps the dead letters (retention up to 7 days).", sub.urn)
        for keeper in keepers:
            sources.setdefault(keeper.urn, []).append(sub)
        attempts = get(sub.props, "deadLetterPolicy.maxDeliveryAttempts")
        number, (low, high) = _number(attempts), PUBSUB_DELIVERY_ATTEMPTS
        if attempts is not None and number != 0 and (number is None or not number.is_integer() or not low <= number <= high):
            report(f"{what}: deadLetterPolicy.maxDeliveryAttempts is {shown(attempts)}; required: an integer {low}-{high} "
                   f"(or unset for the default {low}).", sub.urn)

    each_known(subs, check)
    each_known([s for s in subs if s.urn in sources], lambda keeper: _dead_letters_kept(keeper, sources[keeper.urn], report))


def _retention(sub: Any) -> float:
    value = seconds(get(sub.props, "messageRetentionDuration"))
    return PUBSUB_DEFAULT_RETENTION_S if value is None else value


def _dead_letters_kept(keeper: Any, sources: list[Any], report: ReportViolation) -> None:
    """A dead-letter topic's subscription keeps what it receives at least as long as the subscriptions
    dead-lettering to it keep their messages (messageRetentionDuration, 7 days by default), and never
    expires: without expirationPolicy.ttl "" Pub/Sub deletes a subscription after 31 days without
    activity, and nobody reads a dead-letter subscription until something fails ("Subscription
    expiration", https://cloud.google.com/pubsub/docs/subscription-properties#expiration_period)."""
    what = named(keeper, "Pub/Sub subscription")
    longest = max(sources, key=_retention)
    if _retention(keeper) < _retention(longest):
        report(f"{what}: it keeps the dead letters of '{longest.name}' for messageRetentionDuration "
               f"{duration_text(_retention(keeper))}, less than the {duration_text(_retention(longest))} '{longest.name}' "
               "keeps its messages; required: messageRetentionDuration >= the source's (at most 604800s, 7 days).",
               keeper.urn)
    expiration = get(keeper.props, "expirationPolicy")
    ttl = get(keeper.props, "expirationPolicy.ttl")
    if expiration is None or ttl not in ("", None):
        value = "not set (Pub/Sub then deletes it after 31 days without activity)" if expiration is None else \
            f"ttl {shown(ttl)}"
        report(f"{what}: it keeps the dead letters of '{longest.name}', and its expirationPolicy is {value}, so it is "
               "deleted with what it holds once idle; required: expirationPolicy.ttl \"\" (never expires).", keeper.urn)


def _check_servicebus_dead_letters(args: StackValidationArgs, report: ReportViolation) -> None:
    entities = resources_of(args, [SERVICEBUS_QUEUE, SERVICEBUS_SUBSCRIPTION])
    forward_targets = resources_of(args, [SERVICEBUS_QUEUE, SERVICEBUS_TOPIC])

    def check(entity: Any) -> None:
        kind = "Service Bus queue" if entity.resource_type == SERVICEBUS_QUEUE else "Service Bus subscription"
        what = named(entity, kind)
        count = get(entity.props, "maxDeliveryCount")
        number = _number(count)
        if number is None or not number.is_integer() or number < 1:
            report(f"{what}: maxDeliveryCount is {shown(count)}; required: an explicit integer >= 1 after which "
                   "messages are dead-lettered.", entity.urn)
        expiry = get(entity.props, "deadLetteringOnMessageExpiration")
        if expiry is not True:
            report(f"{what}: deadLetteringOnMessageExpiration is {shown(expiry)}; required: true (expired messages "
                   "go to the dead-letter sub-queue instead of being dropped).", entity.urn)
        idle = get(entity.props, "autoDeleteOnIdle")
        if idle is not None and (seconds(idle) or 0) < SERVICEBUS_NEVER_S:
            report(f"{what}: autoDeleteOnIdle is {shown(idle)}, so Service Bus deletes it, with its dead-letter "
                   "sub-queue and what that holds, once idle that long; required: unset (never).", entity.urn)
        forward = get(entity.props, "forwardDeadLetteredMessagesTo")
        target = next((t for t in forward_targets if t is not entity and _same_servicebus_entity(entity, forward, t)), None)
        if target is not None and _time_to_live(target) < _time_to_live(entity):
            report(f"{what}: forwardDeadLetteredMessagesTo '{forward}' keeps messages defaultMessageTimeToLive "
                   f"{duration_text(_time_to_live(target))}, less than the {duration_text(_time_to_live(entity))} this "
                   "entity keeps them, so forwarded dead letters expire there first; required: the target's "
                   "defaultMessageTimeToLive >= this entity's.", entity.urn)

    each_known(entities, check)


def _time_to_live(entity: Any) -> float:
    value = seconds(get(entity.props, "defaultMessageTimeToLive"))
    return SERVICEBUS_NEVER_S if value is None else value


def _same_servicebus_entity(source: Any, name: Any, target: Any) -> bool:
    """Whether `name` (forwardDeadLetteredMessagesTo) is `target`, a queue or topic of the source's namespace."""
    if not isinstance(name, str) or not name:
        return False
    own = _ci(_text(target.props, "queueName") or _text(target.props, "topicName") or _text(target.props, "name"))
    if own != name.lower():
        return False
    mine, theirs = _ci(_text(source.props, "namespaceName")), _ci(_text(target.props, "namespaceName"))
    return mine is None or theirs is None or mine == theirs


def _account_keys(queue: Any, accounts: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(URNs, lower-case names) of the storage account a queue's accountName comes from."""
    urns = dependency_urns(queue, "accountName")
    names = {_ci(_text(queue.props, "accountName"))}
    for urn in urns & set(accounts):
        names |= {_ci(_text(accounts[urn].props, "accountName")), _ci(_text(accounts[urn].props, "name"))}
    return urns, {n for n in names if n}


def _same_account(a: tuple[set[str], set[str]], b: tuple[set[str], set[str]]) -> bool:
    """Same account by dependency or name; when either side says nothing (unknown during preview), assume so."""
    if not (a[0] or a[1]) or not (b[0] or b[1]):
        return True
    return bool(a[0] & b[0] or a[1] & b[1])


def _check_storage_queue_poison(args: StackValidationArgs, report: ReportViolation) -> None:
    """An Azure Storage queue consumed by Functions needs its `-poison` queue: the host moves a
    message there after maxDequeueCount failures. Created by the program, it exists, is in the
    stack's lifecycle and can be watched; left to the host, it appears only on the first poison
    message, and only if the consumer's identity may create queues (a per-queue grant does not
    include that, so the move fails and the message cycles). "Poison messages":
    https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages
    Queue names are 3-63 characters, so a queue name over 56 leaves no room for `-poison`."""
    queues = resources_of(args, [STORAGE_QUEUE])
    accounts = {a.urn: a for a in resources_of(args, [STORAGE_ACCOUNT])}
    keys = {q.urn: _account_keys(q, accounts) for q in queues}

    def name(queue: Any) -> str | None:
        return _ci(_text(queue.props, "queueName") or _text(queue.props, "name"))

    def check(queue: Any) -> None:
        own = name(queue)
        if own is None or own.endswith(POISON_SUFFIX):
            return
        poison = own + POISON_SUFFIX
        if len(poison) > QUEUE_NAME_MAX:
            report(f"{named(queue, 'Storage queue')}: its poison queue would be {poison!r}, {len(poison)} characters, "
                   f"over the {QUEUE_NAME_MAX} a queue name may have, so failed messages have nowhere to go; required: "
                   f"a queue name of at most {QUEUE_NAME_MAX - len(POISON_SUFFIX)} characters.", queue.urn)
            return
        twins = [o for o in queues if name(o) == poison]
        if any(_same_account(keys[queue.urn], keys[o.urn]) for o in twins):
            return
        account = _text(queue.props, "accountName") or ", ".join(sorted(keys[queue.urn][1])) or None
        elsewhere = f" (there is one in another account: {', '.join(o.name for o in twins)})" if twins else ""
        report(f"{named(queue, 'Storage queue')}: no queue {poison!r} in account {shown(account)}{elsewhere}; "
               "required: its poison queue created with it in the same account, so failed messages have a watched "
               "home the consumer may send to.", queue.urn)

    each_known(queues, check)


def _check_max_dequeue(args: StackValidationArgs, report: ReportViolation) -> None:
    """A queue-triggered function app says after how many deliveries a message is poison:
    AzureFunctionsJobHost__extensions__queues__maxDequeueCount (host.json through app settings,
    https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values),
    an integer 1-100. Required when the app sets it, or when anycloud marks it queue-triggered
    (ANYCLOUD_TRIGGER_QUEUE set, or ANYCLOUD_TRIGGERS listing consumer or orchestrator); other apps
    may carry it in their host.json."""
    low, high = MAX_DEQUEUE

    def check(app: Any) -> None:
        if not is_function_app(app.props):
            return
        settings = app_settings(app.props)
        found = setting(settings, MAX_DEQUEUE_COUNT)
        triggers = setting(settings, TRIGGERS_SETTING)
        kinds = [t.strip().lower() for t in triggers[1].split(",")] if triggers and isinstance(triggers[1], str) else []
        queue = setting(settings, TRIGGER_QUEUE_SETTING)
        consumer = (f"{TRIGGER_QUEUE_SETTING} {shown(queue[1])}" if queue and isinstance(queue[1], str)
                    else f"{TRIGGERS_SETTING} {shown(triggers[1])}" if set(kinds) & QUEUE_TRIGGERED else None)
        what = f"Function app '{app.name}' ({app.resource_type})"
        if found is None:
            if consumer:
                report(f"{what}: {consumer} makes it a queue consumer but {MAX_DEQUEUE_COUNT} is not set, so "
                       f"the host's default of 5 applies instead of the queue's declared max receives; required: "
                       f"{MAX_DEQUEUE_COUNT} set to an integer {low}-{high}.", app.urn)
            return
        name, value = found
        if value is UNKNOWN_SETTING:
            return
        number = _number(value)
        if number is None or not number.is_integer() or not low <= number <= high:
            report(f"{what}: app setting {name} is {shown(value)}; required: an integer {low}-{high} (messages failing "
                   f"that often move to the -poison queue; above {high} a poison message is retried for hours, and "
                   "the portable max receives stops at 100 as Pub/Sub's delivery attempts do).", app.urn)

    each_known(resources_of(args, [WEB_APP]), check)


def _check_dead_letters(args: StackValidationArgs, report: ReportViolation) -> None:
    unknown: UnknownValueError | None = None
    for check in (_check_sqs_dead_letters, _check_pubsub_dead_letters, _check_servicebus_dead_letters,
                  _check_storage_queue_poison, _check_max_dequeue):
        try:
            check(args, report)
        except UnknownValueError as err:
            unknown = unknown or err
    if unknown is not None:
        raise unknown


# ------------------------------------------------------------------ SQS visibility vs consumer timeout


def _function_name_of(reference: Any) -> str | None:
    """The function name in a name, 'name:alias', a partial ARN or a function/version/alias ARN."""
    if not isinstance(reference, str) or not reference:
        return None
    if ":function:" in reference:
        return reference.split(":function:", 1)[1].split(":", 1)[0] or None
    return reference.split(":", 1)[0]


def _function_ids(function: Any) -> set[str]:
    names = {_text(function.props, "name"), _function_name_of(_text(function.props, "arn"))}
    return {n for n in names if n}


def _consumer(esm: Any, functions: list[Any]) -> Any:
    """The Lambda function an event source mapping invokes (directly or through an alias), if in the stack."""
    for dep in _deps(esm, "functionName"):
        if dep.resource_type == LAMBDA_FUNCTION:
            return dep
        if dep.resource_type == LAMBDA_ALIAS:
            for target in _deps(dep, "functionName"):
                if target.resource_type == LAMBDA_FUNCTION:
                    return target
            name = _function_name_of(_text(dep.props, "functionName"))
            found = next((f for f in functions if name and name in _function_ids(f)), None)
            if found is not None:
                return found
    name = _function_name_of(_text(esm.props, "functionName"))
    return next((f for f in functions if name and name in _function_ids(f)), None)


def _source_queue(esm: Any, queues: list[Any]) -> Any:
    for dep in _deps(esm, "eventSourceArn"):
        if dep.resource_type == SQS_QUEUE:
            return dep
    arn = _text(esm.props, "eventSourceArn")
    return next((q for q in queues if _names_queue(arn, q)), None)


def _check_visibility(args: StackValidationArgs, report: ReportViolation) -> None:
    queues, functions = resources_of(args, [SQS_QUEUE]), resources_of(args, [LAMBDA_FUNCTION])
    multiplier = _number(config(args, VISIBILITY_MULTIPLIER, 6)) or 6.0

    def check(esm: Any) -> None:
        queue = _source_queue(esm, queues)
        function = _consumer(esm, functions) if queue is not None else None
        if queue is None or function is None:
            return  # a queue or consumer outside this stack: nothing to compare
        visibility_raw = get(queue.props, "visibilityTimeoutSeconds")
        timeout_raw = get(function.props, "timeout")
        window_raw = get(esm.props, "maximumBatchingWindowInSeconds")
        visibility = _number(visibility_raw)
        visibility = SQS_DEFAULT_VISIBILITY if visibility is None else visibility
        timeout = _number(timeout_raw)
        timeout = LAMBDA_DEFAULT_TIMEOUT if timeout is None else timeout
        window = _number(window_raw) or 0.0
        required = multiplier * timeout + window
        if visibility < required:
            shown_vis = _n(visibility) + (" (default)" if visibility_raw is None else "")
            shown_timeout = _n(timeout) + (" (default)" if timeout_raw is None else "")
            report(f"{named(queue, 'SQS queue')}: visibilityTimeoutSeconds is {shown_vis}, but its consumer "
                   f"Lambda function '{function.name}' has timeout {shown_timeout} s (event source mapping '{esm.name}', "
                   f"maximumBatchingWindowInSeconds {_n(window)}); required: visibilityTimeoutSeconds >= "
                   f"{_n(multiplier)} x {_n(timeout)} + {_n(window)} = {_n(required)}.", queue.urn)

    each_known(resources_of(args, [EVENT_SOURCE_MAPPING]), check)


def _check_ack_deadline(args: StackValidationArgs, report: ReportViolation) -> None:
    """A push is acknowledged by the answer; a consumer still running when the ack deadline
    passes gets the message again while it works (and it counts as a failed delivery)."""
    functions = resources_of(args, [GCP_FUNCTION_V2])

    def check(sub: Any) -> None:
        endpoint = known(sub.props, "pushConfig.pushEndpoint")
        if not isinstance(endpoint, str):
            return
        consumer = next((f for f in functions if f.urn in dependency_urns(sub, "pushConfig")
                         or known(f.props, "serviceConfig.uri") == endpoint), None)
        if consumer is None:
            return
        deadline = _number(get(sub.props, "ackDeadlineSeconds")) or PUBSUB_DEFAULT_ACK_DEADLINE
        timeout = _number(get(consumer.props, "serviceConfig.timeoutSeconds")) or GCF_DEFAULT_TIMEOUT
        if deadline < timeout:
            report(f"{named(sub, 'Pub/Sub subscription')}: ackDeadlineSeconds is {_n(deadline)}, shorter than its consumer "
                   f"'{consumer.name}' timeout of {_n(timeout)} s; required: ackDeadlineSeconds >= the consumer's "
                   "serviceConfig.timeoutSeconds (at most 600).", sub.urn)

    each_known(resources_of(args, [PUBSUB_SUBSCRIPTION]), check)


# ------------------------------------------------------------------ batch item failures

#: Event source mappings whose source is one of these (ARN service / resource) support partial batch responses.
_PARTIAL_BATCH_SOURCES = (
    (re.compile(r"^arn:aws[\w-]*:sqs:"), "SQS queue"),
    (re.compile(r"^arn:aws[\w-]*:kinesis:[^:]*:[^:]*:stream/"), "Kinesis stream"),
    (re.compile(r"^arn:aws[\w-]*:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/"), "DynamoDB stream"),
)
#: Properties only Kafka, Amazon MQ and DocumentDB sources have (no ReportBatchItemFailures there).
_OTHER_SOURCE_PROPS = ("selfManagedEventSource", "selfManagedKafkaEventSourceConfig",
                       "amazonManagedKafkaEventSourceConfig", "documentDbEventSourceConfig", "queues", "topics")


def _check_batch_failures(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    types = get(props, "functionResponseTypes")
    if "ReportBatchItemFailures" in as_list(types):
        return
    if any(known(props, key) for key in _OTHER_SOURCE_PROPS):
        return
    source = get(props, "eventSourceArn")
    kind = next((k for pattern, k in _PARTIAL_BATCH_SOURCES if isinstance(source, str) and pattern.match(source)), None)
    if kind is None:
        return
    report(f"{named(args, 'Event source mapping')} from {kind} {source}: functionResponseTypes "
           f"is {shown(types)}; required: [\"ReportBatchItemFailures\"] so one failing record "
           "does not return or retry the whole batch.")


# ------------------------------------------------------------------ prod tables


def _check_recoverable(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A database type of the settings catalogue: each backup, point-in-time recovery and deletion
    protection switch it has meets its requirement, on the resource and on each of its replicas."""
    props, what = args.props, named(args, label(args.resource_type))
    for paths, required, unset_ok, replica_mark in recovery.TABLES[args.resource_type]:
        if replica_mark and known(props, replica_mark):
            continue  # a replica takes no backups of its own
        found = [list(places(props, path, empty_lists=False)) for path in paths]

        def kept(value: Any) -> bool:
            return (value is None and unset_ok) or (value is not None and meets(value, required))

        if any(all(kept(v) for _, v in spots) for spots in found):
            continue
        others = f" (or {' or '.join(paths[1:])})" if len(paths) > 1 else ""
        for where, value in found[0]:
            if not kept(value):
                report(f"{what}: {where}{others} is {shown(value)}; required in prod: {wanted(required)}.")


def _check_tables(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    props, typ = args.props, args.resource_type
    if typ == FIRESTORE_DATABASE:
        what = named(args, "Firestore database")
        pitr = get(props, "pointInTimeRecoveryEnablement")
        if pitr != "POINT_IN_TIME_RECOVERY_ENABLED":
            report(f"{what}: pointInTimeRecoveryEnablement is {shown(pitr)}; required in prod: "
                   "'POINT_IN_TIME_RECOVERY_ENABLED'.")
        protect = get(props, "deleteProtectionState")
        if protect != "DELETE_PROTECTION_ENABLED":
            report(f"{what}: deleteProtectionState is {shown(protect)}; required in prod: 'DELETE_PROTECTION_ENABLED'.")
    elif typ == COSMOS_ACCOUNT:
        kind = get(props, "backupPolicy.type")
        if not isinstance(kind, str) or kind.lower() != "continuous":
            report(f"{named(args, 'Cosmos DB account')}: backupPolicy.type is {shown(kind)} (periodic backups "
                   "restore only whole snapshots); required in prod: 'Continuous' (point-in-time restore).")
    else:
        _check_recoverable(args, report)


RECOVERABLE_TYPES = sorted({FIRESTORE_DATABASE, COSMOS_ACCOUNT, *recovery.TABLES})


# ------------------------------------------------------------------ Cosmos DB delete locks

#: What holds a Cosmos DB account's data, per API: its databases (keyspaces, tables) and, below
#: them, its containers (collections, tables, graphs).
COSMOS_DATABASES = ("azure-native:cosmosdb:SqlResourceSqlDatabase", "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase",
                    "azure-native:cosmosdb:CassandraResourceCassandraKeyspace",
                    "azure-native:cosmosdb:GremlinResourceGremlinDatabase", "azure-native:cosmosdb:TableResourceTable")
COSMOS_CONTAINERS = ("azure-native:cosmosdb:SqlResourceSqlContainer", "azure-native:cosmosdb:MongoDBResourceMongoDBCollection",
                     "azure-native:cosmosdb:CassandraResourceCassandraTable",
                     "azure-native:cosmosdb:GremlinResourceGremlinGraph")


def _check_cosmos_locks(args: StackValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    tree = Hierarchy(args.resources)
    locked: set[str] = set()
    for lock, level in delete_locks(args.resources):
        if level in DELETE_LOCK_LEVELS:
            locked |= {r.urn for r in tree.covered(lock, include_targets=True)}
    stores = [r for r in tree.resources if r.resource_type in COSMOS_DATABASES]
    containers = [r for r in tree.resources if r.resource_type in COSMOS_CONTAINERS]

    def is_locked(store: Any) -> bool:
        if store.urn in locked:
            return True
        inside = [c for c in containers if store.urn in tree.above(c)]
        return bool(inside) and all(c.urn in locked for c in inside)

    for account in resources_of(args, [COSMOS_ACCOUNT]):
        held = [s for s in stores if account.urn in tree.above(s)] or [account]
        open_ = [s for s in held if not is_locked(s)]
        if open_:
            names = ", ".join(f"'{s.name}' ({s.resource_type.rsplit(':', 1)[-1]})" for s in open_)
            report(f"{named(account, 'Cosmos DB account')}: no management lock with level "
                   f"{' or '.join(DELETE_LOCK_LEVELS)} covers what holds its data: {names}; required in prod: a "
                   f"'CanNotDelete' lock on each database ({LOCK_BY_SCOPE} with scope the database id) or on each of "
                   "its containers. Not on the account: its SQL role assignments would inherit the lock (policy "
                   "azure-no-lock-above-managed-children).", account.urn)


# ------------------------------------------------------------------ the policies

POLICIES = [
    stack_policy(
        "queues-dead-lettered",
        "Every queue has a dead-letter path that keeps what it receives, at least as long as its source and without "
        "expiring: SQS queues a redrive policy to a DLQ retaining messages at least as long as the source (a queue "
        "that is itself a dead-letter store of any asynchronous path, redrive, subscription, target, schedule or "
        "on-failure destination, needs none; the DLQ's redrive allow policy lets the source in; SQS docs, \"Using dead-letter queues\"), Pub/Sub subscriptions a "
        "dead-letter topic with a subscription keeping messages at least as long as the source and never expiring "
        "(expirationPolicy.ttl \"\"; Pub/Sub docs, \"Dead-letter topics\", \"Subscription properties\"), Service "
        "Bus queues and subscriptions a max delivery count, dead-lettering on expiry, no auto-delete on idle and a "
        "forwarding target keeping messages at least as long (Service Bus docs, \"Dead-letter queues\"), Azure "
        "Storage queues their -poison queue in the same account (names of at most 56 characters, so it fits), and "
        "queue-triggered function apps an explicit maxDequeueCount of 1-100 (Functions docs, \"Poison messages\").",
        [SQS_QUEUE, SQS_REDRIVE_POLICY, SQS_REDRIVE_ALLOW_POLICY, PUBSUB_SUBSCRIPTION, SERVICEBUS_QUEUE, SERVICEBUS_SUBSCRIPTION, SERVICEBUS_TOPIC,
         STORAGE_QUEUE, STORAGE_ACCOUNT, WEB_APP, *ROUTE_TYPES],
        _check_dead_letters,
        remediation="SQS: redrivePolicy={\"deadLetterTargetArn\": <DLQ ARN>, \"maxReceiveCount\": 5} and the DLQ's "
                    "messageRetentionSeconds >= the source's; Pub/Sub: deadLetterPolicy={deadLetterTopic: "
                    "projects/P/topics/T-dlq, maxDeliveryAttempts: 5-100} and a subscription on T-dlq with "
                    "messageRetentionDuration >= the source's and expirationPolicy={ttl: \"\"}; Service Bus: "
                    "maxDeliveryCount=10, deadLetteringOnMessageExpiration=true, no autoDeleteOnIdle; Storage queues: a "
                    "storage.Queue '<name>-poison' in the same account and app setting "
                    "AzureFunctionsJobHost__extensions__queues__maxDequeueCount=<max receives> on the consumer.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "pubsub-ack-deadline-covers-consumer",
        "A Pub/Sub push subscription's ack deadline is at least its consumer function's timeout, so a slow success is "
        "not delivered again (and counted as a failed attempt) while it still runs.",
        [PUBSUB_SUBSCRIPTION, GCP_FUNCTION_V2],
        _check_ack_deadline,
        remediation="set ackDeadlineSeconds >= the consumer's serviceConfig.timeoutSeconds (10-600).",
        level=MANDATORY,
        severity=Severity.MEDIUM,
    ),
    stack_policy(
        "sqs-visibility-covers-consumer",
        "An SQS queue consumed by a Lambda event source mapping has a visibility timeout of at least "
        "visibilityTimeoutMultiplier (6) times the function's timeout plus the mapping's batching window.",
        [SQS_QUEUE, EVENT_SOURCE_MAPPING, LAMBDA_FUNCTION, LAMBDA_ALIAS],
        _check_visibility,
        remediation="raise the queue's visibilityTimeoutSeconds to 6 x the function timeout + "
                    "maximumBatchingWindowInSeconds (or lower the function timeout).",
        level=MANDATORY,
        severity=Severity.HIGH,
        config={VISIBILITY_MULTIPLIER: {
            "type": "number", "default": 6, "minimum": 1,
            "description": "Required ratio of the queue's visibility timeout to the consumer function's timeout "
                           "(AWS recommends 6, so throttled batches can be retried before messages reappear).",
        }},
    ),
    resource_policy(
        "event-sources-report-batch-failures",
        "Lambda event source mappings from SQS, Kinesis and DynamoDB streams report batch item failures, so one "
        "bad record does not fail, retry or block the whole batch.",
        [EVENT_SOURCE_MAPPING],
        _check_batch_failures,
        remediation='set functionResponseTypes=["ReportBatchItemFailures"] and return {"batchItemFailures": [...]} '
                    "from the handler.",
        level=MANDATORY,
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "prod-tables-recoverable",
        "In prod, tables and databases can be restored to a point in time and are protected from deletion, on the "
        "resource and on each replica: DynamoDB PITR and deletionProtectionEnabled on the table, each inline replica "
        "and each TableReplica; Firestore PITR and delete protection; Cosmos DB continuous backup; and every backup, "
        "PITR and deletion-protection switch the provider SDKs give the other database services (RDS and Aurora "
        "clusters, instances and global clusters, DocumentDB, Neptune, Keyspaces, Aurora DSQL, QLDB, Cloud SQL, "
        "Spanner drop protection, Bigtable tables, Memorystore, Azure Database for PostgreSQL and MySQL backup "
        "retention); replicas that take no backups of their own (Cloud SQL read replicas, RDS read replicas) are held "
        "to deletion protection only. Catalogue: policy/settings/recovery.py, derived from the provider SDKs. Sources: "
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Point-in-time-recovery.html, "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html#USER_DeletionProtection, "
        "https://cloud.google.com/sql/docs/postgres/backup-recovery/backups, "
        "https://cloud.google.com/spanner/docs/prevent-database-deletion, "
        "https://learn.microsoft.com/azure/cosmos-db/continuous-backup-restore-introduction.",
        RECOVERABLE_TYPES,
        _check_tables,
        remediation="DynamoDB: pointInTimeRecovery={enabled: true}, deletionProtectionEnabled=true, and on each replica "
                    "pointInTimeRecovery=true and deletionProtectionEnabled=true; Firestore: "
                    "pointInTimeRecoveryEnablement='POINT_IN_TIME_RECOVERY_ENABLED', "
                    "deleteProtectionState='DELETE_PROTECTION_ENABLED'; Cosmos DB: backupPolicy={type: 'Continuous', "
                    "continuousModeProperties: {tier: 'Continuous30Days'}}; RDS/Aurora/DocumentDB/Neptune: "
                    "deletionProtection=true, backupRetentionPeriod >= 1; Cloud SQL: settings.deletionProtectionEnabled "
                    "and settings.backupConfiguration {enabled, pointInTimeRecoveryEnabled}; Spanner: "
                    "enableDropProtection=true; any other: the switch the message names.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "prod-cosmos-delete-locked",
        "In prod, what holds a Cosmos DB account's data (each database, or each of its containers) is covered by a "
        "CanNotDelete (or ReadOnly) management lock (Azure's deletion protection, "
        "https://learn.microsoft.com/azure/cosmos-db/resource-locks); the lock belongs on the database, not on the "
        "account, whose child SQL role assignments would inherit it.",
        [COSMOS_ACCOUNT, *COSMOS_DATABASES, *COSMOS_CONTAINERS, *LOCKS],
        _check_cosmos_locks,
        remediation="add azure-native.authorization.ManagementLockByScope(scope=database.id, level='CanNotDelete').",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
