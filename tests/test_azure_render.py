"""The Azure rendering: identities exactly per the verb table, and every security-relevant input."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from xml.etree import ElementTree

import pytest

from tests.services import REFERENCE
from components.azure import identity as roles
from components.azure.table import DATA_ROLES
from components.mock_engine import Rendering
from components.wiring import env_name
from tests.conftest import AZURE_DEV, refused_before_registering, render_config

IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
COSMOS_ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
APP = "azure-native:web:WebApp"
AUTH = "azure-native:web:WebAppAuthSettingsV2"
QUEUE = "azure-native:storage:Queue"
ACCOUNT = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
COSMOS = "azure-native:cosmosdb:DatabaseAccount"
COSMOS_CONTAINER = "azure-native:cosmosdb:SqlResourceSqlContainer"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
SECRET = "azure-native:keyvault:Secret"
APIM = "azure-native:apimanagement:ApiManagementService"
OPERATION_POLICY = "azure-native:apimanagement:ApiOperationPolicy"
LOCK = "azure-native:authorization:ManagementLockByScope"


def by_name(r: Rendering, typ: str) -> dict:
    return {x.name: x for x in r.of_type(typ)}


def principal(r: Rendering, name: str) -> str:
    return by_name(r, IDENTITY)[f"{name}-identity"].outputs["principalId"]


def settings(r: Rendering, app: str) -> dict[str, str]:
    return {s["name"]: s["value"] for s in by_name(r, APP)[app].inputs["siteConfig"]["appSettings"]}


def assignments(r: Rendering) -> dict[str, set[tuple[str, str]]]:
    """principal id -> {(role GUID, scope)} over Azure RBAC and Cosmos data-plane assignments."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for a in r.of_type(ASSIGNMENT) + r.of_type(COSMOS_ASSIGNMENT):
        out[a.inputs["principalId"]].add((a.inputs["roleDefinitionId"].rsplit("/", 1)[-1], a.inputs["scope"]))
    return out


def queue_scope(r: Rendering, logical: str) -> str:
    return by_name(r, QUEUE)[logical].id


def expected_function_roles(r: Rendering, fn) -> set[tuple[str, str]]:
    """The verb table (DESIGN.md section 3) plus what every app needs, rebuilt from the spec and
    the ids of the resources themselves."""
    accounts = by_name(r, ACCOUNT)
    cosmos = by_name(r, COSMOS)["tables"].id
    out = {
        (roles.BLOB_CONTRIBUTOR, by_name(r, CONTAINER)[f"deploy-{fn.name}"].id),
        (roles.BLOB_OWNER, accounts[f"storage-host-{fn.name}"].id),
        (roles.METRICS_PUBLISHER, r.of_type("azure-native:applicationinsights:Component")[0].id),
    }
    for access in fn.uses:
        if access.kind == "table":
            out.add((DATA_ROLES[access.verb], f"{cosmos}/dbs/tables/colls/{access.resource}"))
        elif access.kind == "queue":
            out.add((roles.QUEUE_SENDER, queue_scope(r, access.resource)))
        elif access.kind == "workflow":
            out.add((roles.QUEUE_SENDER, queue_scope(r, f"{access.resource}-start")))
        else:
            vault = by_name(r, VAULT)["secrets"].id
            out.add((roles.SECRETS_USER, f"{vault}/secrets/{access.resource}"))
    for queue in REFERENCE.queues:
        if queue.consumer == fn.name:
            out |= {(roles.QUEUE_CONTRIBUTOR, queue_scope(r, queue.name)),
                    (roles.QUEUE_SENDER, queue_scope(r, f"{queue.name}-poison"))}
    return out


# ------------------------------------------------------------------ identity


@pytest.mark.parametrize("fixture", ["azure_prod", "azure_dev"])
def test_each_function_identity_holds_exactly_its_declared_roles(fixture, request):
    r = request.getfixturevalue(fixture)
    held = assignments(r)
    for fn in REFERENCE.functions:
        assert held[principal(r, fn.name)] == expected_function_roles(r, fn), fn.name


