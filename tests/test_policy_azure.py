"""Azure policies on the Flex Consumption rendering: what the fixtures don't pin down.

The compliant stack (tests/policy_fixtures/azure-names-within-limits/azure-ok.json: Flex apps with
their FC1 plans, App Service auth, queues and poison queues, Cosmos DB, Key Vault, API Management
Consumption) is mutated one property at a time; each test names the policy it expects and checks
that nothing else in the pack objects. Also: name rules, Flex limits and the runtime catalog,
gateway-only apps matched by name, Cosmos DB scopes, basic auth, key-based connection strings,
poison queues and maxDequeueCount, APIM tiers and raw policy expressions, customer-managed keys
and their vaults, Key Vault references, unknown values during preview.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import POLICIES, azure_deployability, exposure, identity
from policy.offline import evaluate, load_export

FIXTURES = Path(__file__).resolve().parent / "policy_fixtures"
BY_NAME = {p.name: p for p in POLICIES}
NEW = ["azure-function-apps-gateway-only", "azure-cosmos-data-roles-container-scope", "azure-app-service-basic-auth-off",
       *[p.name for p in azure_deployability.POLICIES]]
SUB = "6f1c2b7e-3d4a-4c8e-9b1f-2a7d5e8c9f10"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/orders-prod-rg"
COSMOS_ID = f"{RG_ID}/providers/Microsoft.DocumentDB/databaseAccounts/orders-prod-cosmos"


def stack(env: str = "prod") -> list[dict[str, Any]]:
    """A fresh copy of the compliant Flex stack (the dev copy for env dev)."""
    name = "azure-ok-dev.json" if env == "dev" else "azure-ok.json"
    return copy.deepcopy(load_export(FIXTURES / "azure-function-apps-gateway-only" / name))


def find(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in resources if r["urn"].endswith("::" + name))


def patch(resources: list[dict[str, Any]], name: str, change: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
    """Apply `change` to a resource's inputs and outputs alike."""
    r = find(resources, name)
    for key in ("inputs", "outputs"):
        change(r[key])
    return resources


