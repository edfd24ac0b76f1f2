"""Exposure: nothing is reachable without authentication unless declared public, nothing is world-readable.

Lambda function URLs always use IAM auth; API routes (API Gateway HTTP and REST APIs, GCP API
Gateway OpenAPI configs, Azure API Management operations) are authenticated unless their
"METHOD /path" is in `publicRoutes`; GCS buckets enforce public access prevention; Azure
Storage accounts forbid anonymous blob access; CORS `*` is refused in prod; Azure function apps
answer only their callers (App Service authentication allowing listed identities, or no inbound
traffic at all), so the gateway cannot be bypassed at `<app>.azurewebsites.net`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from xml.etree import ElementTree

import yaml
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from .common import (
    GCS_BUCKET,
    MANDATORY,
    PUBSUB_SUBSCRIPTION,
    STORAGE_ACCOUNT,
    WEB_APP,
    WEB_APP_AUTH_SETTINGS_V2,
    WEB_APP_SLOT,
    as_list,
    config,
    dependency_urns,
    each_known,
    get,
    is_function_app,
    is_prod,
    known,
    lower,
    resource_policy,
    resources_of,
    same_app,
    shown,
    stack_policy,
)

# AWS
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
HTTP_API = "aws:apigatewayv2/api:Api"
HTTP_ROUTE = "aws:apigatewayv2/route:Route"
HTTP_AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
REST_API = "aws:apigateway/restApi:RestApi"
REST_RESOURCE = "aws:apigateway/resource:Resource"
REST_METHOD = "aws:apigateway/method:Method"
REST_AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
REST_INTEGRATION_RESPONSE = "aws:apigateway/integrationResponse:IntegrationResponse"
REST_GATEWAY_RESPONSE = "aws:apigateway/response:Response"
S3_CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
S3_CORS_V2 = "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2"
# GCP
GCP_API_CONFIG = "gcp:apigateway/apiConfig:ApiConfig"
# Azure
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
APIM_OPERATION = "azure-native:apimanagement:ApiOperation"
APIM_OPERATION_POLICY = "azure-native:apimanagement:ApiOperationPolicy"
APIM_API_POLICY = "azure-native:apimanagement:ApiPolicy"
APIM_SERVICE_POLICY = "azure-native:apimanagement:Policy"

PUBLIC_ROUTES = "publicRoutes"
ALLOW_PREFLIGHT = "allowUnauthenticatedPreflight"
ROUTE_CONFIG = {
    PUBLIC_ROUTES: {
        "type": "array",
        "items": {"type": "string"},
        "default": ["GET /health"],
        "description": 'Routes declared public, as "METHOD /path" (the path as the API declares it, e.g. '
        '"GET /orders/{order_id}"; "$default" for an HTTP API default route). Every other route needs auth.',
    },
    ALLOW_PREFLIGHT: {
        "type": "boolean",
        "default": True,
        "description": "OPTIONS routes may be unauthenticated: CORS preflight requests never carry credentials.",
    },
}
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "any")
#: API Gateway's OpenAPI extension for a method that takes every verb.
AWS_ANY_METHOD = "x-amazon-apigateway-any-method"
ANY_METHOD = "ANY"


# ------------------------------------------------------------------ helpers


def _same(a: Any, a_key: str, b: Any, b_key: str | None = None) -> bool:
    """Whether a.<a_key> and b.<b_key> name the same thing: a shared or direct dependency, or equal values."""
    b_key = b_key or a_key
    a_deps, b_deps = dependency_urns(a, a_key), dependency_urns(b, b_key)
    if a_deps & b_deps or b.urn in a_deps or a.urn in b_deps:
        return True
    a_value, b_value = known(a.props, a_key), known(b.props, b_key)
    return isinstance(a_value, str) and a_value == b_value


def _refers(a: Any, key: str, b: Any, b_id_keys: Iterable[str] = ("id",)) -> bool:
    """Whether a.<key> is b (depends on it, or equals one of b's id properties)."""
    if b.urn in dependency_urns(a, key):
        return True
    value = known(a.props, key)
    return isinstance(value, str) and any(value == known(b.props, k) for k in b_id_keys)


def route_key(method: Any, path: Any) -> str:
    """ "GET /orders/{id}" from any spelling: upper-case method, one leading slash, no trailing slash."""
    path = "/" + str(path or "").split("?", 1)[0].strip().strip("/")
    return f"{str(method or '').strip().upper()} {path}"


def _normalize(key: str) -> str:
    key = key.strip()
    if " " not in key:
        return key  # "$default", "$connect"
    method, path = key.split(None, 1)
    return route_key(method, path)


Exempt = Callable[[str], bool]


def _exemptions(args: StackValidationArgs) -> Exempt:
    """Whether a route key is a declared public route, or a CORS preflight when those are allowed (config read once)."""
    public = {_normalize(k) for k in as_list(config(args, PUBLIC_ROUTES, ["GET /health"])) if isinstance(k, str)}
    preflight = bool(config(args, ALLOW_PREFLIGHT, True))
    return lambda key: _normalize(key) in public or (preflight and key.upper().startswith("OPTIONS "))


def _api_has_auth(item: Any, api_key: str, authorizers: list[Any], siblings: list[Any], auth_key: str) -> bool:
    """Whether the API `item` belongs to has auth configured: an authorizer, or a sibling that is not open."""
    return any(_same(item, api_key, a) for a in authorizers) or any(
        _same(item, api_key, s) and (known(s.props, auth_key) or "NONE") != "NONE" for s in siblings
    )


# ------------------------------------------------------------------ Lambda function URLs


def _function_url_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    auth = get(args.props, "authorizationType")
    if auth != "AWS_IAM":
        report(f"Lambda function URL {args.name}: authorizationType is {shown(auth)}; required: 'AWS_IAM' (never 'NONE').")


# ------------------------------------------------------------------ Pub/Sub push



def _push_authenticated(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A push without an OIDC token reaches only an endpoint that lets anyone in."""
    endpoint = get(args.props, "pushConfig.pushEndpoint")
    if endpoint and not get(args.props, "pushConfig.oidcToken.serviceAccountEmail"):
        report(f"Pub/Sub subscription {args.name}: pushes to {shown(endpoint)} without pushConfig.oidcToken, so the "
               "endpoint must accept unauthenticated calls.")


# ------------------------------------------------------------------ API routes


def _check_http_api_routes(args: StackValidationArgs, report: ReportViolation, prod: bool, exempt: Exempt) -> None:
    routes = resources_of(args, [HTTP_ROUTE])
    apis = resources_of(args, [HTTP_API])
    authorizers = resources_of(args, [HTTP_AUTHORIZER])
    for route in routes:
        key = get(route.props, "routeKey") or ""
        auth = get(route.props, "authorizationType") or "NONE"
        if auth != "NONE":
            continue
        api = next((a for a in apis if _refers(route, "apiId", a)), None)
        if api is not None and str(known(api.props, "protocolType") or "").upper() == "WEBSOCKET" and key != "$connect":
            continue  # WebSocket APIs authorize on $connect only
        if exempt(key):
            continue
        # dev may run without apiAuth: only an API that has auth elsewhere must not leave a route open
        if not prod and not _api_has_auth(route, "apiId", authorizers, routes, "authorizationType"):
            continue
        report(
            f"API Gateway route {route.name}: authorizationType is {auth!r} on routeKey {key!r}, which is not in "
            f"publicRoutes; required: 'JWT', 'CUSTOM' or 'AWS_IAM' with an authorizerId, or declare {key!r} public.",
            route.urn,
        )


def _check_http_api_quick_create(args: StackValidationArgs, report: ReportViolation, prod: bool, exempt: Exempt) -> None:
    """An HTTP API created with `target` makes its own route (routeKey, default `$default`) with
    no authorization and no Route resource to read."""
    for api in resources_of(args, [HTTP_API]):
        target = get(api.props, "target")
        if not target:
            continue
        key = get(api.props, "routeKey") or "$default"
        if exempt(key) or not prod:
            continue  # dev: an API quick-created has no authentication anywhere, which dev allows
        report(
            f"API Gateway HTTP API {api.name}: target {shown(target)} quick-creates route {key!r} with no "
            "authorization (there is no Route resource to configure it), and it is not in publicRoutes; required: "
            "Route resources with a JWT authorizer, or declare the route public.",
            api.urn,
        )


def _check_openapi_bodies(args: StackValidationArgs, report: ReportViolation, prod: bool, exempt: Exempt) -> None:
    """REST and HTTP APIs defined by an OpenAPI `body`: every operation needs a security requirement."""
    for api in resources_of(args, [REST_API, HTTP_API]):
        body = get(api.props, "body")
        if not body:
            continue
        doc = _decode_openapi(body)
        label = "REST API" if api.resource_type == REST_API else "HTTP API"
        if not isinstance(doc, Mapping):
            report(f"API Gateway {label} {api.name}: body is not an OpenAPI YAML or JSON document; required: a "
                   "readable document so that every operation's security can be checked.", api.urn)
            continue
        if not prod and not _openapi_has_auth(doc):
            continue
        open_ops = [k for k in openapi_open_operations(doc) if not exempt(k)]
        if open_ops:
            report(f"API Gateway {label} {api.name}: body defines {', '.join(open_ops)} without a security requirement "
                   "(top-level or per operation), not in publicRoutes; required: security backed by an authorizer in "
                   "securityDefinitions, or declare the routes public.", api.urn)


def _rest_path(method: Any, resources: list[Any], rest_apis: list[Any]) -> str | None:
    """The full path of a REST method's resource, following parentId up to the API root."""
    node, key, parts = method, "resourceId", []
    for _ in range(32):
        if any(_refers(node, key, api, ("rootResourceId",)) for api in rest_apis):
            return "/" + "/".join(reversed(parts))
        parent = next((r for r in resources if _refers(node, key, r)), None)
        if parent is None:
            return None
        full = known(parent.props, "path")
        if isinstance(full, str) and full.startswith("/"):
            return "/" + "/".join([full.strip("/"), *reversed(parts)]).strip("/")
        part = known(parent.props, "pathPart")
        if not isinstance(part, str):
            return None
        parts.append(part)
        node, key = parent, "parentId"
    return None


def _check_rest_methods(args: StackValidationArgs, report: ReportViolation, prod: bool, exempt: Exempt) -> None:
    methods = resources_of(args, [REST_METHOD])
    authorizers = resources_of(args, [REST_AUTHORIZER])
    resources, rest_apis = resources_of(args, [REST_RESOURCE]), resources_of(args, [REST_API])
    for method in methods:
        auth = get(method.props, "authorization") or "NONE"
        if auth != "NONE":
            continue
        http_method = get(method.props, "httpMethod") or "?"
        path = _rest_path(method, resources, rest_apis)
        key = route_key(http_method, path) if path is not None else f"{str(http_method).upper()} <unresolved resource>"
        if exempt(key):  # an unresolved path can only be exempt as a preflight
            continue
        if not prod and not _api_has_auth(method, "restApi", authorizers, methods, "authorization"):
            continue
        report(
            f"API Gateway REST method {method.name}: authorization is {auth!r} on {key!r}, which is not in publicRoutes; "
            "required: 'CUSTOM', 'COGNITO_USER_POOLS' or 'AWS_IAM', or declare the route public.",
            method.urn,
        )


def _decode_openapi(contents: Any) -> Any:
    text = contents
    if isinstance(contents, str):
        try:
            text = base64.b64decode(contents, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            text = contents  # not base64: read it as the document itself
    if not isinstance(text, str):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None


def _requires_auth(security: Any) -> bool:
    """An OpenAPI security requirement list with at least one scheme and no anonymous `{}` alternative."""
    requirements = as_list(security)
    return bool(requirements) and all(isinstance(r, Mapping) and len(r) > 0 for r in requirements)


def openapi_open_operations(doc: Mapping[str, Any]) -> list[str]:
    """ "METHOD /path" of every operation that can be called without credentials."""
    top = doc.get("security")
    out = []
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method, operation in item.items():
            method = ANY_METHOD if str(method).lower() == AWS_ANY_METHOD else method
            if str(method).lower() not in OPENAPI_METHODS or not isinstance(operation, Mapping):
                continue
            security = operation.get("security", top)
            if not _requires_auth(security):
                out.append(route_key(method, path))
    return out


def _openapi_has_auth(doc: Mapping[str, Any]) -> bool:
    schemes = doc.get("securityDefinitions") or get(doc, "components.securitySchemes")
    return bool(schemes) or _requires_auth(doc.get("security"))


def _check_gcp_api_configs(args: StackValidationArgs, report: ReportViolation, prod: bool, exempt: Exempt) -> None:
    for cfg in resources_of(args, [GCP_API_CONFIG]):
        for i, entry in enumerate(as_list(get(cfg.props, "openapiDocuments"))):
            path = get(entry, "document.path") or f"document {i}"
            doc = _decode_openapi(get(entry, "document.contents"))
            where = f"API Gateway config {cfg.name}: openapiDocuments[{i}] ({path})"
            if not isinstance(doc, Mapping):
                report(
                    f"{where}: document.contents is not a base64-encoded OpenAPI YAML or JSON document; required: a "
                    "readable OpenAPI document so that every operation's security can be checked.",
                    cfg.urn,
                )
                continue
            if not prod and not _openapi_has_auth(doc):
                continue
            open_ops = [k for k in openapi_open_operations(doc) if not exempt(k)]
            if open_ops:
                report(
                    f"{where}: {', '.join(open_ops)}: security is missing, empty or allows anonymous {{}}, and the "
                    f"route{'' if len(open_ops) == 1 else 's'} not in publicRoutes; required: a security requirement "
                    "(top-level or per operation) backed by securityDefinitions, or declare the routes public.",
                    cfg.urn,
                )


TOKEN_VALIDATIONS = ("validate-jwt", "validate-azure-ad-token")


def strip_policy_expressions(text: str) -> str:
    """The policy with every `@(...)` / `@{...}` C# expression replaced by `@expr`.

    With format "rawxml" APIM takes expressions as written: `<`, `&&` and unescaped quotes inside
    them make the document invalid XML, though APIM accepts it. Brackets are matched outside
    C# string and character literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith(("@(", "@{"), i):
            close = {"(": ")", "{": "}"}[text[i + 1]]
            depth, j = 0, i + 1
            while j < n:
                c = text[j]
                if c in "\"'":
                    j += 1
                    while j < n and text[j] != c:
                        j += 2 if text[j] == "\\" else 1
                elif c == text[i + 1]:
                    depth += 1
                elif c == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append("@expr")
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def apim_xml(text: str) -> ElementTree.Element | None:
    """An APIM policy document parsed (comments dropped by the parser), policy expressions
    neutralised when the raw text is not XML; None when it still is not, which then counts as
    validating nothing."""
    for source in (text, strip_policy_expressions(text)):
        for candidate in (source, f"<fragment>{source}</fragment>"):
            try:
                return ElementTree.fromstring(candidate)
            except ElementTree.ParseError:
                continue
    return None



def _inbound_steps(text: str) -> list[str] | None:
    """The tags of the policy's top-level <inbound> steps, in order; None without an <inbound>.

    Only these run on every request: a <validate-jwt> inside <choose>/<when> runs only when its
    condition holds, and one in <outbound> or <on-error> never guards the backend."""
    root = apim_xml(text)
    if root is None:
        return None
    inbound = root if root.tag.lower() == "inbound" else next((c for c in root if c.tag.lower() == "inbound"), None)
    return None if inbound is None else [c.tag.lower() for c in inbound]


def _validates(text: str | None) -> bool:
    steps = _inbound_steps(text or "")
    return steps is not None and any(step in TOKEN_VALIDATIONS for step in steps)


def apim_chain_authenticates(levels: list[str | None]) -> bool:
    """Whether token validation applies to an operation, given its policy texts from operation to global.

    A level without a policy inherits the next one; a policy inherits it only through a top-level
    <base /> in <inbound>; an unconditional validate-jwt (or validate-azure-ad-token) in the first
    effective <inbound> wins. The documents are parsed as XML, never searched as text.
    """
    for text in levels:
        if text is None:
            continue
        steps = _inbound_steps(text)
        if steps is None:
            return False
        if any(step in TOKEN_VALIDATIONS for step in steps):
            return True
        if "base" not in steps:
            return False
    return False


def _policy_text(resource: Any) -> str | None:
    value = get(resource.props, "value")
    return value if isinstance(value, str) else None


_APIM_ID = re.compile(r"/service/([^/]+)(?:/apis/([^/]+))?(?:/operations/([^/]+))?", re.IGNORECASE)
_APIM_KEYS = ("serviceName", "apiId", "operationId")


def _apim_path(resource: Any) -> tuple[str | None, str | None, str | None]:
    """(service, API, operation) names of an APIM resource: from its inputs, else from its ARM id (outputs)."""
    values = [known(resource.props, k) for k in _APIM_KEYS]
    arm_id = known(resource.props, "id")
    match = _APIM_ID.search(arm_id) if isinstance(arm_id, str) else None
    if match:
        values = [v if isinstance(v, str) else match.group(i + 1) for i, v in enumerate(values)]
    return tuple(v.lower() if isinstance(v, str) else None for v in values)  # type: ignore[return-value]


def _apim_scoped(policy: Any, op: Any, depth: int) -> bool:
    """Whether `policy` applies to `op` at depth 1 (service), 2 (API) or 3 (operation)."""
    key = _APIM_KEYS[depth - 1]
    policy_deps = dependency_urns(policy, key)
    if op.urn in policy_deps or policy_deps & dependency_urns(op, key):
        return True
    mine, theirs = _apim_path(policy)[:depth], _apim_path(op)[:depth]
    return all(v is not None for v in mine) and mine == theirs


def _check_apim_operations(args: StackValidationArgs, report: ReportViolation, prod: bool, exempt: Exempt) -> None:
    operations = resources_of(args, [APIM_OPERATION])
    if not operations:
        return
    op_policies = resources_of(args, [APIM_OPERATION_POLICY])
    api_policies = resources_of(args, [APIM_API_POLICY])
    service_policies = resources_of(args, [APIM_SERVICE_POLICY])
    # dev may run without apiAuth: only a service that validates tokens somewhere must not leave operations open
    validating = [p for p in (*op_policies, *api_policies, *service_policies)
                  if _validates(_policy_text(p))]
    for op in operations:
        key = route_key(get(op.props, "method"), get(op.props, "urlTemplate"))
        if exempt(key):
            continue
        own = [p for p in op_policies if _apim_scoped(p, op, 3)]
        api_level = [p for p in api_policies if _apim_scoped(p, op, 2)]
        service_level = [p for p in service_policies if _apim_scoped(p, op, 1)]
        inline = get(op.props, "policies")
        levels = [
            _policy_text(own[0]) if own else (inline if isinstance(inline, str) and inline else None),
            _policy_text(api_level[0]) if api_level else None,
            _policy_text(service_level[0]) if service_level else None,
        ]
        if apim_chain_authenticates(levels):
            continue
        if not prod and not any(_apim_scoped(p, op, 1) for p in validating):
            continue
        report(
            f"API Management operation {op.name}: {key!r} is not in publicRoutes and no <validate-jwt> (or "
            "<validate-azure-ad-token>) applies to it in <inbound> (operation policy, then API policy through "
            "<base />, then the service policy); required: token validation in effect, or declare the route public.",
            op.urn,
        )


def _api_routes_require_auth(args: StackValidationArgs, report: ReportViolation) -> None:
    prod, exempt = is_prod(args), _exemptions(args)
    _check_http_api_routes(args, report, prod, exempt)
    _check_http_api_quick_create(args, report, prod, exempt)
    _check_rest_methods(args, report, prod, exempt)
    _check_openapi_bodies(args, report, prod, exempt)
    _check_gcp_api_configs(args, report, prod, exempt)
    _check_apim_operations(args, report, prod, exempt)


# ------------------------------------------------------------------ storage exposure


def _gcs_public_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    pap = get(props, "publicAccessPrevention")
    if pap != "enforced":
        value = "not set (defaults to 'inherited')" if pap is None else shown(pap)
        report(f"Storage bucket {args.name}: publicAccessPrevention is {value}; required: 'enforced'.")
    ubla = get(props, "uniformBucketLevelAccess")
    if ubla is not True:
        report(f"Storage bucket {args.name}: uniformBucketLevelAccess is {shown(ubla)}; required: true (no per-object ACLs).")


def _azure_blob_public_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    value = get(args.props, "allowBlobPublicAccess")
    if value is not False:
        found = "not set (older API versions default to true)" if value is None else shown(value)
        report(f"Storage account {args.name}: allowBlobPublicAccess is {found}; "
               "required: false (no anonymous blob or container access).")


# ------------------------------------------------------------------ CORS


def wildcard_origin(origin: Any) -> bool:
    """`*`, or a scheme with `*` for the host (https://*): any origin."""
    return isinstance(origin, str) and re.fullmatch(r"\s*(?:[a-z][a-z0-9+.-]*://)?\*\s*/?\s*", origin, re.IGNORECASE) is not None


def apim_wildcard_origins(xml: str) -> bool:
    """An APIM policy with a <cors> allowing <origin>*</origin> anywhere (even in a branch)."""
    root = apim_xml(xml)
    if root is None:
        return False
    return any(wildcard_origin((origin.text or "").strip())
               for cors in root.iter() if cors.tag.lower() == "cors"
               for origin in cors.iter() if origin.tag.lower() == "origin")


LABELS = {
    HTTP_API: "API Gateway HTTP API",
    REST_API: "API Gateway REST API",
    REST_INTEGRATION_RESPONSE: "API Gateway integration response",
    REST_GATEWAY_RESPONSE: "API Gateway gateway response",
    WEB_APP_SLOT: "App Service deployment slot",
    FUNCTION_URL: "Lambda function URL",
    S3_CORS: "S3 bucket CORS configuration",
    S3_CORS_V2: "S3 bucket CORS configuration",
    GCS_BUCKET: "Storage bucket",
    WEB_APP: "App Service app",
    BLOB_SERVICE: "Blob service",
}


ALLOW_ORIGIN = "access-control-allow-origin"


def _header_origins(where: str, parameters: Any) -> list[tuple[str, list[Any]]]:
    """API Gateway response parameters setting Access-Control-Allow-Origin (values are quoted: "'*'")."""
    if not isinstance(parameters, Mapping):
        return []
    return [(f"{where}[{key!r}]", [str(value).strip().strip("'\"")]) for key, value in parameters.items()
            if str(key).lower().endswith(ALLOW_ORIGIN)]


def _openapi_origins(doc: Any, where: str = "body") -> list[tuple[str, list[Any]]]:
    """CORS origins anywhere in an API Gateway OpenAPI body: integration and gateway responses'
    responseParameters, and the HTTP API extension x-amazon-apigateway-cors.allowOrigins."""
    out: list[tuple[str, list[Any]]] = []
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            here = f"{where}.{key}"
            if key == "responseParameters":
                out += _header_origins(here, value)
            elif key == "x-amazon-apigateway-cors" and isinstance(value, Mapping):
                out.append((f"{here}.allowOrigins", as_list(value.get("allowOrigins"))))
            else:
                out += _openapi_origins(value, here)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _openapi_origins(value, f"{where}[{i}]")
    return out


def _origin_lists(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(property path, origins) pairs for each CORS origin list of a resource, wherever it lives."""
    body = _openapi_origins(_decode_openapi(get(props, "body"))) if get(props, "body") else []
    if resource_type == HTTP_API:
        return [("corsConfiguration.allowOrigins", as_list(get(props, "corsConfiguration.allowOrigins"))), *body]
    if resource_type == REST_API:
        return body
    if resource_type in (REST_INTEGRATION_RESPONSE, REST_GATEWAY_RESPONSE):
        return _header_origins("responseParameters", get(props, "responseParameters"))
    if resource_type == FUNCTION_URL:
        return [("cors.allowOrigins", as_list(get(props, "cors.allowOrigins")))]
    if resource_type in (S3_CORS, S3_CORS_V2):
        return [(f"corsRules[{i}].allowedOrigins", as_list(get(rule, "allowedOrigins")))
                for i, rule in enumerate(as_list(get(props, "corsRules")))]
    if resource_type == GCS_BUCKET:
        return [(f"cors[{i}].origins", as_list(get(rule, "origins"))) for i, rule in enumerate(as_list(get(props, "cors")))]
    if resource_type in (WEB_APP, WEB_APP_SLOT):
        return [("siteConfig.cors.allowedOrigins", as_list(get(props, "siteConfig.cors.allowedOrigins")))]
    if resource_type == BLOB_SERVICE:
        return [(f"cors.corsRules[{i}].allowedOrigins", as_list(get(rule, "allowedOrigins")))
                for i, rule in enumerate(as_list(get(props, "cors.corsRules")))]
    return []


def _cors_wildcard(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_prod(args):
        return
    if args.resource_type in (APIM_SERVICE_POLICY, APIM_API_POLICY, APIM_OPERATION_POLICY):
        value = get(args.props, "value")
        if isinstance(value, str) and apim_wildcard_origins(value):
            report(
                f"API Management policy {args.name}: value has <cors> with <origin>*</origin>; required in prod: "
                "the explicit origins of the site (<origin>https://shop.example.com</origin>)."
            )
        return
    for path, origins in _origin_lists(args.resource_type, args.props):
        bad = [o for o in origins if wildcard_origin(o)]
        if bad:
            label = LABELS.get(args.resource_type, args.resource_type)
            report(f"{label} {args.name}: {path} contains {bad[0]!r}; required in prod: "
                   "explicit https origins (from the stack's allowedOrigins), never any origin.")


# ------------------------------------------------------------------ function apps behind the gateway

#: Identity providers other than Microsoft Entra ID admit anyone holding such an account.
OPEN_PROVIDERS = ("apple", "facebook", "gitHub", "google", "twitter", "legacyMicrosoftAccount", "azureStaticWebApps")
REFUSING_ACTIONS = ("return401", "return403")


def _auth_problems(auth: Any) -> list[str]:
    """Why App Service authentication (WebAppAuthSettingsV2) does not restrict callers to listed
    identities; [] when it does. "Configure your App Service or Azure Functions app to use
    Microsoft Entra sign-in", https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad
    (without an allowed-principals or allowed-applications list, any token the tenant issues for
    the audience is accepted)."""
    props, problems = auth.props, []
    if get(props, "platform.enabled") is not True:
        problems.append(f"platform.enabled is {shown(get(props, 'platform.enabled'))} (authentication is off)")
    if get(props, "globalValidation.requireAuthentication") is not True:
        problems.append("globalValidation.requireAuthentication is "
                        f"{shown(get(props, 'globalValidation.requireAuthentication'))} (anonymous calls go through)")
    action = get(props, "globalValidation.unauthenticatedClientAction")
    if lower(action) not in REFUSING_ACTIONS:
        problems.append(f"globalValidation.unauthenticatedClientAction is {shown(action)} (required: 'Return401' or "
                        "'Return403')")
    excluded = [str(p) for p in as_list(get(props, "globalValidation.excludedPaths"))]
    if excluded:
        problems.append(f"globalValidation.excludedPaths {shown(excluded)} answer anyone")
    aad = get(props, "identityProviders.azureActiveDirectory")
    if not isinstance(aad, Mapping) or get(aad, "enabled") is False:
        problems.append("identityProviders.azureActiveDirectory is not enabled")
    else:
        policy = get(aad, "validation.defaultAuthorizationPolicy")
        allowed = [*as_list(get(policy, "allowedPrincipals.identities")), *as_list(get(policy, "allowedPrincipals.groups")),
                   *as_list(get(policy, "allowedApplications")),
                   *as_list(get(aad, "validation.jwtClaimChecks.allowedClientApplications"))]
        if not allowed:
            problems.append("identityProviders.azureActiveDirectory.validation.defaultAuthorizationPolicy lists no "
                            "allowedPrincipals.identities or allowedApplications, so any token the tenant issues for "
                            "the audience is accepted")
    for provider in OPEN_PROVIDERS:
        found = get(props, f"identityProviders.{provider}")
        if isinstance(found, Mapping) and get(found, "enabled") is not False:
            problems.append(f"identityProviders.{provider} is enabled (any such account signs in)")
    custom = get(props, "identityProviders.customOpenIdConnectProviders")
    if isinstance(custom, Mapping):
        for name in custom:
            if get(custom[name], "enabled") is not False:
                problems.append(f"identityProviders.customOpenIdConnectProviders.{name} is enabled")
    return problems


def _inbound_closed(app: Any) -> tuple[bool, str]:
    """(the main site takes no inbound calls, what its settings say). Access restrictions:
    https://learn.microsoft.com/azure/app-service/app-service-ip-restrictions - a rule without
    an action allows."""
    props = app.props
    for path in ("publicNetworkAccess", "siteConfig.publicNetworkAccess"):
        if lower(get(props, path)) == "disabled":
            return True, f"{path} 'Disabled'"
    default = get(props, "siteConfig.ipSecurityRestrictionsDefaultAction")
    rules = as_list(get(props, "siteConfig.ipSecurityRestrictions"))
    allows = [get(r, "name") or get(r, "ipAddress") or get(r, "tag") or f"#{i}" for i, r in enumerate(rules)
              if lower(get(r, "action")) != "deny"]
    if lower(default) == "deny" and not allows:
        return True, "siteConfig.ipSecurityRestrictionsDefaultAction 'Deny' with no Allow rule"
    if lower(default) == "deny":
        return False, f"siteConfig.ipSecurityRestrictions allows {shown(allows)}"
    return False, f"siteConfig.ipSecurityRestrictionsDefaultAction is {shown(default)} and publicNetworkAccess is " \
                  f"{shown(get(props, 'publicNetworkAccess'))}"


def _gateway_only(args: StackValidationArgs, report: ReportViolation) -> None:
    auths = resources_of(args, [WEB_APP_AUTH_SETTINGS_V2])
    if not is_prod(args) and not auths:
        return  # dev may run without an Entra app registration: only a stack that uses App Service auth is held to it

    def check(app: Any) -> None:
        if not is_function_app(app.props):
            return
        closed, inbound = _inbound_closed(app)
        if closed:
            return
        mine = [a for a in auths if same_app(a, app)]
        found = [(a, _auth_problems(a)) for a in mine]
        if any(not problems for _, problems in found):
            return
        if found:
            why = "; ".join(f"{WEB_APP_AUTH_SETTINGS_V2} '{a.name}': {', '.join(problems)}" for a, problems in found)
        else:
            why = f"no {WEB_APP_AUTH_SETTINGS_V2} names it (name and resourceGroupName)"
        report(f"Function app '{app.name}' ({app.resource_type}): callable at its own host name around the API gateway: "
               f"{why}; and {inbound}; required: App Service authentication that requires it, answers 401/403 and "
               "allows only the caller's identity (API Management's, or the orchestrator's), or, for an app no one "
               "calls over HTTP, siteConfig.ipSecurityRestrictionsDefaultAction 'Deny' with no Allow rule (or "
               "publicNetworkAccess 'Disabled').", app.urn)

    each_known(resources_of(args, [WEB_APP]), check)


POLICIES = [
    resource_policy(
        "lambda-function-url-auth",
        "Lambda function URLs require IAM auth (authorizationType AWS_IAM), never NONE; public HTTP goes through the API.",
        [FUNCTION_URL],
        _function_url_auth,
        remediation="set authorization_type='AWS_IAM' on the function URL, or expose the function through an API route.",
        level=MANDATORY,
        severity=Severity.CRITICAL,
    ),
    stack_policy(
        "api-routes-require-auth",
        "API routes are authenticated unless their 'METHOD /path' is in publicRoutes: API Gateway HTTP routes and "
        "REST methods, GCP API Gateway OpenAPI operations (security), Azure API Management operations (validate-jwt); "
        "in dev an API without any auth configured may stay open.",
        [HTTP_ROUTE, HTTP_API, HTTP_AUTHORIZER, REST_METHOD, REST_RESOURCE, REST_API, REST_AUTHORIZER, GCP_API_CONFIG,
         APIM_OPERATION, APIM_OPERATION_POLICY, APIM_API_POLICY, APIM_SERVICE_POLICY],
        _api_routes_require_auth,
        remediation="attach the API's JWT authorizer (AWS), a security requirement (GCP OpenAPI) or a <validate-jwt> "
        "inbound policy (Azure APIM) to the route, or declare it public in the service spec (publicRoutes).",
        level=MANDATORY,
        severity=Severity.HIGH,
        config=ROUTE_CONFIG,
    ),
    resource_policy(
        "gcs-public-access-prevention",
        "Cloud Storage buckets enforce public access prevention and uniform bucket-level access.",
        [GCS_BUCKET],
        _gcs_public_access,
        remediation="set public_access_prevention='enforced' and uniform_bucket_level_access=True on the bucket.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "azure-blob-public-access-off",
        "Azure Storage accounts set allowBlobPublicAccess to false explicitly (the default differs by API version).",
        [STORAGE_ACCOUNT],
        _azure_blob_public_access,
        remediation="set allow_blob_public_access=False on the storage account.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "gcp-push-subscriptions-authenticated",
        "Pub/Sub push subscriptions sign each push with an OIDC token of a service account (pushConfig.oidcToken), "
        "so the endpoint can accept that account alone.",
        [PUBSUB_SUBSCRIPTION],
        _push_authenticated,
        remediation="set pushConfig.oidcToken {serviceAccountEmail: <a push account that holds roles/run.invoker on the "
                    "consumer>, audience: <the endpoint URL>}.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    resource_policy(
        "cors-no-wildcard-in-prod",
        "In prod, CORS never allows any origin ('*'): API Gateway HTTP APIs (config or OpenAPI body), REST APIs "
        "(Access-Control-Allow-Origin in integration or gateway responses, or in the OpenAPI body), Lambda function "
        "URLs, S3 CORS, Cloud Storage buckets, Azure Function/Web apps and their slots, Blob service CORS and API "
        "Management <cors> policies; dev may use '*'.",
        [HTTP_API, REST_API, REST_INTEGRATION_RESPONSE, REST_GATEWAY_RESPONSE, FUNCTION_URL, S3_CORS, S3_CORS_V2,
         GCS_BUCKET, WEB_APP, WEB_APP_SLOT, BLOB_SERVICE, APIM_SERVICE_POLICY, APIM_API_POLICY, APIM_OPERATION_POLICY],
        _cors_wildcard,
        remediation="list the site's origins (stack config allowedOrigins) instead of '*'.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
    stack_policy(
        "azure-function-apps-gateway-only",
        "Every Azure function app is reachable only through its callers: App Service authentication (a "
        "WebAppAuthSettingsV2 with the app's name and resource group) that requires authentication, answers 401/403 and "
        "allows only listed principals or client applications, or, with no HTTP callers, a main site that denies all "
        "inbound traffic (ipSecurityRestrictionsDefaultAction Deny, no Allow rule, or publicNetworkAccess Disabled); "
        "in dev a stack without any App Service authentication may stay open.",
        [WEB_APP, WEB_APP_AUTH_SETTINGS_V2],
        _gateway_only,
        remediation="add web.WebAppAuthSettingsV2(name=<app name>, platform={enabled: true}, global_validation="
                    "{require_authentication: true, unauthenticated_client_action: 'Return401'}, identity_providers="
                    "{azure_active_directory: {..., validation: {default_authorization_policy: {allowed_principals: "
                    "{identities: [<caller principal id>]}}}}}), or site_config ip_security_restrictions_default_action="
                    "'Deny' for queue- and timer-only apps.",
        level=MANDATORY,
        severity=Severity.HIGH,
    ),
]
