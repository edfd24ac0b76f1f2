"""API Gateway from a generated OpenAPI 2.0 document, with its own service account.

One operation per route. Each operation's `x-google-backend` is the route function's Cloud
Run URL (the request path appended, so path parameters reach the function as they were sent)
and the token the gateway mints for it names that URL as its audience. The gateway's account
is the only invoker of route functions. With `apiAuth`, every non-public route requires a JWT
from the issuer for one of the audiences (API Gateway finds the keys by OpenID discovery);
public routes say `security: []`.

API Gateway cannot do two things the neutral model asks for, and says so in the check's
notes instead of dropping them: CORS (the gateway answers no preflight; origins are not
enforced) and throttling (the gateway has no per-API rate limit without API keys).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import yaml

from ..spec import ApiSpec, JwtAuth, RouteSpec
from .context import GcpContext
from .function import FunctionHandle
from .identity import Identity, invoker, service_account

SCHEME = "jwt"
#: The route keys of a function on which the gateway verifies a JWT (functions/runtime/gcp/entry.py
#: reads the caller's claims on those only: nothing verified a header sent to any other route).
VERIFIED_ROUTES = "ANYCLOUD_VERIFIED_ROUTES"
#: The longest API Gateway waits for a backend; route functions time out within it.
DEADLINE_S = 30
#: An API config id is at most 63 characters, and the provider appends a 26-character unique
#: suffix to `api_config_id_prefix` (terraform-plugin-sdk's PrefixedUniqueId).
CONFIG_PREFIX_MAX = 63 - 26
#: The APIs API Gateway creates an API, its configs and gateways through: it makes a managed
#: service with Service Management and Service Control (https://cloud.google.com/api-gateway/docs/configure-dev-env).
GATEWAY_APIS = ("apigateway", "servicemanagement", "servicecontrol")


@dataclass
class ApiHandle:
    gateway: gcp.apigateway.Gateway
    identity: Identity

    @property
    def url(self) -> pulumi.Output[str]:
        return self.gateway.default_hostname.apply(lambda host: f"https://{host}")


def operation_id(route: RouteSpec) -> str:
    return f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '-', route.path).rstrip('-')}"


def openapi_document(title: str, routes: tuple[RouteSpec, ...], urls: dict[str, str], auth: JwtAuth | None,
                     timeouts: dict[str, int]) -> dict:
    """The OpenAPI 2.0 document API Gateway serves (`urls`: function name -> Cloud Run URL)."""
    doc: dict = {"swagger": "2.0", "info": {"title": title, "version": "1.0.0"}, "schemes": ["https"],
                 "produces": ["application/json"], "paths": {}}
    if auth is not None:
        doc["securityDefinitions"] = {SCHEME: {
            "authorizationUrl": "", "flow": "implicit", "type": "oauth2",
            "x-google-issuer": auth.issuer, "x-google-audiences": ",".join(auth.audience),
        }}
    for route in routes:
        url = urls[route.function]
        operation = {
            "operationId": operation_id(route),
            "x-google-backend": {"address": url, "path_translation": "APPEND_PATH_TO_ADDRESS", "jwt_audience": url,
                                 "deadline": min(DEADLINE_S, timeouts[route.function] + 1)},
            "responses": {"default": {"description": "the function's response"}},
            "security": [] if route.public or auth is None else [{SCHEME: []}],
        }
        params = re.findall(r"\{([^/}]+)\}", route.path)
        if params:
            operation["parameters"] = [{"name": p, "in": "path", "required": True, "type": "string"} for p in params]
        doc["paths"].setdefault(route.path, {})[route.method.lower()] = operation
    return doc


def limitations(spec: ApiSpec, origins: tuple[str, ...]) -> list[str]:
    notes = []
    if origins:
        notes.append(f"GCP API Gateway has no CORS: allowed origins {', '.join(origins)} are not enforced and "
                     "browser preflights get no CORS headers.")
    notes.append(f"GCP API Gateway has no per-API rate limit without API keys: the declared throttle "
                 f"({spec.throttle.rate_limit}/s, burst {spec.throttle.burst_limit}) is not applied.")
    return notes


def create_api(ctx: GcpContext, spec: ApiSpec, auth: JwtAuth | None, functions: dict[str, FunctionHandle],
               parent: pulumi.Resource) -> ApiHandle:
    identity = service_account(ctx, "gateway", "API Gateway backend calls", parent)
    names = list(dict.fromkeys(r.function for r in spec.routes))
    grants = [invoker(ctx, f"gateway-{name}", functions[name].function, identity, parent) for name in names]
    timeouts = {name: functions[name].shape.timeout_s for name in names}
    document = pulumi.Output.all(*[functions[n].url for n in names]).apply(
        lambda urls: yaml.safe_dump(openapi_document(f"{ctx.prefix}-api", spec.routes, dict(zip(names, urls)), auth, timeouts),
                                    sort_keys=False)
    )
    api = gcp.apigateway.Api("api", api_id=ctx.physical("api"), display_name=f"anycloud {ctx.prefix}", opts=ctx.opts(parent, api=GATEWAY_APIS))
    config = gcp.apigateway.ApiConfig(
        "api-config",
        api=api.api_id,
        api_config_id_prefix=ctx.physical("cfg", CONFIG_PREFIX_MAX - 1) + "-",
        openapi_documents=[gcp.apigateway.ApiConfigOpenapiDocumentArgs(
            document=gcp.apigateway.ApiConfigOpenapiDocumentDocumentArgs(
                path="openapi.yaml", contents=document.apply(lambda text: base64.b64encode(text.encode()).decode()),
            ),
        )],
        gateway_config=gcp.apigateway.ApiConfigGatewayConfigArgs(
            backend_config=gcp.apigateway.ApiConfigGatewayConfigBackendConfigArgs(google_service_account=identity.email),
        ),
        opts=ctx.opts(api, api=GATEWAY_APIS, depends_on=grants),
    )
    gateway = gcp.apigateway.Gateway("gateway", api_config=config.id, gateway_id=ctx.physical("gateway"),
                                     region=ctx.region, opts=ctx.opts(api, api=GATEWAY_APIS))
    return ApiHandle(gateway=gateway, identity=identity)