def drop(resources: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [r for r in resources if not any(r["urn"].endswith("::" + n) for n in names)]


def set_setting(resources, app: str, name: str, value: Any) -> list[dict[str, Any]]:
    def change(props):
        entries = props["siteConfig"]["appSettings"]
        entries[:] = [e for e in entries if e["name"] != name] + ([{"name": name, "value": value}] if value is not None else [])
    return patch(resources, app, change)


def resource(typ: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:prod::anycloud::{typ}::{name}", "type": typ, "custom": True, "inputs": inputs,
            "outputs": copy.deepcopy(inputs), "propertyDependencies": deps or {}}


def messages(resources, policy: str, env: str = "prod", config: dict | None = None) -> list[str]:
    report = evaluate(resources, env, config, policies=[BY_NAME[policy]])
    return [v.message for v in report.violations]


def mandatory(resources, env: str = "prod") -> dict[str, list[str]]:
    report = evaluate(resources, env)
    grouped: dict[str, list[str]] = {}
    for v in report.mandatory:
        grouped.setdefault(v.policy, []).append(v.message)
    return grouped


# ------------------------------------------------------------------ the pack


def test_new_policies_are_registered_described_levelled_and_cite_their_sources():
    advisory = {"azure-app-service-basic-auth-off", "azure-flex-consumption-memory-quota"}
    for name in NEW:
        policy = BY_NAME[name]
        level = EnforcementLevel.ADVISORY if name in advisory else EnforcementLevel.MANDATORY
        assert policy.enforcement_level == level, name
        assert policy.description.endswith(".") and policy.remediation_steps, name
        assert all(t.startswith("azure-native:") for t in policy.resource_types), name
    for name in [p.name for p in azure_deployability.POLICIES]:
        assert "learn.microsoft.com" in BY_NAME[name].description, name


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_the_compliant_flex_stack_passes_the_whole_pack_without_notes(env):
    report = evaluate(stack(env), env)
    assert report.violations == [] and report.notes == []


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("typ, prop, good, bad", [
    ("azure-native:storage:StorageAccount", "accountName", ["abc", "ordersprodst01", "a" * 24], ["ab", "Orders", "orders-st", "a" * 25]),
    ("azure-native:keyvault:Vault", "vaultName", ["kv1", "orders-prod-kv", "A" * 24], ["1kv", "kv-", "or--kv", "ab", "a" * 25]),
    ("azure-native:cosmosdb:DatabaseAccount", "accountName", ["abc", "orders-prod-cosmos", "1db"], ["ab", "Orders", "-db", "a" * 45]),
    ("azure-native:web:WebApp", "name", ["ab", "orders-prod-create-order", "a" * 60], ["a", "-app", "app-", "a" * 61, "app_1"]),
    ("azure-native:apimanagement:ApiManagementService", "serviceName", ["a", "orders-apim", "a" * 50], ["1apim", "apim-", "a" * 51]),
    ("azure-native:storage:Queue", "queueName", ["abc", "orders-prod-orders-poison", "a" * 63],
     ["ab", "Orders", "a--b", "-abc", "abc-", "a" * 64]),
    ("azure-native:storage:BlobContainer", "containerName", ["deploy-orders", "$web"], ["ab", "Deploy", "a--b", "a_b"]),
    ("azure-native:managedidentity:UserAssignedIdentity", "resourceName", ["abc", "orders_prod-id", "a" * 128], ["ab", "-id", "a" * 129]),
    ("azure-native:resources:ResourceGroup", "resourceGroupName", ["r", "orders(prod)_rg.1", "a" * 90], ["rg.", "a" * 91, "r/g"]),
    ("azure-native:monitor:ActionGroup", "groupShortName", ["orders", "a" * 12], ["a" * 13]),
    ("azure-native:operationalinsights:Workspace", "workspaceName", ["logs", "a" * 63], ["log", "-logs", "a" * 64]),
    ("azure-native:keyvault:Secret", "secretName", ["payment-api-key"], ["payment_api_key", "a" * 128]),
])
def test_name_rules(typ, prop, good, bad):
    for value in good:
        assert messages([resource(typ, "r", {prop: value})], "azure-names-within-limits") == [], value
    for value in bad:
        (message,) = messages([resource(typ, "r", {prop: value})], "azure-names-within-limits")
        assert f"{prop} {value!r}" in message and "allowed:" in message, value


def test_names_judged_only_when_literal():
    unknown = resource("azure-native:storage:StorageAccount", "st", {"accountName": UNKNOWN_STRING_VALUE})
    absent = resource("azure-native:storage:StorageAccount", "st2", {"resourceGroupName": "rg"})
    report = evaluate([unknown, absent], "prod", policies=[BY_NAME["azure-names-within-limits"]])
    assert report.violations == [] and report.notes == []


# ------------------------------------------------------------------ Flex Consumption


def flex(resources, app: str = "create-order"):
    return lambda change: patch(resources, app, change)


@pytest.mark.parametrize("change, expected", [
    (lambda x: x["functionAppConfig"]["scaleAndConcurrency"].update(instanceMemoryMB=1536), "instanceMemoryMB is 1536"),
    (lambda x: x["functionAppConfig"]["scaleAndConcurrency"].update(maximumInstanceCount=0), "maximumInstanceCount is 0"),
    (lambda x: x["functionAppConfig"]["scaleAndConcurrency"].update(maximumInstanceCount=1001), "maximumInstanceCount is 1001"),
    (lambda x: x["functionAppConfig"]["scaleAndConcurrency"].update(alwaysReady=[{"name": "queue", "instanceCount": 1}]),
     "alwaysReady[0].name is 'queue'"),
    (lambda x: x["functionAppConfig"]["runtime"].update(version="3.9"), "runtime.version is '3.9'"),
    (lambda x: x["functionAppConfig"]["runtime"].update(version=3.1), "runtime.version is 3.1"),
    (lambda x: x["functionAppConfig"]["runtime"].update(name="python3"), "runtime.name is 'python3'"),
    (lambda x: x["siteConfig"].update(alwaysOn=True), "siteConfig.alwaysOn is true"),
    (lambda x: x.update(isXenon=True), "isXenon is true"),
    (lambda x: x["siteConfig"].update(use32BitWorkerProcess=True), "siteConfig.use32BitWorkerProcess is true"),
    (lambda x: x["siteConfig"].update(functionAppScaleLimit=10), "siteConfig.functionAppScaleLimit is 10"),
    (lambda x: x.update(containerSize=1536), "containerSize is 1536"),
])
def test_flex_limits(change, expected):
    resources = stack()
    flex(resources)(change)
    (message,) = messages(resources, "azure-flex-consumption-limits")
    assert expected in message and message.startswith("Flex Consumption function app 'create-order'")


@pytest.mark.parametrize("name", ["FUNCTIONS_WORKER_RUNTIME", "functions_extension_version", "WEBSITE_CONTENTSHARE",
                                  "WEBSITE_TIME_ZONE", "TZ", "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD"])
def test_flex_refuses_deprecated_app_settings_in_any_case(name):
    (message,) = messages(set_setting(stack(), "process-order", name, "x"), "azure-flex-consumption-limits")
    assert f"app setting {name} is set" in message


def test_switches_left_off_are_what_the_sdk_sends_and_pass():
    resources = patch(stack(), "create-order", lambda x: x.update(isXenon=False, hyperV=False))
    patch(resources, "create-order", lambda x: x["siteConfig"].update(alwaysOn=False, use32BitWorkerProcess=False))
    assert messages(resources, "azure-flex-consumption-limits") == []


def test_classic_plans_keep_their_settings_and_flex_is_found_by_plan_id_without_dependencies():
    resources = stack()
    patch(resources, "create-order-plan", lambda x: x.update(sku={"name": "EP1", "tier": "ElasticPremium"}))
    patch(resources, "create-order", lambda x: x.pop("functionAppConfig"))
    set_setting(resources, "create-order", "FUNCTIONS_WORKER_RUNTIME", "python")
    patch(resources, "create-order", lambda x: x["siteConfig"].update(linuxFxVersion="Python|3.12", ftpsState="Disabled"))
    assert messages(resources, "azure-flex-consumption-limits") == []
    resources = stack()
    find(resources, "create-order")["propertyDependencies"]["serverFarmId"] = []
    patch(resources, "create-order", lambda x: x.pop("functionAppConfig"))
    (message,) = messages(resources, "azure-flex-consumption-limits")
    assert "functionAppConfig is not set" in message


def test_flex_python_catalog_and_zone_redundant_always_ready():
    resources = patch(stack(), "fulfil-order", lambda x: x["functionAppConfig"]["runtime"].update(version="3.14"))
    assert messages(resources, "azure-flex-consumption-limits") == []
    (message,) = messages(resources, "azure-flex-consumption-limits", config={"flexPythonVersions": ["3.11", "3.12"]})
    assert "allowed for python: 3.11, 3.12" in message
    resources = patch(stack(), "fulfil-order-plan", lambda x: x.update(zoneRedundant=True))
    (message,) = messages(resources, "azure-flex-consumption-limits")
    assert "alwaysReady[0].instanceCount is 1 on the zone-redundant plan" in message


def test_flex_memory_quota_defaults_regions_and_config():
    resources = stack()
    for app in ("create-order", "process-order"):
        patch(resources, app, lambda x: x["functionAppConfig"].pop("scaleAndConcurrency"))  # defaults: 100 x 2048 MB
    (message,) = messages(resources, "azure-flex-consumption-memory-quota")  # 2 x 204,800 + 2 x 81,920 MB
    assert "573,440 MB ('create-order' 100 x 2048 MB, 'process-order' 100 x 2048 MB, 'fulfil-order' 40 x 2048 MB" in message
    resources = stack()
    for app in ("create-order", "process-order", "fulfil-order"):
        patch(resources, app, lambda x: x["functionAppConfig"]["scaleAndConcurrency"].update(maximumInstanceCount=80,
                                                                                             instanceMemoryMB=4096))
    (message,) = messages(resources, "azure-flex-consumption-memory-quota")
    assert "1,064,960 MB" in message and "512,000 MB" in message
    assert messages(resources, "azure-flex-consumption-memory-quota", config={"flexRegionalMemoryQuotaMB": 2_000_000}) == []
    for app in ("create-order", "process-order"):
        patch(resources, app, lambda x: x.update(location="northeurope"))
        patch(resources, app, lambda x: x["functionAppConfig"]["scaleAndConcurrency"].update(maximumInstanceCount=40))
    assert messages(resources, "azure-flex-consumption-memory-quota") == []  # 327,680 + 409,600 MB: two regions, two quotas


# ------------------------------------------------------------------ function apps behind the gateway

GATEWAY = "azure-function-apps-gateway-only"


def test_auth_settings_are_matched_by_name_and_resource_group_without_dependencies():
    resources = stack()
    auth = find(resources, "create-order-auth")
    auth["propertyDependencies"] = {}
    auth["dependencies"] = []
    assert messages(resources, GATEWAY) == []
    patch(resources, "create-order-auth", lambda x: x.update(resourceGroupName="other-rg"))
    (message,) = messages(resources, GATEWAY)
    assert "Function app 'create-order'" in message and "no azure-native:web:WebAppAuthSettingsV2 names it" in message


@pytest.mark.parametrize("change, expected", [
    (lambda x: x["platform"].update(enabled=False), "platform.enabled is false"),
    (lambda x: x["globalValidation"].update(unauthenticatedClientAction="RedirectToLoginPage"),
     "unauthenticatedClientAction is 'RedirectToLoginPage'"),
    (lambda x: x["globalValidation"].update(excludedPaths=["/api/health"]), "excludedPaths [\"/api/health\"] answer anyone"),
    (lambda x: x["identityProviders"].update(google={"enabled": True}), "identityProviders.google is enabled"),
    (lambda x: x["identityProviders"]["azureActiveDirectory"].update(enabled=False), "azureActiveDirectory is not enabled"),
])
def test_auth_settings_that_let_others_in(change, expected):
    (message,) = messages(patch(stack(), "create-order-auth", change), GATEWAY)
    assert expected in message


@pytest.mark.parametrize("change", [
    lambda x: x["globalValidation"].update(unauthenticatedClientAction="Return403"),
    lambda x: x["identityProviders"]["azureActiveDirectory"]["validation"].update(
        defaultAuthorizationPolicy={"allowedApplications": ["5b7c1d2e-3f40-4a51-8b62-7c83d94e0a15"]}),
    lambda x: x["identityProviders"]["azureActiveDirectory"]["validation"].update(
        defaultAuthorizationPolicy={}, jwtClaimChecks={"allowedClientApplications": ["5b7c1d2e-3f40-4a51-8b62-7c83d94e0a15"]}),
    lambda x: x["identityProviders"].update(google={"enabled": False}),
])
def test_auth_settings_that_restrict_callers(change):
    assert messages(patch(stack(), "create-order-auth", change), GATEWAY) == []


@pytest.mark.parametrize("change, closed", [
    (lambda x: x["siteConfig"].pop("ipSecurityRestrictionsDefaultAction"), False),
    (lambda x: x.update(publicNetworkAccess="Disabled"), True),
    (lambda x: x["siteConfig"].update(ipSecurityRestrictions=[{"name": "block", "ipAddress": "0.0.0.0/0", "action": "Deny"}]), True),
    (lambda x: x["siteConfig"].update(ipSecurityRestrictions=[{"tag": "ServiceTag", "ipAddress": "AzureCloud", "action": "Allow"}]), False),
    (lambda x: x["siteConfig"].update(ipSecurityRestrictionsDefaultAction="Allow"), False),
])
def test_apps_without_http_callers_deny_all_inbound(change, closed):
    found = messages(patch(stack(), "process-order", change), GATEWAY)
    assert (found == []) is closed


def test_gateway_rule_reads_only_function_apps_and_notes_unknown_values():
    resources = patch(stack(), "create-order", lambda x: x.update(kind="app,linux"))
    resources = drop(resources, "create-order-auth")
    assert messages(resources, GATEWAY) == []
    resources = patch(drop(stack(), "create-order-auth"), "process-order",
                      lambda x: x["siteConfig"].update(ipSecurityRestrictionsDefaultAction=UNKNOWN_STRING_VALUE))
    report = evaluate(resources, "prod", policies=[BY_NAME[GATEWAY]])
    assert [v.message.split(" (")[0] for v in report.violations] == ["Function app 'create-order'"]
    assert len(report.notes) == 1 and report.notes[0].startswith(f"{GATEWAY}: can't run")


# ------------------------------------------------------------------ Cosmos DB data roles


@pytest.mark.parametrize("scope, wide", [
    (f"{COSMOS_ID}/dbs/orders/colls/orders", False), ("/dbs/orders/colls/orders", False),
    (f"{COSMOS_ID}/DBS/orders/COLLS/orders/", False), ("/", True), (COSMOS_ID, True), (f"{COSMOS_ID}/dbs/orders", True),
    ("/dbs/orders/", True), ("/dbs/orders/colls", True), (f"{COSMOS_ID}/dbs/orders/colls/orders/items/1", True),
])
def test_cosmos_scopes(scope, wide):
    assert (identity.cosmos_scope_problem(scope) is not None) is wide


def test_cosmos_custom_role_at_database_scope_and_wildcard_definitions():
    resources = patch(stack(), "create-order-orders-write", lambda x: x.update(
        scope="/dbs/orders", roleDefinitionId=f"{COSMOS_ID}/sqlRoleDefinitions/7a1f3c5e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"))
    (message,) = messages(resources, "azure-cosmos-data-roles-container-scope")
    assert "custom role definition 7a1f3c5e-2b4d-4e6f-8a9b-0c1d2e3f4a5b" in message and "database 'orders'" in message
    definition = "azure-native:cosmosdb:SqlResourceSqlRoleDefinition"
    for actions, broad in ((["*"], True), (["Microsoft.DocumentDB/databaseAccounts/*"], True),
                           (["Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/*",
                             "Microsoft.DocumentDB/databaseAccounts/readMetadata"], False)):
        role = resource(definition, "role", {"roleName": "orders-writer", "type": "CustomRole",
                                             "permissions": [{"dataActions": actions}]})
        assert bool(messages([role], "azure-custom-roles-no-wildcards")) is broad, actions


# ------------------------------------------------------------------ transport: FTP and basic auth


def test_flex_apps_are_not_asked_for_ftps_state_but_classic_apps_are():
    assert messages(stack(), "azure-app-service-https-tls12-no-ftp") == []
    resources = patch(stack(), "create-order", lambda x: x.pop("functionAppConfig"))
    (message,) = messages(resources, "azure-app-service-https-tls12-no-ftp")
    assert "siteConfig.ftpsState is not set" in message


@pytest.mark.parametrize("typ", ["WebAppFtpAllowed", "WebAppScmAllowed", "WebAppFtpAllowedSlot", "WebAppScmAllowedSlot"])
def test_publishing_credentials_allowed_is_a_violation(typ):
    policy = resource(f"azure-native:web:{typ}", "basic", {"name": "app", "resourceGroupName": "rg", "allow": True,
                                                           "slot": "staging"})
    (message,) = messages([policy], "azure-app-service-https-tls12-no-ftp")
    assert "allow is true" in message and "basic-auth publishing" in message


def test_basic_auth_off_advises_per_app_and_plan_kind():
    resources = drop(stack(), "create-order-scm-off")
    (message,) = messages(resources, "azure-app-service-basic-auth-off")
    assert "'create-order'" in message and "WebAppScmAllowed(allow=False)" in message
    assert "azure-app-service-basic-auth-off" not in mandatory(resources)
    classic = patch(stack(), "create-order", lambda x: x.pop("functionAppConfig"))
    classic = patch(classic, "create-order-plan", lambda x: x.update(sku={"name": "EP1", "tier": "ElasticPremium"}))
    assert messages(drop(classic, "create-order-ftp-off"), "azure-app-service-basic-auth-off")
    assert messages(drop(stack(), "create-order-ftp-off"), "azure-app-service-basic-auth-off") == []


# ------------------------------------------------------------------ local auth and connection strings


@pytest.mark.parametrize("value, keyed", [
    ("DefaultEndpointsProtocol=https;AccountName=st;AccountKey=abc==;EndpointSuffix=core.windows.net", True),
    ("BlobEndpoint=https://st.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=abc", True),
    ("Endpoint=sb://orders.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=", True),
    ("AccountEndpoint=https://db.documents.azure.com:443/;AccountKey=abc==;", True),
    ("https://st.blob.core.windows.net/c/app.zip?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=abc%3D", True),
    ("@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/conn/)", False),
    ("https://ordersprodst.queue.core.windows.net", False),
    ("UseDevelopmentStorage=true", False),
])
def test_key_based_connection_strings_in_app_settings(value, keyed):
    resources = set_setting(stack(), "process-order", "OrdersConnection", value)
    found = messages(resources, "azure-local-auth-disabled")
    assert bool(found) is keyed
    if keyed:
        assert "OrdersConnection" in found[0] and "abc" not in found[0]  # the secret itself is never repeated


def test_connection_strings_block_and_app_insights_local_auth():
    resources = patch(stack(), "charge-payment", lambda x: x["siteConfig"].update(connectionStrings=[
        {"name": "orders", "type": "Custom", "connectionString": "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b"}]))
    (message,) = messages(resources, "azure-local-auth-disabled")
    assert "siteConfig.connectionStrings[orders].connectionString (SharedAccessKey=...)" in message
    resources = patch(stack(), "orders-ai", lambda x: x.pop("disableLocalAuth"))
    (message,) = messages(resources, "azure-local-auth-disabled")
    assert "disableLocalAuth is not set" in message and "instrumentation keys" in message


# ------------------------------------------------------------------ poison queues and maxDequeueCount

DEAD = "queues-dead-lettered"


@pytest.mark.parametrize("value, ok", [("1", True), ("5", True), (100, True), ("0", False), ("101", False), ("five", False),
                                      ("2.5", False), (UNKNOWN_STRING_VALUE, True)])
def test_max_dequeue_count_bounds(value, ok):
    resources = set_setting(stack(), "process-order", "AzureFunctionsJobHost__extensions__queues__maxDequeueCount", value)
    assert (messages(resources, DEAD) == []) is ok


def test_max_dequeue_required_for_declared_consumers_only():
    resources = set_setting(stack(), "process-order", "AzureFunctionsJobHost__extensions__queues__maxDequeueCount", None)
    (message,) = messages(resources, DEAD)
    assert "ANYCLOUD_TRIGGER_QUEUE 'orders-prod-orders' makes it a queue consumer" in message
    resources = set_setting(resources, "process-order", "ANYCLOUD_TRIGGER_QUEUE", None)
    (message,) = messages(resources, DEAD)
    assert "ANYCLOUD_TRIGGERS 'consumer' makes it a queue consumer" in message
    assert messages(set_setting(copy.deepcopy(resources), "process-order", "ANYCLOUD_TRIGGERS", "route,orchestrator"), DEAD)
    resources = set_setting(resources, "process-order", "ANYCLOUD_TRIGGERS", "route")
    assert messages(resources, DEAD) == []  # another app may keep it in host.json
    lower_name = set_setting(stack(), "process-order", "AzureFunctionsJobHost__extensions__queues__maxDequeueCount", None)
    lower_name = set_setting(lower_name, "process-order", "azurefunctionsjobhost__extensions__queues__maxdequeuecount", "7")
    assert messages(lower_name, DEAD) == []


def test_poison_queue_found_through_dependencies_when_names_are_unknown():
    resources = stack()
    for name in ("orders-queue", "orders-poison"):
        patch(resources, name, lambda x: x.update(accountName=UNKNOWN_STRING_VALUE))
    report = evaluate(resources, "prod", policies=[BY_NAME[DEAD]])
    assert report.violations == [] and report.notes == []
    find(resources, "orders-poison")["propertyDependencies"]["accountName"] = [
        "urn:pulumi:prod::anycloud::azure-native:storage:StorageAccount::host-storage"]
    (message,) = messages(resources, DEAD)
    assert "no queue 'orders-prod-orders-poison'" in message and "another account" in message


def test_a_poison_queue_needs_no_poison_queue_and_names_compare_case_insensitively():
    resources = patch(stack(), "orders-poison", lambda x: x.update(queueName="ORDERS-PROD-ORDERS-POISON"))
    assert messages(resources, DEAD) == []


# ------------------------------------------------------------------ API Management


def test_apim_consumption_reads_the_tier_from_the_service_and_the_service_from_the_arm_id():
    resources = patch(stack(), "post-orders-policy", lambda x: x.update(value=x["value"].replace(
        "<base />", '<base /><rate-limit-by-key calls="5" renewal-period="60" counter-key="@(context.Request.IpAddress)" />', 1)))
    find(resources, "post-orders-policy")["propertyDependencies"] = {}
    patch(resources, "post-orders-policy", lambda x: x.pop("serviceName"))
    find(resources, "post-orders-policy")["outputs"]["id"] = f"{RG_ID}/providers/Microsoft.ApiManagement/service/orders-prod-apim/apis/orders/operations/post-orders/policies/policy"
    (message,) = messages(resources, "azure-apim-consumption-tier-policies")
    assert "<rate-limit-by-key>" in message and "use <rate-limit>" in message
    dapr = patch(stack(), "post-orders-policy", lambda x: x.update(value=x["value"].replace(
        '<set-backend-service backend-id="orders-prod-create-order" />',
        '<set-backend-service backend-id="dapr" dapr-app-id="orders" dapr-method="create" />')))
    (message,) = messages(dapr, "azure-apim-consumption-tier-policies")
    assert "set-backend-service with dapr-* attributes" in message


def test_raw_policy_expressions_do_not_hide_token_validation():
    text = exposure.strip_policy_expressions('<v a="@(x.Get("a") && b < c)">@{ var s = ")"; return s; }</v>')
    assert text == '<v a="@expr">@expr</v>'
    resources = stack()
    assert "&&" in find(resources, "orders-api-policy")["inputs"]["value"]  # not XML as written
    assert messages(resources, "api-routes-require-auth") == []
    resources = patch(resources, "orders-api-policy", lambda x: x.update(value=x["value"].replace("validate-jwt", "check-header")))
    assert len(messages(resources, "api-routes-require-auth")) == 2  # POST /orders and GET /orders/{order_id}; /health is public


# ------------------------------------------------------------------ customer-managed keys


def test_storage_account_scoped_keys_only_for_customer_managed_keys():
    resources = patch(stack(), "orders-storage", lambda x: x["encryption"].update(keySource="Microsoft.Storage", services={}))
    assert messages(resources, "azure-storage-queue-table-keys-account-scoped") == []
    resources = patch(stack(), "orders-storage", lambda x: x["encryption"].update(keySource="microsoft.keyvault", services={}))
    (message,) = messages(resources, "azure-storage-queue-table-keys-account-scoped")
    assert "queue.keyType is not set and encryption.services.table.keyType is not set" in message


def test_cosmos_cmk_identity_periodic_backup_and_map_form_identities():
    resources = patch(stack(), "orders-cosmos", lambda x: x.update(defaultIdentity="SystemAssignedIdentity",
                                                                   backupPolicy={"type": "Periodic"}))
    assert messages(resources, "azure-cosmos-cmk-continuous-backup-identity") == []
    resources = stack()
    cosmos = find(resources, "orders-cosmos")
    ids = cosmos["outputs"]["identity"]["userAssignedIdentities"]
    cosmos["outputs"]["identity"]["userAssignedIdentities"] = {i.upper(): {} for i in ids}  # outputs key them by id
    cosmos["inputs"] = None  # resource policies then read the outputs, as a `pulumi stack export` may have only them
    assert messages(resources, "azure-cosmos-cmk-continuous-backup-identity") == []


def test_cmk_vault_found_by_dependency_and_bypass_accepted():
    resources = patch(stack(), "orders-kv", lambda x: x["properties"]["networkAcls"].update(defaultAction="Deny"))
    assert messages(resources, "azure-cmk-vault-reachable") == []  # AzureServices bypass: Storage and Cosmos DB get through
    resources = patch(stack(), "orders-kv", lambda x: x["properties"].update(publicNetworkAccess="Disabled"))
    patch(resources, "orders-storage", lambda x: x["encryption"]["keyVaultProperties"].update(keyVaultUri=UNKNOWN_STRING_VALUE))
    found = messages(resources, "azure-cmk-vault-reachable")
    assert any("'orders-storage'" in m for m in found)  # matched through the encryption dependency on the vault


# ------------------------------------------------------------------ Key Vault references


def test_references_by_vault_name_system_identity_and_dependencies():
    ref = "@Microsoft.KeyVault(VaultName=orders-prod-kv;SecretName=payment-api-key)"
    resources = set_setting(stack(), "charge-payment", "ANYCLOUD_SECRET_PAYMENT_API_KEY", ref)
    assert messages(resources, "azure-key-vault-references-resolvable") == []
    resources = patch(stack(), "charge-payment", lambda x: x.pop("keyVaultReferenceIdentity"))
    assert messages(resources, "azure-key-vault-references-resolvable") == []  # the dependency says it is set
    find(resources, "charge-payment")["propertyDependencies"].pop("keyVaultReferenceIdentity")
    assert messages(resources, "azure-key-vault-references-resolvable")
    patch(resources, "charge-payment", lambda x: x.update(identity={"type": "SystemAssigned, UserAssigned",
                                                                    "userAssignedIdentities": x["identity"]["userAssignedIdentities"]}))
    assert messages(resources, "azure-key-vault-references-resolvable") == []


def test_code_reads_of_a_closed_vault_and_vaults_outside_the_stack():
    resources = patch(stack(), "orders-kv", lambda x: x["properties"].update(publicNetworkAccess="Disabled"))
    set_setting(resources, "create-order", "ANYCLOUD_SECRET_X", "https://orders-prod-kv.vault.azure.net/secrets/x")
    found = messages(resources, "azure-key-vault-references-resolvable")
    assert len(found) == 2 and any("'create-order'" in m and "ANYCLOUD_SECRET_X reads Key Vault 'orders-kv'" in m
                                   for m in found)
    other = set_setting(stack(), "charge-payment", "ANYCLOUD_SECRET_PAYMENT_API_KEY",
                        "@Microsoft.KeyVault(SecretUri=https://elsewhere-kv.vault.azure.net/secrets/k/)")
    assert messages(other, "azure-key-vault-references-resolvable") == []
