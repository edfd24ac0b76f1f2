"""Alarms to an encrypted SNS topic (e-mail when `alertEmail` is set) and a dashboard.

Every alarm has dimensions (never account-wide by accident) and actions (never silent):
function errors and throttles, API 5xx, DLQ depth, oldest message age, failed executions; for
a table stream, its dead-letter queue's depth and how far its consumer lags behind the stream
(IteratorAge, the stream's oldest-message age).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .api import STAGE
from .context import AwsContext

PERIOD_S = 300
#: Alert when a message has waited this long: the consumer is failing or falling behind.
OLDEST_MESSAGE_AGE_S = 900


@dataclass
class Watched:
    """What the platform rendered that deserves an alarm: name -> physical identifier."""

    functions: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    queues: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = field(default_factory=dict)
    workflows: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    #: table -> (its stream's dead-letter queue name, its consumer's function name)
    streams: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = field(default_factory=dict)
    api_id: pulumi.Output[str] | None = None


def alarm_topic(ctx: AwsContext) -> aws.sns.Topic:
    topic = aws.sns.Topic(
        "alarms",
        name=ctx.physical("alarms"),
        kms_master_key_id=ctx.key.arn if ctx.key else "alias/aws/sns",
        opts=ctx.opts(ctx.parent),
    )
    aws.sns.TopicPolicy(
        "alarms-policy",
        arn=topic.arn,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": topic.arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account}},
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sns:Publish",
                        "Resource": topic.arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ],
            }
        ),
        opts=ctx.opts(topic),
    )
    if ctx.settings.alert_email:
        aws.sns.TopicSubscription(
            "alarms-email", topic=topic.arn, protocol="email", endpoint=ctx.settings.alert_email, opts=ctx.opts(topic)
        )
    return topic


def _alarm(ctx: AwsContext, topic: aws.sns.Topic, name: str, description: str, namespace: str, metric: str,
           dimensions: dict[str, pulumi.Input[str]], statistic: str = "Sum", threshold: float = 1) -> None:
    aws.cloudwatch.MetricAlarm(
        f"{name}-alarm",
        name=ctx.physical(name),
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dimensions,
        statistic=statistic,
        period=PERIOD_S,
        evaluation_periods=1,
        threshold=threshold,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic.arn],
        ok_actions=[topic.arn],
        opts=ctx.opts(topic),
    )


def alarms(ctx: AwsContext, topic: aws.sns.Topic, watched: Watched) -> None:
    for fn, physical in watched.functions.items():
        dims = {"FunctionName": physical}
        _alarm(ctx, topic, f"{fn}-errors", f"Function {fn} raised errors", "AWS/Lambda", "Errors", dims)
        _alarm(ctx, topic, f"{fn}-throttles", f"Function {fn} was throttled", "AWS/Lambda", "Throttles", dims)
    if watched.api_id is not None:
        dims = {"ApiId": watched.api_id, "Stage": STAGE}
        _alarm(ctx, topic, "api-5xx", "The API returned 5xx responses", "AWS/ApiGateway", "5xx", dims)
    for queue, (name, dlq_name) in watched.queues.items():
        _alarm(ctx, topic, f"{queue}-dlq-depth", f"Messages of queue {queue} were dead-lettered", "AWS/SQS",
               "ApproximateNumberOfMessagesVisible", {"QueueName": dlq_name}, statistic="Maximum")
        _alarm(ctx, topic, f"{queue}-oldest-message", f"Messages of queue {queue} wait over {OLDEST_MESSAGE_AGE_S} s",
               "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": name}, statistic="Maximum",
               threshold=OLDEST_MESSAGE_AGE_S)
    for table, (dlq_name, consumer) in watched.streams.items():
        _alarm(ctx, topic, f"{table}-changes-dlq-depth", f"Changes of table {table} were dead-lettered", "AWS/SQS",
               "ApproximateNumberOfMessagesVisible", {"QueueName": dlq_name}, statistic="Maximum")
        _alarm(ctx, topic, f"{table}-changes-iterator-age", f"Changes of table {table} wait over {OLDEST_MESSAGE_AGE_S} s",
               "AWS/Lambda", "IteratorAge", {"FunctionName": consumer}, statistic="Maximum",
               threshold=OLDEST_MESSAGE_AGE_S * 1000)  # IteratorAge is in milliseconds
    for wf, arn in watched.workflows.items():
        _alarm(ctx, topic, f"{wf}-failed", f"Workflow {wf} executions failed", "AWS/States", "ExecutionsFailed",
               {"StateMachineArn": arn})


def dashboard(ctx: AwsContext, watched: Watched) -> aws.cloudwatch.Dashboard:
    """One dashboard: a row per kind of resource."""

    def widget(title: str, metrics: list, y: int) -> dict:
        return {"type": "metric", "x": 0, "y": y, "width": 24, "height": 6,
                "properties": {"title": title, "region": ctx.region, "stat": "Sum", "period": PERIOD_S, "metrics": metrics}}

    widgets = [
        widget("Function errors and throttles",
               [m for p in watched.functions.values() for m in (["AWS/Lambda", "Errors", "FunctionName", p],
                                                               ["AWS/Lambda", "Throttles", "FunctionName", p])], 0),
        widget("Function duration (p99)",
               [["AWS/Lambda", "Duration", "FunctionName", p, {"stat": "p99"}] for p in watched.functions.values()], 6),
    ]
    if watched.api_id is not None:
        widgets.append(widget("API requests and errors",
                              [["AWS/ApiGateway", m, "ApiId", watched.api_id, "Stage", STAGE]
                               for m in ("Count", "4xx", "5xx")], 12))
    if watched.queues:
        widgets.append(widget("Queues: backlog and dead letters",
                              [m for q, d in watched.queues.values()
                               for m in (["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q],
                                         ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", d])], 18))
    if watched.streams:
        widgets.append(widget("Table streams: consumer lag (ms) and dead letters",
                              [m for d, f in watched.streams.values()
                               for m in (["AWS/Lambda", "IteratorAge", "FunctionName", f, {"stat": "Maximum"}],
                                         ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", d])], 30))
    if watched.workflows:
        widgets.append(widget("Workflow executions",
                              [["AWS/States", m, "StateMachineArn", a] for a in watched.workflows.values()
                               for m in ("ExecutionsSucceeded", "ExecutionsFailed")], 24))
    return aws.cloudwatch.Dashboard(
        "dashboard",
        dashboard_name=ctx.prefix,
        dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
        opts=ctx.opts(ctx.parent),
    )
