"""Azure Monitor: a Log Analytics workspace, Application Insights, an action group and alerts.

Every app sends telemetry to one workspace-based Application Insights component with local
(key) authentication off: each app's identity holds Monitoring Metrics Publisher on it and
authenticates with Entra ID. The workspace keeps logs for `logRetentionDays` (Azure allows
30 to 730 days on the PerGB2018 tier, so shorter and longer values are raised or capped, and
the check's notes say so).

Alerts go to an action group that e-mails `alertEmail`, when set:
- function failures: failed requests of each app (every invocation, HTTP or queue, is an
  Application Insights request; split by the app's role name);
- poison messages: a log alert on the host's "Message has reached MaxDequeueCount" trace for
  each queue (Storage's queue metrics are account-wide and hourly, useless for one queue);
- workflow failures: a log alert on the orchestrator's failed orchestrations;
- API 5xx: API Management's requests with a 5xx gateway response.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import apimanagement, applicationinsights, monitor, operationalinsights

from .context import AzureContext

MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 730


@dataclass
class Telemetry:
    workspace: operationalinsights.Workspace
    insights: applicationinsights.Component


@dataclass
class Watched:
    #: app resource name -> the app's physical name (its role name in telemetry)
    apps: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    #: queue -> physical queue name
    queues: dict[str, str] = field(default_factory=dict)
    #: workflow -> orchestrator app's physical name
    workflows: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    api: apimanagement.ApiManagementService | None = None


def retention_days(ctx: AzureContext) -> int:
    return min(max(ctx.settings.log_retention_days, MIN_RETENTION_DAYS), MAX_RETENTION_DAYS)


def telemetry(ctx: AzureContext) -> Telemetry:
    workspace = operationalinsights.Workspace(
        "logs", workspace_name=ctx.physical("logs", 63), **ctx.common(),
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"), retention_in_days=retention_days(ctx),
        opts=ctx.opts(ctx.parent))
    insights = applicationinsights.Component(
        "insights", resource_name_=ctx.physical("insights", 255), **ctx.common(), kind="web",
        application_type="web", workspace_resource_id=workspace.id, ingestion_mode="LogAnalytics",
        disable_local_auth=True, retention_in_days=retention_days(ctx), opts=ctx.opts(ctx.parent))
    return Telemetry(workspace=workspace, insights=insights)


def alerts(ctx: AzureContext, seen: Telemetry, watched: Watched) -> list[str]:
    """The action group and alerts; returns what the check's notes should say."""
    actions = []
    if ctx.settings.alert_email:
        group = monitor.ActionGroup(
            "alerts", action_group_name=ctx.physical("alerts", 260), resource_group_name=ctx.group_name,
            location="Global", group_short_name=ctx.prefix.replace("-", "")[:12], enabled=True,
            email_receivers=[monitor.MicrosoftCommonEmailReceiverArgs(
                name="on-call", email_address=ctx.settings.alert_email, use_common_alert_schema=True)],
            tags=ctx.tags, opts=ctx.opts(ctx.parent))
        actions = [group.id]

    def metric(name: str, summary: str, scope: pulumi.Input[str], namespace: str, metric_name: str,
               dimensions: list[monitor.MetricDimensionArgs]) -> None:
        monitor.MetricAlert(
            name, rule_name=ctx.physical(name, 260), resource_group_name=ctx.group_name, location="global",
            description=summary, severity=1, enabled=True, scopes=[scope], evaluation_frequency="PT5M",
            window_size="PT15M", auto_mitigate=True,
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[monitor.MetricCriteriaArgs(
                    criterion_type="StaticThresholdCriterion", name=name, metric_namespace=namespace,
                    metric_name=metric_name, operator="GreaterThan", threshold=0, time_aggregation="Count",
                    dimensions=dimensions)]),
            actions=[monitor.MetricAlertActionArgs(action_group_id=a) for a in actions],
            tags=ctx.tags, opts=ctx.opts(ctx.parent))

    def logs(name: str, summary: str, query: pulumi.Input[str]) -> None:
        monitor.ScheduledQueryRule(
            name, rule_name=ctx.physical(name, 260), **ctx.common(), description=summary, display_name=summary,
            severity=1, enabled=True, scopes=[seen.insights.id], evaluation_frequency="PT5M", window_size="PT15M",
            kind="LogAlert",
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(all_of=[monitor.ConditionArgs(
                query=query, time_aggregation="Count", operator="GreaterThan", threshold=0,
                failing_periods=monitor.ConditionFailingPeriodsArgs(min_failing_periods_to_alert=1,
                                                                    number_of_evaluation_periods=1))]),
            actions=monitor.ActionsArgs(action_groups=actions),
            opts=ctx.opts(ctx.parent))

    for name, role in watched.apps.items():
        metric(f"{name}-failures", f"function app {name} has failed invocations", seen.insights.id,
               "microsoft.insights/components", "requests/failed",
               [monitor.MetricDimensionArgs(name="cloud/roleName", operator="Include", values=[role])])
    for name, physical in watched.queues.items():
        logs(f"{name}-poison", f"queue {name} moves messages to its poison queue",
             f'traces | where message has "MaxDequeueCount" and message has "\'{physical}-poison\'"')
    for name, role in watched.workflows.items():
        logs(f"{name}-failures", f"workflow {name} orchestrations fail", role.apply(
            lambda r: f'traces | where cloud_RoleName == "{r}" and message has "(Orchestrator)" '
                      'and message has "failed"'))
    if watched.api is not None:
        metric("api-5xx", "API answers 5xx", watched.api.id, "Microsoft.ApiManagement/service", "Requests",
               [monitor.MetricDimensionArgs(name="GatewayResponseCodeCategory", operator="Include", values=["5xx"])])
    notes = []
    if retention_days(ctx) != ctx.settings.log_retention_days:
        notes.append(f"Azure Log Analytics keeps logs {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days: "
                     f"logRetentionDays {ctx.settings.log_retention_days} is applied as {retention_days(ctx)}.")
    return notes
