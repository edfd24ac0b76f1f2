"""Azure operations: what the first routine change, teardown or re-create refuses, and what deploys
but silently does not do what was declared.

A clean first `pulumi up` is not the end of it. A management lock above resources the stack
changes makes a later `up` fail with ScopeLocked; a purge-protected name derived only from the
stack blocks re-creating a destroyed stack for the retention period; a replaced task-hub account
loses every workflow instance; a `rate-limit` on an API without subscriptions, a log alert on
sampled traces and a Flex app on the preview rolling-update strategy all deploy and then fall
short. Each rule names its documentation source; each reads every resource type its promise
applies to, not only what the anycloud renderer emits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from .azure_deployability import APIM_POLICIES, APIM_SERVICE, APP_INSIGHTS, KEY_VAULT, _service_of, _xml_tags
from .azure_hierarchy import DELETE_LOCK_LEVELS, LOCKS, Hierarchy, delete_locks
from .common import (
    ADVISORY,
    ROLE_ASSIGNMENT,
    STORAGE_ACCOUNT,
    USER_ASSIGNED_IDENTITY,
    WEB_APP,
    WEB_APP_AUTH_SETTINGS_V2,
    WEB_APP_SLOT,
    app_settings,
    config,
    dependency_urns,
    each_known,
    get,
    is_function_app,
    is_prod,
    known,
    lower,
    named,
    resource_policy,
    resources_of,
    setting,
    shown,
    stack_policy,
)
from .identity import DATA_PLANE_ROLES, _role_guid

COSMOS_ROLE_ASSIGNMENTS = tuple(f"azure-native:cosmosdb:{kind}" for kind in (
    "SqlResourceSqlRoleAssignment", "CassandraResourceCassandraRoleAssignment", "GremlinResourceGremlinRoleAssignment",
    "MongoMIResourceMongoMIRoleAssignment", "TableResourceTableRoleAssignment"))
MANAGED_HSM = "azure-native:keyvault:ManagedHsm"
APIM_API = "azure-native:apimanagement:Api"
APIM_PRODUCT = "azure-native:apimanagement:Product"
APIM_PRODUCT_POLICY = "azure-native:apimanagement:ProductPolicy"
APIM_SERVICE_POLICY = "azure-native:apimanagement:Policy"
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
SITES = (WEB_APP, WEB_APP_SLOT)


def _sites(args: StackValidationArgs) -> list[PolicyResource]:
    return [s for s in resources_of(args, SITES) if is_function_app(s.props)]


def _kind(resource: PolicyResource) -> str:
    return resource.resource_type.rsplit(":", 1)[-1]


def _listed(resources: list[PolicyResource], most: int = 6) -> str:
    shown_ = ", ".join(f"'{r.name}' ({_kind(r)})" for r in resources[:most])
    return shown_ + (f" and {len(resources) - most} more" if len(resources) > most else "")


# ------------------------------------------------------------------ locks

#: "Lock your resources to protect your infrastructure": "When you apply a lock at a parent scope,
#: all resources within that scope inherit the same lock"; CanNotDelete blocks deletes, ReadOnly
#: also updates (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources).
#: Cosmos DB: a lock on the account covers its SQL role assignments
#: (https://learn.microsoft.com/azure/cosmos-db/resource-locks). A resource Pulumi protects is never
#: deleted or replaced by the stack, so only a ReadOnly lock (which also blocks updates) stands in
#: its way; an unprotected one (a grant, an app) will be, and then the `up` fails with ScopeLocked.
def _locks_above_children(args: StackValidationArgs, report: ReportViolation) -> None:
    tree = Hierarchy(args.resources)
    for lock, level in delete_locks(args.resources):
        if level not in DELETE_LOCK_LEVELS:
            continue
        stuck = [r for r in tree.covered(lock) if level == "ReadOnly" or not (r.opts and r.opts.protect)]
        if not stuck:
            continue
        what = "deleted, replaced or updated" if level == "ReadOnly" else "deleted or replaced"
        report(f"Management lock '{lock.name}' ({lock.resource_type}, level {level}): it is inherited by {len(stuck)} "
               f"resource(s) below its scope that the stack manages and may have {what}: {_listed(stuck)}; the first "
               "change that drops or replaces one (a grant removed, narrowed or renamed) fails with ScopeLocked, the "
               "old resource (a wider grant) stays, and every later `pulumi up` fails until the lock is lifted by "
               "hand.", lock.urn)


# ------------------------------------------------------------------ purge-protected names

#: Key Vault: "A vault with the same name already exists in deleted state" for the retention
#: period (7-90 days) when purge protection is on (azure-cli#29115; the provider neither purges
#: nor recovers, pulumi-azure-native#1174; https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview).
#: Managed HSM likewise (https://learn.microsoft.com/azure/key-vault/managed-hsm/soft-delete-overview).
#: API Management keeps a deleted service 48 hours: "ServiceAlreadyExistsInSoftDeletedState"
#: (https://learn.microsoft.com/azure/api-management/soft-delete; terraform-provider-azurerm#15865).
#: type -> (name input, why the name stays taken, whether the resource keeps its name reserved)
SOFT_DELETED_NAMES = {
    KEY_VAULT: ("vaultName", "a purge-protected vault's name stays reserved for its soft-delete retention "
                             "(properties.softDeleteRetentionInDays, up to 90 days)"),
    MANAGED_HSM: ("name", "a purge-protected managed HSM's name stays reserved for its soft-delete retention"),
    APIM_SERVICE: ("serviceName", "a deleted API Management service stays soft-deleted, its name taken, for 48 hours"),
}
#: Resources of the random provider: a name built from one changes with every new stack instance.
RANDOM_TYPES = ("random:index/randomString:RandomString", "random:index/randomId:RandomId",
                "random:index/randomPet:RandomPet", "random:index/randomUuid:RandomUuid",
                "random:index/randomInteger:RandomInteger", "random:index/randomBytes:RandomBytes")


def _keeps_name(resource: PolicyResource) -> bool:
    if resource.resource_type == APIM_SERVICE:
        return True
    return get(resource.props, "properties.enablePurgeProtection") is True


def _reusable_names(args: StackValidationArgs, report: ReportViolation) -> None:
    randoms = {r.urn for r in resources_of(args, RANDOM_TYPES)}

    def check(resource: PolicyResource) -> None:
        prop, why = SOFT_DELETED_NAMES[resource.resource_type]
        if not _keeps_name(resource):
            return
        deps = dependency_urns(resource, prop)
        value = known(resource.props, prop)
        if value is None and not deps:
            return  # auto-named by Pulumi: a random suffix per stack instance
        if deps & randoms:
            return
        report(f"{named(resource, _kind(resource))}: {prop} {shown(value) if value else '(computed)'} does not depend "
               f"on a random value, so a destroyed stack re-creates it under the same name, and {why}: the next "
               "`pulumi up` fails (\"already exists in deleted state\") until then.", resource.urn)

    each_known(resources_of(args, list(SOFT_DELETED_NAMES)), check)


# ------------------------------------------------------------------ Durable task hub

#: Durable Functions keeps orchestration history, instance ids and its work queues in the task
#: hub's storage account (https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-azure-storage-provider):
#: a replaced account loses every instance, including the ids that make starts exactly-once.
DURABLE_SETTING = "AzureFunctionsJobHost__extensions__durableTask"
DURABLE_CONNECTION = f"{DURABLE_SETTING}__storageProvider__connectionStringName"
_ACCOUNT_IN_URI = re.compile(r"^([a-z0-9]{3,24})\.(?:blob|queue|table)\.", re.IGNORECASE)
_ACCOUNT_IN_STRING = re.compile(r"AccountName=([a-z0-9]{3,24})", re.IGNORECASE)


def connection_account(settings: Mapping[str, Any], connection: str) -> str | None:
    """The storage account name an identity-based or keyed connection `connection` names."""
    found = setting(settings, f"{connection}__accountName")
    if found and isinstance(found[1], str):
        return found[1].lower()
    for service in ("blobServiceUri", "queueServiceUri", "tableServiceUri", "serviceUri"):
        found = setting(settings, f"{connection}__{service}")
        if found and isinstance(found[1], str) and (m := _ACCOUNT_IN_URI.match(urlparse(found[1]).netloc)):
            return m.group(1).lower()
    found = setting(settings, connection)
    if found and isinstance(found[1], str) and (m := _ACCOUNT_IN_STRING.search(found[1])):
        return m.group(1).lower()
    return None


def _accounts_by_name(args: StackValidationArgs) -> dict[str, PolicyResource]:
    out: dict[str, PolicyResource] = {}
    for account in resources_of(args, [STORAGE_ACCOUNT]):
        for key in ("accountName", "name"):
            if name := lower(known(account.props, key)):
                out[name] = account
    return out


def _runs_durable(settings: Mapping[str, Any]) -> bool:
    triggers = setting(settings, "ANYCLOUD_TRIGGERS")
    if triggers and isinstance(triggers[1], str) and "orchestrator" in triggers[1].split(","):
        return True
    return any(k.lower().startswith(DURABLE_SETTING.lower()) for k in settings)


def _task_hub_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    accounts = _accounts_by_name(args)

    def check(site: PolicyResource) -> None:
        settings = app_settings(site.props)
        if not _runs_durable(settings):
            return
        named_connection = setting(settings, DURABLE_CONNECTION)
        connection = named_connection[1] if named_connection and isinstance(named_connection[1], str) \
            else "AzureWebJobsStorage"
        account = accounts.get(connection_account(settings, connection) or "")
        if account is not None and not (account.opts and account.opts.protect):
            report(f"Storage account '{account.name}' ({STORAGE_ACCOUNT}) holds the Durable Functions task hub of "
                   f"'{site.name}' ({_kind(site)}, connection {connection}) but is not protected: a change that "
                   "replaces it (a renamed account, a different sku or encryption key type) deletes every workflow "
                   "instance and the instance ids that keep starts exactly-once.", account.urn)

    each_known(_sites(args), check)


# ------------------------------------------------------------------ API Management throttles

#: "Limit call rate by subscription": rate-limit and quota count per subscription ("have a
#: dependency on the subscription key"); a call without one is not counted
#: (https://learn.microsoft.com/azure/api-management/rate-limit-policy,
#: https://learn.microsoft.com/azure/api-management/quota-policy). On an API or product that
#: requires no subscription the declared throttle is not what runs.
SUBSCRIPTION_THROTTLES = ("rate-limit", "quota")


def _subscription_optional(resource: PolicyResource) -> bool:
    return get(resource.props, "subscriptionRequired") is False  # ARM's default is true


def _api_of(policy: PolicyResource, apis: list[PolicyResource]) -> PolicyResource | None:
    deps = dependency_urns(policy, "apiId")
    for api in apis:
        if api.urn in deps:
            return api
    wanted = lower(str(known(policy.props, "apiId") or "").split(";rev=")[0])
    service = lower(known(policy.props, "serviceName"))
    return next((a for a in apis if wanted and wanted in {lower(known(a.props, "apiId")), lower(known(a.props, "name"))}
                 and (service is None or lower(known(a.props, "serviceName")) in (None, service))), None)


def _throttles_without_subscription(args: StackValidationArgs, report: ReportViolation) -> None:
    apis = resources_of(args, [APIM_API])
    products = resources_of(args, [APIM_PRODUCT])
    services = resources_of(args, [APIM_SERVICE])

    def open_targets(policy: PolicyResource) -> list[PolicyResource]:
        typ = policy.resource_type
        if typ == APIM_PRODUCT_POLICY:
            deps = dependency_urns(policy, "productId")
            wanted = lower(known(policy.props, "productId"))
            found = [p for p in products if p.urn in deps or (wanted and wanted == lower(known(p.props, "productId")))]
            return [p for p in found if _subscription_optional(p)]
        if typ == APIM_SERVICE_POLICY:
            service = _service_of(policy, services)
            return [a for a in apis if _subscription_optional(a)
                    and (service is None or _service_of(a, services) is service)]
        api = _api_of(policy, apis)
        return [api] if api is not None and _subscription_optional(api) else []

    def check(policy: PolicyResource) -> None:
        text = get(policy.props, "value")
        if not isinstance(text, str):
            return
        found = sorted({e.tag.lower() for e in _xml_tags(text) or [] if e.tag.lower() in SUBSCRIPTION_THROTTLES})
        targets = open_targets(policy) if found else []
        if targets:
            report(f"API Management policy '{policy.name}' ({policy.resource_type}): "
                   f"{', '.join(f'<{f}>' for f in found)} counts calls per subscription, but {_listed(targets)} "
                   "require(s) no subscription (subscriptionRequired false), so the calls are not counted and the "
                   "declared throttle does nothing.", policy.urn)

    each_known([p for p in resources_of(args, [*APIM_POLICIES]) if p.resource_type != "azure-native:apimanagement:PolicyFragment"],
               check)


# ------------------------------------------------------------------ Flex site updates

#: "Site update strategies in Flex Consumption": rolling updates are in preview and "isn't
#: recommended for production apps" (https://learn.microsoft.com/azure/azure-functions/flex-consumption-site-updates).
def _no_rolling_update(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    strategy = get(args.props, "functionAppConfig.siteUpdateStrategy.type")
    if lower(strategy) == "rollingupdate":
        report(f"{named(args, 'Function app')}: functionAppConfig.siteUpdateStrategy.type is {shown(strategy)}, a "
               "preview feature Microsoft does not recommend for production apps; required in prod: 'Recreate'.")


# ------------------------------------------------------------------ sampled telemetry

#: "Sampling in Application Insights" / host.json `logging.applicationInsights.samplingSettings`:
#: the Functions host samples by default (20 items per second per instance), every telemetry type
#: not in `excludedTypes` (https://learn.microsoft.com/azure/azure-functions/configure-monitoring#configure-sampling,
#: https://learn.microsoft.com/azure/azure-functions/functions-host-json#applicationinsightssamplingsettings).
#: An app setting overrides host.json; the package's host.json is not visible to the pack, so the
#: pack requires the setting on every app whose telemetry a log alert reads.
SAMPLING = "AzureFunctionsJobHost__logging__applicationInsights__samplingSettings"
#: Application Insights table (classic and workspace name) -> the telemetry type `excludedTypes` names.
SAMPLED_TABLES = {"traces": "Trace", "apptraces": "Trace", "requests": "Request", "apprequests": "Request",
                  "exceptions": "Exception", "appexceptions": "Exception", "dependencies": "Dependency",
                  "appdependencies": "Dependency", "customevents": "Event", "appevents": "Event",
                  "pageviews": "PageView", "apppageviews": "PageView"}
_TABLE = re.compile(r"(?<![\w.])(" + "|".join(SAMPLED_TABLES) + r")(?![\w])", re.IGNORECASE)
_ROLE = re.compile(r"cloud_RoleName\s*(?:==|=~|has|contains)\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def unsampled(settings: Mapping[str, Any]) -> set[str] | None:
    """The telemetry types an app keeps whole: None when sampling is off altogether."""
    enabled = setting(settings, f"{SAMPLING}__isEnabled")
    if enabled and isinstance(enabled[1], str) and enabled[1].strip().lower() == "false":
        return None
    excluded = setting(settings, f"{SAMPLING}__excludedTypes")
    value = excluded[1] if excluded and isinstance(excluded[1], str) else ""
    return {t.strip().lower() for t in value.split(";") if t.strip()}


def _insights_of(site: PolicyResource, components: list[PolicyResource], settings: Mapping[str, Any]) -> set[str]:
    value = next((v for k, v in settings.items() if k.upper() == "APPLICATIONINSIGHTS_CONNECTION_STRING"), None)
    out = set()
    for component in components:
        keys = {known(component.props, "connectionString"), known(component.props, "instrumentationKey")} - {None}
        if isinstance(value, str) and any(isinstance(k, str) and k and k.split(";")[0] in value for k in keys):
            out.add(component.urn)
        elif component.urn in dependency_urns(site, "siteConfig") and value is not None:
            out.add(component.urn)  # the connection string comes from the component's output
    return out


def _alerts_read_unsampled(args: StackValidationArgs, report: ReportViolation) -> None:
    components = resources_of(args, [APP_INSIGHTS])
    by_id = {lower(known(c.props, "id")): c for c in components if lower(known(c.props, "id"))}
    sites = _sites(args)

    def check(rule: PolicyResource) -> None:
        queries = [get(c, "query") for c in get(rule.props, "criteria.allOf") or []]
        tables = {SAMPLED_TABLES[m.lower()] for q in queries if isinstance(q, str) for m in _TABLE.findall(q)}
        if not tables:
            return
        scopes = {c.urn for c in components if c.urn in dependency_urns(rule, "scopes")}
        scopes |= {by_id[lower(s)].urn for s in get(rule.props, "scopes") or [] if lower(s) in by_id}
        if not scopes:
            return
        roles = {r.lower() for q in queries if isinstance(q, str) for r in _ROLE.findall(q)}
        named_apps = {u for u in dependency_urns(rule, "criteria")}
        gaps = []
        for site in sites:
            settings = app_settings(site.props)
            if not _insights_of(site, components, settings) & scopes:
                continue
            if named_apps & {s.urn for s in sites} and site.urn not in named_apps:
                continue
            if roles and lower(known(site.props, "name")) not in roles:
                continue
            kept = unsampled(settings)
            missing = [] if kept is None else sorted(t for t in tables if t.lower() not in kept)
            if missing:
                gaps.append(f"'{site.name}' samples {', '.join(missing)}")
        if gaps:
            report(f"Log alert '{rule.name}' ({SCHEDULED_QUERY_RULE}) queries {', '.join(sorted(tables))} telemetry, "
                   f"which the Functions host samples: {'; '.join(gaps)}; under load the one record the alert waits "
                   "for can be dropped and the alert never fires.", rule.urn)

    each_known(resources_of(args, [SCHEDULED_QUERY_RULE]), check)


# ------------------------------------------------------------------ host storage

#: "Storage considerations for Azure Functions": the host keeps keys, leases, timers and (Flex)
#: its state in the AzureWebJobsStorage account and needs Storage Blob Data Owner there
#: (https://learn.microsoft.com/azure/azure-functions/storage-considerations,
#: https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity).
#: Data roles are account-wide for the host, so an app holding one on another app's host account
#: can read its host keys or take its leases: one host account per app.
STORAGE_DATA_ROLES = {guid for guid, name in DATA_PLANE_ROLES.items() if name.startswith("Storage")}


def _principals_of(site: PolicyResource, identities: list[PolicyResource]) -> set[str]:
    """Keys that identify the app's identities: identity resource URNs and known principal ids."""
    out = {i.urn for i in identities if i.urn in dependency_urns(site, "identity")}
    listed = get(site.props, "identity.userAssignedIdentities")
    ids = {lower(k) for k in (listed if isinstance(listed, Mapping) else listed or [])} if listed else set()
    for identity in identities:
        if lower(known(identity.props, "id")) in ids:
            out.add(identity.urn)
    for identity in identities:
        if identity.urn in out and (p := known(identity.props, "principalId")):
            out.add(str(p).lower())
    if system := known(site.props, "identity.principalId"):
        out.add(str(system).lower())
    if isinstance(listed, Mapping):
        out |= {str(v.get("principalId")).lower() for v in listed.values() if isinstance(v, Mapping) and v.get("principalId")}
    return out


