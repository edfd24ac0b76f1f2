"""Observability (advisory): logs kept for a bounded time, traces on, API and workflow calls logged.

These policies advise; they never fail a check on their own. Log *encryption* is not repeated
here: `logs-encrypted` (policy/encryption.py) already requires a customer-managed key on every
CloudWatch log group, as a mandatory rule, and an advisory twin would report the same
property twice.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .audit_logging import switched_off
from .common import (
    ADVISORY,
    GCP_WORKFLOW,
    LAMBDA_FUNCTION,
    LOG_GROUP,
    STATE_MACHINE,
    get,
    is_prod,
    named,
    resource_policy,
    shown,
)

LOG_ANALYTICS_WORKSPACE = "azure-native:operationalinsights:Workspace"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
REST_STAGE = "aws:apigateway/stage:Stage"
APPSYNC_API = "aws:appsync/graphQLApi:GraphQLApi"

#: Workflows call log levels that record calls; LOG_NONE and CALL_LOG_LEVEL_UNSPECIFIED log nothing.
WORKFLOW_LOG_LEVELS = ("LOG_ALL_CALLS", "LOG_ERRORS_ONLY")
#: Step Functions levels that log executions (OFF, the default, logs none); AppSync field log levels likewise (NONE).
STATE_MACHINE_LOG_LEVELS = ("ALL", "ERROR", "FATAL")
APPSYNC_LOG_LEVELS = ("ALL", "ERROR", "INFO", "DEBUG")


def _positive(value: Any) -> bool:
    """A retention that expires: a number (or numeric string) of days above 0."""
    if isinstance(value, bool):
        return False
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def _check_log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    days = get(args.props, "retentionInDays")
    if _positive(days):
        return
    if args.resource_type == LOG_GROUP:
        report(f"{named(args, 'Log group')}: retentionInDays is {shown(days)} (0 or unset keeps logs forever); "
               "required: a retention in days, e.g. 30 in dev and 365 in prod.")
    else:
        report(f"{named(args, 'Log Analytics workspace')}: retentionInDays is {shown(days)} (the pricing tier's "
               "default applies silently); required: an explicit retention in days (30-730).")


def _check_tracing(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == LAMBDA_FUNCTION:
        mode = get(args.props, "tracingConfig.mode")
        if mode != "Active":
            report(f"{named(args, 'Lambda function')}: tracingConfig.mode is {shown(mode)}; required: 'Active' "
                   "(X-Ray traces every invocation).")
    else:
        enabled = get(args.props, "tracingConfiguration.enabled")
        if enabled is not True:
            report(f"{named(args, 'State machine')}: tracingConfiguration.enabled is {shown(enabled)}; required: true.")


def _check_access_logs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if is_prod(args) and switched_off(args.resource_type, args.props):
        return  # an explicit off switch in prod: prod-audit-logging-not-switched-off refuses it
    if args.resource_type == GCP_WORKFLOW:
        level = get(args.props, "callLogLevel")
        if level not in WORKFLOW_LOG_LEVELS:
            report(f"{named(args, 'Workflow')}: callLogLevel is {shown(level)}; required: "
                   f"{' or '.join(repr(v) for v in WORKFLOW_LOG_LEVELS)} (calls and their responses are logged).")
        return
    if args.resource_type == STATE_MACHINE:
        level, destination = get(args.props, "loggingConfiguration.level"), get(args.props, "loggingConfiguration.logDestination")
        if level not in STATE_MACHINE_LOG_LEVELS or not destination:
            report(f"{named(args, 'State machine')}: loggingConfiguration is level {shown(level)}, logDestination "
                   f"{shown(destination)}; required: level {' or '.join(repr(v) for v in STATE_MACHINE_LOG_LEVELS)} "
                   "with a log group ARN, so executions are logged.")
        return
    if args.resource_type == APPSYNC_API:
        level = get(args.props, "logConfig.fieldLogLevel")
        if level not in APPSYNC_LOG_LEVELS:
            report(f"{named(args, 'GraphQL API')}: logConfig.fieldLogLevel is {shown(level)}; required: "
                   f"{' or '.join(repr(v) for v in APPSYNC_LOG_LEVELS)} (with cloudwatchLogsRoleArn).")
        return
    destination = get(args.props, "accessLogSettings.destinationArn")
    if not destination:
        report(f"{named(args, 'API stage')}: accessLogSettings.destinationArn is {shown(destination)}; required: a "
               "CloudWatch log group ARN (with accessLogSettings.format) so every request is logged.")


POLICIES = [
    resource_policy(
        "log-retention-set",
        "CloudWatch log groups and Log Analytics workspaces set a finite retention (retentionInDays > 0), so logs "
        "neither live (and cost) forever nor fall back to an implicit default.",
        [LOG_GROUP, LOG_ANALYTICS_WORKSPACE],
        _check_log_retention,
        remediation="set retentionInDays (e.g. 30 in dev, 365 in prod) on the log group or workspace.",
        level=ADVISORY,
        severity=Severity.LOW,
    ),
    resource_policy(
        "tracing-enabled",
        "Lambda functions trace actively with X-Ray and Step Functions state machines have tracing enabled.",
        [LAMBDA_FUNCTION, STATE_MACHINE],
        _check_tracing,
        remediation="Lambda: tracingConfig={mode: 'Active'}; Step Functions: tracingConfiguration={enabled: true} "
                    "(and xray:PutTraceSegments / PutTelemetryRecords on the role).",
        level=ADVISORY,
        severity=Severity.LOW,
    ),
    resource_policy(
        "access-logs-enabled",
        "API Gateway stages write access logs to a destination; Step Functions state machines, AppSync APIs and GCP "
        "Workflows log their executions and calls (loggingConfiguration level ALL/ERROR/FATAL, logConfig "
        "fieldLogLevel, callLogLevel LOG_ALL_CALLS or LOG_ERRORS_ONLY). An explicit off switch in prod is "
        "prod-audit-logging-not-switched-off's to refuse.",
        [HTTP_STAGE, REST_STAGE, GCP_WORKFLOW, STATE_MACHINE, APPSYNC_API],
        _check_access_logs,
        remediation="API Gateway: accessLogSettings={destinationArn: <log group ARN>, format: <JSON format>}; "
                    "Step Functions: loggingConfiguration={level: 'ERROR', logDestination: '<log group ARN>:*'}; "
                    "AppSync: logConfig={fieldLogLevel: 'ERROR', cloudwatchLogsRoleArn}; "
                    "Workflows: callLogLevel='LOG_ERRORS_ONLY' (or 'LOG_ALL_CALLS').",
        level=ADVISORY,
        severity=Severity.LOW,
    ),
]
