"""API Management (Consumption): one API, an operation per route, a backend per route app.

Consumption is the serverless tier (billed per call, nothing at rest). The API serves the
routes at the gateway's root over HTTPS without subscription keys. API-level inbound policy:
CORS from the allowed origins, a rate limit from the declared throttle, the forwarded-token
header cleared so callers cannot forge it. Operation-level: with `apiAuth`, every non-public
route validates the caller's JWT (issuer's OpenID configuration, audiences, issuer) before
anything else; the validated token is forwarded in `X-Anycloud-User-Token` (App Service
authentication replaces `Authorization`, see below) and the request id in `X-Request-Id`;
then the request goes to the route app's backend with a token of API Management's own
identity for the service's backend audience, the only caller route apps accept (callers.py).

What Consumption cannot do (the check's notes say it): per-caller limits (`rate-limit-by-key`
and `quota-by-key` are not available on the tier), so the declared rate is one limit for the
whole API, and there is no burst allowance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import pulumi
from pulumi_azure_native import apimanagement

from ..spec import ApiSpec, JwtAuth, RouteSpec
from .context import AzureContext
from .function import AppHandle

USER_TOKEN_HEADER = "X-Anycloud-User-Token"
REQUEST_ID_HEADER = "X-Request-Id"
API_ID = "service"
#: The Functions host serves HTTP triggers under /api.
BACKEND_PREFIX = "/api"


@dataclass
class ApiHandle:
    service: apimanagement.ApiManagementService

    @property
    def url(self) -> pulumi.Output[str]:
        return self.service.gateway_url


def operation_id(route: RouteSpec) -> str:
    return f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '-', route.path).rstrip('-')}"


def api_policy(origins: tuple[str, ...], spec: ApiSpec) -> str:
    cors = ""
    if origins:
        allowed = "".join(f"<origin>{escape(o)}</origin>" for o in origins)
        methods = "".join(f"<method>{m}</method>" for m in sorted({r.method for r in spec.routes} | {"OPTIONS"}))
        cors = (f'<cors allow-credentials="false"><allowed-origins>{allowed}</allowed-origins>'
                f"<allowed-methods>{methods}</allowed-methods><allowed-headers><header>Authorization</header>"
                "<header>Content-Type</header><header>Idempotency-Key</header></allowed-headers></cors>")
    return ("<policies><inbound><base />" + cors
            + f'<rate-limit calls="{spec.throttle.rate_limit}" renewal-period="1" />'
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


def operation_policy(route: RouteSpec, auth: JwtAuth | None, backend: str, audience: str) -> str:
    check = validate_jwt(auth) if auth is not None and not route.public else ""
    return ("<policies><inbound><base />" + check
            + f'<set-header name="{REQUEST_ID_HEADER}" exists-action="override"><value>@(context.RequestId.ToString())'
              "</value></set-header>"
            + f"<set-backend-service backend-id={quoteattr(backend)} />"
            + f"<authentication-managed-identity resource={quoteattr(audience)} />"
            + "</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"
            + "</policies>")


def limitations(spec: ApiSpec) -> list[str]:
    return [f"Azure API Management (Consumption) has no per-caller rate limits (rate-limit-by-key is not on the "
            f"tier): the declared {spec.throttle.rate_limit}/s is one limit for the whole API, and the burst of "
            f"{spec.throttle.burst_limit} is not applied."]


def create_api(ctx: AzureContext, spec: ApiSpec, auth: JwtAuth | None, origins: tuple[str, ...],
               apps: dict[str, AppHandle], audience: pulumi.Output[str], parent: pulumi.Resource) -> ApiHandle:
    service = apimanagement.ApiManagementService(
        "gateway",
        service_name=ctx.global_name("api", 50),
        **ctx.common(),
        sku=apimanagement.ApiManagementServiceSkuPropertiesArgs(name="Consumption", capacity=0),
        identity=apimanagement.ApiManagementServiceIdentityArgs(type="SystemAssigned"),
        publisher_email=ctx.settings.alert_email,
        publisher_name=f"anycloud {ctx.prefix}",
        opts=ctx.opts(parent),
    )
    common = {"resource_group_name": ctx.group_name, "service_name": service.name}
    api = apimanagement.Api(
        "api", api_id=API_ID, display_name=f"anycloud {ctx.prefix}", path="", protocols=["https"],
        subscription_required=False, **common, opts=ctx.opts(service))
    apimanagement.ApiPolicy("api-policy", api_id=api.name, policy_id="policy", format="rawxml",
                            value=api_policy(origins, spec), **common, opts=ctx.opts(api))
    backends = {}
    for name in dict.fromkeys(r.function for r in spec.routes):
        app = apps[name]
        app.callers.append(service.identity.principal_id)
        backends[name] = apimanagement.Backend(
            f"backend-{name}", backend_id=name, protocol="http", title=f"function {name}",
            url=app.base_url.apply(lambda u: f"{u}{BACKEND_PREFIX}"),
            resource_id=app.app.id.apply(lambda i: f"https://management.azure.com{i}"),
            **common, opts=ctx.opts(service))
    for route in spec.routes:
        op = operation_id(route)
        operation = apimanagement.ApiOperation(
            f"operation-{op}", api_id=api.name, operation_id=op, display_name=route.key, method=route.method,
            url_template=route.path,
            template_parameters=[apimanagement.ParameterContractArgs(name=p, type="string", required=True)
                                 for p in re.findall(r"\{([^/}]+)\}", route.path)],
            **common, opts=ctx.opts(api))
        apimanagement.ApiOperationPolicy(
            f"operation-{op}-policy", api_id=api.name, operation_id=operation.name, policy_id="policy",
            format="rawxml", value=audience.apply(lambda a, r=route: operation_policy(r, auth, r.function, a)),
            **common, opts=ctx.opts(operation, depends_on=[backends[route.function]]))
    return ApiHandle(service=service)