def test_the_orchestrator_holds_its_start_queue_and_its_own_hub_account_only(azure_prod):
    r = azure_prod
    hub = by_name(r, ACCOUNT)["storage-host-fulfil-order-run"].id
    start = queue_scope(r, "fulfil-order-start")
    assert assignments(r)[principal(r, "fulfil-order-run")] == {
        (roles.BLOB_CONTRIBUTOR, by_name(r, CONTAINER)["deploy-fulfil-order-run"].id),
        (roles.BLOB_OWNER, hub), (roles.QUEUE_CONTRIBUTOR, hub), (roles.TABLE_CONTRIBUTOR, hub),
        (roles.METRICS_PUBLISHER, r.of_type("azure-native:applicationinsights:Component")[0].id),
        (roles.QUEUE_CONTRIBUTOR, start), (roles.QUEUE_SENDER, queue_scope(r, "fulfil-order-start-poison")),
    }


def test_each_key_consumer_encrypts_as_its_own_identity_with_the_key_alone(azure_prod):
    """The data account and Cosmos DB each have their own key identity; the host accounts share
    one (it only wraps with the service key); each waits for its grant to settle."""
    r = azure_prod
    key_scope = f"{by_name(r, VAULT)['keys'].id}/keys/service-key"
    consumers = {"storage-data", "storage-hosts", "cosmos"}
    for consumer in consumers:
        assert assignments(r)[principal(r, f"cmk-{consumer}")] == {(roles.CRYPTO_ENCRYPTION_USER, key_scope)}
    identities = {x.inputs["identity"]["userAssignedIdentities"][0] for x in r.of_type(ACCOUNT) + r.of_type(COSMOS)}
    assert identities == {by_name(r, IDENTITY)[f"cmk-{c}-identity"].id for c in consumers}
    sleeps = {s.name: s for s in r.of_type("time:index/sleep:Sleep")}
    for consumer in consumers:
        sleep = sleeps[f"cmk-{consumer}-grant-settled"]
        assert sleep.inputs == {"createDuration": "120s"}
        assert by_name(r, ASSIGNMENT)[f"cmk-{consumer}-uses-key"].urn in sleep.dependencies
    for account in r.of_type(ACCOUNT) + r.of_type(COSMOS):
        assert any(u.endswith("-grant-settled") for u in account.dependencies), account.name


def test_every_app_has_its_own_host_account_and_the_task_hub_is_protected_in_prod(azure_prod, azure_dev):
    for r in (azure_prod, azure_dev):
        accounts = by_name(r, ACCOUNT)
        for app in r.of_type(APP):
            name = app.name
            assert settings(r, name)["AzureWebJobsStorage__accountName"] == accounts[f"storage-host-{name}"].outputs["name"]
            owners = [a for a in r.of_type(ASSIGNMENT) if a.inputs["scope"] == accounts[f"storage-host-{name}"].id]
            assert {a.inputs["principalId"] for a in owners} == {principal(r, name)}
    assert by_name(azure_prod, ACCOUNT)["storage-host-fulfil-order-run"].protect
    assert not by_name(azure_dev, ACCOUNT)["storage-host-fulfil-order-run"].protect
    assert not by_name(azure_prod, ACCOUNT)["storage-host-create-order"].protect


def test_vault_and_gateway_names_end_in_the_stack_instances_random_suffix(azure_prod):
    (suffix,) = azure_prod.of_type("random:index/randomString:RandomString")
    assert (suffix.inputs["length"], suffix.inputs["special"], suffix.inputs["upper"], suffix.protect) == (6, False, False, True)
    result = suffix.outputs["result"]
    for typ, key in ((VAULT, "vaultName"), (APIM, "serviceName")):
        for x in azure_prod.of_type(typ):
            assert x.inputs[key].endswith(f"-{result}"), x.name
            assert suffix.urn in x.property_dependencies[key]


def test_apps_recreate_on_update_and_alerted_apps_keep_their_traces(azure_prod):
    alerted = {"process-order", "fulfil-order-run", "charge-payment"}  # poison, workflow failures, a secret
    for app in azure_prod.of_type(APP):
        assert app.inputs["functionAppConfig"]["siteUpdateStrategy"] == {"type": "Recreate"}
        kept = settings(azure_prod, app.name).get(
            "AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__excludedTypes")
        assert (kept == "Request;Trace") is (app.name in alerted), app.name


