"""API Gateway HTTP API: a Lambda proxy route per declared route.

Routes use the JWT authorizer unless declared public; CORS allows only configured origins;
the `$default` stage throttles and writes JSON access logs to an encrypted log group. Each
route's Lambda permission is scoped by `source_arn` to that route's method and path alone.
"""

from __future__ import annotations

import json
import re

import pulumi
import pulumi_aws as aws

from ..spec import ApiSpec, JwtAuth
from .context import AwsContext
from .function import FunctionHandle
from .logs import log_group

STAGE = "$default"
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    },
    sort_keys=True,
)
CORS_HEADERS = ["authorization", "content-type", "idempotency-key"]


def source_path(path: str) -> str:
    """The route's path as API Gateway puts it in the invoking ARN: a path parameter matches as
    `*` (`/orders/{order_id}` -> `/orders/*`); a literal `{order_id}` would never match."""
    return re.sub(r"\{[^/]+\}", "*", path)


def create_api(
    ctx: AwsContext,
    spec: ApiSpec,
    auth: JwtAuth | None,
    origins: tuple[str, ...],
    functions: dict[str, FunctionHandle],
    parent: pulumi.Resource,
) -> tuple[aws.apigatewayv2.Api, aws.apigatewayv2.Stage]:
    methods = sorted({r.method for r in spec.routes} | {"OPTIONS"})
    api = aws.apigatewayv2.Api(
        "http-api",
        name=ctx.physical("api"),
        protocol_type="HTTP",
        cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
            allow_origins=list(origins), allow_methods=methods, allow_headers=CORS_HEADERS, max_age=600
        )
        if origins
        else None,
        opts=ctx.opts(parent),
    )
    authorizer = (
        aws.apigatewayv2.Authorizer(
            "jwt",
            api_id=api.id,
            name="jwt",
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(issuer=auth.issuer, audiences=list(auth.audience)),
            opts=ctx.opts(api),
        )
        if auth
        else None
    )
    integrations = {
        name: aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=functions[name].target_arn,
            payload_format_version="2.0",
            timeout_milliseconds=min(30000, functions[name].spec.timeout_s * 1000 + 1000),
            opts=ctx.opts(api),
        )
        for name in dict.fromkeys(r.function for r in spec.routes)
    }
    for route in spec.routes:
        slug = f"{route.method.lower()}{route.path.replace('/', '-').replace('{', '').replace('}', '')}"
        protected = authorizer is not None and not route.public
        handle = functions[route.function]
        permission = aws.lambda_.Permission(
            f"{slug}-invoke",
            action="lambda:InvokeFunction",
            function=handle.function.name,
            qualifier=handle.qualifier,
            principal="apigateway.amazonaws.com",
            source_arn=api.execution_arn.apply(lambda arn, r=route: f"{arn}/{STAGE}/{r.method}{source_path(r.path)}"),
            opts=ctx.opts(api),
        )
        # A route is live as soon as it exists (the stage auto-deploys): not before API
        # Gateway may invoke its function, or its first callers get 500s.
        aws.apigatewayv2.Route(
            f"{slug}-route",
            api_id=api.id,
            route_key=route.key,
            target=integrations[route.function].id.apply(lambda i: f"integrations/{i}"),
            authorization_type="JWT" if protected else "NONE",
            authorizer_id=authorizer.id if protected else None,
            opts=ctx.opts(api, depends_on=[permission]),
        )
    access_logs = log_group(ctx, "api", "access", api)
    stage = aws.apigatewayv2.Stage(
        "default-stage",
        api_id=api.id,
        name=STAGE,
        auto_deploy=True,
        access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT),
        default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
            throttling_rate_limit=spec.throttle.rate_limit,
            throttling_burst_limit=spec.throttle.burst_limit,
            detailed_metrics_enabled=True,
        ),
        opts=ctx.opts(api),
    )
    return api, stage
