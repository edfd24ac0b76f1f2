"""Dead letters are alarmed (AWS): aws-dead-letter-queues-alarmed, advisory like the pack's other
observability policies (policy/observability.py).

A dead letter nobody hears of is lost all the same once its queue's retention ends. Every SQS
queue that keeps dead letters — a queue's or RedrivePolicy's redrive target, or the store of an
asynchronous path (policy/dead_letter_stores.py: SNS subscriptions, EventBridge targets and
buses, schedules, Lambda asynchronous invocations, stream event source mappings, pipes) — is
watched by a CloudWatch alarm that fires on its first message and has an action:

- the metric is AWS/SQS ApproximateNumberOfMessagesVisible with dimension QueueName = the queue's
  name, on the alarm or in one of its metric-math queries. NumberOfMessagesSent does not count
  what a redrive moves into a dead-letter queue ("Using dead-letter queues in Amazon SQS",
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html),
  so it is not a watch on dead letters;
- one message breaches it: GreaterThanOrEqualToThreshold with a threshold of at most 1, or
  GreaterThanThreshold below 1;
- it acts: alarmActions not empty and actionsEnabled not false.

A dimension unknown during preview matches through the alarm's property dependency on the queue.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from .common import ADVISORY, SQS_QUEUE, as_list, dependency_urns, each_known, get, named, resources_of, stack_policy
from .dead_letter_stores import READERS, routes, stores_queue
from .resilience import SQS_REDRIVE_POLICY, _is_dead_letter_target, _names_queue, _queue_ids, _redrive_target
from .values import number

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DEPTH = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")


def _watches(alarm: PolicyResource, queue: PolicyResource) -> bool:
    """Whether `alarm` (or one of its metric-math queries) reads the queue's visible messages."""
    _, name, _ = _queue_ids(queue)
    metrics = [("", alarm.props)] + [(f"metricQueries.{i}.metric", get(q, "metric") or {})
                                     for i, q in enumerate(as_list(get(alarm.props, "metricQueries")))]
    for where, metric in metrics:
        if (get(metric, "namespace"), get(metric, "metricName")) != DEPTH:
            continue
        dimension = get(metric, "dimensions.QueueName")
        if (name is not None and dimension == name) or queue.urn in dependency_urns(alarm, where.split(".")[0] or "dimensions"):
            return True
    return False


def _fires_on_one(alarm: PolicyResource) -> bool:
    threshold = number(get(alarm.props, "threshold"))
    operator = get(alarm.props, "comparisonOperator")
    if threshold is None:
        return False
    return (operator == "GreaterThanOrEqualToThreshold" and threshold <= 1) or (operator == "GreaterThanThreshold" and threshold < 1)


def _acts(alarm: PolicyResource) -> bool:
    return bool(as_list(get(alarm.props, "alarmActions"))) and get(alarm.props, "actionsEnabled") is not False


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    queues = resources_of(args, [SQS_QUEUE])
    redrivers = [(r, _redrive_target(r)) for r in queues + resources_of(args, [SQS_REDRIVE_POLICY])]
    async_routes = routes(args.resources)
    alarms = resources_of(args, [METRIC_ALARM])

    def check(queue: PolicyResource) -> None:
        source = _is_dead_letter_target(queue, redrivers)
        route = next((r for r in async_routes if stores_queue(r, queue, _names_queue)), None)
        if source is None and route is None:
            return
        of = source.name if source is not None else route.source.name
        watching = [a for a in alarms if _watches(a, queue)]
        sound = [a for a in watching if _fires_on_one(a) and _acts(a)]
        if sound:
            return
        if watching:
            found = ", ".join(f"'{a.name}' ({get(a.props, 'comparisonOperator')} {get(a.props, 'threshold')}, "
                              f"{len(as_list(get(a.props, 'alarmActions')))} action(s))" for a in watching)
            problem = f"its alarms {found} do not fire on one message with an action"
        else:
            problem = "no CloudWatch alarm watches its AWS/SQS ApproximateNumberOfMessagesVisible"
        report(f"{named(queue, 'SQS queue')}: it keeps the dead letters of '{of}', and {problem}, so a dead letter waits "
               "unseen until its retention ends; required: a MetricAlarm on namespace AWS/SQS, metricName "
               "ApproximateNumberOfMessagesVisible, dimensions {QueueName: <the queue's name>}, "
               "GreaterThanOrEqualToThreshold 1, with alarmActions.", queue.urn)

    each_known(queues, check)


POLICIES = [
    stack_policy(
        "aws-dead-letter-queues-alarmed",
        "Every SQS queue that keeps dead letters (a redrive target, or the dead-letter store of an SNS subscription, "
        "EventBridge target or bus, schedule, Lambda asynchronous invocation, stream event source mapping or pipe) is "
        "watched by a CloudWatch alarm on its ApproximateNumberOfMessagesVisible (QueueName dimension) that fires on "
        "one message and has an alarm action; NumberOfMessagesSent does not count messages a redrive moves in "
        "(\"Using dead-letter queues in Amazon SQS\", SQS Developer Guide).",
        sorted({SQS_QUEUE, SQS_REDRIVE_POLICY, METRIC_ALARM, *READERS}),
        _check,
        remediation="add aws.cloudwatch.MetricAlarm(namespace='AWS/SQS', metric_name='ApproximateNumberOfMessagesVisible', "
                    "dimensions={'QueueName': dlq.name}, statistic='Maximum', comparison_operator="
                    "'GreaterThanOrEqualToThreshold', threshold=1, alarm_actions=[<SNS topic ARN>]) for each dead-letter queue.",
        level=ADVISORY,
        severity=Severity.MEDIUM,
    ),
]