def test_no_privileged_role_and_no_assignment_above_a_resource(azure_prod):
    for a in azure_prod.of_type(ASSIGNMENT):
        guid = a.inputs["roleDefinitionId"].rsplit("/", 1)[-1]
        assert guid not in {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"}
        assert re.match(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+", a.inputs["scope"]), a.name
        assert a.inputs["principalType"] == "ServicePrincipal"
    for a in azure_prod.of_type(COSMOS_ASSIGNMENT):
        assert re.search(r"/dbs/tables/colls/[a-z-]+$", a.inputs["scope"]), a.name


def test_one_identity_and_one_plan_per_app(azure_prod):
    apps = azure_prod.of_type(APP)
    assert len(apps) == len(REFERENCE.functions) + len(REFERENCE.workflows)
    for app in apps:
        (identity,) = app.inputs["identity"]["userAssignedIdentities"]
        assert identity == app.inputs["keyVaultReferenceIdentity"] == by_name(azure_prod, IDENTITY)[f"{app.name}-identity"].id
        assert app.inputs["serverFarmId"] == by_name(azure_prod, "azure-native:web:AppServicePlan")[f"{app.name}-plan"].id
    assert len({a.inputs["serverFarmId"] for a in apps}) == len(apps)


# ------------------------------------------------------------------ callers


@pytest.mark.parametrize("fixture", ["azure_prod", "azure_dev"])
def test_http_apps_accept_their_callers_only_and_the_others_accept_no_inbound_traffic(fixture, request):
    """Route apps: API Management's identity; task apps: their workflow's orchestrator identity.
    The same principal ids in App Service authentication and in the settings the app verifies
    each token with itself; the audience and tenant of the registration, and Entra ID's keys."""
    from components.azure.mocks import TENANT

    r = request.getfixturevalue(fixture)
    gateway = principal(r, "gateway")
    orchestrator = principal(r, "fulfil-order-run")
    routes = {route.function for route in REFERENCE.api.routes}
    tasks = set(REFERENCE.workflows[0].task_functions())
    auth = by_name(r, AUTH)
    audience = r.of_type("azuread:index/application:Application")[0].outputs["clientId"]
    for app in r.of_type(APP):
        name, s = app.name, settings(r, app.name)
        assert "ANYCLOUD_CALLER_KEYS_URL" not in s, name  # tests only: a deployed app reads Entra ID's keys
        if name in routes | tasks:
            expected = ([gateway] if name in routes else []) + ([orchestrator] if name in tasks else [])
            assert s["ANYCLOUD_CALLERS"].split(",") == expected, name
            assert (s["ANYCLOUD_CALLER_AUDIENCE"], s["ANYCLOUD_CALLER_TENANT"]) == (audience, TENANT)
            settings_ = auth[f"{name}-callers"].inputs
            assert settings_["name"] == app.outputs["name"]
            assert settings_["globalValidation"] == {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"}
            aad = settings_["identityProviders"]["azureActiveDirectory"]
            assert aad["validation"]["defaultAuthorizationPolicy"]["allowedPrincipals"]["identities"] == expected
            assert aad["validation"]["allowedAudiences"] == [audience, f"api://{audience}"]
            assert aad["registration"]["openIdIssuer"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"
            assert "ipSecurityRestrictionsDefaultAction" not in app.inputs["siteConfig"]
        else:
            assert f"{name}-callers" not in auth
            assert not {"ANYCLOUD_CALLERS", "ANYCLOUD_CALLER_AUDIENCE", "ANYCLOUD_CALLER_TENANT"} & set(s), name
            assert app.inputs["siteConfig"]["ipSecurityRestrictionsDefaultAction"] == "Deny"
            assert not app.inputs["siteConfig"].get("ipSecurityRestrictions")


def test_the_callers_identities_exist_before_the_apps_that_name_them(azure_prod):
    """API Management calls as its user-assigned identity (the policy names its client id), and
    the orchestrator app runs as the identity its task apps already name."""
    r = azure_prod
    identities = by_name(r, IDENTITY)
    gateway, orchestrator = identities["gateway-identity"], identities["fulfil-order-run-identity"]
    (service,) = r.of_type(APIM)
    assert service.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {gateway.id: {}}}
    assert gateway.urn in service.property_dependencies["identity"]
    for policy in r.of_type(OPERATION_POLICY):
        managed = ElementTree.fromstring(policy.inputs["value"]).find("inbound/authentication-managed-identity")
        assert managed.get("client-id") == gateway.outputs["clientId"]
    assert by_name(r, APP)["fulfil-order-run"].inputs["identity"]["userAssignedIdentities"] == [orchestrator.id]
    for task in REFERENCE.workflows[0].task_functions():
        assert orchestrator.urn in by_name(r, APP)[task].property_dependencies["siteConfig"], task
    assert sum(1 for x in r.of_type(IDENTITY) if x.name == "fulfil-order-run-identity") == 1


# ------------------------------------------------------------------ resources


def test_key_vaults_are_rbac_recoverable_and_the_key_vault_admits_trusted_services_only(azure_prod, azure_dev):
    for r, retention in ((azure_prod, 90), (azure_dev, 7)):
        vaults = by_name(r, VAULT)
        for name, public in (("keys", False), ("secrets", True)):
            p = vaults[name].inputs["properties"]
            assert (p["enableRbacAuthorization"], p["enableSoftDelete"], p["enablePurgeProtection"]) == (True, True, True)
            assert p["softDeleteRetentionInDays"] == retention
            assert p["networkAcls"] == {"defaultAction": "Allow" if public else "Deny", "bypass": "AzureServices"}
        key = r.of_type(KEY)[0].inputs["properties"]
        assert (key["kty"], key["keySize"], key["keyOps"]) == ("RSA", 3072, ["wrapKey", "unwrapKey"])
        assert key["rotationPolicy"]["lifetimeActions"] == [{"action": {"type": "rotate"},
                                                              "trigger": {"timeAfterCreate": "P11M"}}]
    assert by_name(azure_prod, VAULT)["keys"].protect and not by_name(azure_dev, VAULT)["keys"].protect


def test_storage_accounts_are_hardened_and_encrypted_with_the_key(azure_prod):
    vault_uri = by_name(azure_prod, VAULT)["keys"].outputs["properties"]["vaultUri"]
    for account in azure_prod.of_type(ACCOUNT):
        i = account.inputs
        assert (i["allowSharedKeyAccess"], i["allowBlobPublicAccess"], i["minimumTlsVersion"],
                i["enableHttpsTrafficOnly"], i["defaultToOAuthAuthentication"]) == (False, False, "TLS1_2", True, True)
        e = i["encryption"]
        assert (e["keySource"], e["requireInfrastructureEncryption"]) == ("Microsoft.Keyvault", True)
        assert e["keyVaultProperties"] == {"keyName": "service-key", "keyVaultUri": vault_uri}
        assert {s: v["keyType"] for s, v in e["services"].items()} == {s: "Account" for s in ("blob", "file", "queue", "table")}
        assert e["encryptionIdentity"]["encryptionUserAssignedIdentity"] == i["identity"]["userAssignedIdentities"][0]
        assert len(account.outputs["name"]) <= 24 and account.outputs["name"].isalnum()


def test_without_customer_keys_nothing_names_a_key():
    r = render_config({**AZURE_DEV, "anycloud:customerManagedKeys": "false"}, "dev")
    assert not r.of_type(KEY) and "keys" not in by_name(r, VAULT)
    assert {a.inputs["encryption"]["keySource"] for a in r.of_type(ACCOUNT)} == {"Microsoft.Storage"}
    assert "keyVaultKeyUri" not in r.of_type(COSMOS)[0].inputs
    assert not any(n.startswith("cmk-") for n in by_name(r, IDENTITY))


def test_apps_are_flex_linux_python_https_tls12_with_identity_connections_only(azure_prod):
    r = azure_prod
    for app in r.of_type(APP):
        i = app.inputs
        assert (i["kind"], i["httpsOnly"]) == ("functionapp,linux", True)
        assert {k: i["siteConfig"][k] for k in ("minTlsVersion", "scmMinTlsVersion")} == {"minTlsVersion": "1.2",
                                                                                          "scmMinTlsVersion": "1.2"}
        assert "ftpsState" not in i["siteConfig"] and "netFrameworkVersion" not in i["siteConfig"]
        assert i["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.12"}
        s = settings(r, app.name)
        client = by_name(r, IDENTITY)[f"{app.name}-identity"].outputs["clientId"]
        assert s["AZURE_CLIENT_ID"] == s["AzureWebJobsStorage__clientId"] == client
        assert s["AzureWebJobsStorage__credential"] == "managedidentity"
        assert s["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == f"ClientId={client};Authorization=AAD"
        for name, value in s.items():
            assert not re.search(r"AccountKey=|SharedAccessSignature=|AccountEndpoint=.*;AccountKey", str(value)), name
        for flex_rejects in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"):
            assert flex_rejects not in s
    for kind in ("WebAppFtpAllowed", "WebAppScmAllowed"):
        assert {x.inputs["allow"] for x in r.of_type(f"azure-native:web:{kind}")} == {False}
        assert len(r.of_type(f"azure-native:web:{kind}")) == len(r.of_type(APP))


def test_memory_timeout_and_always_ready_come_from_the_spec_and_stack_config(azure_prod):
    r = azure_prod
    create = by_name(r, APP)["create-order"].inputs["functionAppConfig"]["scaleAndConcurrency"]
    assert create["alwaysReady"] == [{"name": "http", "instanceCount": 2}]  # anycloud:functions warmInstances
    assert create["instanceMemoryMB"] == 512 and create["maximumInstanceCount"] == 40
    spec = REFERENCE.function("create-order")
    seconds = spec.timeout_s
    assert settings(r, "create-order")["AzureFunctionsJobHost__functionTimeout"] == f"00:00:{seconds:02d}"
    assert "alwaysReady" not in by_name(r, APP)["get-order"].inputs["functionAppConfig"]["scaleAndConcurrency"]


def test_functions_get_their_wiring_and_nothing_undeclared(azure_prod):
    r = azure_prod
    cosmos = by_name(r, COSMOS)["tables"].outputs["documentEndpoint"]
    for fn in REFERENCE.functions:
        s = settings(r, fn.name)
        wired = {k for k in s if re.match(r"ANYCLOUD_(TABLE|QUEUE|WORKFLOW|SECRET)_", k)}
        assert wired == {env_name(a.kind, a.resource) for a in fn.uses}, fn.name
        for queue in {a.resource for a in fn.uses if a.kind == "queue"}:
            assert s[env_name("retention", queue)] == str(REFERENCE.queue(queue).retention_days * 86400)
        assert s["ANYCLOUD_HANDLER"] == fn.handler
        assert s["ANYCLOUD_TIMEOUT_S"] == str(fn.timeout_s)
        for access in fn.uses:
            value = s[env_name(access.kind, access.resource)]
            if access.kind == "table":
                assert value == f"{cosmos.rstrip('/')}/dbs/tables/colls/{access.resource}"
            elif access.kind == "secret":
                vault = by_name(r, VAULT)["secrets"].outputs["properties"]["vaultUri"]
                assert value == f"@Microsoft.KeyVault(SecretUri={vault.rstrip('/')}/secrets/{access.resource}/)"
            else:
                queue = by_name(r, QUEUE)[access.resource if access.kind == "queue" else f"{access.resource}-start"]
                assert value.endswith(f".queue.core.windows.net/{queue.outputs['name']}")


def test_the_consumer_drains_its_queue_and_poisons_after_max_receives(azure_prod):
    r = azure_prod
    (queue,) = REFERENCE.queues
    names = {q.name: q.inputs["queueName"] for q in r.of_type(QUEUE)}
    assert names[f"{queue.name}-poison"] == f"{names[queue.name]}-poison" and len(names[queue.name]) <= 56
    s = settings(r, queue.consumer)
    assert s["AzureFunctionsJobHost__extensions__queues__maxDequeueCount"] == str(queue.max_receives)
    assert s["ANYCLOUD_TRIGGER_QUEUE"] == names[queue.name]
    assert s["ANYCLOUD_TRIGGER__queueServiceUri"] == by_name(r, ACCOUNT)["storage-data"].outputs["primaryEndpoints"]["queue"]
    assert s["ANYCLOUD_TRIGGERS"] == "consumer"


def test_tables_are_serverless_keyless_recoverable_and_locked_in_prod(azure_prod, azure_dev):
    i = by_name(azure_prod, COSMOS)["tables"].inputs
    assert (i["disableLocalAuth"], i["disableKeyBasedMetadataWriteAccess"], i["minimalTlsVersion"]) == (True, True, "Tls12")
    assert i["capabilities"] == [{"name": "EnableServerless"}]
    assert i["backupPolicy"] == {"type": "Continuous", "continuousModeProperties": {"tier": "Continuous7Days"}}
    cmk = by_name(azure_prod, IDENTITY)["cmk-cosmos-identity"].id
    assert i["defaultIdentity"] == f"UserAssignedIdentity={cmk}"
    assert i["keyVaultKeyUri"] == azure_prod.of_type(KEY)[0].outputs["keyUri"]
    (lock,) = azure_prod.of_type(LOCK)  # on the database: the account's grants must stay changeable
    (database,) = azure_prod.of_type("azure-native:cosmosdb:SqlResourceSqlDatabase")
    assert (lock.inputs["level"], lock.inputs["scope"]) == ("CanNotDelete", database.id)
    assert database.id.endswith("/sqlDatabases/tables") and database.protect
    assert not azure_dev.of_type(LOCK)
    containers = by_name(azure_prod, COSMOS_CONTAINER)
    assert all(c.protect for c in containers.values())
    orders = containers["orders"].inputs["resource"]
    assert orders["partitionKey"] == {"paths": ["/order_id"], "kind": "Hash", "version": 2}
    assert orders["defaultTtl"] == -1
    assert orders["indexingPolicy"]["compositeIndexes"] == [
        [{"path": "/customer_id", "order": "ascending"}, {"path": "/created_at", "order": order}]
        for order in ("ascending", "descending")]


def test_the_workflow_definition_calls_each_task_app_and_never_overwrites_an_instance(azure_prod):
    r = azure_prod
    s = settings(r, "fulfil-order-run")
    definition = json.loads(s["ANYCLOUD_DEFINITION"])
    audience = r.of_type("azuread:index/application:Application")[0].outputs["clientId"]
    hosts = {a.name: a.outputs["defaultHostName"] for a in r.of_type(APP)}

    def targets(graph):
        for step in graph["steps"].values():
            if step["kind"] == "task":
                assert step["audience"] == audience
                yield step["target"]
            for branch in step.get("branches", []):
                yield from targets(branch)

    assert set(targets(definition)) == {f"https://{hosts[t]}/api/task" for t in REFERENCE.workflows[0].task_functions()}
    assert s["AzureFunctionsJobHost__extensions__durableTask__overridableExistingInstanceStates"] == "NonRunningStates"
    assert s["AzureFunctionsJobHost__extensions__durableTask__hubName"] == "hubfulfilorder"
    assert s["AzureWebJobsStorage__accountName"] == by_name(r, ACCOUNT)["storage-host-fulfil-order-run"].outputs["name"]


def test_api_operations_validate_the_jwt_on_non_public_routes_and_call_their_backend(azure_prod):
    policies = {p.inputs["operationId"]: p.inputs["value"] for p in azure_prod.of_type(OPERATION_POLICY)}
    audience = azure_prod.of_type("azuread:index/application:Application")[0].outputs["clientId"]
    assert len(policies) == len(REFERENCE.api.routes)
    for route in REFERENCE.api.routes:
        op = f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '-', route.path).rstrip('-')}"
        inbound = ElementTree.fromstring(policies[op]).find("inbound")
        tags = [c.tag for c in inbound]
        assert tags[0] == "base"
        assert ("validate-jwt" in tags) is (not route.public)
        assert inbound.find("set-backend-service").get("backend-id") == route.function
        assert inbound.find("authentication-managed-identity").get("resource") == audience
    api = ElementTree.fromstring(azure_prod.of_type("azure-native:apimanagement:ApiPolicy")[0].inputs["value"])
    assert [o.text for o in api.iter("origin")] == ["https://shop.example.com"]
    # rate-limit counts per subscription and the API takes none: it would do nothing (limitations say so)
    assert api.find("inbound/rate-limit") is None and api.find("inbound/quota") is None


def test_alerts_and_retention(azure_prod):
    r = azure_prod
    (group,) = r.of_type("azure-native:monitor:ActionGroup")
    assert group.inputs["emailReceivers"][0]["emailAddress"] == "oncall@example.com"
    assert r.of_type("azure-native:operationalinsights:Workspace")[0].inputs["retentionInDays"] == 365
    assert r.of_type("azure-native:applicationinsights:Component")[0].inputs["disableLocalAuth"] is True
    alerts = {a.name for a in r.of_type("azure-native:monitor:MetricAlert") + r.of_type("azure-native:monitor:ScheduledQueryRule")}
    assert alerts == {f"{a.name}-failures" for a in r.of_type(APP)} | {"orders-poison", "fulfil-order-failures", "api-5xx",
                                                                  "secrets-unresolved"}
    from functions.runtime.azure.entry import UNRESOLVED_SECRET
    (unresolved,) = [a for a in r.of_type("azure-native:monitor:ScheduledQueryRule") if a.name == "secrets-unresolved"]
    role = by_name(r, APP)["charge-payment"].outputs["name"]
    assert unresolved.inputs["criteria"]["allOf"][0]["query"] == (
        f'traces | where cloud_RoleName in ("{role}") and message has "{UNRESOLVED_SECRET}"')


def test_what_azure_cannot_do_is_said_not_dropped(azure_prod):
    notes = " ".join(azure_prod.outputs["limitations"])
    assert "rate-limit-by-key" in notes and "512, 2048 or 4096 MB" in notes
    assert f"declared throttle ({REFERENCE.api.throttle.rate_limit}/s" in notes


def test_a_function_consuming_two_queues_is_refused_before_anything_is_registered():
    from components.spec import QueueSpec, ServiceSpec, SpecError
    second = QueueSpec(name="more", consumer="process-order")
    spec = ServiceSpec(**{**REFERENCE.model_dump(), "queues": [*[q.model_dump() for q in REFERENCE.queues], second.model_dump()]})
    error = refused_before_registering({**AZURE_DEV}, SpecError, spec=spec)
    assert str(error).startswith("queues.more.consumer: 'process-order' already consumes queue 'orders'")


def test_global_names_fit_azure_and_differ_per_stack():
    dev, prod = render_config(AZURE_DEV, "dev"), render_config({**AZURE_DEV, "anycloud:environment": "dev"}, "other")
    for typ, limit in ((ACCOUNT, 24), (VAULT, 24), (COSMOS, 44), (APIM, 50), (APP, 32)):
        for a, b in zip(dev.of_type(typ), prod.of_type(typ)):
            assert len(a.outputs["name"]) <= limit and a.outputs["name"] != b.outputs["name"]


@pytest.mark.parametrize("field", ["partition_key", "sort_key"])
def test_a_key_attribute_cosmos_owns_is_refused_before_anything_is_registered(field):
    from components.spec import Key, ServiceSpec, SpecError
    tables = [t.model_dump() for t in REFERENCE.tables]
    tables[0][field] = Key(name="ttl").model_dump()
    spec = ServiceSpec(**{**REFERENCE.model_dump(), "tables": tables})
    error = refused_before_registering({**AZURE_DEV}, SpecError, spec=spec)
    assert str(error).startswith(f"tables.orders.{field}: 'ttl' is reserved by Cosmos DB on Azure")


def test_each_app_gets_the_azure_package_deployed_to_its_scm_site_by_content_hash(azure_prod):
    from components.azure.deploy import write_package
    from components.azure.function import PACKAGE_DIR
    from components.packaging import cloud_archive

    expected = write_package(cloud_archive("azure"), PACKAGE_DIR).digest
    deployments = {d.name: d.inputs for d in azure_prod.of_type("pulumi-python:dynamic:Resource")}
    apps = {a.name: a.outputs for a in azure_prod.of_type(APP)}
    assert set(deployments) == {f"{name}-code" for name in apps}
    for name, app in apps.items():
        d = deployments[f"{name}-code"]
        assert d["appName"] == app["name"] and d["contentHash"] == expected
        first, _, rest = app["defaultHostName"].partition(".")
        assert d["scmHost"] == f"{first}.scm.{rest}"


def test_rendered_azure_stacks_pass_the_whole_pack(azure_prod, azure_dev):
    from components.export import to_export
    from policy.offline import evaluate

    for rendering, env in ((azure_prod, "prod"), (azure_dev, "dev")):
        report = evaluate(to_export(rendering)["deployment"]["resources"], env, config={"publicRoutes": ["GET /health"]})
        judged = [v for v in report.violations if v.policy != "resource-types-reviewed"]
        assert judged == [], judged
        # The package upload is a dynamic resource: code no policy can read, so it is reported as not reviewed.
        assert [v.message.split(" (")[0] for v in report.violations if v not in judged] == ["pulumi-python:dynamic:Resource"]
    no_cmk = render_config({**AZURE_DEV, "anycloud:customerManagedKeys": "false"}, "dev")
    report = evaluate(to_export(no_cmk)["deployment"]["resources"], "dev",
                      config={"publicRoutes": ["GET /health"], "requireCustomerManagedKeys": False})
    assert report.mandatory == [], report.mandatory
