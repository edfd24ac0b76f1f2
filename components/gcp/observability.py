"""Cloud Monitoring: an e-mail channel when `alertEmail` is set, and alert policies.

Alerts: 5xx from any function (gen2 functions report as Cloud Run services), messages
dead-lettered and dead letters waiting (queues, workflow starts, and table streams, whose
adapter publishes to the dead-letter topic itself: components/gcp/stream.py), delayed messages whose
publish keeps failing (Cloud Tasks retries them without limit: components/gcp/delays.py), a consumer falling behind (oldest unacknowledged
message), failed workflow executions, and API Gateway 5xx. Log retention is set per log
bucket in Cloud Logging, not per resource: the project's `_Default` bucket keeps 30 days
unless changed, which the check's notes say when `logRetentionDays` asks for another value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from .context import GcpContext

DEFAULT_LOG_RETENTION_DAYS = 30
#: A consumer is behind when its oldest message waits longer than this.
OLDEST_MESSAGE_ALARM_S = 600


@dataclass
class Watched:
    functions: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    queues: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = field(default_factory=dict)  # source sub, kept sub
    workflows: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    streams: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = field(default_factory=dict)  # DLQ topic, kept sub
    delays: dict[str, pulumi.Output[str]] = field(default_factory=dict)  # queue -> its Cloud Tasks queue
    api: pulumi.Output[str] | None = None


def _condition(name: str, filter_: pulumi.Input[str], aligner: str, threshold: float, reducer: str | None = None):
    return gcp.monitoring.AlertPolicyConditionArgs(
        display_name=name,
        condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
            filter=filter_,
            comparison="COMPARISON_GT",
            threshold_value=threshold,
            duration="0s",
            aggregations=[gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                alignment_period="300s", per_series_aligner=aligner, cross_series_reducer=reducer,
            )],
            trigger=gcp.monitoring.AlertPolicyConditionConditionThresholdTriggerArgs(count=1),
        ),
    )


def alerts(ctx: GcpContext, watched: Watched) -> list[str]:
    """Create the channel and the policies; returns the notes for what GCP cannot set per resource."""
    channels = []
    if ctx.settings.alert_email:
        channel = gcp.monitoring.NotificationChannel(
            "alerts-email", type="email", display_name=f"anycloud {ctx.prefix} on-call",
            labels={"email_address": ctx.settings.alert_email}, opts=ctx.opts(ctx.parent, api="monitoring"))
        channels.append(channel.name)

    def policy(name: str, summary: str, conditions: list, severity: str = "ERROR") -> None:
        gcp.monitoring.AlertPolicy(
            name, display_name=f"{ctx.prefix}: {summary}", combiner="OR", severity=severity,
            notification_channels=channels, conditions=conditions,
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(content=summary, mime_type="text/markdown"),
            alert_strategy=gcp.monitoring.AlertPolicyAlertStrategyArgs(auto_close="1800s"),
            opts=ctx.opts(ctx.parent, api="monitoring"))

    for name, service in watched.functions.items():
        policy(f"{name}-5xx", f"function {name} answers 5xx", [_condition(
            f"{name} 5xx", service.apply(lambda s: (
                'resource.type="cloud_run_revision" AND metric.type="run.googleapis.com/request_count" '
                f'AND resource.labels.service_name="{s}" AND metric.labels.response_code_class="5xx"')),
            "ALIGN_DELTA", 0, "REDUCE_SUM")])
    for name, (source, kept) in watched.queues.items():
        policy(f"{name}-dead-letters", f"queue {name} dead-letters messages", [
            _condition("dead-lettered", source.apply(lambda s: (
                'resource.type="pubsub_subscription" AND metric.type="pubsub.googleapis.com/subscription/'
                f'dead_letter_message_count" AND resource.labels.subscription_id="{s}"')), "ALIGN_DELTA", 0),
            _condition("dead letters waiting", kept.apply(lambda s: (
                'resource.type="pubsub_subscription" AND metric.type="pubsub.googleapis.com/subscription/'
                f'num_undelivered_messages" AND resource.labels.subscription_id="{s}"')), "ALIGN_MAX", 0),
        ])
        policy(f"{name}-behind", f"queue {name} consumer is behind", [_condition(
            "oldest unacknowledged message", source.apply(lambda s: (
                'resource.type="pubsub_subscription" AND metric.type="pubsub.googleapis.com/subscription/'
                f'oldest_unacked_message_age" AND resource.labels.subscription_id="{s}"')),
            "ALIGN_MAX", OLDEST_MESSAGE_ALARM_S)], severity="WARNING")
    for name, (topic, kept) in watched.streams.items():
        policy(f"{name}-changes-dead-letters", f"table {name}'s changes are dead-lettered", [
            _condition("dead-lettered", topic.apply(lambda t: (
                'resource.type="pubsub_topic" AND metric.type="pubsub.googleapis.com/topic/send_message_operation_count" '
                f'AND resource.labels.topic_id="{t}"')), "ALIGN_DELTA", 0, "REDUCE_SUM"),
            _condition("dead letters waiting", kept.apply(lambda s: (
                'resource.type="pubsub_subscription" AND metric.type="pubsub.googleapis.com/subscription/'
                f'num_undelivered_messages" AND resource.labels.subscription_id="{s}"')), "ALIGN_MAX", 0),
        ])
    for name, tasks in watched.delays.items():
        policy(f"{name}-delays-failing", f"queue {name}'s delayed messages fail to publish", [_condition(
            "failed publish attempts", tasks.apply(lambda q: (
                'resource.type="cloud_tasks_queue" AND metric.type="cloudtasks.googleapis.com/queue/task_attempt_count" '
                f'AND resource.labels.queue_id="{q}" AND metric.labels.response_code!="ok"')),
            "ALIGN_DELTA", 0, "REDUCE_SUM")])
    for name, workflow in watched.workflows.items():
        policy(f"{name}-failures", f"workflow {name} executions fail", [_condition(
            f"{name} failed", workflow.apply(lambda w: (
                'resource.type="workflows.googleapis.com/Workflow" AND metric.type="workflows.googleapis.com/'
                f'finished_execution_count" AND resource.labels.workflow_id="{w}" AND metric.labels.status="FAILED"')),
            "ALIGN_DELTA", 0, "REDUCE_SUM")])
    if watched.api is not None:
        policy("api-5xx", "API answers 5xx", [_condition("API 5xx", watched.api.apply(lambda a: (
            'resource.type="apigateway.googleapis.com/Gateway" AND metric.type="apigateway.googleapis.com/proxy/'
            f'request_count" AND resource.labels.gateway_id="{a}" AND metric.labels.response_code_class="5xx"')),
            "ALIGN_DELTA", 0, "REDUCE_SUM")])
    if ctx.settings.log_retention_days != DEFAULT_LOG_RETENTION_DAYS:
        return [f"GCP keeps logs per log bucket, not per resource: logRetentionDays {ctx.settings.log_retention_days} "
                f"is not applied; the project's _Default bucket keeps {DEFAULT_LOG_RETENTION_DAYS} days unless its "
                "retention is changed (gcloud logging buckets update _Default --location=global --retention-days=N)."]
    return []
