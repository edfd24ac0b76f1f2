"""Audit and execution logging not switched off in prod, and log stores that keep what they hold.

"Switched off" is an explicit off switch or an explicit removal written in the stack, never the
absence of an optional extra (that is `access-logs-enabled`'s advice, policy/observability.py):
a trail told to stop, a recorder stopped, a log level OFF/NONE/LOG_NONE, a publishing option or
a diagnostic category with enabled false, an auditing policy Disabled, sampling at 0 percent,
an audit-log exemption, an exclusion that drops audit logs or errors, a default sink disabled.
Each switch and where it is documented:

- CloudTrail: `enableLogging` false calls StopLogging (API_StopLogging); management event
  sources excluded by `excludeManagementEventSources` or by an advanced selector's negated
  `eventSource` on `eventCategory` Management ("Logging management events", "Filtering data
  events by using advanced event selectors"). AWS Config: RecorderStatus `isEnabled` false
  (StopConfigurationRecorder).
- Execution logs: API Gateway REST MethodSettings / WebSocket stage `loggingLevel` OFF ("Set up
  CloudWatch logging for REST APIs"); Step Functions `loggingConfiguration.level` OFF ("Logging
  Step Functions using CloudWatch Logs"); AppSync `fieldLogLevel` NONE; EventBridge Pipes and
  event bus `level` OFF; OpenSearch / Elasticsearch AUDIT_LOGS and ES_APPLICATION_LOGS publishing
  options with `enabled` false ("Monitoring audit logs in Amazon OpenSearch Service").
- GCP: `exemptedMembers` in an audit config, on its own or in an IAM policy's `auditConfigs`
  (https://cloud.google.com/logging/docs/audit/configure-data-access, "Exempting principals");
  logging exclusions (project, folder, organization, billing account) whose filter matches
  audit logs, or that drop every severity of what they match, errors included
  (https://cloud.google.com/logging/docs/routing/overview#exclusions; a `severity` bound below
  ERROR keeps errors, `disabled` true drops nothing); `disableDefaultSink` (organization and
  folder settings, https://cloud.google.com/logging/docs/default-settings); Workflows
  `callLogLevel` LOG_NONE (https://cloud.google.com/workflows/docs/log-workflow).
- Azure: a diagnostic setting (resource, subscription, management group, Entra ID) with a log
  entry `enabled` false (https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings);
  SQL blob auditing policies `state` Disabled (https://learn.microsoft.com/azure/azure-sql/database/auditing-overview);
  API Management diagnostics sampling 0 percent; Application Insights `samplingPercentage` 0
  (ingestion sampling); Functions host log levels set to None through app settings
  (`AzureFunctionsJobHost__logging__logLevel__<category>`, host.json reference, "logging").

The families of types (audit configs, IAM policies, exclusions, default-sink settings, log
buckets, diagnostic settings, auditing policies, API Management diagnostics) are every type of the
installed SDKs of that kind; tests/test_policy_promises_catalogue.py holds them to the SDKs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .common import (
    GCP_WORKFLOW,
    LOG_GROUP,
    STATE_MACHINE,
    UNKNOWN_SETTING,
    WEB_APP,
    WEB_APP_SLOT,
    app_settings,
    as_list,
    config,
    document,
    get,
    is_prod,
    items_at,
    named,
    resource_policy,
    shown,
)

# ------------------------------------------------------------------ type families (held to the SDKs)

GCP_AUDIT_CONFIGS = ("gcp:projects/iAMAuditConfig:IAMAuditConfig", "gcp:folder/iamAuditConfig:IamAuditConfig",
                     "gcp:organizations/iamAuditConfig:IamAuditConfig")
#: The IAM policies that carry audit configs (resource-level IAM policies take none).
GCP_AUDITED_IAM_POLICIES = ("gcp:projects/iAMPolicy:IAMPolicy", "gcp:folder/iAMPolicy:IAMPolicy",
                            "gcp:organizations/iAMPolicy:IAMPolicy")
GCP_EXCLUSIONS = ("gcp:logging/projectExclusion:ProjectExclusion", "gcp:logging/folderExclusion:FolderExclusion",
                  "gcp:logging/organizationExclusion:OrganizationExclusion",
                  "gcp:logging/billingAccountExclusion:BillingAccountExclusion")
GCP_LOGGING_SETTINGS = ("gcp:logging/organizationSettings:OrganizationSettings",
                        "gcp:logging/folderSettings:FolderSettings")
GCP_LOG_BUCKETS = ("gcp:logging/projectBucketConfig:ProjectBucketConfig",
                   "gcp:logging/folderBucketConfig:FolderBucketConfig",
                   "gcp:logging/organizationBucketConfig:OrganizationBucketConfig",
                   "gcp:logging/billingAccountBucketConfig:BillingAccountBucketConfig")
AZURE_DIAGNOSTIC_SETTINGS = ("azure-native:monitor:DiagnosticSetting", "azure-native:monitor:SubscriptionDiagnosticSetting",
                             "azure-native:monitor:ManagementGroupDiagnosticSetting",
                             "azure-native:aadiam:DiagnosticSetting")
AZURE_AUDITING_POLICIES = ("azure-native:sql:ServerBlobAuditingPolicy", "azure-native:sql:ExtendedServerBlobAuditingPolicy",
                           "azure-native:sql:DatabaseBlobAuditingPolicy",
                           "azure-native:sql:ExtendedDatabaseBlobAuditingPolicy")
APIM_DIAGNOSTICS = ("azure-native:apimanagement:Diagnostic", "azure-native:apimanagement:ApiDiagnostic",
                    "azure-native:apimanagement:WorkspaceDiagnostic", "azure-native:apimanagement:WorkspaceApiDiagnostic")
APP_INSIGHTS = "azure-native:applicationinsights:Component"
APP_SETTINGS = ("azure-native:web:WebAppApplicationSettings", "azure-native:web:WebAppApplicationSettingsSlot")
LOG_WORKSPACE = "azure-native:operationalinsights:Workspace"
LOG_TABLE = "azure-native:operationalinsights:Table"

# ------------------------------------------------------------------ explicit off switches


@dataclass(frozen=True)
class Off:
    """`key` (under each object at `at`, `[]` stepping into lists) set to one of `values` switches
    off `what`; `only` = (sibling key, values) limits it to some items (an OpenSearch log type)."""
    key: str
    values: frozenset[str]
    what: str
    at: str = ""
    only: tuple[str, frozenset[str]] | None = None

    def found(self, props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
        for where, item in (items_at(props, self.at) if self.at else [("", props)]):
            if self.only and _norm(get(item, self.only[0])) not in self.only[1]:
                continue
            value = get(item, self.key)
            if value is not None and _norm(value) in self.values:
                yield (f"{where}.{self.key}" if where else self.key), value, self.what


def _norm(value: Any) -> str:
    """A switch value as text: booleans and numbers as JSON spells them, strings stripped, lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{float(value):g}"
    text = str(value).strip().lower()
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def _set(*values: str) -> frozenset[str]:
    return frozenset(values)


