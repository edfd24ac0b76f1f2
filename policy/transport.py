"""Encryption in transit: TLS 1.2+ and HTTPS only on Azure data and app services, no FTP or basic-auth
publishing on App Service; SQS denies plain HTTP.

Azure's defaults for these settings depend on the API version and on when the resource was
created (Storage still reads a missing `minimumTlsVersion` as TLS 1.0, App Service leaves FTP
on, older Service Bus namespaces and Cosmos DB accounts accept TLS 1.0), so every policy here
requires the setting explicitly: the rendered template, not the account's history, decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from .common import (
    ADVISORY,
    APP_SERVICE_PLAN,
    COSMOS_ACCOUNT,
    MANDATORY,
    SERVICEBUS_NAMESPACE,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
    STORAGE_ACCOUNT,
    WEB_APP,
    WEB_APP_FTP_ALLOWED,
    WEB_APP_FTP_ALLOWED_SLOT,
    WEB_APP_SCM_ALLOWED,
    WEB_APP_SCM_ALLOWED_SLOT,
    WEB_APP_SLOT,
    as_list,
    dependency_urns,
    each_known,
    everyone,
    get,
    is_flex_app,
    known,
    named,
    resource_policy,
    resources_of,
    same_app,
    shown,
    stack_policy,
    statements,
    wildcard_match,
)
from .settings import label, places, same
from .settings import tls as catalogue

#: The SQS actions a TLS-only Deny must cover at least (or `sqs:*`): sending and receiving messages.
SQS_DATA_ACTIONS = ("sqs:SendMessage", "sqs:ReceiveMessage")

_VERSION = re.compile(r"^(?:tls)?[ _v]*(\d)(?:[._]?(\d))?$", re.IGNORECASE)


def tls_version(value: Any) -> tuple[int, int] | None:
    """(1, 2) for "TLS1_2", "Tls12", "1.2"; (1, 0) for Cosmos DB's bare "Tls"; None if unreadable."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() == "tls":
        return (1, 0)
    match = _VERSION.match(text)
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2) or 0))


def _tls_problem(value: Any, required: str) -> str | None:
    """Why `value` is not a minimum TLS version of 1.2 or newer; None when it is."""
    if value is None:
        return f"is not set (the service may then accept TLS 1.0); required: {required} or newer"
    version = tls_version(value)
    if version is None or version < (1, 2):
        return f"is {value!r}; required: {required} or newer"
    return None


# ------------------------------------------------------------------ Azure resource policies


