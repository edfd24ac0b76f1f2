"""Azure deployability: what Azure Resource Manager refuses, or a deployed app cannot do, that mocks cannot see.

Pulumi mocks accept any name, any Flex Consumption setting and any API Management policy; Azure
does not. A storage account name with a hyphen, a Flex app with `FUNCTIONS_WORKER_RUNTIME` or
without `functionAppConfig`, `rate-limit-by-key` on the Consumption tier, a Cosmos DB account
with a customer-managed key and continuous backup but no user-assigned default identity: each
fails `pulumi up` after a clean preview. Others deploy and then fail for good: queues and tables
encrypted with Microsoft's key because the account was created without account-scoped keys (only
settable at creation), a Key Vault reference no identity or network path can resolve, a
customer-managed key in a vault its service cannot reach. Each rule encodes one documented Azure
limit (the page or GitHub issue is named beside it), where a user's own additions can hit it as
well as the renderer. Names are judged only where they are literal inputs: a name computed from
another resource's output, or left to Pulumi's auto-naming, is not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from .common import (
    ADVISORY,
    APP_SERVICE_PLAN,
    COSMOS_ACCOUNT,
    KEY_VAULT,
    ROLE_ASSIGNMENT,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
    STORAGE_QUEUE,
    UNKNOWN_SETTING,
    USER_ASSIGNED_IDENTITY,
    WEB_APP,
    app_settings,
    arm_name,
    as_list,
    config,
    dependency_urns,
    each_known,
    get,
    is_flex_app,
    is_flex_plan,
    is_function_app,
    known,
    lower,
    named,
    plan_of,
    resource_policy,
    resources_of,
    shown,
    stack_policy,
)
from .exposure import apim_xml
from .identity import _role_guid

BLOB_CONTAINER = "azure-native:storage:BlobContainer"
COSMOS_SQL_DATABASE = "azure-native:cosmosdb:SqlResourceSqlDatabase"
KEY_VAULT_KEY = "azure-native:keyvault:Key"
KEY_VAULT_SECRET = "azure-native:keyvault:Secret"
APIM_SERVICE = "azure-native:apimanagement:ApiManagementService"
APIM_API_POLICY = "azure-native:apimanagement:ApiPolicy"
APIM_OPERATION_POLICY = "azure-native:apimanagement:ApiOperationPolicy"
APIM_SERVICE_POLICY = "azure-native:apimanagement:Policy"
APIM_PRODUCT_POLICY = "azure-native:apimanagement:ProductPolicy"
APIM_POLICY_FRAGMENT = "azure-native:apimanagement:PolicyFragment"
APIM_POLICIES = (APIM_API_POLICY, APIM_OPERATION_POLICY, APIM_SERVICE_POLICY, APIM_PRODUCT_POLICY, APIM_POLICY_FRAGMENT)
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
LOG_ANALYTICS_WORKSPACE = "azure-native:operationalinsights:Workspace"
APP_INSIGHTS = "azure-native:applicationinsights:Component"

# ------------------------------------------------------------------ names

#: "Naming rules and restrictions for Azure resources":
#: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
#: The action group short name (groupShortName) is at most 12 characters: "Action groups",
#: https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups
#: type -> [(property, pattern, what is allowed)]; names are case-insensitive, patterns match whole values.
_DNS_LABEL = r"(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*"
_SITE = r"(?!-)(?:[^\W_]|-){%d,60}(?<!-)"
NAME_RULES: dict[str, list[tuple[str, str, str]]] = {
    STORAGE_ACCOUNT: [("accountName", r"[a-z0-9]{3,24}",
                       "3-24 lowercase letters and digits (no hyphens), unique across all of Azure")],
    KEY_VAULT: [("vaultName", r"(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]",
                 "3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no "
                 "consecutive hyphens, unique across all of Azure")],
    COSMOS_ACCOUNT: [("accountName", r"[a-z0-9][a-z0-9-]{2,43}",
                      "3-44 lowercase letters, digits and hyphens, starting with a letter or digit, unique across "
                      "all of Azure")],
    WEB_APP: [("name", _SITE % 2, "2-60 letters, digits and hyphens, not starting or ending with a hyphen, unique "
                                  "across all of Azure (<name>.azurewebsites.net)")],
    APP_SERVICE_PLAN: [("name", r"(?:[^\W_]|-){1,60}", "1-60 letters, digits and hyphens")],
    APIM_SERVICE: [("serviceName", r"[A-Za-z](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?",
                    "1-50 letters, digits and hyphens, starting with a letter, ending with a letter or digit, unique "
                    "across all of Azure")],
    STORAGE_QUEUE: [("queueName", _DNS_LABEL,
                     "3-63 lowercase letters, digits and single hyphens, not starting or ending with a hyphen")],
    BLOB_CONTAINER: [("containerName", r"\$root|\$web|\$logs|" + _DNS_LABEL,
                      "3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit")],
    USER_ASSIGNED_IDENTITY: [("resourceName", r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}",
                              "3-128 letters, digits, hyphens and underscores, starting with a letter or digit")],
    RESOURCE_GROUP: [("resourceGroupName", r"(?=.{1,90}$)[-\w.()]*[-\w()]",
                      "1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending with a period")],
    ACTION_GROUP: [("groupShortName", r".{1,12}", "1-12 characters (it is the SMS and e-mail sender name)"),
                   ("actionGroupName", r"(?=.{1,260}$)[^:<>+/&%\\?|]*[^:<>+/&%\\?|. ]",
                    "1-260 characters without : < > + / & % \\ ? |, not ending with a space or period")],
    LOG_ANALYTICS_WORKSPACE: [("workspaceName", r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]",
                               "4-63 letters, digits and hyphens, starting and ending with a letter or digit")],
    APP_INSIGHTS: [("resourceName", r"(?=.{1,260}$)[^%&\\?/]*[^%&\\?/. ]",
                    "1-260 characters without % & \\ ? /, not ending with a space or period")],
    KEY_VAULT_SECRET: [("secretName", r"[A-Za-z0-9-]{1,127}", "1-127 letters, digits and hyphens")],
    KEY_VAULT_KEY: [("keyName", r"[A-Za-z0-9-]{1,127}", "1-127 letters, digits and hyphens")],
}


def _names(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for prop, pattern, allowed in NAME_RULES[args.resource_type]:
        value = known(args.props, prop)  # literal inputs only: a computed or auto-generated name is not judged
        if isinstance(value, str) and not re.fullmatch(pattern, value):
            report(f"{named(args, args.resource_type.rsplit(':', 1)[-1])}: {prop} {shown(value)} "
                   f"({len(value)} characters) is not a valid name; allowed: {allowed}.")


# ------------------------------------------------------------------ Flex Consumption

#: "Azure Functions Flex Consumption plan hosting":
#: https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan
#: instance sizes 512/2048/4096 MB; maximum instance count from 1 (the preview's lowest was 40)
#: to 1,000; one app per plan; always-ready groups `http`, `blob`, `durable` or `function:<name>`,
#: at least two instances each when the plan is zone redundant; WEBSITE_TIME_ZONE / TZ unsupported.
FLEX_MEMORY_MB = (512, 2048, 4096)
FLEX_INSTANCES = (1, 1000)
FLEX_DEFAULT_MEMORY_MB = 2048
FLEX_DEFAULT_INSTANCES = 100
ALWAYS_READY_GROUPS = ("http", "blob", "durable")
#: functionAppConfig.runtime.name values of the Flex runtime catalog.
FLEX_RUNTIMES = ("dotnet-isolated", "node", "java", "powershell", "python", "custom")
FLEX_PYTHON_KEY = "flexPythonVersions"
#: Flex Python versions: 3.10-3.12 on the plan page; 3.13 only on Flex (not Linux Consumption),
#: https://github.com/Azure/azure-functions-python-worker/issues/1588; 3.14 GA,
#: https://github.com/Azure/azure-functions-python-worker/issues/1701. The catalog takes "3.12",
#: never "3.12.0": a bad string passes ARM and the host never starts (Azure/Azure-Functions#2666).
FLEX_PYTHON_VERSIONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
#: "Flex Consumption plan deprecations":
#: https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
#: ARM refuses these site properties and app settings on Flex sites ("The following app setting
#: (Site.SiteConfig.AppSettings.FUNCTIONS_WORKER_RUNTIME) for Flex Consumption sites is invalid"),
#: or moved them into functionAppConfig; pulumi's SiteConfigArgs injects netFrameworkVersion
#: (pulumi/pulumi-azure-native#4168), FtpsState / Use32BitWorkerProcess / LinuxFxVersion /
#: FunctionAppScaleLimit in Azure/azure-pipelines-tasks#21032 and Azure/terraform-azurerm-avm-res-web-site#283.
FLEX_SITE_CONFIG = {
    "alwaysOn": "not valid on Flex",
    "ftpsState": "FTPS is not supported on Flex",
    "functionAppScaleLimit": "renamed functionAppConfig.scaleAndConcurrency.maximumInstanceCount",
    "javaVersion": "replaced by functionAppConfig.runtime.version",
    "linuxFxVersion": "replaced by functionAppConfig.runtime",
    "netFrameworkVersion": "replaced by functionAppConfig.runtime.version (pulumi's SiteConfigArgs sets it: pass a plain dict)",
    "powerShellVersion": "replaced by functionAppConfig.runtime.version",
    "preWarmedInstanceCount": "renamed functionAppConfig.scaleAndConcurrency.alwaysReady",
    "use32BitWorkerProcess": "32-bit is not supported",
    "vnetRouteAllEnabled": "not used for networking on Flex",
    "windowsFxVersion": "not valid on Flex",
}
FLEX_SITE = {
    "containerSize": "renamed functionAppConfig.scaleAndConcurrency.instanceMemoryMB",
    "dnsConfiguration": "DNS comes from the integrated virtual network",
    "isXenon": "not valid on Flex",
}
FLEX_APP_SETTINGS = {
    "ENABLE_ORYX_BUILD": "replaced by the remoteBuild deployment parameter",
    "FUNCTIONS_EXTENSION_VERSION": "set by the platform",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY": "replaced by functionAppConfig.scaleAndConcurrency.triggers.http",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED": "not valid on Flex",
    "FUNCTIONS_WORKER_PROCESS_COUNT": "not valid on Flex",
    "FUNCTIONS_WORKER_RUNTIME": "replaced by functionAppConfig.runtime.name",
    "FUNCTIONS_WORKER_RUNTIME_VERSION": "replaced by functionAppConfig.runtime.version",
    "SCM_DO_BUILD_DURING_DEPLOYMENT": "replaced by the remoteBuild deployment parameter",
    "TZ": "time zones are not supported on Flex",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING": "replaced by functionAppConfig.deployment",
    "WEBSITE_CONTENTOVERVNET": "not used for networking on Flex",
    "WEBSITE_CONTENTSHARE": "replaced by functionAppConfig.deployment",
    "WEBSITE_DNS_SERVER": "DNS comes from the integrated virtual network",
    "WEBSITE_LOAD_CERTIFICATES": "certificates are not supported on Flex",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT": "replaced by functionAppConfig.scaleAndConcurrency.maximumInstanceCount",
    "WEBSITE_NODE_DEFAULT_VERSION": "replaced by functionAppConfig.runtime.version",
    "WEBSITE_RUN_FROM_PACKAGE": "Flex deploys only from functionAppConfig.deployment.storage",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION": "there is no content share on Flex",
    "WEBSITE_TIME_ZONE": "time zones are not supported on Flex",
    "WEBSITE_VNET_ROUTE_ALL": "not used for networking on Flex",
}


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _function_apps(args: StackValidationArgs) -> list[PolicyResource]:
    return [a for a in resources_of(args, [WEB_APP]) if is_function_app(a.props)]


def _flex_app_problems(app: PolicyResource, plan: PolicyResource | None, python: set[str]) -> list[str]:
    cfg = get(app.props, "functionAppConfig")
    if cfg is None:
        return ["functionAppConfig is not set; ARM refuses to create the site ('FunctionAppConfig is required on "
                "create for FlexConsumption sites', Azure/terraform-azurerm-avm-res-web-site#195); required: "
                "functionAppConfig {deployment.storage, runtime {name, version}, scaleAndConcurrency}"]
    problems = []
    memory = get(cfg, "scaleAndConcurrency.instanceMemoryMB")
    if memory is not None and _integer(memory) not in FLEX_MEMORY_MB:
        problems.append(f"functionAppConfig.scaleAndConcurrency.instanceMemoryMB is {shown(memory)}; allowed: "
                        f"{', '.join(map(str, FLEX_MEMORY_MB))}")
    raw_max = get(cfg, "scaleAndConcurrency.maximumInstanceCount")
    most = _integer(raw_max)
    low, high = FLEX_INSTANCES
    if raw_max is not None and (most is None or not low <= most <= high):
        problems.append(f"functionAppConfig.scaleAndConcurrency.maximumInstanceCount is {shown(raw_max)}; allowed: "
                        f"an integer {low}-{high}")
    zone_redundant = plan is not None and known(plan.props, "zoneRedundant") is True
    for i, group in enumerate(as_list(get(cfg, "scaleAndConcurrency.alwaysReady"))):
        where = f"functionAppConfig.scaleAndConcurrency.alwaysReady[{i}]"
        name, count = get(group, "name"), _integer(get(group, "instanceCount"))
        if not (isinstance(name, str) and (name in ALWAYS_READY_GROUPS or re.fullmatch(r"function:\S+", name))):
            problems.append(f"{where}.name is {shown(name)}; allowed: 'http', 'blob', 'durable' or 'function:<name>'")
        if count is None or count < 0:
            problems.append(f"{where}.instanceCount is {shown(get(group, 'instanceCount'))}; required: an integer >= 0")
            continue
        ceiling = most if most is not None else FLEX_DEFAULT_INSTANCES
        if count > ceiling:
            problems.append(f"{where}.instanceCount is {count}, above maximumInstanceCount {ceiling}; required: at "
                            "most maximumInstanceCount")
        if zone_redundant and 0 < count < 2:
            problems.append(f"{where}.instanceCount is {count} on the zone-redundant plan '{plan.name}'; required: 0 "
                            "or at least 2")
    runtime, version = get(cfg, "runtime.name"), get(cfg, "runtime.version")
    if runtime is not None and lower(runtime) not in FLEX_RUNTIMES:
        problems.append(f"functionAppConfig.runtime.name is {shown(runtime)}; allowed: {', '.join(FLEX_RUNTIMES)}")
    if lower(runtime) == "python" and str(version) not in python:
        problems.append(f"functionAppConfig.runtime.version is {shown(version)}; allowed for python: "
                        f"{', '.join(sorted(python))} (the exact catalog string: a wrong one passes ARM and the host "
                        f"never starts, Azure/Azure-Functions#2666; config {FLEX_PYTHON_KEY})")
    for path, why in [*((f"siteConfig.{k}", v) for k, v in FLEX_SITE_CONFIG.items()), *FLEX_SITE.items()]:
        value = get(app.props, path)
        # a switch left off is what the SDKs send by default (azure-native's WebApp sends isXenon
        # false, hyperV false): only a value that asks for the feature is refused
        if value is not None and value is not False:
            problems.append(f"{path} is {shown(value)} ({why}); required: unset")
    rejected = {k.upper(): k for k in FLEX_APP_SETTINGS}
    for name in app_settings(app.props):
        if name.upper() in rejected:
            problems.append(f"app setting {name} is set ({FLEX_APP_SETTINGS[rejected[name.upper()]]}); required: unset")
    return problems


def _flex_limits(args: StackValidationArgs, report: ReportViolation) -> None:
    plans = resources_of(args, [APP_SERVICE_PLAN])
    python = {str(v) for v in as_list(config(args, FLEX_PYTHON_KEY, FLEX_PYTHON_VERSIONS))}
    apps = _function_apps(args)
    tenants: dict[str, list[PolicyResource]] = {}

    def check(app: PolicyResource) -> None:
        plan = plan_of(app, plans)
        if not is_flex_app(app, plans):
            return
        if plan is not None and is_flex_plan(plan):
            tenants.setdefault(plan.urn, []).append(app)
        problems = _flex_app_problems(app, plan if is_flex_plan(plan) else None, python)
        if problems:
            report(f"Flex Consumption function app '{app.name}' ({WEB_APP}): {'; '.join(problems)}.", app.urn)

    each_known(apps, check)
    for plan in plans:
        hosted = tenants.get(plan.urn, [])
        if len(hosted) > 1:
            names = ", ".join(f"'{a.name}'" for a in hosted)
            for app in hosted[1:]:
                report(f"Flex Consumption function app '{app.name}' ({WEB_APP}): its plan '{plan.name}' already hosts "
                       f"another app ({names}); a Flex Consumption plan holds exactly one app; required: one "
                       "FC1 plan per function app.", app.urn)


#: "Regional subscription memory quotas" (same page): 512,000 MB (250 cores) per subscription and
#: region for every Flex app's instances together; over it, executions and deployments are
#: delayed or fail and scaling stops. Shared with other stacks in the subscription, so advisory.
FLEX_QUOTA_KEY = "flexRegionalMemoryQuotaMB"
FLEX_QUOTA_MB = 512000


def _flex_quota(args: StackValidationArgs, report: ReportViolation) -> None:
    plans = resources_of(args, [APP_SERVICE_PLAN])
    quota = _integer(config(args, FLEX_QUOTA_KEY, FLEX_QUOTA_MB)) or FLEX_QUOTA_MB
    regions: dict[str, list[tuple[PolicyResource, int, int]]] = {}

    def check(app: PolicyResource) -> None:
        if not is_flex_app(app, plans):
            return
        scale = get(app.props, "functionAppConfig.scaleAndConcurrency")
        memory = _integer(get(scale, "instanceMemoryMB")) or FLEX_DEFAULT_MEMORY_MB
        count = _integer(get(scale, "maximumInstanceCount")) or FLEX_DEFAULT_INSTANCES
        region = lower(known(app.props, "location")) or "the stack's region"
        regions.setdefault(region, []).append((app, memory, count))

    each_known(_function_apps(args), check)
    for region, apps in regions.items():
        total = sum(memory * count for _, memory, count in apps)
        if total <= quota:
            continue
        parts = ", ".join(f"'{a.name}' {count} x {memory} MB" for a, memory, count in apps)
        largest = max(apps, key=lambda item: item[1] * item[2])[0]
        report(f"Flex Consumption function apps in {region}: together they can scale to {total:,} MB ({parts}), above "
               f"the subscription's regional quota of {quota:,} MB, which every Flex app in the subscription shares; at "
               "the quota, scaling stops and executions and deployments are delayed or fail (config "
               f"{FLEX_QUOTA_KEY} if it was raised).", largest.urn)


# ------------------------------------------------------------------ API Management Consumption tier

#: "API Management policy reference", https://learn.microsoft.com/azure/api-management/api-management-policies
#: (the Consumption column), and each policy's availability note: not in the Consumption tier.
#: Deploying one fails: "rate-limit-by-key Policy is not allowed in this sku 'Consumption'"
#: (Azure/api-management-developer-portal#360).
CONSUMPTION_UNAVAILABLE = {
    "rate-limit-by-key": "use <rate-limit> (per subscription) or a higher tier",
    "quota-by-key": "use <quota> (per subscription) or a higher tier",
    "azure-openai-token-limit": "a higher tier",
    "llm-token-limit": "a higher tier",
    "sql-data-source": "a higher tier",
    "cosmosdb-data-source": "a higher tier",
    "publish-to-dapr": "the self-hosted gateway",
    "invoke-dapr-binding": "the self-hosted gateway",
}
_APIM_SERVICE_ID = re.compile(r"/service/([^/]+)", re.IGNORECASE)


def _xml_tags(text: str) -> list[ElementTree.Element] | None:
    root = apim_xml(text)  # the pack's one APIM policy parser (it tolerates raw @(...) expressions)
    return None if root is None else list(root.iter())


def _service_of(policy: PolicyResource, services: list[PolicyResource]) -> PolicyResource | None:
    for service in services:
        if service.urn in dependency_urns(policy, "serviceName"):
            return service
    name = lower(known(policy.props, "serviceName"))
    if name is None:
        match = _APIM_SERVICE_ID.search(str(known(policy.props, "id") or ""))
        name = lower(match.group(1)) if match else None
    return next((s for s in services if name and name in {lower(known(s.props, "serviceName")),
                                                           lower(known(s.props, "name"))}), None)


def _apim_consumption(args: StackValidationArgs, report: ReportViolation) -> None:
    services = [s for s in resources_of(args, [APIM_SERVICE]) if lower(known(s.props, "sku.name")) == "consumption"]
    if not services:
        return

    def check(policy: PolicyResource) -> None:
        service = _service_of(policy, services)
        text = get(policy.props, "value")
        if service is None or not isinstance(text, str):
            return
        elements = _xml_tags(text) or []
        found = sorted({e.tag.lower() for e in elements if e.tag.lower() in CONSUMPTION_UNAVAILABLE})
        dapr = any(e.tag.lower() == "set-backend-service" and any(a.lower().startswith("dapr-") for a in e.attrib)
                   for e in elements)
        if dapr:
            found.append("set-backend-service with dapr-* attributes")
        if found:
            fixes = "; ".join(f"<{f}>: {CONSUMPTION_UNAVAILABLE.get(f, 'the self-hosted gateway')}" for f in found)
            report(f"API Management policy '{policy.name}' ({policy.resource_type}) on the Consumption-tier service "
                   f"'{service.name}': value uses {', '.join(f'<{f}>' for f in found)}, which the Consumption tier "
                   f"does not offer, so the deployment is refused; required: {fixes}.", policy.urn)

    each_known(resources_of(args, APIM_POLICIES), check)


# ------------------------------------------------------------------ customer-managed keys

#: "Create an account that supports customer-managed keys for tables and queues":
#: https://learn.microsoft.com/azure/storage/common/account-encryption-key-create - queues and
#: tables use a service-scoped Microsoft-managed key unless the account is created with
#: encryption.services.{queue,table}.keyType 'Account'; it cannot be changed afterwards.
def _storage_account_scoped_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    source = lower(get(args.props, "encryption.keySource"))
    if source != "microsoft.keyvault":
        return
    missing = []
    for service in ("queue", "table"):
        key_type = get(args.props, f"encryption.services.{service}.keyType")
        if lower(key_type) != "account":
            missing.append(f"encryption.services.{service}.keyType is {shown(key_type)}")
    if missing:
        report(f"{named(args, 'Storage account')}: encryption.keySource is 'Microsoft.Keyvault' but "
               f"{' and '.join(missing)}, so its queues and tables stay encrypted with a Microsoft-managed service key, "
               "and the key type can only be chosen when the account is created; required: "
               "encryption.services.queue and .table {keyType: 'Account', enabled: true} at creation.")


#: "Configure customer-managed keys for your Azure Cosmos DB account", section "Use customer-managed
#: keys with continuous backup": https://learn.microsoft.com/azure/cosmos-db/how-to-setup-customer-managed-keys
#: - only a user-assigned identity can create a continuous-backup account with a customer-managed key.
def _cosmos_cmk_identity(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if not get(props, "keyVaultKeyUri") or lower(get(props, "backupPolicy.type")) != "continuous":
        return
    default = get(props, "defaultIdentity")
    what = named(args, "Cosmos DB account")
    if not (isinstance(default, str) and default.startswith("UserAssignedIdentity=")):
        report(f"{what}: keyVaultKeyUri and backupPolicy.type 'Continuous' are set but defaultIdentity is "
               f"{shown(default)}; Azure creates such an account only with a user-assigned identity; required: "
               "defaultIdentity 'UserAssignedIdentity=<identity id>' with that identity in identity.userAssignedIdentities "
               "and Key Vault Crypto Service Encryption User on the key.")
        return
    ids = get(props, "identity.userAssignedIdentities")
    listed = {lower(k) for k in (ids if isinstance(ids, Mapping) else as_list(ids))} - {None}
    if lower(default.split("=", 1)[1]) not in listed:
        report(f"{what}: defaultIdentity {shown(default)} is not among identity.userAssignedIdentities "
               f"{shown(sorted(listed))}; required: the account's own user-assigned identity.")


_VAULT_HOST = re.compile(r"^https://([a-z0-9-]+)\.vault\.(?:azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)",
                         re.IGNORECASE)


def vault_name(uri: Any) -> str | None:
    """`orders-kv` from https://orders-kv.vault.azure.net/keys/k (lower case)."""
    match = _VAULT_HOST.match(uri) if isinstance(uri, str) else None
    return match.group(1).lower() if match else None


