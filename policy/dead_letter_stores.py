"""Where each asynchronous path of an AWS stack keeps what it fails to deliver: its dead-letter store.

A route is one source (an SNS subscription, an EventBridge target or bus, a Scheduler schedule, a
Lambda function's asynchronous invocations, a stream's event source mapping, a pipe) and the ARN of
its store, with how long the source itself keeps an event while it retries (the store must keep
it at least that long). queues-dead-lettered reads the routes to know which SQS queues are
dead-letter queues (they need no redrive of their own); async-paths-dead-lettered judges them.

Source retention, from each service's documentation and defaults: SQS messageRetentionSeconds
(4 days); EventBridge targets and Scheduler schedules retryPolicy.maximumEventAgeInSeconds (24 h);
Lambda asynchronous invocations maximumEventAgeInSeconds (6 h); Kinesis and DynamoDB stream
consumers maximumRecordAgeInSeconds, or the stream's 24-hour default retention when it is -1 or
unset. SNS keeps nothing once its retries end, and Kafka's retention is the cluster's: no
comparison there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from .common import LAMBDA_FUNCTION, dependency_urns, get, known
from .values import json_object, number

SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
SCHEDULE = "aws:scheduler/schedule:Schedule"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
PIPE = "aws:pipes/pipe:Pipe"

EVENT_MAX_AGE_DEFAULT = 86400
LAMBDA_ASYNC_MAX_AGE_DEFAULT = 21600
STREAM_RETENTION_DEFAULT = 86400

#: What a stream source ARN is: Kinesis, DynamoDB stream, Kafka (MSK); None for queues, brokers, DocumentDB.
_STREAMS = (
    (re.compile(r"^arn:aws[\w-]*:kinesis:[^:]*:[^:]*:stream/"), "kinesis"),
    (re.compile(r"^arn:aws[\w-]*:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/"), "dynamodb"),
    (re.compile(r"^arn:aws[\w-]*:kafka:"), "kafka"),
)


def stream_kind(source: Any) -> str | None:
    return next((kind for pattern, kind in _STREAMS if isinstance(source, str) and pattern.match(source)), None)


@dataclass(frozen=True)
class Route:
    source: PolicyResource
    kind: str  # how a message names the source's store: "deadLetterConfig.arn"
    prop: str  # the top-level property the store's ARN is written under (its property dependencies)
    store: str | None  # the store's ARN, None when not set (or unknown during preview)
    retention: float | None  # how long the source keeps an event, seconds; None: nothing to compare
    retention_of: str  # what that retention is, for messages
    pending: bool = False  # the store's value is unknown during preview: its property dependency tells


def _age(value: Any, default: float) -> float:
    age = number(value)
    return default if age is None or age <= 0 else age


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _pending(r: PolicyResource, path: str) -> bool:
    """Whether the value at `path` is unknown (computed in the same preview)."""
    try:
        get(r.props, path)
    except UnknownValueError:
        return True
    return False


def _route(r: PolicyResource, path: str, prop: str, retention: float | None = None, retention_of: str = "") -> Route:
    return Route(r, path, prop, _text(known(r.props, path)), retention, retention_of, _pending(r, path))


def _sns(r: PolicyResource) -> Iterator[Route]:
    target = (json_object(known(r.props, "redrivePolicy")) or {}).get("deadLetterTargetArn")
    yield Route(r, "redrivePolicy.deadLetterTargetArn", "redrivePolicy", _text(target), None, "",
                _pending(r, "redrivePolicy"))


def _event_target(r: PolicyResource) -> Iterator[Route]:
    age = _age(known(r.props, "retryPolicy.maximumEventAgeInSeconds"), EVENT_MAX_AGE_DEFAULT)
    yield _route(r, "deadLetterConfig.arn", "deadLetterConfig", age, "retryPolicy.maximumEventAgeInSeconds")


def _event_bus(r: PolicyResource) -> Iterator[Route]:
    yield _route(r, "deadLetterConfig.arn", "deadLetterConfig")


def _schedule(r: PolicyResource) -> Iterator[Route]:
    age = _age(known(r.props, "target.retryPolicy.maximumEventAgeInSeconds"), EVENT_MAX_AGE_DEFAULT)
    yield _route(r, "target.deadLetterConfig.arn", "target", age, "target.retryPolicy.maximumEventAgeInSeconds")


def _invoke_config(r: PolicyResource) -> Iterator[Route]:
    age = _age(known(r.props, "maximumEventAgeInSeconds"), LAMBDA_ASYNC_MAX_AGE_DEFAULT)
    yield _route(r, "destinationConfig.onFailure.destination", "destinationConfig", age, "maximumEventAgeInSeconds")


def _function(r: PolicyResource) -> Iterator[Route]:
    yield _route(r, "deadLetterConfig.targetArn", "deadLetterConfig", LAMBDA_ASYNC_MAX_AGE_DEFAULT,
                 "Lambda's maximum event age for asynchronous invocations (6 h by default)")


def _mapping(r: PolicyResource) -> Iterator[Route]:
    kind = stream_kind(known(r.props, "eventSourceArn")) or ("kafka" if known(r.props, "selfManagedEventSource") else None)
    if kind is None:
        return
    age = None if kind == "kafka" else _age(known(r.props, "maximumRecordAgeInSeconds"), STREAM_RETENTION_DEFAULT)
    yield _route(r, "destinationConfig.onFailure.destinationArn", "destinationConfig", age, "maximumRecordAgeInSeconds")


def _pipe(r: PolicyResource) -> Iterator[Route]:
    kind = stream_kind(known(r.props, "source"))
    if kind not in ("kinesis", "dynamodb"):
        return
    params = f"sourceParameters.{kind}StreamParameters"
    age = _age(known(r.props, f"{params}.maximumRecordAgeInSeconds"), STREAM_RETENTION_DEFAULT)
    yield _route(r, f"{params}.deadLetterConfig.arn", "sourceParameters", age, f"{params}.maximumRecordAgeInSeconds")


READERS = {
    SNS_SUBSCRIPTION: _sns,
    EVENT_TARGET: _event_target,
    EVENT_BUS: _event_bus,
    SCHEDULE: _schedule,
    INVOKE_CONFIG: _invoke_config,
    LAMBDA_FUNCTION: _function,
    EVENT_SOURCE_MAPPING: _mapping,
    PIPE: _pipe,
}


def routes(resources: Iterable[PolicyResource]) -> list[Route]:
    """Every route of the stack's AWS asynchronous paths, set or not."""
    return [route for r in resources if r.resource_type in READERS for route in READERS[r.resource_type](r)]


def stores_queue(route: Route, queue: PolicyResource, names_queue) -> bool:
    """Whether `route` keeps its dead letters in `queue`: its store ARN names it (`names_queue(arn,
    queue)`), or, while that ARN is unknown during preview, its property depends on the queue."""
    if route.pending:
        return queue.urn in dependency_urns(route.source, route.prop)
    return route.store is not None and names_queue(route.store, queue)