def _storage_account(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    https_only = get(props, "enableHttpsTrafficOnly")
    if https_only is not True:
        report(f"Storage account {args.name}: enableHttpsTrafficOnly is {shown(https_only)}; required: true (HTTPS only).")
    problem = _tls_problem(get(props, "minimumTlsVersion"), "'TLS1_2'")
    if problem:
        report(f"Storage account {args.name}: minimumTlsVersion {problem}.")


#: Publishing-credential policies (basic auth for FTP and for the SCM/Kudu site) and what each opens.
BASIC_AUTH = {
    WEB_APP_FTP_ALLOWED: "FTP",
    WEB_APP_FTP_ALLOWED_SLOT: "FTP",
    WEB_APP_SCM_ALLOWED: "SCM (Kudu, zip deploy, Web Deploy)",
    WEB_APP_SCM_ALLOWED_SLOT: "SCM (Kudu, zip deploy, Web Deploy)",
}


def _web_app(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type in BASIC_AUTH:
        allow = get(props, "allow")
        if allow is not False:
            report(f"Publishing-credential policy {args.name} ({args.resource_type}) for app {shown(get(props, 'name'))}: "
                   f"allow is {shown(allow)}, so {BASIC_AUTH[args.resource_type]} accepts the app's basic-auth "
                   "publishing user and password; required: false (deploy with Microsoft Entra ID).")
        return
    label = "App Service deployment slot" if args.resource_type == WEB_APP_SLOT else "App Service app"
    https_only = get(props, "httpsOnly")
    if https_only is not True:
        report(f"{label} {args.name}: httpsOnly is {shown(https_only)}; required: true (plain HTTP is redirected, "
               "never served).")
    problem = _tls_problem(get(props, "siteConfig.minTlsVersion"), "'1.2'")
    if problem:
        report(f"{label} {args.name}: siteConfig.minTlsVersion {problem}.")
    scm = get(props, "siteConfig.scmMinTlsVersion")
    if scm is not None:
        problem = _tls_problem(scm, "'1.2'")
        if problem:
            report(f"{label} {args.name}: siteConfig.scmMinTlsVersion {problem}.")
    if get(props, "functionAppConfig") is not None:
        # Flex Consumption (the only sites with functionAppConfig) has no FTP, and ARM refuses
        # ftpsState there ("FTPS not supported"): azure-app-service-basic-auth-off covers publishing.
        return
    ftps = get(props, "siteConfig.ftpsState")
    if ftps != "Disabled":
        value = "not set (App Service then allows plain FTP)" if ftps is None else shown(ftps)
        report(f"{label} {args.name}: siteConfig.ftpsState is {value}; required: 'Disabled' "
               "(deploy with zip deploy or run-from-package, not FTP).")


def _basic_auth_off(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every app has basic-auth publishing off where the stack can say so: WebAppScmAllowed (and,
    except on Flex Consumption, which has no FTP, WebAppFtpAllowed) with allow false. "Disable
    basic authentication in App Service deployments":
    https://learn.microsoft.com/azure/app-service/configure-basic-auth-disable"""
    plans = resources_of(args, [APP_SERVICE_PLAN])
    policies = resources_of(args, [WEB_APP_FTP_ALLOWED, WEB_APP_SCM_ALLOWED])

    def check(app: Any) -> None:
        needed = [WEB_APP_SCM_ALLOWED] + ([] if is_flex_app(app, plans) else [WEB_APP_FTP_ALLOWED])
        missing = [t for t in needed
                   if not any(p.resource_type == t and same_app(p, app) and known(p.props, "allow") is False
                              for p in policies)]
        if missing:
            report(f"App Service app '{app.name}' ({app.resource_type}): no {' or '.join(missing)} with allow false "
                   "names it (name and resourceGroupName), so basic-auth publishing credentials may still deploy code "
                   "(it stays on unless turned off); required: "
                   f"{' and '.join(t.rsplit(':', 1)[-1] + '(allow=False)' for t in missing)} for the app.", app.urn)

    each_known(resources_of(args, [WEB_APP]), check)


def _cosmos_account(args: ResourceValidationArgs, report: ReportViolation) -> None:
    problem = _tls_problem(get(args.props, "minimalTlsVersion"), "'Tls12'")
    if problem:
        report(f"Cosmos DB account {args.name}: minimalTlsVersion {problem}.")


def _servicebus_namespace(args: ResourceValidationArgs, report: ReportViolation) -> None:
    problem = _tls_problem(get(args.props, "minimumTlsVersion"), "'1.2'")
    if problem:
        report(f"Service Bus namespace {args.name}: minimumTlsVersion {problem}.")


# ------------------------------------------------------------------ every other data store and app service (catalogue)


def _parameter_problem(value: Any, rule: Any) -> str | None:
    """Why a server parameter's value allows TLS below 1.2 (rule: 'version', 'versions' or allowed values)."""
    if rule == "version":
        return _tls_problem(value, "'TLSv1.2'")
    if rule == "versions":
        listed = [v.strip() for v in str(value or "").split(",") if v.strip()]
        old = [v for v in listed if (tls_version(v) or (0, 0)) < (1, 2)]
        if not listed or old:
            return f"is {shown(value)}; required: only TLSv1.2 and newer (e.g. 'TLSv1.2,TLSv1.3')"
        return None
    if not any(same(value, allowed) for allowed in rule):
        return f"is {shown(value)}; required: one of {', '.join(repr(a) for a in rule)}"
    return None


def _check_tls_floor(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A type the settings catalogue lists with a TLS floor: each minimum version 1.2 or newer (set
    explicitly where unset means the service's own, older default), old-protocol switches off, and
    server parameters (parameter groups, flexible-server configurations) that set the floor."""
    props, typ = args.props, args.resource_type
    what = named(args, label(typ))
    for path, unset_ok in catalogue.VERSIONS.get(typ, ()):
        for where, value in places(props, path):
            if value is None and unset_ok:
                continue
            if problem := _tls_problem(value, "'1.2'"):
                report(f"{what}: {where} {problem}.")
    for path, required, unset_ok in catalogue.SWITCHES.get(typ, ()):
        for where, value in places(props, path):
            if not (same(value, required) or (value is None and unset_ok)):
                report(f"{what}: {where} is {shown(value)}, so the service still accepts TLS 1.0 or 1.1; required: "
                       f"{shown(required)}.")
    if typ in catalogue.PARAMETERS:
        items, name_key, value_key, rules = catalogue.PARAMETERS[typ]
        entries = [v for _, v in places(props, items.removesuffix("[]") + "[]")] if items else [props]
        by_name = {str(k).lower(): rule for k, rule in rules.items()}
        for entry in entries:
            name = get(entry, name_key)
            rule = by_name.get(str(name).lower()) if isinstance(name, str) else None
            if rule is not None and (problem := _parameter_problem(get(entry, value_key), rule)):
                report(f"{what}: parameter {name} {problem}.")


TLS_FLOOR_TYPES = sorted({*catalogue.VERSIONS, *catalogue.SWITCHES, *catalogue.PARAMETERS} - set(catalogue.OWNERS))


# ------------------------------------------------------------------ SQS: deny non-TLS access


def queue_arn_from_url(url: Any) -> str | None:
    """arn:aws:sqs:REGION:ACCOUNT:NAME from https://sqs.REGION.amazonaws.com/ACCOUNT/NAME."""
    if not isinstance(url, str):
        return None
    match = re.match(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(\d{12})/([^/?#]+)/?$", url)
    if not match:
        match = re.match(r"^https://([a-z0-9-]+)\.queue\.amazonaws\.com/(\d{12})/([^/?#]+)/?$", url)
    if not match:
        return None
    region, account, name = match.groups()
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def _insecure_transport_only(condition: Any) -> bool:
    """The Condition is exactly `{"Bool"|"BoolIfExists": {"aws:SecureTransport": "false"}}`."""
    if not isinstance(condition, Mapping) or len(condition) != 1:
        return False
    operator, tests = next(iter(condition.items()))
    if operator not in ("Bool", "BoolIfExists") or not isinstance(tests, Mapping) or len(tests) != 1:
        return False
    key, value = next(iter(tests.items()))
    values = [str(v).lower() for v in (value if isinstance(value, Sequence) and not isinstance(value, str) else [value])]
    return key.lower() == "aws:securetransport" and values == ["false"]


def _covers_actions(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        excluded = [a for a in as_list(statement["NotAction"]) if isinstance(a, str)]
        return not any(wildcard_match(p, a) for p in excluded for a in SQS_DATA_ACTIONS)
    actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
    return all(any(wildcard_match(p, a) for p in actions) for a in SQS_DATA_ACTIONS)


def _covers_resource(statement: Mapping[str, Any], arn: str | None, name: str | None) -> bool:
    if "NotResource" in statement:
        return False
    resources = [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]
    if "*" in resources:
        return True
    if arn:
        return any(wildcard_match(r, arn) for r in resources)
    # The queue's ARN is not in its inputs (it is an output): accept an SQS ARN naming the queue.
    sqs_arns = [r for r in resources if r.lower().startswith("arn:") and ":sqs:" in r.lower()]
    if name:
        return any(wildcard_match(r.rsplit(":", 1)[-1], name) for r in sqs_arns)
    return bool(sqs_arns)


def tls_deny_problem(policy: Any, arn: str | None, name: str | None = None) -> str | None:
    """Why a queue policy document does not deny insecure transport to `arn`; None if it does."""
    denies = [s for s in statements(policy) if s.get("Effect") == "Deny" and _insecure_transport_only(s.get("Condition"))]
    if not denies:
        return 'has no Deny statement conditioned only on {"Bool": {"aws:SecureTransport": "false"}}'
    reasons = []
    for s in denies:
        missing = []
        if not everyone(s.get("Principal")):
            missing.append(f"its Principal is {shown(s.get('Principal'))}, not \"*\"")
        if not _covers_actions(s):
            actions = s.get("NotAction", s.get("Action"))
            missing.append(f"its Action {shown(as_list(actions))} does not cover {' and '.join(SQS_DATA_ACTIONS)}")
        if not _covers_resource(s, arn, name):
            resources = s.get("NotResource", s.get("Resource"))
            missing.append(f"its Resource {list(as_list(resources))!r} is not {arn or 'the queue ARN'} or \"*\"")
        if not missing:
            return None
        reasons.append(f"{s.get('Sid') or 'Deny'}: {', '.join(missing)}")
    return "denies insecure transport, but " + "; ".join(reasons)


def _queue_identity(queue: Any) -> tuple[str | None, str | None, set[str]]:
    """(ARN, name, {url, id}) of a queue as far as its props tell (inputs offline, outputs in the engine)."""
    props = queue.props
    arn, name = known(props, "arn"), known(props, "name")
    ids = {v for v in (known(props, "url"), known(props, "id")) if isinstance(v, str)}
    if not isinstance(arn, str):
        arn = next((queue_arn_from_url(v) for v in sorted(ids) if queue_arn_from_url(v)), None)
    return arn, name if isinstance(name, str) else None, ids


def _targets(policy: Any, queue: Any, name: str | None, ids: set[str]) -> bool:
    """Whether a QueuePolicy is attached to `queue`: its queueUrl depends on the queue or names it."""
    if queue.urn in dependency_urns(policy, "queueUrl"):
        return True
    url = known(policy.props, "queueUrl")
    if not isinstance(url, str):
        return False
    return url in ids or (name is not None and url.rstrip("/").rsplit("/", 1)[-1] == name)


def _sqs_deny_insecure_transport(args: StackValidationArgs, report: ReportViolation) -> None:
    queues = resources_of(args, [SQS_QUEUE])
    policies = resources_of(args, [SQS_QUEUE_POLICY])
    for queue in queues:
        arn, name, ids = _queue_identity(queue)
        problems = []
        inline = get(queue.props, "policy")
        if inline:
            problem = tls_deny_problem(inline, arn, name)
            if problem is None:
                continue
            problems.append(f"its policy input {problem}")
        covered = False
        for qp in (p for p in policies if _targets(p, queue, name, ids)):
            target = arn or queue_arn_from_url(known(qp.props, "queueUrl"))
            problem = tls_deny_problem(get(qp.props, "policy"), target, name)
            if problem is None:
                covered = True
                break
            problems.append(f"queue policy {qp.name} {problem}")
        if covered:
            continue
        if not problems:
            problems.append("no aws:sqs/queuePolicy:QueuePolicy targets it (queueUrl) and it has no policy input")
        report(
            f"SQS queue {queue.name}: {'; '.join(problems)}; required: a Deny for Principal \"*\" on sqs:* "
            "(or at least sqs:SendMessage and sqs:ReceiveMessage) on this queue when aws:SecureTransport is \"false\".",
            queue.urn,
        )


POLICIES = [
    resource_policy(
        "azure-storage-https-tls12",
        "Azure Storage accounts serve HTTPS only with TLS 1.2 or newer, both set explicitly "
        "(a missing minimumTlsVersion is read as TLS 1.0).",
        [STORAGE_ACCOUNT],
        _storage_account,
        remediation="set enableHttpsTrafficOnly=true and minimumTlsVersion='TLS1_2' on the storage account.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-app-service-https-tls12-no-ftp",
        "Azure Function and Web apps are HTTPS only, require TLS 1.2 or newer (site and SCM) and have FTP and FTPS "
        "disabled, all set explicitly (App Service leaves FTP on and HTTP served by default); deployment slots too, "
        "since each is a live copy of the app with its own settings. Flex Consumption apps (functionAppConfig set) have "
        "no FTP and refuse ftpsState, so they are not asked for it; no publishing-credential policy (WebAppFtpAllowed, "
        "WebAppScmAllowed, and their slot forms) allows basic auth.",
        [WEB_APP, WEB_APP_SLOT, *BASIC_AUTH],
        _web_app,
        remediation="set httpsOnly=true, siteConfig.minTlsVersion='1.2' and (except on Flex Consumption) "
                    "siteConfig.ftpsState='Disabled' on the app; publishing-credential policies allow=false.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-cosmosdb-tls12",
        "Azure Cosmos DB accounts set minimalTlsVersion to Tls12 or newer explicitly (accounts created before the "
        "Tls12 default accept TLS 1.0).",
        [COSMOS_ACCOUNT],
        _cosmos_account,
        remediation="set minimalTlsVersion='Tls12' on the Cosmos DB account.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-servicebus-tls12",
        "Azure Service Bus namespaces set minimumTlsVersion to 1.2 or newer explicitly (unset, older namespaces accept "
        "TLS 1.0 and 1.1).",
        [SERVICEBUS_NAMESPACE],
        _servicebus_namespace,
        remediation="set minimumTlsVersion='1.2' on the Service Bus namespace.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "tls12-minimum",
        "Data stores and app services accept TLS 1.2 or newer only, wherever their floor is written: every minimum-TLS "
        "property the provider SDKs have (Redis, Event Hubs, Event Grid, SQL servers and managed instances, "
        "PostgreSQL/MySQL/MariaDB single servers, IoT Hub, HDInsight, Redis Enterprise, ...), old-protocol switches "
        "(Entra Domain Services tlsV1), and the server parameters that set it (RDS and Aurora parameter groups' "
        "ssl_min_protocol_version and tls_version, DocumentDB's tls, flexible servers' Configuration resources); the "
        "floor is set explicitly, since services created under older API versions default to TLS 1.0. Storage, Cosmos "
        "DB, Service Bus and App Service have their own policies; gateways' and domains' TLS policies are "
        "endpoints-tls12's. Catalogue: policy/settings/tls.py, derived from the provider SDKs. Sources: "
        "https://learn.microsoft.com/azure/security/fundamentals/tls-certificate-changes, "
        "https://learn.microsoft.com/azure/azure-cache-for-redis/cache-remove-tls-10-11, "
        "https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-networking-ssl-tls, "
        "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html, "
        "https://docs.aws.amazon.com/documentdb/latest/developerguide/security.encryption.ssl.html.",
        TLS_FLOOR_TYPES,
        _check_tls_floor,
        remediation="set the minimum TLS version the message names to 1.2 (e.g. minimumTlsVersion '1.2', "
                    "minimalTlsVersion '1.2'); parameters: ssl_min_protocol_version 'TLSv1.2', tls_version "
                    "'TLSv1.2,TLSv1.3', DocumentDB tls 'tls1.2+'.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "sqs-deny-insecure-transport",
        "Every SQS queue has a queue policy (a QueuePolicy on its queueUrl, or its own policy input) that denies "
        "everyone sqs:* or at least SendMessage and ReceiveMessage on the queue when aws:SecureTransport is false.",
        [SQS_QUEUE, SQS_QUEUE_POLICY],
        _sqs_deny_insecure_transport,
        remediation='attach an aws.sqs.QueuePolicy with {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", '
        '"Resource": <queue ARN>, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.',
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-app-service-basic-auth-off",
        "Every Azure Function and Web app turns basic-auth publishing off in the stack: a WebAppScmAllowed and (except "
        "on Flex Consumption, which has no FTP) a WebAppFtpAllowed with allow false for the app; advisory, since it may "
        "be set outside the stack (Azure Policy, the portal) "
        "(https://learn.microsoft.com/azure/app-service/configure-basic-auth-disable).",
        [WEB_APP, APP_SERVICE_PLAN, WEB_APP_FTP_ALLOWED, WEB_APP_SCM_ALLOWED],
        _basic_auth_off,
        remediation="add web.WebAppScmAllowed(name=<app name>, resource_group_name=<group>, allow=False) and "
                    "web.WebAppFtpAllowed(..., allow=False) for each app.",
        level=ADVISORY,
        severity=Severity.MEDIUM,
    ),
]