def _vaults(args: StackValidationArgs) -> dict[str, PolicyResource]:
    """Vaults of the stack by lower-case name (input vaultName, output name, or the vaultUri host)."""
    out: dict[str, PolicyResource] = {}
    for vault in resources_of(args, [KEY_VAULT]):
        for name in (lower(known(vault.props, "vaultName")), lower(known(vault.props, "name")),
                     vault_name(known(vault.props, "properties.vaultUri"))):
            if name:
                out[name] = vault
    return out


def _vault_network(vault: PolicyResource) -> tuple[bool, bool, str]:
    """(closed to public networks, trusted Azure services bypass the firewall, how it says so)."""
    public = lower(get(vault.props, "properties.publicNetworkAccess"))
    action = lower(get(vault.props, "properties.networkAcls.defaultAction"))
    bypass = lower(get(vault.props, "properties.networkAcls.bypass"))
    if public == "disabled":
        return True, False, "properties.publicNetworkAccess 'Disabled'"
    if action == "deny":
        return True, bypass == "azureservices", (f"properties.networkAcls.defaultAction 'Deny' with bypass "
                                                 f"{shown(get(vault.props, 'properties.networkAcls.bypass'))}")
    return False, True, ""


#: Cosmos DB: "Your Azure Key Vault instance must be accessible through public network access or
#: allow trusted Microsoft services to bypass its firewall" (page above); Storage encrypts with a
#: vault key as a trusted service: https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints#trusted-services
CMK_USES = {
    STORAGE_ACCOUNT: "encryption.keyVaultProperties.keyVaultUri",
    COSMOS_ACCOUNT: "keyVaultKeyUri",
}


