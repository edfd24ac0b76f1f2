"""Alerts that reach someone, in prod: an alert rule switched off, or one that notifies nobody,
watches a dead-letter store or a failing function for no one.

Refused in prod (dev stacks may mute their alerts):
- AWS CloudWatch metric and composite alarms with `actionsEnabled` false (the alarm changes
  state but runs no action: "Using Amazon CloudWatch alarms", PutMetricAlarm ActionsEnabled), or
  with no `alarmActions`;
- GCP Cloud Monitoring alert policies with `enabled` false, or with no `notificationChannels`
  ("Manage alerting policies": a policy without channels only opens incidents in the console);
- Azure Monitor metric alerts, log search (scheduled query) alerts and activity log alerts with
  `enabled` false, or with no action group ("Create or edit a metric alert rule": without an action
  group a fired alert notifies no one).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationArgs

from .common import get, is_prod, resource_policy

#: type -> (the switch that turns the rule off when false, the path of its actions)
ALERT_TYPES: dict[str, tuple[str, str]] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("actionsEnabled", "alarmActions"),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("actionsEnabled", "alarmActions"),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("enabled", "notificationChannels"),
    "azure-native:monitor:MetricAlert": ("enabled", "actions"),
    "azure-native:monitor:ScheduledQueryRule": ("enabled", "actions.actionGroups"),
    "azure-native:monitor:ActivityLogAlert": ("enabled", "actions.actionGroups"),
}


def _check(args: ResourceValidationArgs, report) -> None:
    if not is_prod(args):
        return
    switch, actions = ALERT_TYPES[args.resource_type]
    props: Any = args.props
    if get(props, switch) is False:
        report(f"{args.resource_type.rsplit(':', 1)[-1]} {args.name}: {switch} is false in prod, so the alert "
               "notifies no one when it fires; allowed: true (or unset).")
    if not get(props, actions):
        report(f"{args.resource_type.rsplit(':', 1)[-1]} {args.name}: {actions} is empty in prod, so the alert "
               "notifies no one when it fires; allowed: at least one action (a topic, channel or action group).")


POLICIES = [
    resource_policy(
        "prod-alerts-reach-someone",
        "In prod an alert rule is on and notifies someone: CloudWatch alarms with actions enabled and an alarm "
        "action, Cloud Monitoring alert policies enabled with a notification channel, Azure Monitor metric, log "
        "search and activity log alerts enabled with an action group (CloudWatch PutMetricAlarm; Cloud Monitoring "
        "'Manage alerting policies'; Azure Monitor 'Create or edit a metric alert rule').",
        ALERT_TYPES,
        _check,
        remediation="turn the alert on and give it an action: an SNS topic (alarmActions), a notification channel, "
                    "or an action group; mute alerts in dev stacks only.",
    ),
]
