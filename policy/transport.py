"""Encryption in transit: TLS 1.2+ and HTTPS only on Azure data and app services, no FTP or basic-auth
publishing on App Service. Queues, topics and buckets that would answer plain HTTP are
aws-deny-insecure-transport's (policy/insecure_transport.py); endpoints, brokers and caches policy/endpoints.py's.

Azure's defaults for these settings depend on the API version and on when the resource was
created (Storage still reads a missing `minimumTlsVersion` as TLS 1.0, App Service leaves FTP
on, older Service Bus namespaces and Cosmos DB accounts accept TLS 1.0), so every policy here
requires the setting explicitly: the rendered template, not the account's history, decides.
"""

from __future__ import annotations

import re
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
    STORAGE_ACCOUNT,
    WEB_APP,
    WEB_APP_FTP_ALLOWED,
    WEB_APP_FTP_ALLOWED_SLOT,
    WEB_APP_SCM_ALLOWED,
    WEB_APP_SCM_ALLOWED_SLOT,
    WEB_APP_SLOT,
    each_known,
    get,
    is_flex_app,
    known,
    named,
    resource_policy,
    resources_of,
    same_app,
    shown,
    stack_policy,
)
from .settings import label, places, same
from .settings import tls as catalogue

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