_FALSE, _OFF = _set("false"), _set("off")
_LOG_TYPES = _set("audit_logs", "es_application_logs")

SWITCHES: dict[str, tuple[Off, ...]] = {
    "aws:cloudtrail/trail:Trail": (Off("enableLogging", _FALSE, "the trail (StopLogging)"),),
    "aws:cfg/recorderStatus:RecorderStatus": (Off("isEnabled", _FALSE, "AWS Config recording"),),
    "aws:apigateway/methodSettings:MethodSettings": (Off("settings.loggingLevel", _OFF, "the stage's execution logs"),),
    "aws:apigatewayv2/stage:Stage": (Off("defaultRouteSettings.loggingLevel", _OFF, "the stage's execution logs"),
                                     Off("loggingLevel", _OFF, "the route's execution logs", at="routeSettings[]")),
    STATE_MACHINE: (Off("loggingConfiguration.level", _OFF, "the execution history in CloudWatch Logs"),),
    "aws:opensearch/domain:Domain": (Off("enabled", _FALSE, "publishing of that log", "logPublishingOptions[]",
                                         ("logType", _LOG_TYPES)),),
    "aws:elasticsearch/domain:Domain": (Off("enabled", _FALSE, "publishing of that log", "logPublishingOptions[]",
                                            ("logType", _LOG_TYPES)),),
    "aws:appsync/graphQLApi:GraphQLApi": (Off("logConfig.fieldLogLevel", _set("none"), "resolver logs"),),
    "aws:pipes/pipe:Pipe": (Off("logConfiguration.level", _OFF, "the pipe's execution logs"),),
    "aws:cloudwatch/eventBus:EventBus": (Off("logConfig.level", _OFF, "the bus's logs"),),
    GCP_WORKFLOW: (Off("callLogLevel", _set("log_none"), "call logging"),),
    **{t: (Off("disableDefaultSink", _set("true"), "the _Default sink of new projects and folders"),)
       for t in GCP_LOGGING_SETTINGS},
    **{t: (Off("enabled", _FALSE, "that log category", at="logs[]"),) for t in AZURE_DIAGNOSTIC_SETTINGS},
    **{t: (Off("state", _set("disabled"), "auditing"),) for t in AZURE_AUDITING_POLICIES},
    **{t: (Off("sampling.percentage", _set("0"), "every request's log (0 percent sampled)"),) for t in APIM_DIAGNOSTICS},
    APP_INSIGHTS: (Off("samplingPercentage", _set("0"), "every telemetry item (0 percent kept)"),),
}