def _holder(assignment: PolicyResource, identities: list[PolicyResource]) -> set[str]:
    out = {u for u in dependency_urns(assignment, "principalId") if u in {i.urn for i in identities}}
    if p := known(assignment.props, "principalId"):
        out.add(str(p).lower())
    return out


def _host_storage_per_app(args: StackValidationArgs, report: ReportViolation) -> None:
    accounts = _accounts_by_name(args)
    identities = resources_of(args, [USER_ASSIGNED_IDENTITY])
    grants = [a for a in resources_of(args, [ROLE_ASSIGNMENT])
              if _role_guid(known(a.props, "roleDefinitionId")) in STORAGE_DATA_ROLES]
    tree = Hierarchy(args.resources)
    hosted: dict[str, list[PolicyResource]] = {}

    def check(site: PolicyResource) -> None:
        account = accounts.get(connection_account(app_settings(site.props), "AzureWebJobsStorage") or "")
        if account is not None:
            hosted.setdefault(account.urn, []).append(site)

    each_known(_sites(args), check)
    by_urn = {a.urn: a for a in accounts.values()}
    for urn, sites in hosted.items():
        account = by_urn[urn]
        mine = set().union(*(_principals_of(s, identities) for s in sites))
        on_account = [g for g in grants if urn in tree.above(g)]
        others = [g for g in on_account if not _holder(g, identities) & mine]
        problems = []
        if len(sites) > 1:
            problems.append(f"it is the host storage (AzureWebJobsStorage) of {len(sites)} apps: {_listed(sites)}")
        if others:
            problems.append(f"identities of other apps hold data roles on it: {_listed(others)}")
        if problems:
            report(f"Storage account '{account.name}' ({STORAGE_ACCOUNT}): {'; '.join(problems)}; the host's data roles "
                   "are account-wide, so one app can read or overwrite another's host keys, leases and state.",
                   account.urn)