def _cmk_vault_reachable(args: StackValidationArgs, report: ReportViolation) -> None:
    vaults = _vaults(args)

    def check(consumer: PolicyResource) -> None:
        path = CMK_USES[consumer.resource_type]
        uri = known(consumer.props, path)
        vault = vaults.get(vault_name(uri) or "")
        if vault is None:
            deps = dependency_urns(consumer, path.split(".")[0])
            vault = next((v for v in vaults.values() if v.urn in deps), None)
        if vault is None:
            return
        closed, bypass, how = _vault_network(vault)
        if closed and not bypass:
            report(f"{named(consumer, consumer.resource_type.rsplit(':', 1)[-1])}: its customer-managed key {path} is in "
                   f"Key Vault '{vault.name}', which has {how}; the service cannot reach the key, so the account is "
                   "refused or its data becomes unreadable; required: the vault's networkAcls.bypass 'AzureServices' "
                   "(trusted services) with publicNetworkAccess 'Enabled'.", consumer.urn)

    each_known(resources_of(args, list(CMK_USES)), check)


# ------------------------------------------------------------------ key grants before key use

#: Types that take a customer-managed key through a user-assigned identity, which Azure uses to
#: read the key when the resource is created: the identity must already hold the key.
#: "You must use an existing user-assigned managed identity to authorize access to the key vault
#: when you configure customer-managed keys while creating the storage account. The user-assigned
#: managed identity must have appropriate permissions to access the key vault"
#: (https://learn.microsoft.com/azure/storage/common/customer-managed-keys-configure-new-account);
#: Cosmos DB: grant the identity access to the key before creating the account
#: (https://learn.microsoft.com/azure/cosmos-db/how-to-setup-customer-managed-keys); the same for
#: disk encryption sets, Service Bus and Event Hubs namespaces, container registries, App
#: Configuration stores, PostgreSQL and MySQL flexible servers, SQL servers, Azure AI services
#: accounts and data factories. Keys in a Managed HSM (local RBAC) are not judged.
DISK_ENCRYPTION_SET = "azure-native:compute:DiskEncryptionSet"
EVENTHUB_NAMESPACE = "azure-native:eventhub:Namespace"
CONTAINER_REGISTRY = "azure-native:containerregistry:Registry"
APP_CONFIGURATION = "azure-native:appconfiguration:ConfigurationStore"
POSTGRES_SERVER = "azure-native:dbforpostgresql:Server"
MYSQL_SERVER = "azure-native:dbformysql:Server"
SQL_SERVER = "azure-native:sql:Server"
COGNITIVE_ACCOUNT = "azure-native:cognitiveservices:Account"
DATA_FACTORY = "azure-native:datafactory:Factory"
KEY_VAULT_ACCESS_POLICY = "azure-native:keyvault:AccessPolicy"


