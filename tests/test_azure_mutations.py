"""Mutation tests: break the Azure renderer on purpose and the pack must name the right policy.

Each case changes one thing components/azure/ renders (through the one place every Azure
resource is registered, `Arm`, or one of the platform's helpers), renders the prod stack on
Azure under mocks and runs the whole pack over the result, as `python -m components check
--stack prod --cloud azure` does.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

import components.azure.platform as platform
import components.azure.table as table
from components.azure.arm import Arm
from components.export import to_export
from components.mock_engine import render
from policy.offline import evaluate
from tests.conftest import AZURE_PROD, SECRET_VALUE, program


def violated(monkeypatch, patches: Callable[[pytest.MonkeyPatch], None]) -> set[str]:
    patches(monkeypatch)
    rendering = render(program(), AZURE_PROD, ["anycloud:paymentApiKey"], stack="prod")
    report = evaluate(to_export(rendering)["deployment"]["resources"], "prod", config={"publicRoutes": ["GET /health"]})
    return {v.policy for v in report.mandatory}


def changing(token: str, change: Callable[[str, dict[str, Any]], None]) -> Callable[[pytest.MonkeyPatch], None]:
    """A patch that lets `change(name, inputs)` edit the inputs of every `token` resource."""

    def patch(mp: pytest.MonkeyPatch) -> None:
        real = Arm.__init__

        def init(self, typ, name, inputs, opts=None, outputs=()):
            inputs = dict(inputs)
            if typ == token:
                change(name, inputs)
            real(self, typ, name, inputs, opts, outputs)

        mp.setattr(Arm, "__init__", init)

    return patch


def skipping(token: str, which: Callable[[str], bool]) -> Callable[[pytest.MonkeyPatch], None]:
    """A patch that registers the `token` resources `which` names as a harmless other type."""

    def patch(mp: pytest.MonkeyPatch) -> None:
        real = Arm.__init__

        def init(self, typ, name, inputs, opts=None, outputs=()):
            if typ == token and which(name):
                typ, inputs = "azure-native:resources:Tag", {"comment": f"{name} left out"}
            real(self, typ, name, inputs, opts, outputs)

        mp.setattr(Arm, "__init__", init)

    return patch


def drop_key(mp):
    mp.setattr(platform, "service_key", lambda ctx: None)


def open_routes(mp):
    mp.setattr(platform, "effective_auth", lambda spec, settings: None)


def database_wide_data_roles(mp):
    mp.setattr(table.Tables, "scope", lambda self, name: self.account.id.apply(lambda a: f"{a}/dbs/tables"))


def one_identity_for_every_app(mp):
    import components.azure.function as function

    real = function.user_identity
    shared: dict = {}

    def user_identity(ctx, name, parent):
        if "one" not in shared:
            shared["one"] = real(ctx, "functions", ctx.parent)
        return shared["one"]

    mp.setattr(function, "user_identity", user_identity)


def assignments_on_the_group(mp):
    import components.azure.identity as identity

    real = identity.assign
    mp.setattr(identity, "assign", lambda ctx, name, who, role, scope, parent:
               real(ctx, name, who, role, ctx.group.id, parent))
    import components.azure.function as function
    import components.azure.queue as queue
    mp.setattr(function, "assign", identity.assign)
    mp.setattr(queue, "assign", identity.assign)


def lock_the_account(mp):
    """The lock where it used to be: on the Cosmos DB account, the parent of the SQL role assignments."""
    real = Arm.__init__
    accounts: dict = {}

    def init(self, typ, name, inputs, opts=None, outputs=()):
        if typ == "azure-native:cosmosdb:DatabaseAccount":
            accounts["tables"] = self
        if typ == "azure-native:authorization:ManagementLockByScope":
            inputs = {**inputs, "scope": accounts["tables"].id}
        real(self, typ, name, inputs, opts, outputs)

    mp.setattr(Arm, "__init__", init)


def fixed_names(mp):
    from components.azure.context import AzureContext
    mp.setattr(AzureContext, "reusable_name", lambda self, name, limit: self.global_name(name, limit))


def unprotected_hub(mp):
    import components.azure.function as function

    real = function.host_account
    mp.setattr(function, "host_account", lambda ctx, app, key, parent, holds_state: real(ctx, app, key, parent, False))


def one_host_account(mp):
    import components.azure.function as function

    real = function.host_account
    mp.setattr(function, "host_account", lambda ctx, app, key, parent, holds_state: ctx.once(
        ("one-host",), lambda: real(ctx, "shared", key, ctx.parent, holds_state)))


def key_consumers_not_waiting(mp):
    """Each key consumer waits for its identity alone, not for the identity's grant on the key."""
    import components.azure.keys as keys
    import components.azure.storage as storage

    real = keys.key_user

    def key_user(ctx, consumer, key):
        identity, _ = real(ctx, consumer, key)
        return identity, identity.identity

    mp.setattr(storage, "key_user", key_user)
    mp.setattr(table, "key_user", key_user)