# ------------------------------------------------------------------ removals that need reading


def _trail_removals(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """Management events a trail leaves out while it logs management events."""
    for where, selector in items_at(props, "eventSelectors[]"):
        sources = as_list(get(selector, "excludeManagementEventSources"))
        if sources and get(selector, "includeManagementEvents") is not False:
            yield f"{where}.excludeManagementEventSources", sources, "those services' management events"
    for where, selector in items_at(props, "advancedEventSelectors[]"):
        fields = {str(get(f, "field", "")).lower(): f for f in as_list(get(selector, "fieldSelectors"))}
        category = [_norm(v) for v in as_list(get(fields.get("eventcategory"), "equals"))]
        source = fields.get("eventsource")
        negated = {k: get(source, k) for k in ("notEquals", "notStartsWith", "notEndsWith") if get(source, k)}
        if category == ["management"] and negated:
            yield f"{where}.fieldSelectors eventSource", negated, "those services' management events"


def _exemptions(configs: list[tuple[str, Any, Any]]) -> Iterator[tuple[str, Any, str]]:
    """Exempted principals in (where, service, auditLogConfigs) audit configs."""
    for where, service, logs in configs:
        for j, log in enumerate(as_list(logs)):
            members = as_list(get(log, "exemptedMembers"))
            if members:
                what = f"{get(log, 'logType')} audit logs{f' of {service}' if service else ''} for those principals"
                yield f"{where}[{j}].exemptedMembers", members, what


def _audit_config_exemptions(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    yield from _exemptions([("auditLogConfigs", get(props, "service"), get(props, "auditLogConfigs"))])


def _policy_exemptions(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    configs = as_list(document(get(props, "policyData")).get("auditConfigs"))
    yield from _exemptions([(f"policyData.auditConfigs[{i}].auditLogConfigs", get(c, "service"), get(c, "auditLogConfigs"))
                            for i, c in enumerate(configs)])


#: Filters that match audit logs: their log names and their payload type.
_AUDIT_FILTER = re.compile(r"cloudaudit\.googleapis\.com|google\.cloud\.audit\.auditlog", re.IGNORECASE)
_SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
_SEVERITY_BOUND = re.compile(r"\bseverity\s*(<=|<|=|:)\s*\"?(" + "|".join(_SEVERITIES) + r")\b", re.IGNORECASE)


def _keeps_errors(text: str) -> bool:
    """Whether the filter only matches entries below ERROR (severity<ERROR, severity<=WARNING, severity=INFO)."""
    error = _SEVERITIES.index("ERROR")
    for op, level in _SEVERITY_BOUND.findall(text):
        rank = _SEVERITIES.index(level.upper())
        if rank < error or (op == "<" and rank == error):
            return True
    return False


def _exclusion_drops(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    if get(props, "disabled") is True:
        return
    text = str(get(props, "filter", ""))
    if _AUDIT_FILTER.search(text):
        yield "filter", text, "the audit logs it matches"
    elif not _keeps_errors(text):
        yield "filter", text, "every severity of the logs it matches, errors included"


#: Functions host log levels through app settings; None turns a category's logs off.
_HOST_LOG_LEVEL = "azurefunctionsjobhost__logging__loglevel__"


def _host_log_levels(settings: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any, str]]:
    for name, value in settings.items():
        if name.lower().startswith(_HOST_LOG_LEVEL) and value is not UNKNOWN_SETTING and _norm(value) == "none":
            yield f"{where} {name}", value, f"the Functions host's '{name[len(_HOST_LOG_LEVEL):]}' logs"


def _site_log_levels(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    return _host_log_levels(app_settings(props), "siteConfig.appSettings")


def _settings_log_levels(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    properties = get(props, "properties")
    return _host_log_levels(properties if isinstance(properties, Mapping) else {}, "properties")


READERS: dict[str, Callable[[Mapping[str, Any]], Iterator[tuple[str, Any, str]]]] = {
    "aws:cloudtrail/trail:Trail": _trail_removals,
    **{t: _audit_config_exemptions for t in GCP_AUDIT_CONFIGS},
    **{t: _policy_exemptions for t in GCP_AUDITED_IAM_POLICIES},
    **{t: _exclusion_drops for t in GCP_EXCLUSIONS},
    **{t: _site_log_levels for t in (WEB_APP, WEB_APP_SLOT)},
    **{t: _settings_log_levels for t in APP_SETTINGS},
}


def switched_off(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(where, value, what it switches off) for each explicit off switch or removal in a resource."""
    found = [f for switch in SWITCHES.get(resource_type, ()) for f in switch.found(props)]
    reader = READERS.get(resource_type)
    return found + (list(reader(props)) if reader else [])


def _check_logging(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    for where, value, what in switched_off(args.resource_type, args.props):
        report(f"{named(args, 'Resource')}: {where} is {shown(value)}, which switches off {what} in prod; allowed: "
               "logging left on (remove the switch, exemption or exclusion).")


# ------------------------------------------------------------------ log stores kept long enough

MIN_LOG_RETENTION = "minLogRetentionDays"
#: Where each log store sets how long it keeps entries (values that mean "forever" or "inherit" aside).
RETENTION: dict[str, tuple[tuple[str, frozenset[float]], ...]] = {
    LOG_GROUP: (("retentionInDays", frozenset({0.0})),),
    **{t: (("retentionDays", frozenset()),) for t in GCP_LOG_BUCKETS},
    LOG_WORKSPACE: (("retentionInDays", frozenset({-1.0})),),
    LOG_TABLE: (("retentionInDays", frozenset({-1.0})), ("totalRetentionInDays", frozenset({-1.0}))),
    APP_INSIGHTS: (("retentionInDays", frozenset()),),
}
#: Log Analytics' Free tier keeps data 7 days whatever the workspace says.
FREE_TIER_DAYS = 7


def _days(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _check_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    floor = float(config(args, MIN_LOG_RETENTION, 30))
    for key, kept in RETENTION[args.resource_type]:
        value = get(args.props, key)
        days = _days(value)
        if days is not None and days not in kept and days < floor:
            report(f"{named(args, 'Log store')}: {key} is {shown(value)} days; required in prod: at least "
                   f"{floor:g} days (config {MIN_LOG_RETENTION}), so logs outlive the incidents they explain.")
    if args.resource_type == LOG_WORKSPACE and str(get(args.props, "sku.name", "")).lower() == "free" \
            and FREE_TIER_DAYS < floor:
        report(f"{named(args, 'Log store')}: sku.name is 'Free', which keeps data {FREE_TIER_DAYS} days; required in "
               f"prod: at least {floor:g} days (config {MIN_LOG_RETENTION}) on a paid tier (PerGB2018).")


POLICIES = [
    resource_policy(
        "prod-audit-logging-not-switched-off",
        "In prod, audit and execution logging is not switched off: no stopped trail or Config recorder, no log level "
        "OFF/NONE/LOG_NONE, no log category or publishing option with enabled false, no auditing Disabled, no 0 percent "
        "sampling, no audit-log exemption, no exclusion dropping audit logs or errors, no disabled default sink. Only "
        "explicit switches count, never an optional extra left out (CloudTrail StopLogging; GCP 'Exempting principals' "
        "and 'Exclusion filters'; Azure diagnostic settings, SQL auditing; see policy/audit_logging.py).",
        sorted({*SWITCHES, *READERS}),
        _check_logging,
        remediation="remove the off switch (enableLogging/isEnabled true, loggingLevel ERROR or INFO, level ERROR or "
                    "ALL, callLogLevel LOG_ERRORS_ONLY, enabled true, state Enabled, sampling above 0), the exemptedMembers, "
                    "or the exclusion (or bound its filter below ERROR, e.g. severity<WARNING, and keep audit logs out of it).",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "prod-log-retention-minimum",
        "In prod, log stores keep entries at least minLogRetentionDays (default 30, the default of Cloud Logging "
        "buckets, Log Analytics workspaces and anycloud's logRetentionDays): CloudWatch log groups, Cloud Logging "
        "buckets, Log Analytics workspaces (not the 7-day Free tier) and tables, Application Insights. 'Never expire' "
        "and 'inherit' values are fine (CloudWatch Logs PutRetentionPolicy; Cloud Logging 'Configure log buckets'; "
        "Azure Monitor 'Manage data retention').",
        RETENTION,
        _check_retention,
        remediation="set retentionInDays / retentionDays to at least 30 days (e.g. 365), or -1 on a Log Analytics "
                    "table to inherit its workspace's.",
        severity=Severity.MEDIUM,
        config={MIN_LOG_RETENTION: {"type": "number", "minimum": 1, "default": 30,
                                    "description": "The shortest log retention allowed in prod, in days."}},
    ),
]
