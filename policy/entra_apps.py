"""Microsoft Entra ID app registrations that only this tenant's callers reach, with no long-lived
secrets: the identity the Azure rendering registers for its backends, and any a team adds.

- `signInAudience` AzureADMyOrg: any other audience lets accounts of other tenants (or personal
  Microsoft accounts) get tokens for the app ("Supported account types",
  https://learn.microsoft.com/entra/identity-platform/supported-accounts-validation);
- no implicit grant (`web.implicitGrant` access or ID token issuance): tokens in URL fragments,
  which Microsoft advises against ("Microsoft identity platform and implicit grant flow");
- no password credentials (an Application's `password`, ApplicationPassword,
  ServicePrincipalPassword): a client secret is a long-lived shared key that leaks with a config
  file; managed identities and federated identity credentials need none ("Workload identity
  federation"; "Best practices for Microsoft identity platform": prefer certificates or federation).
A service principal is read for its secrets only: who may get a token for the app is the app's
audience, and the apps check the caller's `oid` themselves (functions/runtime/azure/callers.py).
"""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from .common import get, resource_policy

APPLICATION = "azuread:index/application:Application"
PASSWORD_TYPES = ("azuread:index/applicationPassword:ApplicationPassword",
                  "azuread:index/servicePrincipalPassword:ServicePrincipalPassword")
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"


def _check(args: ResourceValidationArgs, report) -> None:
    kind = args.resource_type.rsplit(":", 1)[-1]
    if args.resource_type in PASSWORD_TYPES:
        report(f"{kind} {args.name}: a client secret is a long-lived shared key; allowed: none (a managed identity or "
               "a federated identity credential).")
        return
    if args.resource_type != APPLICATION:
        return
    audience = get(args.props, "signInAudience")
    if audience not in (None, "AzureADMyOrg"):
        report(f"Application {args.name}: signInAudience is {audience!r}, which lets accounts of other tenants get "
               "tokens for it; allowed: AzureADMyOrg.")
    for grant in ("accessTokenIssuanceEnabled", "idTokenIssuanceEnabled"):
        if get(args.props, f"web.implicitGrant.{grant}") is True:
            report(f"Application {args.name}: web.implicitGrant.{grant} is true (tokens in URL fragments); allowed: false.")
    if get(args.props, "password"):
        report(f"Application {args.name}: password adds a client secret, a long-lived shared key; allowed: none "
               "(a managed identity or a federated identity credential).")


POLICIES = [
    resource_policy(
        "entra-apps-single-tenant-no-secrets",
        "Microsoft Entra ID app registrations accept only this tenant's accounts (signInAudience AzureADMyOrg), "
        "issue no implicit-grant tokens and hold no client secrets (password credentials on the app or its "
        "service principal) (Entra ID docs: supported account types, implicit grant flow, workload identity "
        "federation).",
        (APPLICATION, SERVICE_PRINCIPAL, *PASSWORD_TYPES),
        _check,
        remediation="set signInAudience to AzureADMyOrg, turn implicit grant off, and replace client secrets with "
                    "a managed identity or a federated identity credential.",
    ),
]