#: "Scalability and performance targets for standard storage accounts": 250 storage accounts per
#: region per subscription by default, 500 on request
#: (https://learn.microsoft.com/azure/storage/common/scalability-targets-standard-account). Shared
#: with every other stack in the subscription, so this only advises.
STORAGE_QUOTA_KEY = "storageAccountsPerRegion"
STORAGE_ACCOUNTS_PER_REGION = 250


def _storage_quota(args: StackValidationArgs, report: ReportViolation) -> None:
    quota = int(config(args, STORAGE_QUOTA_KEY, STORAGE_ACCOUNTS_PER_REGION))
    regions: dict[str, list[PolicyResource]] = {}
    for account in resources_of(args, [STORAGE_ACCOUNT]):
        regions.setdefault(lower(known(account.props, "location")) or "the stack's region", []).append(account)
    for region, found in regions.items():
        if len(found) > quota:
            report(f"Storage accounts in {region}: the stack has {len(found)}, above the subscription's quota of {quota} "
                   f"per region, which every stack in the subscription shares (config {STORAGE_QUOTA_KEY} if it was "
                   "raised); the accounts past it are refused.", found[-1].urn)


# ------------------------------------------------------------------ App Service authentication issuer

#: "Configure your App Service or Azure Functions app to use Microsoft Entra sign-in": the issuer
#: URL is `<authentication-endpoint>/<tenant-id>/v2.0`; the express setup's legacy
#: `https://sts.windows.net/<tenant-id>/` (v1 tokens) is the other documented form
#: (https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad).
#: `https://sts.windows.net/<tenant>/v2.0` mixes them: no Entra token carries that issuer.
_ENTRA_ISSUERS = (re.compile(r"^https://login\.(?:microsoftonline\.(?:com|us)|partner\.microsoftonline\.cn)/[0-9a-f-]{36}/v2\.0/?$", re.I),
                  re.compile(r"^https://sts\.(?:windows\.net|chinacloudapi\.cn)/[0-9a-f-]{36}/$", re.I))


