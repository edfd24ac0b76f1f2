"""Only the named callers may reach an app over HTTP: App Service authentication with an
Entra ID app registration, and the same check in the app itself.

A route function must not be a side door around API Management, and a workflow task must
not run for anyone but its orchestrator. The service gets one Entra ID app registration (the
audience its backends accept; its service principal lets managed identities get tokens for
it). Each HTTP-reached app turns on App Service authentication: every request needs a token
for that audience, unauthenticated ones get 401, and the token's principal (`oid`) must be
one of the app's callers: API Management's identity for routes, the orchestrator's identity
for workflow tasks. Without that list, any identity in the tenant with a token for the
audience would pass.

The registration issues v2 access tokens (`api.requestedAccessTokenVersion` 2), also to the
managed identities that call the apps, so their issuer is the documented
`https://login.microsoftonline.com/<tenant>/v2.0` that App Service authentication is configured
with (https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad;
`https://sts.windows.net/<tenant>/v2.0` is in no token; policy azure-app-auth-entra-issuer).

Whether App Service authentication blocks callers on Flex Consumption cannot be confirmed from
Microsoft's documentation (its preview documentation said it did not), so it is the first
layer only: every app reached over HTTP also verifies the caller's token itself before any
handler runs (functions/runtime/azure/callers.py: Entra ID's signature, the issuer, the
audience, the expiry and `oid` among the same principal ids), from the settings
`caller_settings` writes. The callers' identities therefore exist before the apps they call:
API Management's user-assigned identity (`gateway_identity`) and each workflow's orchestrator
identity (`orchestrator_identity`) are made once, by whichever comes first, the app that
accepts them or the resource that uses them.

Creating the registration needs a directory permission besides Azure RBAC: the deployer must
be allowed to register applications (the Application Developer role, or
Application.ReadWrite.OwnedBy for a service principal that deploys).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .. import wiring
from .arm import Arm
from .context import AzureContext
from .function import AppHandle
from .identity import Identity, user_identity

#: The app settings the Azure adapter verifies callers with (functions/runtime/azure/callers.py).
CALLERS = "ANYCLOUD_CALLERS"
AUDIENCE = "ANYCLOUD_CALLER_AUDIENCE"
TENANT = "ANYCLOUD_CALLER_TENANT"


def issuer(tenant: str) -> str:
    """The issuer of the v2 tokens the registration's callers receive."""
    return f"https://login.microsoftonline.com/{tenant}/v2.0"


@dataclass
class Audience:
    application: Arm
    principal: Arm

    @property
    def client_id(self) -> pulumi.Output[str]:
        """The audience callers request tokens for (API Management's and Durable's `resource`)."""
        return self.application.clientId


def audience(ctx: AzureContext) -> Audience:
    def make() -> Audience:
        application = Arm("azuread:index/application:Application", "backends", {
            "displayName": f"anycloud {ctx.prefix} backends", "signInAudience": "AzureADMyOrg",
            "preventDuplicateNames": False, "api": {"requestedAccessTokenVersion": 2},
        }, ctx.opts(ctx.parent), outputs=("clientId",))
        principal = Arm("azuread:index/servicePrincipal:ServicePrincipal", "backends-principal", {
            "clientId": application.clientId, "appRoleAssignmentRequired": False,
        }, ctx.opts(application))
        return Audience(application=application, principal=principal)

    return ctx.once(("audience",), make)


def gateway_identity(ctx: AzureContext) -> Identity:
    """API Management's identity: the one caller of route apps."""
    return ctx.once(("identity", "gateway"), lambda: user_identity(ctx, "gateway", ctx.parent))


def orchestrator_identity(ctx: AzureContext, workflow: str) -> Identity:
    """The identity of `workflow`'s orchestrator app: the one caller of its task apps."""
    name = f"{workflow}-run"
    return ctx.once(("identity", name), lambda: user_identity(ctx, name, ctx.parent))


def callers_of(ctx: AzureContext, function: str) -> list[pulumi.Output[str]]:
    """Principal ids that may call `function`'s app over HTTP ([] for an app reached otherwise):
    API Management's if it serves a route, each workflow's orchestrator whose task it is."""
    kinds, _ = wiring.triggers(ctx.spec, function)
    out = [gateway_identity(ctx).principal_id] if "route" in kinds else []
    return out + [orchestrator_identity(ctx, w.name).principal_id for w in ctx.spec.workflows
                  if function in w.task_functions()]


def caller_settings(ctx: AzureContext, callers: list[pulumi.Output[str]]) -> dict[str, pulumi.Input[str]]:
    """What the app needs to verify its callers itself; never the keys URL, which is Entra ID's."""
    return {CALLERS: pulumi.Output.all(*callers).apply(",".join), AUDIENCE: audience(ctx).client_id,
            TENANT: ctx.tenant}


def only_callers(ctx: AzureContext, app: AppHandle, who: Audience) -> Arm:
    """App Service authentication on `app`, admitting tokens of `app.callers` only."""
    return Arm("azure-native:web:WebAppAuthSettingsV2", f"{app.name}-callers", {
        "name": app.app.name,
        "resourceGroupName": ctx.group_name,
        "platform": {"enabled": True},
        "globalValidation": {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"},
        "httpSettings": {"requireHttps": True},
        "identityProviders": {"azureActiveDirectory": {
            "enabled": True,
            "registration": {"clientId": who.client_id,
                             "openIdIssuer": ctx.tenant.apply(issuer)},
            "validation": {
                "allowedAudiences": [who.client_id, who.client_id.apply(lambda c: f"api://{c}")],
                "defaultAuthorizationPolicy": {"allowedPrincipals": {"identities": app.callers}},
            },
        }},
    }, ctx.opts(app.app, depends_on=[who.principal]))
