"""Only the named callers may reach an app over HTTP: App Service authentication with an
Entra ID app registration.

A route function must not be a side door around API Management, and a workflow task must
not run for anyone but its orchestrator. The service gets one Entra ID app registration (the
audience its backends accept; its service principal lets managed identities get tokens for
it). Each HTTP-reached app turns on App Service authentication: every request needs a token
for that audience, unauthenticated ones get 401, and the token's principal (`oid`) must be
one of the app's callers: API Management's identity for routes, the orchestrator's identity
for workflow tasks. Without that list, any identity in the tenant with a token for the
audience would pass.

Creating the registration needs a directory permission besides Azure RBAC: the deployer must
be allowed to register applications (the Application Developer role, or
Application.ReadWrite.OwnedBy for a service principal that deploys).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import web

from .context import AzureContext
from .function import AppHandle


@dataclass
class Audience:
    application: azuread.Application
    principal: azuread.ServicePrincipal

    @property
    def client_id(self) -> pulumi.Output[str]:
        """The audience callers request tokens for (API Management's and Durable's `resource`)."""
        return self.application.client_id


def audience(ctx: AzureContext) -> Audience:
    def make() -> Audience:
        application = azuread.Application(
            "backends", display_name=f"anycloud {ctx.prefix} backends", sign_in_audience="AzureADMyOrg",
            prevent_duplicate_names=False, opts=ctx.opts(ctx.parent))
        principal = azuread.ServicePrincipal("backends-principal", client_id=application.client_id,
                                             app_role_assignment_required=False, opts=ctx.opts(application))
        return Audience(application=application, principal=principal)

    return ctx.once(("audience",), make)


def only_callers(ctx: AzureContext, app: AppHandle, who: Audience) -> web.WebAppAuthSettingsV2:
    """App Service authentication on `app`, admitting tokens of `app.callers` only."""
    return web.WebAppAuthSettingsV2(
        f"{app.name}-callers",
        name=app.app.name,
        resource_group_name=ctx.group_name,
        platform=web.AuthPlatformArgs(enabled=True),
        global_validation=web.GlobalValidationArgs(require_authentication=True,
                                                   unauthenticated_client_action="Return401"),
        http_settings=web.HttpSettingsArgs(require_https=True),
        identity_providers=web.IdentityProvidersArgs(
            azure_active_directory=web.AzureActiveDirectoryArgs(
                enabled=True,
                registration=web.AzureActiveDirectoryRegistrationArgs(
                    client_id=who.client_id,
                    open_id_issuer=ctx.tenant.apply(lambda t: f"https://sts.windows.net/{t}/v2.0"),
                ),
                validation=web.AzureActiveDirectoryValidationArgs(
                    allowed_audiences=[who.client_id, who.client_id.apply(lambda c: f"api://{c}")],
                    default_authorization_policy=web.DefaultAuthorizationPolicyArgs(
                        allowed_principals=web.AllowedPrincipalsArgs(identities=app.callers)),
                ),
            ),
        ),
        opts=ctx.opts(app.app, depends_on=[who.principal]),
    )