@dataclass(frozen=True)
class KeyUse:
    """Where a type names its key identity and its key: `identity` and `key` are paths (inside
    each element of the list at `items`, when set); `by` how the identity is named: 'id' (its
    resource id), 'client' (its client id), 'default' (Cosmos DB's 'UserAssignedIdentity=<id>'),
    'ids' (every user-assigned identity of an identity block of type 'UserAssigned'); `key_name`
    the key's name when `key` is the vault's URI rather than the key's."""

    identity: str
    key: str
    by: str = "id"
    key_name: str = ""
    items: str = ""


_NAMESPACE_KEYS = [KeyUse("identity.userAssignedIdentity", "keyVaultUri", key_name="keyName",
                          items="encryption.keyVaultProperties")]
_FLEXIBLE_SERVER_KEYS = [KeyUse("dataEncryption.primaryUserAssignedIdentityId", "dataEncryption.primaryKeyURI"),
                         KeyUse("dataEncryption.geoBackupUserAssignedIdentityId", "dataEncryption.geoBackupKeyURI")]
KEY_IDENTITY_USES: dict[str, list[KeyUse]] = {
    STORAGE_ACCOUNT: [KeyUse("encryption.encryptionIdentity.encryptionUserAssignedIdentity",
                             "encryption.keyVaultProperties.keyVaultUri", key_name="encryption.keyVaultProperties.keyName")],
    COSMOS_ACCOUNT: [KeyUse("defaultIdentity", "keyVaultKeyUri", by="default")],
    DISK_ENCRYPTION_SET: [KeyUse("identity", "activeKey.keyUrl", by="ids")],
    SERVICEBUS_NAMESPACE: _NAMESPACE_KEYS,
    EVENTHUB_NAMESPACE: _NAMESPACE_KEYS,
    CONTAINER_REGISTRY: [KeyUse("encryption.keyVaultProperties.identity", "encryption.keyVaultProperties.keyIdentifier",
                                by="client")],
    APP_CONFIGURATION: [KeyUse("encryption.keyVaultProperties.identityClientId",
                               "encryption.keyVaultProperties.keyIdentifier", by="client")],
    POSTGRES_SERVER: _FLEXIBLE_SERVER_KEYS,
    MYSQL_SERVER: _FLEXIBLE_SERVER_KEYS,
    SQL_SERVER: [KeyUse("primaryUserAssignedIdentityId", "keyId")],
    COGNITIVE_ACCOUNT: [KeyUse("properties.encryption.keyVaultProperties.identityClientId",
                               "properties.encryption.keyVaultProperties.keyVaultUri", by="client",
                               key_name="properties.encryption.keyVaultProperties.keyName")],
    DATA_FACTORY: [KeyUse("encryption.identity.userAssignedIdentity", "encryption.vaultBaseUrl",
                          key_name="encryption.keyName")],
}
#: "Azure built-in roles for Key Vault data plane operations"
#: (https://learn.microsoft.com/azure/key-vault/general/rbac-guide): roles that may get a key and
#: wrap and unwrap with it.
KEY_CRYPTO_ROLES = {
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": "Key Vault Crypto Service Encryption User",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}
#: A vault without RBAC authorization grants through access policies: get, wrapKey and unwrapKey
#: (https://learn.microsoft.com/azure/key-vault/general/assign-access-policy).
KEY_POLICY_PERMISSIONS = {"get", "wrapkey", "unwrapkey"}
_UNKNOWN = object()
_ANCESTOR_SCOPE = re.compile(r"^/subscriptions/[^/]+(?:/resourcegroups/([^/]+))?/?$|^/providers/microsoft\.management/",
                             re.IGNORECASE)


def _read(props: Any, path: str) -> Any:
    """The value at `path`, None when absent, `_UNKNOWN` when unknown during preview."""
    try:
        return get(props, path)
    except UnknownValueError:
        return _UNKNOWN


def _key_uses(consumer: PolicyResource) -> Iterator[tuple[KeyUse, Any, Any, Any]]:
    """(use, identity value, key URI, key name) for each key the consumer names; values may be _UNKNOWN."""
    for use in KEY_IDENTITY_USES[consumer.resource_type]:
        items = [consumer.props] if not use.items else _read(consumer.props, use.items)
        if items is _UNKNOWN:
            yield use, _UNKNOWN, _UNKNOWN, _UNKNOWN
            continue
        for item in as_list(items):
            key = _read(item, use.key)
            if key is None:
                continue  # no customer-managed key here
            yield use, _read(item, use.identity), key, _read(item, use.key_name) if use.key_name else None


def _identity_refs(use: KeyUse, value: Any) -> tuple[str, list[str]] | None:
    """('name' or 'client', lower-case references) of the key identity; None when the value names
    no user-assigned identity (a system-assigned one, or none)."""
    if use.by == "client":
        return ("client", [value.lower()]) if isinstance(value, str) and value else None
    if use.by == "default":
        if not (isinstance(value, str) and value.lower().startswith("userassignedidentity=")):
            return None
        value = value.split("=", 1)[1]
    if use.by == "ids":
        if lower(get(value, "type")) != "userassigned":
            return None  # with a system-assigned identity too, which one reads the key is not said
        ids = get(value, "userAssignedIdentities")
        names = [arm_name(i) for i in (ids if isinstance(ids, Mapping) else as_list(ids))]
        return ("name", [n for n in names if n]) if names else None
    return ("name", [arm_name(value)]) if arm_name(value) else None


def _key_identities(consumer: PolicyResource, use: KeyUse, value: Any,
                    identities: list[PolicyResource]) -> list[PolicyResource]:
    """The stack's user-assigned identities the consumer reads its key as."""
    top = (use.items or use.identity).split(".")[0]
    linked = [i for i in identities if i.urn in dependency_urns(consumer, top)]
    if value is _UNKNOWN:
        return linked
    refs = _identity_refs(use, value)
    if refs is None:
        return []
    kind, wanted = refs
    if kind == "client":
        return [i for i in identities if lower(known(i.props, "clientId")) in wanted]
    return [i for i in identities
            if {lower(known(i.props, "resourceName")), lower(known(i.props, "name"))} & set(wanted)]


def _key_location(consumer: PolicyResource, use: KeyUse, uri: Any, key_name: Any, vaults: dict[str, PolicyResource],
                  keys: list[PolicyResource]) -> tuple[str | None, str | None, PolicyResource | None, set[str]]:
    """(vault name, key name, the vault if the stack has it, URNs of the stack's vault and key)."""
    name = lower(key_name) if isinstance(key_name, str) else None
    if isinstance(uri, str):
        vault = vault_name(uri)
        if name is None:
            match = re.search(r"/keys/([^/?#]+)", uri)
            name = match.group(1).lower() if match else None
        found = vaults.get(vault or "")
        urns = {found.urn} if found else set()
        urns |= {k.urn for k in keys if found and found.urn in dependency_urns(k, "vaultName")
                 and lower(known(k.props, "keyName")) == name}
        return vault, name, found, urns
    deps = dependency_urns(consumer, (use.items or use.key).split(".")[0])
    found = next((v for v in vaults.values() if v.urn in deps), None)
    key = next((k for k in keys if k.urn in deps), None)
    if found is None and key is not None:
        found = next((v for v in vaults.values() if v.urn in dependency_urns(key, "vaultName")), None)
    urns = {r.urn for r in (found, key) if r is not None}
    return (lower(known(found.props, "vaultName")) if found else None), name, found, urns


def _principal_is(grant: PolicyResource, prop: str, identity: PolicyResource) -> bool:
    if identity.urn in dependency_urns(grant, prop.split(".")[0]):
        return True
    mine = lower(known(grant.props, prop))
    return mine is not None and mine == lower(known(identity.props, "principalId"))


def _scope_covers(grant: PolicyResource, vault: str | None, key: str | None, found: PolicyResource | None,
                  urns: set[str]) -> bool:
    """Whether the role assignment's scope is the key, its vault, or a scope above the vault."""
    scope = _read(grant.props, "scope")
    if scope is _UNKNOWN or not isinstance(scope, str):
        return scope is _UNKNOWN and (not urns or bool(urns & dependency_urns(grant, "scope")))
    scope = scope.lower().rstrip("/")
    if vault and scope.endswith(f"/providers/microsoft.keyvault/vaults/{vault}"):
        return True
    if vault and key and scope.endswith(f"/providers/microsoft.keyvault/vaults/{vault}/keys/{key}"):
        return True
    above = _ANCESTOR_SCOPE.match(scope)
    if above is None:
        return False
    group, home = above.group(1), lower(known(found.props, "resourceGroupName")) if found else None
    return group is None or home is None or group.lower() == home


def _key_permissions(entry: Any) -> bool:
    granted = {str(p).lower() for p in as_list(get(entry, "permissions.keys"))}
    return "all" in granted or KEY_POLICY_PERMISSIONS <= granted


def _rbac(vault: PolicyResource | None) -> bool | None:
    """Whether the stack's vault authorizes with RBAC (else access policies); None for a vault
    the stack does not have."""
    return None if vault is None else known(vault.props, "properties.enableRbacAuthorization") is True


def _grants_for(identity: PolicyResource, vault: str | None, key: str | None, found: PolicyResource | None,
                urns: set[str], assignments: list[PolicyResource], policies: list[PolicyResource]) -> list[PolicyResource]:
    """The resources that give `identity` the use of the key: crypto role assignments on RBAC
    vaults, access policies on the others (either when the vault is not the stack's)."""
    rbac = _rbac(found)
    out = []
    if rbac is not False:
        out += [g for g in assignments if _role_guid(known(g.props, "roleDefinitionId")) in KEY_CRYPTO_ROLES
                and _principal_is(g, "principalId", identity) and _scope_covers(g, vault, key, found, urns)]
    if rbac is not True:
        for policy in policies:
            on_vault = bool(urns & dependency_urns(policy, "vaultName")) or (
                vault is not None and lower(known(policy.props, "vaultName")) == vault)
            if on_vault and _principal_is(policy, "policy.objectId", identity) and _key_permissions(get(policy.props, "policy")):
                out.append(policy)
        if found is not None:
            entries = as_list(known(found.props, "properties.accessPolicies"))
            principal = lower(known(identity.props, "principalId"))
            if any(_key_permissions(e) and lower(get(e, "objectId")) == principal for e in entries if principal):
                out.append(found)
    return out


def _waits_for(resource: PolicyResource, targets: set[str]) -> bool:
    """Whether `resource` depends, directly or through others, on one of `targets`."""
    seen: set[str] = set()
    todo = list(resource.dependencies or []) + [d for deps in (resource.property_dependencies or {}).values()
                                                 for d in deps or []]
    while todo:
        dep = todo.pop()
        if dep.urn in targets:
            return True
        if dep.urn not in seen:
            seen.add(dep.urn)
            todo += list(dep.dependencies or [])
    return False


def _key_grant_first(args: StackValidationArgs, report: ReportViolation) -> None:
    identities = resources_of(args, [USER_ASSIGNED_IDENTITY])
    if not identities:
        return
    vaults = _vaults(args)
    keys = resources_of(args, [KEY_VAULT_KEY])
    assignments = resources_of(args, [ROLE_ASSIGNMENT])
    policies = resources_of(args, [KEY_VAULT_ACCESS_POLICY])

    def check(consumer: PolicyResource) -> None:
        problems = []
        for use, value, uri, key_name in _key_uses(consumer):
            vault, key, found, urns = _key_location(consumer, use, uri, key_name, vaults, keys)
            if isinstance(uri, str) and vault is None:
                continue  # a Managed HSM key, or a URI this pack cannot read
            for identity in _key_identities(consumer, use, value, identities):
                grants = _grants_for(identity, vault, key, found, urns, assignments, policies)
                if grants and _waits_for(consumer, {g.urn for g in grants}):
                    continue
                where = f"key '{key or '?'}' of vault '{vault or (found.name if found else '?')}'"
                mode = ("access policy with get, wrapKey and unwrapKey" if _rbac(found) is False
                        else "Key Vault crypto role")
                if grants:
                    problems.append(f"it reads {where} ({use.key}) as the stack's identity '{identity.name}' but does "
                                    f"not wait for its grant ({', '.join(repr(g.name) for g in grants)})")
                else:
                    problems.append(f"it reads {where} ({use.key}) as the stack's identity '{identity.name}', which "
                                    f"holds no {mode} on that key or its vault in the stack")
        if problems:
            report(f"{named(consumer, consumer.resource_type.rsplit(':', 1)[-1])}: {'; '.join(problems)}; Azure reads the "
                   "key as that identity when it creates the resource and refuses it without the grant.", consumer.urn)

    each_known(resources_of(args, list(KEY_IDENTITY_USES)), check)


# ------------------------------------------------------------------ Key Vault references

#: "Use Key Vault references as app settings": https://learn.microsoft.com/azure/app-service/app-service-key-vault-references
#: References resolve with the system-assigned identity unless keyVaultReferenceIdentity names a
#: user-assigned one; a network-restricted vault needs the app's own network path (VNet
#: integration), since App Service is a trusted Key Vault service only for certificate
#: deployment (https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints#trusted-services;
#: Azure/Azure-Functions#1391). The same holds for code reading a vault URL from a setting.
_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_SECRET_URI = re.compile(r"^https://[a-z0-9-]+\.vault\.[a-z.]+/secrets/[A-Za-z0-9-]{1,127}(?:/[0-9a-f]{32})?/?$",
                         re.IGNORECASE)


def _reference_vault(value: str) -> tuple[str | None, str | None]:
    """(vault name, problem) of a Key Vault reference setting value."""
    body = _REFERENCE.match(value).group(1).strip()  # type: ignore[union-attr]
    parts = dict(p.split("=", 1) for p in body.split(";") if "=" in p)
    keys = {k.strip().lower(): v.strip() for k, v in parts.items()}
    if "secreturi" in keys:
        if not _SECRET_URI.match(keys["secreturi"]):
            return vault_name(keys["secreturi"]), (f"SecretUri {shown(keys['secreturi'])} is not "
                                                  "https://<vault>.vault.azure.net/secrets/<name>[/<version>]")
        return vault_name(keys["secreturi"]), None
    if keys.get("vaultname") and keys.get("secretname"):
        return keys["vaultname"].lower(), None
    return None, "it has neither SecretUri=... nor VaultName=...;SecretName=..."


def _references(args: StackValidationArgs, report: ReportViolation) -> None:
    vaults = _vaults(args)

    def check(app: PolicyResource) -> None:
        refs: list[tuple[str, str | None]] = []  # (setting, vault name) of references
        reads: list[tuple[str, str]] = []  # (setting, vault name) of vault URLs the code reads
        problems = []
        for name, value in app_settings(app.props).items():
            if value is UNKNOWN_SETTING or not isinstance(value, str):
                continue
            if _REFERENCE.match(value):
                vault, problem = _reference_vault(value)
                if problem:
                    problems.append(f"app setting {name} is not a valid Key Vault reference ({problem}), so the app "
                                    "sees the literal text")
                refs.append((name, vault))
            elif vault_name(value):
                reads.append((name, vault_name(value) or ""))
        if refs:
            kind = str(get(app.props, "identity.type") or "")
            ref_identity = known(app.props, "keyVaultReferenceIdentity")
            if "SystemAssigned" not in kind and not ref_identity and not dependency_urns(app, "keyVaultReferenceIdentity"):
                problems.append(f"{', '.join(n for n, _ in refs)} {'is a Key Vault reference' if len(refs) == 1 else 'are Key Vault references'} "
                                f"but identity.type is {shown(kind)} and keyVaultReferenceIdentity is not set: references "
                                "resolve with the system-assigned identity, which the app does not have; required: "
                                "keyVaultReferenceIdentity = the app's user-assigned identity id")
        if known(app.props, "virtualNetworkSubnetId") is None:
            for setting, vault_key in refs + reads:
                vault = vaults.get(vault_key or "")
                if vault is None:
                    continue
                closed, _, how = _vault_network(vault)
                if closed:
                    problems.append(f"app setting {setting} reads Key Vault '{vault.name}', which has {how}, and the "
                                    "app has no virtualNetworkSubnetId: no network path reaches the vault (trusted-"
                                    "service bypass does not cover App Service references or app code); required: VNet "
                                    "integration with the vault's network rule or private endpoint, or a vault open "
                                    "to public networks behind RBAC")
        if problems:
            report(f"App Service app '{app.name}' ({WEB_APP}): {'; '.join(problems)}.", app.urn)

    each_known(resources_of(args, [WEB_APP]), check)


# ------------------------------------------------------------------ the policies

POLICIES = [
    resource_policy(
        "azure-names-within-limits",
        "Azure names set as literal inputs fit their resource's naming rule (storage accounts 3-24 lowercase letters "
        "and digits, Key Vaults 3-24, Cosmos DB accounts 3-44, sites 2-60, API Management services 1-50, queues and "
        "blob containers 3-63, identities 3-128, resource groups 1-90, action group short names 12, ...) "
        "(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules).",
        sorted(NAME_RULES),
        _names,
        remediation="shorten or re-spell the name (globally unique names also need a stack- or subscription-"
                    "specific part); the Azure renderer fits every name it makes.",
        severity=Severity.MEDIUM,
    ),
    stack_policy(
        "azure-flex-consumption-limits",
        "Flex Consumption function apps are what ARM accepts and the host can run: functionAppConfig set at create, "
        "instanceMemoryMB 512/2048/4096, maximumInstanceCount 1-1000, always-ready groups within it, a runtime from "
        "the catalog (python 3.10-3.14 as 'major.minor'), none of the deprecated site properties or app settings, "
        "one app per plan (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan, "
        "https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations).",
        [WEB_APP, APP_SERVICE_PLAN],
        _flex_limits,
        remediation="set functionAppConfig {deployment.storage, runtime {name: 'python', version: '3.12'}, "
                    "scaleAndConcurrency {instanceMemoryMB: 2048, maximumInstanceCount: 40}}, pass site_config as a "
                    "plain dict without ftpsState/linuxFxVersion/netFrameworkVersion/alwaysOn, drop FUNCTIONS_* and "
                    "WEBSITE_* deployment settings, and give every app its own FC1 plan.",
        severity=Severity.HIGH,
        config={FLEX_PYTHON_KEY: {"type": "array", "items": {"type": "string"}, "default": FLEX_PYTHON_VERSIONS,
                                  "description": "functionAppConfig.runtime.version values accepted for python."}},
    ),
    stack_policy(
        "azure-flex-consumption-memory-quota",
        "The stack's Flex Consumption apps in one region can scale to at most the subscription's regional memory "
        "quota together (512,000 MB by default: maximumInstanceCount x instanceMemoryMB summed); other stacks share "
        "it, so this only advises (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan"
        "#regional-subscription-memory-quotas).",
        [WEB_APP, APP_SERVICE_PLAN],
        _flex_quota,
        remediation="lower maximumInstanceCount or instanceMemoryMB per app, or request a larger quota and set config "
                    "flexRegionalMemoryQuotaMB.",
        level=ADVISORY,
        severity=Severity.LOW,
        config={FLEX_QUOTA_KEY: {"type": "integer", "default": FLEX_QUOTA_MB, "minimum": 1,
                                 "description": "The subscription's Flex Consumption memory quota per region, in MB."}},
    ),
    stack_policy(
        "azure-apim-consumption-tier-policies",
        "API Management policies on a Consumption-tier service use only policies that tier offers: no rate-limit-by-key, "
        "quota-by-key, token limits, SQL/Cosmos DB resolvers or Dapr (https://learn.microsoft.com/azure/api-management/"
        "api-management-policies; 'Policy is not allowed in this sku', Azure/api-management-developer-portal#360).",
        [APIM_SERVICE, *APIM_POLICIES],
        _apim_consumption,
        remediation="use <rate-limit> / <quota> (per subscription) on Consumption, or move the service to a tier that "
                    "offers the policy.",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-storage-queue-table-keys-account-scoped",
        "A Storage account encrypted with a customer-managed key is created with account-scoped keys for queues and "
        "tables (encryption.services.queue/table.keyType 'Account'); otherwise they stay on a Microsoft-managed key "
        "and it cannot be changed later (https://learn.microsoft.com/azure/storage/common/account-encryption-key-create).",
        [STORAGE_ACCOUNT],
        _storage_account_scoped_keys,
        remediation="set encryption.services {queue: {keyType: 'Account', enabled: true}, table: {keyType: 'Account', "
                    "enabled: true}} when the account is created (an existing account must be replaced).",
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-cosmos-cmk-continuous-backup-identity",
        "A Cosmos DB account with a customer-managed key and continuous backup names its own user-assigned identity "
        "as defaultIdentity; Azure refuses to create it otherwise (https://learn.microsoft.com/azure/cosmos-db/"
        "how-to-setup-customer-managed-keys#use-customer-managed-keys-with-continuous-backup).",
        [COSMOS_ACCOUNT],
        _cosmos_cmk_identity,
        remediation="set identity {type: 'UserAssigned', userAssignedIdentities: [<id>]} and defaultIdentity "
                    "'UserAssignedIdentity=<id>', the identity holding Key Vault Crypto Service Encryption User on the key.",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-cmk-vault-reachable",
        "Storage accounts and Cosmos DB accounts keep their customer-managed key in a Key Vault their service can "
        "reach: public network access, or a firewall that lets trusted Azure services bypass it (soft delete and purge "
        "protection are key-vaults-recoverable's) (https://learn.microsoft.com/azure/key-vault/general/"
        "overview-vnet-service-endpoints#trusted-services).",
        [STORAGE_ACCOUNT, COSMOS_ACCOUNT, KEY_VAULT],
        _cmk_vault_reachable,
        remediation="set the vault's properties.networkAcls.bypass 'AzureServices' and publicNetworkAccess 'Enabled' "
                    "(default action Deny is fine).",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-cmk-consumers-wait-for-key-grant",
        "A resource that reads its customer-managed key as a user-assigned identity the stack creates (storage and "
        "Cosmos DB accounts, disk encryption sets, Service Bus and Event Hubs namespaces, container registries, App "
        "Configuration stores, PostgreSQL, MySQL and SQL servers, Azure AI services accounts, data factories) waits "
        "for that identity's grant on the key: a Key Vault crypto role (Crypto Service Encryption User or above) on "
        "the key or its vault, or on a vault without RBAC an access policy with get, wrapKey and unwrapKey; Azure "
        "reads the key at create and refuses the resource otherwise (https://learn.microsoft.com/azure/storage/common/"
        "customer-managed-keys-configure-new-account, https://learn.microsoft.com/azure/cosmos-db/"
        "how-to-setup-customer-managed-keys, https://learn.microsoft.com/azure/key-vault/general/rbac-guide).",
        sorted({*KEY_IDENTITY_USES, USER_ASSIGNED_IDENTITY, ROLE_ASSIGNMENT, KEY_VAULT, KEY_VAULT_KEY,
                KEY_VAULT_ACCESS_POLICY}),
        _key_grant_first,
        remediation="assign Key Vault Crypto Service Encryption User (e147488a-f6f5-4113-8e2d-b22465e65bf6) to the "
                    "identity's principalId with the key (or vault) as scope (on a vault without RBAC authorization: "
                    "a keyvault AccessPolicy with keys get, wrapKey and unwrapKey for that principalId), and make the "
                    "resource depend on that grant, best through a wait for it to propagate (a time Sleep that "
                    "depends on it).",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-key-vault-references-resolvable",
        "App settings that read Key Vault resolve: references are well-formed, an app without a system-assigned "
        "identity names its user-assigned one in keyVaultReferenceIdentity, and an app without VNet integration "
        "reads only vaults open to public networks (https://learn.microsoft.com/azure/app-service/"
        "app-service-key-vault-references).",
        [WEB_APP, KEY_VAULT],
        _references,
        remediation="write @Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/), set "
                    "keyVaultReferenceIdentity to the app's user-assigned identity id, and give the app VNet "
                    "integration with the vault's private endpoint or network rule (or keep the vault public behind RBAC).",
        severity=Severity.HIGH,
    ),
]
