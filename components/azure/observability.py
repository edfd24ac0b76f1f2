"""Azure Monitor: a Log Analytics workspace, Application Insights, an action group and alerts.

Every app sends telemetry to one workspace-based Application Insights component with local
(key) authentication off: each app's identity holds Monitoring Metrics Publisher on it and
authenticates with Entra ID. The workspace keeps logs for `logRetentionDays` (Azure allows
30 to 730 days on the PerGB2018 tier, so shorter and longer values are raised or capped, and
the check's notes say so).

Alerts go to an action group that e-mails `alertEmail`, when set:
- function failures: failed requests of each app (every invocation, HTTP or queue, is an
  Application Insights request; split by the app's role name);
- poison messages: a log alert on the consumer app's "Message has reached MaxDequeueCount"
  trace for each queue (Storage's queue metrics are account-wide and hourly, useless for one
  queue);
- dead-lettered changes: a log alert on a table stream consumer's "anycloud change
  dead-lettered to '<queue>'" trace (the adapter writes the dead letter itself: stream.py);
- workflow failures: a log alert on the orchestrator's failed orchestrations;
- unresolved secrets: a log alert on the adapter's "unresolved Key Vault reference" error in
  the apps that read secrets (App Service leaves the reference text when it cannot resolve it);
- API 5xx: API Management's requests with a 5xx gateway response.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from .arm import Arm
from .context import AzureContext

#: What the Azure adapter logs for a reference App Service left unresolved (functions/runtime/azure/entry.py).
UNRESOLVED_SECRET = "anycloud configuration error: unresolved Key Vault reference"
#: What it logs for a table's change it wrote to the stream's dead-letter queue (functions/runtime/azure/changes.py).
CHANGE_DEAD_LETTERED = "anycloud change dead-lettered"

MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 730


@dataclass
class Telemetry:
    workspace: Arm
    insights: Arm


@dataclass
class Watched:
    #: app resource name -> the app's physical name (its role name in telemetry)
    apps: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    #: queue -> (physical queue name, its consumer app's physical name)
    queues: dict[str, tuple[str, pulumi.Output[str]]] = field(default_factory=dict)
    #: streamed table -> (its dead-letter queue's name, its consumer app's physical name)
    streams: dict[str, tuple[pulumi.Output[str], pulumi.Output[str]]] = field(default_factory=dict)
    #: workflow -> orchestrator app's physical name
    workflows: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    #: app resource name -> physical name, for apps that read a secret
    secret_readers: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    api: Arm | None = None


def retention_days(ctx: AzureContext) -> int:
    return min(max(ctx.settings.log_retention_days, MIN_RETENTION_DAYS), MAX_RETENTION_DAYS)


def telemetry(ctx: AzureContext) -> Telemetry:
    workspace = Arm("azure-native:operationalinsights:Workspace", "logs", {
        "workspaceName": ctx.physical("logs", 63), **ctx.common(), "sku": {"name": "PerGB2018"},
        "retentionInDays": retention_days(ctx),
        # Entra ID only: the workspace's shared keys are no way in (the pack's azure-local-auth-disabled).
        "features": {"disableLocalAuth": True}}, ctx.opts(ctx.parent))
    insights = Arm("azure-native:applicationinsights:Component", "insights", {
        "resourceName": ctx.physical("insights", 255), **ctx.common(), "kind": "web", "applicationType": "web",
        "workspaceResourceId": workspace.id, "ingestionMode": "LogAnalytics", "disableLocalAuth": True,
        "flowType": "Bluefield", "requestSource": "rest", "publicNetworkAccessForIngestion": "Enabled",
        "publicNetworkAccessForQuery": "Enabled",
        "retentionInDays": retention_days(ctx)}, ctx.opts(ctx.parent), outputs=("connectionString",))
    return Telemetry(workspace=workspace, insights=insights)


def alerts(ctx: AzureContext, seen: Telemetry, watched: Watched) -> list[str]:
    """The action group and alerts; returns what the check's notes should say."""
    actions = []
    if ctx.settings.alert_email:
        group = Arm("azure-native:monitor:ActionGroup", "alerts", {
            "actionGroupName": ctx.physical("alerts", 260), "resourceGroupName": ctx.group_name, "location": "Global",
            "groupShortName": ctx.prefix.replace("-", "")[:12], "enabled": True,
            "emailReceivers": [{"name": "on-call", "emailAddress": ctx.settings.alert_email,
                                "useCommonAlertSchema": True}],
            "tags": ctx.tags}, ctx.opts(ctx.parent))
        actions = [group.id]

    def metric(name: str, summary: str, scope: pulumi.Input[str], namespace: str, metric_name: str,
               dimensions: list[dict]) -> None:
        Arm("azure-native:monitor:MetricAlert", name, {
            "ruleName": ctx.physical(name, 260), "resourceGroupName": ctx.group_name, "location": "global",
            "description": summary, "severity": 1, "enabled": True, "scopes": [scope], "evaluationFrequency": "PT5M",
            "windowSize": "PT15M", "autoMitigate": True,
            "criteria": {
                "odataType": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [{"criterionType": "StaticThresholdCriterion", "name": name, "metricNamespace": namespace,
                           "metricName": metric_name, "operator": "GreaterThan", "threshold": 0,
                           "timeAggregation": "Count", "dimensions": dimensions}],
            },
            "actions": [{"actionGroupId": a} for a in actions],
            "tags": ctx.tags}, ctx.opts(ctx.parent))

    def logs(name: str, summary: str, query: pulumi.Input[str]) -> None:
        Arm("azure-native:monitor:ScheduledQueryRule", name, {
            "ruleName": ctx.physical(name, 260), **ctx.common(), "description": summary, "displayName": summary,
            "severity": 1, "enabled": True, "scopes": [seen.insights.id], "evaluationFrequency": "PT5M",
            "windowSize": "PT15M", "kind": "LogAlert",
            "criteria": {"allOf": [{
                "query": query, "timeAggregation": "Count", "operator": "GreaterThan", "threshold": 0,
                "failingPeriods": {"minFailingPeriodsToAlert": 1, "numberOfEvaluationPeriods": 1}}]},
            "actions": {"actionGroups": actions}}, ctx.opts(ctx.parent))

    for name, role in watched.apps.items():
        metric(f"{name}-failures", f"function app {name} has failed invocations", seen.insights.id,
               "microsoft.insights/components", "requests/failed",
               [{"name": "cloud/roleName", "operator": "Include", "values": [role]}])
    for name, (physical, role) in watched.queues.items():
        logs(f"{name}-poison", f"queue {name} moves messages to its poison queue", role.apply(
            lambda r, p=physical: f'traces | where cloud_RoleName == "{r}" and message has "MaxDequeueCount" '
                                  f'and message has "\'{p}-poison\'"'))
    for name, (queue, role) in watched.streams.items():
        logs(f"{name}-changes-dead-letters", f"table {name}'s changes are dead-lettered", pulumi.Output.all(queue, role).apply(
            lambda v: f'traces | where cloud_RoleName == "{v[1]}" and message has "{CHANGE_DEAD_LETTERED}" '
                      f'and message has "\'{v[0]}\'"'))
    for name, role in watched.workflows.items():
        logs(f"{name}-failures", f"workflow {name} orchestrations fail", role.apply(
            lambda r: f'traces | where cloud_RoleName == "{r}" and message has "(Orchestrator)" '
                      'and message has "failed"'))
    if watched.secret_readers:
        logs("secrets-unresolved", "an app's Key Vault reference is unresolved", pulumi.Output.all(
            *watched.secret_readers.values()).apply(
            lambda roles: "traces | where cloud_RoleName in (" + ", ".join(f'"{r}"' for r in roles)
                          + f') and message has "{UNRESOLVED_SECRET}"'))
    if watched.api is not None:
        metric("api-5xx", "API answers 5xx", watched.api.id, "Microsoft.ApiManagement/service", "Requests",
               [{"name": "GatewayResponseCodeCategory", "operator": "Include", "values": ["5xx"]}])
    notes = []
    if retention_days(ctx) != ctx.settings.log_retention_days:
        notes.append(f"Azure Log Analytics keeps logs {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days: "
                     f"logRetentionDays {ctx.settings.log_retention_days} is applied as {retention_days(ctx)}.")
    return notes