def _entra_issuer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    aad = get(args.props, "identityProviders.azureActiveDirectory")
    if not isinstance(aad, Mapping) or get(aad, "enabled") is False:
        return
    issuer = get(aad, "registration.openIdIssuer")
    if isinstance(issuer, str) and not any(p.match(issuer) for p in _ENTRA_ISSUERS):
        report(f"{named(args, 'App Service authentication')}: identityProviders.azureActiveDirectory.registration."
               f"openIdIssuer is {shown(issuer)}, which is not an issuer Microsoft Entra ID puts in its tokens, so "
               "every token is refused (or the metadata cannot be read).")


POLICIES = [
    stack_policy(
        "azure-no-lock-above-managed-children",
        "No management lock sits above resources the stack may delete, replace or (ReadOnly) update: a lock is "
        "inherited by everything below its scope, so removing or replacing a grant under a locked Cosmos DB account "
        "or resource group fails with ScopeLocked and blocks every later update "
        "(https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources, "
        "https://learn.microsoft.com/azure/cosmos-db/resource-locks).",
        [*LOCKS, ROLE_ASSIGNMENT, *COSMOS_ROLE_ASSIGNMENTS],
        _locks_above_children,
        remediation="lock what holds the data (the Cosmos DB database, ManagementLockByScope scope=database.id), not "
                    "the parent of grants; or protect every resource below the lock (pulumi protect) if none may change.",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-purge-protected-names-reusable",
        "Names that Azure keeps reserved after a delete (purge-protected Key Vaults and managed HSMs for their "
        "retention, API Management services for 48 hours) depend on a random value, so a destroyed stack can be "
        "deployed again (azure-cli#29115, pulumi-azure-native#1174, https://learn.microsoft.com/azure/key-vault/general/"
        "soft-delete-overview, https://learn.microsoft.com/azure/api-management/soft-delete). The pack sees the name's "
        "property dependencies, which a preview records even while the value is unknown.",
        [KEY_VAULT, MANAGED_HSM, APIM_SERVICE],  # and the random provider's resources (RANDOM_TYPES)
        _reusable_names,
        remediation="build the name from a random.RandomString (or RandomId) of the stack, e.g. "
                    "name=suffix.result.apply(lambda s: f'orders-kv-{s}'), or leave it to Pulumi's auto-naming.",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "prod-durable-task-hub-protected",
        "In prod, the storage account holding a Durable Functions task hub (AzureWebJobsStorage, or the connection "
        "durableTask.storageProvider.connectionStringName names) is protected: replacing it loses every workflow "
        "instance (https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-azure-storage-provider). "
        "Apps whose Durable configuration is only in host.json are not visible to the pack.",
        [WEB_APP, WEB_APP_SLOT, STORAGE_ACCOUNT],
        _task_hub_protected,
        remediation="register the account with opts protect=True (pulumi.ResourceOptions(protect=True)).",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-apim-throttle-needs-subscription",
        "API Management rate-limit and quota count per subscription: they are not set on APIs or products that require "
        "no subscription, where they would silently do nothing (https://learn.microsoft.com/azure/api-management/"
        "rate-limit-policy, https://learn.microsoft.com/azure/api-management/quota-policy).",
        [APIM_API, APIM_PRODUCT, *APIM_POLICIES],
        _throttles_without_subscription,
        remediation="require subscriptions on the API, or use rate-limit-by-key with a counter key (not on the "
                    "Consumption tier), or declare the throttle as a limitation and leave the policy out.",
        severity=Severity.MEDIUM,
    ),
    resource_policy(
        "prod-flex-apps-not-rolling-update",
        "In prod, Flex Consumption apps update with the Recreate strategy: rolling updates are in preview and not "
        "recommended for production apps (https://learn.microsoft.com/azure/azure-functions/flex-consumption-site-updates).",
        [WEB_APP, WEB_APP_SLOT],
        _no_rolling_update,
        remediation="set functionAppConfig.siteUpdateStrategy {type: 'Recreate'}.",
        severity=Severity.MEDIUM,
    ),
    stack_policy(
        "azure-log-alerts-read-unsampled-telemetry",
        "A log alert on Application Insights traces, requests, exceptions, dependencies or events reads telemetry the "
        "function apps it watches exclude from sampling (app setting AzureFunctionsJobHost__logging__"
        "applicationInsights__samplingSettings__excludedTypes, or isEnabled false); the host samples by default "
        "(https://learn.microsoft.com/azure/azure-functions/configure-monitoring#configure-sampling). Apps are those "
        "the query depends on or names by cloud_RoleName, else every function app sending to the component.",
        [SCHEDULED_QUERY_RULE, WEB_APP, WEB_APP_SLOT, APP_INSIGHTS],
        _alerts_read_unsampled,
        remediation="set AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__excludedTypes to "
                    "'Request;Trace' (the types the alert reads) on the apps whose telemetry the alert queries.",
        severity=Severity.MEDIUM,
    ),
    stack_policy(
        "azure-host-storage-one-app",
        "Each function app's host storage account (AzureWebJobsStorage) serves that app alone: no two apps host on it "
        "and no other app's identity holds a Storage data role on it, since the host's roles are account-wide "
        "(https://learn.microsoft.com/azure/azure-functions/storage-considerations).",
        [WEB_APP, WEB_APP_SLOT, STORAGE_ACCOUNT, ROLE_ASSIGNMENT, USER_ASSIGNED_IDENTITY],
        _host_storage_per_app,
        remediation="give every function app its own host storage account and grant data roles on it to that app's "
                    "identity only.",
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-storage-accounts-regional-quota",
        "The stack's storage accounts per region fit the subscription's quota (250 by default, 500 on request), which "
        "other stacks share, so this only advises (https://learn.microsoft.com/azure/storage/common/"
        "scalability-targets-standard-account).",
        [STORAGE_ACCOUNT],
        _storage_quota,
        remediation="share fewer accounts' worth of purposes, request a larger quota, and set config "
                    "storageAccountsPerRegion.",
        level=ADVISORY,
        severity=Severity.LOW,
        config={STORAGE_QUOTA_KEY: {"type": "integer", "default": STORAGE_ACCOUNTS_PER_REGION, "minimum": 1,
                                    "description": "Storage accounts the subscription may have per region."}},
    ),
    resource_policy(
        "azure-app-auth-entra-issuer",
        "App Service authentication with Microsoft Entra ID names an issuer Entra ID puts in its tokens: "
        "https://login.microsoftonline.com/<tenant>/v2.0 (v2 tokens) or https://sts.windows.net/<tenant>/ (v1) "
        "(https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad).",
        [WEB_APP_AUTH_SETTINGS_V2, "azure-native:web:WebAppAuthSettingsV2Slot",
         "azure-native:web:WebAppAuthSettingsV2WithoutSecrets", "azure-native:web:WebAppAuthSettingsV2WithoutSecretsSlot"],
        _entra_issuer,
        remediation="set registration.openIdIssuer to https://login.microsoftonline.com/<tenant>/v2.0 and have the "
                    "app registration issue v2 tokens (api.requestedAccessTokenVersion 2).",
        severity=Severity.HIGH,
    ),
]
