"""API Management (Consumption): one API, an operation per route, a backend per route app.

Consumption is the serverless tier (billed per call, nothing at rest). The API serves the
routes at the gateway's root over HTTPS without subscription keys. API-level inbound policy:
CORS from the allowed origins and the forwarded-token header cleared so callers cannot forge it. Operation-level: with `apiAuth`, every non-public
route validates the caller's JWT (issuer's OpenID configuration, audiences, issuer) before
anything else; the validated token is forwarded in `X-Anycloud-User-Token` (App Service
authentication replaces `Authorization`, see below) and the request id in `X-Request-Id`;
then the request goes to the route app's backend with a token of API Management's own
identity for the service's backend audience, the only caller route apps accept (callers.py).
That identity is user-assigned (`authentication-managed-identity` names its client id): the
route apps' settings name its principal id, so it exists before them, while a system-assigned
identity would exist only with the service, whose backends name the apps
(https://learn.microsoft.com/azure/api-management/authentication-managed-identity-policy).

What Consumption cannot do (the check's notes say it): the declared throttle. `rate-limit` and
`quota` count per subscription ("have a dependency on the subscription key",
https://learn.microsoft.com/azure/api-management/rate-limit-policy) and the API requires none
(callers bring their own JWT), so they would count nothing; `rate-limit-by-key`, which could
count for the whole API, is not on the Consumption tier
(https://learn.microsoft.com/azure/api-management/rate-limit-by-key-policy). No policy that
silently does nothing is rendered (policy azure-apim-throttle-needs-subscription).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import pulumi

from ..spec import ApiSpec, JwtAuth, RouteSpec
from .arm import Arm
from .callers import gateway_identity
from .context import AzureContext
from .function import AppHandle

USER_TOKEN_HEADER = "X-Anycloud-User-Token"
REQUEST_ID_HEADER = "X-Request-Id"
API_ID = "service"
#: The Functions host serves HTTP triggers under /api.
BACKEND_PREFIX = "/api"


@dataclass
class ApiHandle:
    service: Arm

    @property
    def url(self) -> pulumi.Output[str]:
        return self.service.gatewayUrl


def operation_id(route: RouteSpec) -> str:
    return f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '-', route.path).rstrip('-')}"


def api_policy(origins: tuple[str, ...], spec: ApiSpec) -> str:
    """CORS and the cleared forwarded-token header (no throttle: `limitations` says why)."""
    cors = ""
    if origins:
        allowed = "".join(f"<origin>{escape(o)}</origin>" for o in origins)
        methods = "".join(f"<method>{m}</method>" for m in sorted({r.method for r in spec.routes} | {"OPTIONS"}))
        cors = (f'<cors allow-credentials="false"><allowed-origins>{allowed}</allowed-origins>'
                f"<allowed-methods>{methods}</allowed-methods><allowed-headers><header>Authorization</header>"
                "<header>Content-Type</header><header>Idempotency-Key</header></allowed-headers></cors>")
    return ("<policies><inbound><base />" + cors
            + f'<set-header name="{USER_TOKEN_HEADER}" exists-action="delete" />'
            + "</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
            + "</policies>")


def validate_jwt(auth: JwtAuth) -> str:
    issuer = auth.issuer.rstrip("/")
    audiences = "".join(f"<audience>{escape(a)}</audience>" for a in auth.audience)
    return (f'<validate-jwt header-name="Authorization" failed-validation-httpcode="401" require-scheme="Bearer">'
            f"<openid-config url={quoteattr(issuer + '/.well-known/openid-configuration')} />"
            f"<audiences>{audiences}</audiences><issuers><issuer>{escape(auth.issuer)}</issuer></issuers>"
            "</validate-jwt>"
            f'<set-header name="{USER_TOKEN_HEADER}" exists-action="override">'
            '<value>@(context.Request.Headers.GetValueOrDefault("Authorization", ""))</value></set-header>')


def operation_policy(route: RouteSpec, auth: JwtAuth | None, backend: str, audience: str, client_id: str) -> str:
    check = validate_jwt(auth) if auth is not None and not route.public else ""
    return ("<policies><inbound><base />" + check
            + f'<set-header name="{REQUEST_ID_HEADER}" exists-action="override"><value>@(context.RequestId.ToString())'
              "</value></set-header>"
            + f"<set-backend-service backend-id={quoteattr(backend)} />"
            + f"<authentication-managed-identity resource={quoteattr(audience)} client-id={quoteattr(client_id)} />"
            + "</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
            + "</policies>")


def limitations(spec: ApiSpec) -> list[str]:
    return [f"Azure API Management (Consumption) cannot apply the declared throttle ({spec.throttle.rate_limit}/s, "
            f"burst {spec.throttle.burst_limit}): rate-limit and quota count per subscription and the API takes no "
            "subscription keys (callers bring their own JWT), and rate-limit-by-key is not on the tier; the API is "
            "not throttled (each function's maximum instance count still bounds its scale). For a throttle, front "
            "the API with Azure Front Door's WAF rate limiting or move API Management to a tier with "
            "rate-limit-by-key."]


def create_api(ctx: AzureContext, spec: ApiSpec, auth: JwtAuth | None, origins: tuple[str, ...],
               apps: dict[str, AppHandle], audience: pulumi.Output[str], parent: pulumi.Resource) -> ApiHandle:
    apim = "azure-native:apimanagement"
    caller = gateway_identity(ctx)
    service = Arm(f"{apim}:ApiManagementService", "gateway", {
        "serviceName": ctx.reusable_name("api", 50),
        **ctx.common(),
        "sku": {"name": "Consumption", "capacity": 0},
        # API Management takes user-assigned identities as a map keyed by id
        "identity": caller.id.apply(lambda i: {"type": "UserAssigned", "userAssignedIdentities": {i: {}}}),
        "publisherEmail": ctx.settings.alert_email,
        "publisherName": f"anycloud {ctx.prefix}",
        # The schema defaults the typed SDK class would send (arm.py says why it is not used).
        "developerPortalStatus": "Enabled", "legacyPortalStatus": "Enabled", "disableGateway": False,
        "enableClientCertificate": False, "natGatewayState": "Disabled", "restore": False,
        "virtualNetworkType": "None",
    }, ctx.opts(parent), outputs=("gatewayUrl",))
    common = {"resourceGroupName": ctx.group_name, "serviceName": service.name}
    api = Arm(f"{apim}:Api", "api", {
        "apiId": API_ID, "displayName": f"anycloud {ctx.prefix}", "path": "", "protocols": ["https"],
        "subscriptionRequired": False, **common}, ctx.opts(service))
    Arm(f"{apim}:ApiPolicy", "api-policy", {
        "apiId": api.name, "policyId": "policy", "format": "rawxml", "value": api_policy(origins, spec), **common,
    }, ctx.opts(api))
    backends = {}
    for name in dict.fromkeys(r.function for r in spec.routes):
        app = apps[name]
        backends[name] = Arm(f"{apim}:Backend", f"backend-{name}", {
            "backendId": name, "protocol": "http", "title": f"function {name}",
            "url": app.base_url.apply(lambda u: f"{u}{BACKEND_PREFIX}"),
            "resourceId": app.app.id.apply(lambda i: f"https://management.azure.com{i}"), **common,
        }, ctx.opts(service))
    for route in spec.routes:
        op = operation_id(route)
        operation = Arm(f"{apim}:ApiOperation", f"operation-{op}", {
            "apiId": api.name, "operationId": op, "displayName": route.key, "method": route.method,
            "urlTemplate": route.path,
            "templateParameters": [{"name": p, "type": "string", "required": True}
                                   for p in re.findall(r"\{([^/}]+)\}", route.path)],
            **common,
        }, ctx.opts(api))
        Arm(f"{apim}:ApiOperationPolicy", f"operation-{op}-policy", {
            "apiId": api.name, "operationId": operation.name, "policyId": "policy", "format": "rawxml",
            "value": pulumi.Output.all(audience, caller.client_id).apply(
                lambda v, r=route: operation_policy(r, auth, r.function, v[0], v[1])), **common,
        }, ctx.opts(operation, depends_on=[backends[route.function]]))
    return ApiHandle(service=service)