def _site(change: Callable[[dict], None]):
    return changing("azure-native:web:WebApp", lambda name, i: change(i["siteConfig"]))


def _settings(change: Callable[[dict], None]):
    def edit(site: dict) -> None:
        values = {s["name"]: s["value"] for s in site["appSettings"]}
        change(values)
        site["appSettings"] = [{"name": k, "value": v} for k, v in values.items()]
    return _site(edit)


CASES = {
    "metric alerts switched off": (changing("azure-native:monitor:MetricAlert", lambda name, i: i.update(enabled=False)),
                                   {"prod-alerts-reach-someone"}),
    "backends open to other tenants": (
        changing("azuread:index/application:Application", lambda name, i: i.update(signInAudience="AzureADMultipleOrgs")),
        {"entra-apps-single-tenant-no-secrets"}),
    "drop the key": (drop_key, {"storage-encrypted", "tables-encrypted"}),
    "routes without JWT in prod": (open_routes, {"api-routes-require-auth"}),
    "apps without App Service authentication": (
        skipping("azure-native:web:WebAppAuthSettingsV2", lambda name: True), {"azure-function-apps-gateway-only"}),
    "authentication that admits any caller of the tenant": (
        changing("azure-native:web:WebAppAuthSettingsV2", lambda name, i: i["identityProviders"]["azureActiveDirectory"]
                 ["validation"].pop("defaultAuthorizationPolicy")), {"azure-function-apps-gateway-only"}),
    "a consumer open to inbound traffic": (
        _site(lambda s: s.pop("ipSecurityRestrictionsDefaultAction", None)), {"azure-function-apps-gateway-only"}),
    "Cosmos data roles on the database": (database_wide_data_roles, {"azure-cosmos-data-roles-container-scope"}),
    "a queue without its poison queue": (
        skipping("azure-native:storage:Queue", lambda name: name.endswith("-poison")), {"queues-dead-lettered"}),
    "a consumer without maxDequeueCount": (
        _settings(lambda s: s.pop("AzureFunctionsJobHost__extensions__queues__maxDequeueCount", None)),
        {"queues-dead-lettered"}),
    "one identity for every app": (one_identity_for_every_app, {"azure-one-identity-per-function-app"}),
    "role assignments on the resource group": (assignments_on_the_group, {"azure-data-roles-resource-scope"}),
    "ftpsState on Flex apps": (_site(lambda s: s.update(ftpsState="Disabled")), {"azure-flex-consumption-limits"}),
    "a storage key in the settings": (
        _settings(lambda s: s.update(AzureWebJobsStorage="DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=")),
        {"azure-local-auth-disabled"}),
    "shared keys on storage": (
        changing("azure-native:storage:StorageAccount", lambda name, i: i.update(allowSharedKeyAccess=True)),
        {"azure-local-auth-disabled"}),
    "shared keys on the log workspace": (
        changing("azure-native:operationalinsights:Workspace", lambda name, i: i.pop("features")),
        {"azure-local-auth-disabled"}),
    "per-caller rate limits on Consumption": (
        changing("azure-native:apimanagement:ApiPolicy", lambda name, i: i.update(value=i["value"].replace(
            "<base />", '<base /><rate-limit-by-key calls="50" renewal-period="1" '
                        'counter-key="@(context.Request.IpAddress)" />', 1))),
        {"azure-apim-consumption-tier-policies"}),
    "a rate limit on an API without subscriptions": (
        changing("azure-native:apimanagement:ApiPolicy", lambda name, i: i.update(value=i["value"].replace(
            "<base />", '<base /><rate-limit calls="50" renewal-period="1" />', 1))),
        {"azure-apim-throttle-needs-subscription"}),
    "the delete lock on the Cosmos DB account, above its grants": (lock_the_account,
                                                                  {"azure-no-lock-above-managed-children"}),
    "vault and gateway names derived from the stack alone": (fixed_names, {"azure-purge-protected-names-reusable"}),
    "an unprotected task hub account": (unprotected_hub, {"prod-durable-task-hub-protected"}),
    "rolling updates in prod": (
        changing("azure-native:web:WebApp", lambda name, i: i["functionAppConfig"].update(
            siteUpdateStrategy={"type": "RollingUpdate"})), {"prod-flex-apps-not-rolling-update"}),
    "alerted apps sampling their traces": (
        _settings(lambda s: s.pop("AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__excludedTypes",
                                  None)), {"azure-log-alerts-read-unsampled-telemetry"}),
    "one host account for every app": (one_host_account, {"azure-host-storage-one-app"}),
    "App Service authentication with an issuer no token carries": (
        changing("azure-native:web:WebAppAuthSettingsV2", lambda name, i: i["identityProviders"]["azureActiveDirectory"]
                 ["registration"].update(openIdIssuer=i["identityProviders"]["azureActiveDirectory"]["registration"]
                                         ["openIdIssuer"].apply(lambda u: u.replace("login.microsoftonline.com",
                                                                                    "sts.windows.net")))),
        {"azure-app-auth-entra-issuer"}),
    "queues on a Microsoft key": (
        changing("azure-native:storage:StorageAccount",
                 lambda name, i: i["encryption"]["services"]["queue"].update(keyType="Service")),
        {"azure-storage-queue-table-keys-account-scoped"}),
    "vaults without purge protection": (
        changing("azure-native:keyvault:Vault", lambda name, i: i["properties"].update(enablePurgeProtection=False)),
        {"key-vaults-recoverable"}),
    "a key vault closed to the services that use its key": (
        changing("azure-native:keyvault:Vault", lambda name, i: i["properties"]["networkAcls"].update(bypass="None")),
        {"azure-cmk-vault-reachable"}),
    "a secrets vault the apps cannot reach": (
        changing("azure-native:keyvault:Vault", lambda name, i: i["properties"]["networkAcls"].update(
            defaultAction="Deny") if name == "secrets" else None), {"azure-key-vault-references-resolvable"}),
    "key consumers created before their identity may use the key": (key_consumers_not_waiting,
                                                                    {"azure-cmk-consumers-wait-for-key-grant"}),
    "key identities without their grant": (
        skipping("azure-native:authorization:RoleAssignment", lambda name: name.endswith("-uses-key")),
        {"azure-cmk-consumers-wait-for-key-grant"}),
    "prod tables without their delete lock": (
        skipping("azure-native:authorization:ManagementLockByScope", lambda name: True), {"prod-cosmos-delete-locked"}),
    "the secret's value instead of its Key Vault reference": (
        _settings(lambda s: "ANYCLOUD_SECRET_PAYMENT_API_KEY" in s and s.update(ANYCLOUD_SECRET_PAYMENT_API_KEY=SECRET_VALUE)),
        {"no-plaintext-secrets-in-config"}),
    "the Functions host's logs off": (
        _settings(lambda s: s.update(AzureFunctionsJobHost__logging__logLevel__default="None")),
        {"prod-audit-logging-not-switched-off"}),
    "a workspace keeping logs a week": (
        changing("azure-native:operationalinsights:Workspace", lambda name, i: i.update(retentionInDays=7)),
        {"prod-log-retention-minimum"}),
    "vaults keeping deleted secrets 3 days": (
        changing("azure-native:keyvault:Vault", lambda name, i: i["properties"].update(softDeleteRetentionInDays=3)),
        {"prod-secrets-recoverable"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_breaking_the_azure_renderer_fails_the_right_policy(monkeypatch, case):
    patches, expected = CASES[case]
    found = violated(monkeypatch, patches)
    assert expected <= found, f"{case}: expected {expected}, got {found}"


def test_the_unbroken_azure_renderer_passes(monkeypatch):
    assert violated(monkeypatch, lambda mp: None) == set()
