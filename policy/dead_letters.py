"""Dead letters for every asynchronous path, not only queues (issue 20): async-paths-dead-lettered.

Which paths. Every resource type of the three providers through which a dead-letter store can be
set is in policy/async_paths.py, generated from the SDKs (scripts/async_paths.py), with where the
setting lives; each must set it, wherever the provider puts it (Scheduler's
`target.deadLetterConfig`, an Event Grid namespace subscription's `deliveryConfiguration.push...`).
A setting inside an optional block is required when the block is there (an Analytics Hub listing
subscription needs a dead-letter policy only when it delivers to Pub/Sub). What the catalogue
cannot say is read here:

- queues (SQS, Pub/Sub subscriptions, Service Bus) are queues-dead-lettered's (policy/resilience.py);
- SNS subscriptions with a data protocol (sqs, lambda, firehose, http, https) need a redrive policy to
  an SQS queue; email, SMS and mobile push reach people, not a consumer that fails and can retry;
- an EventBridge bus needs a dead-letter queue when it has a customer-managed key (events it cannot
  encrypt or decrypt are dropped otherwise);
- a Lambda function needs a deadLetterConfig or an on-failure destination when it is invoked
  asynchronously: through a permission for a service that invokes asynchronously, by an SNS
  subscription, EventBridge target, schedule or S3 notification naming it, or with an asynchronous
  invocation configuration; the configuration's on-failure destination is the dead-letter store
  (Lambda docs, "Asynchronous invocation", "Capturing records of asynchronous invocations");
- event source mappings from streams (Kinesis, DynamoDB, Kafka) need an on-failure destination;
  mappings from SQS rely on the queue's redrive, and MQ and DocumentDB mappings have none;
- pipes from Kinesis or DynamoDB streams need their source parameters' dead-letter config;
- an Event Grid dead-letter destination is a blob container: resourceId and blobContainerName;
- Cloud Tasks has no dead-letter queue and deletes a task once its attempts or retry duration run
  out: a queue passes with unlimited attempts (maxAttempts -1) and no maxRetryDuration, so a failing
  task stays in its queue, visible, until it succeeds.

Not judged here: Cloud Scheduler (a job's body is fixed in the job and its next run repeats a failed
one; Pub/Sub targets deliver to topics whose subscriptions are judged), Eventarc triggers and
event-triggered functions (gcp-event-paths-dead-lettered), Azure Storage queues (queues-dead-lettered,
poison queues), Event Hubs and Kinesis themselves (retention-based streams without dead letters,
whose consumers are judged).

A dead-letter store keeps what it receives at least as long as its source would have kept it
(policy/dead_letter_stores.py says how long each source keeps an event): an SQS store in the stack
has messageRetentionSeconds at least that long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from .async_paths import DEAD_LETTER_SETTINGS
from .common import (
    LAMBDA_FUNCTION,
    MANDATORY,
    PUBSUB_SUBSCRIPTION,
    SQS_QUEUE,
    as_list,
    dependency_urns,
    each_known,
    get,
    known,
    named,
    shown,
    stack_policy,
)
from .dead_letter_stores import (
    EVENT_BUS,
    EVENT_SOURCE_MAPPING,
    EVENT_TARGET,
    INVOKE_CONFIG,
    PIPE,
    READERS,
    SCHEDULE,
    SNS_SUBSCRIPTION,
    Route,
    routes,
    stores_queue,
)
from .resilience import (
    SERVICEBUS_QUEUE,
    SERVICEBUS_SUBSCRIPTION,
    SQS_DEFAULT_RETENTION_S,
    SQS_REDRIVE_POLICY,
    _function_ids,
    _function_name_of,
    _names_queue,
)
from .values import duration_text, json_object, number

NAME = "async-paths-dead-lettered"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
CLOUD_TASKS_QUEUE = "gcp:cloudtasks/queue:Queue"
EVENT_GRID = "azure-native:eventgrid:"

#: Types whose dead letters queues-dead-lettered judges.
QUEUES = frozenset({SQS_QUEUE, SQS_REDRIVE_POLICY, PUBSUB_SUBSCRIPTION, SERVICEBUS_QUEUE, SERVICEBUS_SUBSCRIPTION})
#: Catalogue types read the general way: the dead-letter setting is set wherever its block is.
GENERAL = frozenset(DEAD_LETTER_SETTINGS) - QUEUES - frozenset(READERS)

#: SNS protocols that deliver to a consumer (SNS docs, "Amazon SNS dead-letter queues"); email, email-json,
#: sms and application (mobile push) notify people.
SNS_DATA_PROTOCOLS = frozenset({"sqs", "lambda", "firehose", "http", "https"})
#: Services that invoke Lambda asynchronously through a resource-based permission (Lambda docs, "Invoking
#: Lambda with events from other AWS services": S3, SNS, SES, EventBridge, CloudWatch Logs, IoT, IoT Events,
#: Config, CodeCommit, CodePipeline, CloudFormation).
ASYNC_INVOKERS = frozenset({"s3", "sns", "ses", "events", "logs", "iot", "iotevents", "config", "codecommit",
                            "codepipeline", "cloudformation"})
#: What each AWS path accepts as its dead-letter store (ARN service names), from each service's docs.
STORE_SERVICES: dict[str, frozenset[str]] = {
    SNS_SUBSCRIPTION: frozenset({"sqs"}),
    EVENT_TARGET: frozenset({"sqs"}),
    EVENT_BUS: frozenset({"sqs"}),
    SCHEDULE: frozenset({"sqs"}),
    LAMBDA_FUNCTION: frozenset({"sqs", "sns"}),
    INVOKE_CONFIG: frozenset({"sqs", "sns", "lambda", "events", "s3"}),
    EVENT_SOURCE_MAPPING: frozenset({"sqs", "sns", "s3", "kafka"}),
    PIPE: frozenset({"sqs", "sns"}),
}
_ARN_SERVICE = re.compile(r"^arn:aws[\w-]*:([a-z0-9-]+):")


# ------------------------------------------------------------------ reading settings wherever they are


def _values(props: Any, path: str) -> list[Any]:
    """The values at a dotted path, through lists on the way (each item); raises on unknown values."""
    found = [props]
    for part in path.split(".") if path else []:
        nxt = []
        for value in found:
            for item in (value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else [value]):
                if isinstance(item, Mapping) and item.get(part) is not None:
                    nxt.append(item[part])
        found = nxt
    return found


def _is_set(value: Any) -> bool:
    """A value that says something: not None, empty or false, and (a block) with something set inside."""
    if isinstance(value, Mapping):
        return any(_is_set(value[k]) for k in value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return any(_is_set(v) for v in value)
    return value not in (None, "", False)


def _check_general(r: PolicyResource, report: ReportViolation) -> None:
    """Every block that can hold a dead-letter setting, and is there, holds one."""
    by_parent: dict[str, list[str]] = {}
    for path in DEAD_LETTER_SETTINGS[r.resource_type]:
        by_parent.setdefault(path.rpartition(".")[0], []).append(path)
    for parent, paths in sorted(by_parent.items()):
        blocks = _values(r.props, parent)
        leaf = [p.rpartition(".")[2] for p in paths]
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            if not any(_is_set(block.get(name)) for name in leaf):
                where = f"{parent}." if parent else ""
                report(f"{named(r, 'Asynchronous path')}: {' and '.join(where + n for n in leaf)} "
                       f"{'is' if len(leaf) == 1 else 'are'} not set, so what it fails to deliver is dropped once its "
                       "retries end; required: a dead-letter destination.", r.urn)
            elif r.resource_type.startswith(EVENT_GRID):
                _check_blob_destination(r, _where_set(block, leaf), report)


def _where_set(block: Mapping, names: list[str]) -> tuple[str, Any]:
    name = next(n for n in names if _is_set(block.get(n)))
    return name, block[name]


def _check_blob_destination(r: PolicyResource, found: tuple[str, Any], report: ReportViolation) -> None:
    """An Event Grid dead-letter destination is a blob container: the storage account's resourceId and
    blobContainerName (directly, or under deadLetterDestination of the ...WithResourceIdentity form)."""
    name, value = found
    destination = value.get("deadLetterDestination") if "ResourceIdentity" in name else value
    missing = [k for k in ("resourceId", "blobContainerName")
               if not (isinstance(destination, Mapping) and _is_set(destination.get(k)))]
    if missing:
        report(f"{named(r, 'Event Grid subscription')}: {name} has no {' or '.join(missing)}, so it names no blob "
               f"container to keep dead letters in (it is {shown(value)}); required: endpointType 'StorageBlob', "
               "the storage account's resourceId and a blobContainerName.", r.urn)


# ------------------------------------------------------------------ AWS routes


def _service(arn: str) -> str | None:
    if arn.startswith("kafka://"):
        return "kafka"
    match = _ARN_SERVICE.match(arn)
    return match.group(1) if match else None


def _check_route(route: Route, report: ReportViolation) -> None:
    r = route.source
    if route.pending:
        return
    allowed = STORE_SERVICES[r.resource_type]
    if route.store is None:
        get(r.props, route.prop)  # unknown during preview: a note, not a guess
        report(f"{named(r, 'Asynchronous path')}: {route.kind} is not set, so what it fails to deliver is dropped "
               f"once its retries end; required: the ARN of a dead-letter store ({', '.join(sorted(allowed))}).", r.urn)
        return
    if _service(route.store) not in allowed:
        report(f"{named(r, 'Asynchronous path')}: {route.kind} is {shown(route.store)}, which is not a dead-letter "
               f"store this path can use; allowed: the ARN of {' or '.join(sorted(allowed))}.", r.urn)


def _check_retention(route: Route, queues: list[PolicyResource], report: ReportViolation) -> None:
    """A store that forgets a dead letter before its source would have stopped retrying it keeps less than
    the source did."""
    if route.retention is None:
        return
    for queue in queues:
        if stores_queue(route, queue, _names_queue):
            kept = number(get(queue.props, "messageRetentionSeconds"))
            kept = SQS_DEFAULT_RETENTION_S if kept is None else kept
            if kept < route.retention:
                report(f"{named(route.source, 'Asynchronous path')}: its dead-letter queue '{queue.name}' keeps messages "
                       f"{duration_text(kept)} (messageRetentionSeconds), less than the {duration_text(route.retention)} "
                       f"the source keeps an event ({route.retention_of}); required: messageRetentionSeconds >= "
                       f"{int(route.retention)} on the queue.", route.source.urn)
            return


def _sns_needs_store(r: PolicyResource) -> bool:
    return str(get(r.props, "protocol") or "").strip().lower() in SNS_DATA_PROTOCOLS


def _bus_needs_store(r: PolicyResource) -> bool:
    return _is_set(get(r.props, "kmsKeyIdentifier"))


def _names_function(reference: Any, function: PolicyResource) -> bool:
    name = _function_name_of(reference)
    return name is not None and name in _function_ids(function)


def _async_caller(function: PolicyResource, by_type: dict[str, list[PolicyResource]]) -> str | None:
    """What invokes `function` asynchronously, if anything in the stack does."""

    def refers(r: PolicyResource, prop: str, value: Any) -> bool:
        return function.urn in dependency_urns(r, prop) or _names_function(value, function)

    for p in by_type.get(LAMBDA_PERMISSION, []):
        principal = str(known(p.props, "principal") or "")
        service = principal.split(".", 1)[0].lower() if principal.endswith(".amazonaws.com") else None
        if service in ASYNC_INVOKERS and refers(p, "function", known(p.props, "function")):
            return f"{LAMBDA_PERMISSION} '{p.name}' for {principal}"
    for s in by_type.get(SNS_SUBSCRIPTION, []):
        if str(known(s.props, "protocol") or "").lower() == "lambda" and refers(s, "endpoint", known(s.props, "endpoint")):
            return f"SNS subscription '{s.name}'"
    for t in by_type.get(EVENT_TARGET, []):
        if refers(t, "arn", known(t.props, "arn")):
            return f"EventBridge target '{t.name}'"
    for s in by_type.get(SCHEDULE, []):
        if refers(s, "target", known(s.props, "target.arn")):
            return f"Scheduler schedule '{s.name}'"
    for n in by_type.get(BUCKET_NOTIFICATION, []):
        if any(refers(n, "lambdaFunctions", known(item, "lambdaFunctionArn"))
               for item in as_list(known(n.props, "lambdaFunctions"))):
            return f"S3 bucket notification '{n.name}'"
    return None


def _invoke_configs_of(function: PolicyResource, configs: list[PolicyResource]) -> list[PolicyResource]:
    return [c for c in configs if function.urn in dependency_urns(c, "functionName")
            or _names_function(known(c.props, "functionName"), function)]


def _check_function(function: PolicyResource, by_type: dict[str, list[PolicyResource]], report: ReportViolation) -> None:
    if _invoke_configs_of(function, by_type.get(INVOKE_CONFIG, [])):
        return  # the invocation configuration is judged, with the function's deadLetterConfig as its alternative
    if _is_set(get(function.props, "deadLetterConfig.targetArn")):
        return
    caller = _async_caller(function, by_type)
    if caller is not None:
        report(f"{named(function, 'Lambda function')}: {caller} invokes it asynchronously, and it has neither a "
               "deadLetterConfig.targetArn nor an asynchronous invocation configuration with an on-failure "
               "destination, so an event that fails every retry is dropped; required: one of them.", function.urn)


def _check_invoke_config(config: PolicyResource, route: Route, functions: list[PolicyResource],
                         report: ReportViolation) -> None:
    if route.store is None and not route.pending:
        ref = known(config.props, "functionName")
        function = next((f for f in functions
                         if f.urn in dependency_urns(config, "functionName") or _names_function(ref, f)), None)
        if function is not None and _is_set(get(function.props, "deadLetterConfig.targetArn")):
            return
    _check_route(route, report)


# ------------------------------------------------------------------ Cloud Tasks


def _check_cloud_tasks(queue: PolicyResource, report: ReportViolation) -> None:
    attempts = get(queue.props, "retryConfig.maxAttempts")
    duration = get(queue.props, "retryConfig.maxRetryDuration")
    unlimited = number(attempts) == -1 and duration in (None, "", "0s")
    if not unlimited:
        report(f"{named(queue, 'Cloud Tasks queue')}: retryConfig.maxAttempts is {shown(attempts)} (default 100) and "
               f"maxRetryDuration {shown(duration)}, and Cloud Tasks deletes a task once either runs out, with no "
               "dead-letter queue to keep it; required: maxAttempts -1 and no maxRetryDuration, so a failing task "
               "stays in its queue until it succeeds.", queue.urn)


# ------------------------------------------------------------------ the policy


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    by_type: dict[str, list[PolicyResource]] = {}
    for r in args.resources:
        by_type.setdefault(r.resource_type, []).append(r)
    needs = {SNS_SUBSCRIPTION: _sns_needs_store, EVENT_BUS: _bus_needs_store}
    wanted = [r for t in (*READERS, *GENERAL, CLOUD_TASKS_QUEUE) for r in by_type.get(t, [])]
    stack_routes = routes(wanted)
    queues = by_type.get(SQS_QUEUE, [])
    functions = by_type.get(LAMBDA_FUNCTION, [])

    def check_route(route: Route) -> None:
        typ = route.source.resource_type
        if typ == LAMBDA_FUNCTION:
            _check_function(route.source, by_type, report)
        elif typ == INVOKE_CONFIG:
            _check_invoke_config(route.source, route, functions, report)
        elif typ not in needs or needs[typ](route.source):
            _check_route(route, report)
        if route.store is not None or route.pending:
            _check_retention(route, queues, report)

    each_known(stack_routes, check_route)
    each_known([r for t in sorted(GENERAL) for r in by_type.get(t, [])], lambda r: _check_general(r, report))
    each_known(by_type.get(CLOUD_TASKS_QUEUE, []), lambda q: _check_cloud_tasks(q, report))


POLICIES = [
    stack_policy(
        NAME,
        "Every asynchronous path keeps what it fails to deliver in a dead-letter store that keeps it at least as long "
        "as the source would have: every resource type of the three providers with a dead-letter setting (derived from "
        "the SDKs: SNS subscriptions with a data protocol, EventBridge targets, Scheduler schedules, stream event "
        "source mappings, pipes, event buses with a customer-managed key, Event Grid subscriptions of every kind with a "
        "blob container, Dapr subscriptions, ...), asynchronously invoked Lambda functions (deadLetterConfig or an "
        "on-failure destination, which counts as the dead-letter store), and Cloud Tasks queues, which have no "
        "dead-letter queue and must keep retrying; an SQS store keeps messages at least as long as its source's "
        "maximum event age or retention. Sources: SNS, EventBridge, Scheduler, Lambda (\"Asynchronous invocation\", "
        "\"Capturing records of asynchronous invocations\"), EventBridge Pipes, Event Grid (\"Dead letter and retry "
        "policies\"), Dapr (\"Dead letter topics\") and Cloud Tasks (\"Configure retries\") documentation; queues "
        "themselves are queues-dead-lettered's.",
        sorted({*READERS, *GENERAL, CLOUD_TASKS_QUEUE, LAMBDA_PERMISSION, BUCKET_NOTIFICATION, SQS_QUEUE}),
        _check,
        remediation="set the path's dead-letter store: SNS subscription redrivePolicy={\"deadLetterTargetArn\": <SQS "
                    "ARN>}; EventBridge target deadLetterConfig={arn: <SQS ARN>}; schedule target.deadLetterConfig; "
                    "Lambda deadLetterConfig={targetArn} or FunctionEventInvokeConfig destinationConfig.onFailure; "
                    "stream mappings destinationConfig.onFailure.destinationArn; pipes sourceParameters.<stream>"
                    "Parameters.deadLetterConfig; Event Grid deadLetterWithResourceIdentity={identity, "
                    "deadLetterDestination: {endpointType: 'StorageBlob', resourceId, blobContainerName}}; Cloud Tasks "
                    "retryConfig={maxAttempts: -1}; and give an SQS store messageRetentionSeconds >= the source's "
                    "maximum event age.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
