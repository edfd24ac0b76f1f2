"""Transport and exposure policies: what the fixtures don't pin down.

TLS version spellings per Azure service, SQS correlation (property dependencies, URL values,
the engine's outputs view, inline policies) and statement shapes, unknown values during preview,
publicRoutes / preflight config, dev vs prod for routes and CORS, WebSocket APIs, OpenAPI
security semantics, the APIM policy inheritance chain and wildcard origins.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import POLICIES, exposure, insecure_transport, transport
from policy.offline import evaluate, load_export

FIXTURES = Path(__file__).resolve().parent / "policy_fixtures"
ACCOUNT, REGION = "123456789012", "eu-west-1"
MINE = transport.POLICIES + insecure_transport.POLICIES + exposure.POLICIES
RG = "/subscriptions/7d3f2b1c-5a4e-4c8b-9f61-2e0d8a6b4c11/resourceGroups/orders-prod-rg"
APIM = f"{RG}/providers/Microsoft.ApiManagement/service/orders-prod-apim"


def resource(typ: str, name: str, inputs: dict[str, Any] | None, deps: dict[str, list[str]] | None = None,
             outputs: dict[str, Any] | None = None, stack: str = "prod") -> dict[str, Any]:
    r = {"urn": f"urn:pulumi:{stack}::anycloud::{typ}::{name}", "type": typ, "custom": True,
         "outputs": outputs if outputs is not None else inputs, "propertyDependencies": deps or {}}
    if inputs is not None:
        r["inputs"] = inputs
    return r


def run(resources, environment="prod", config=None, policy=None):
    policies = [p for p in MINE if policy is None or p.name == policy]
    return evaluate(resources, environment, config, policies=policies)


def fixture(policy: str, name: str) -> list[dict[str, Any]]:
    return load_export(FIXTURES / policy / name)


# ------------------------------------------------------------------ the pack's shape


def test_policies_are_mandatory_named_described_and_typed():
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    advisory = {"azure-app-service-basic-auth-off"}  # the stack may turn basic auth off outside Pulumi
    for p in MINE:
        assert p.enforcement_level == (EnforcementLevel.ADVISORY if p.name in advisory else EnforcementLevel.MANDATORY)
        assert p.description.endswith(".") and p.resource_types
        assert p.name in {d.name for d in FIXTURES.iterdir()}


# ------------------------------------------------------------------ Azure TLS


@pytest.mark.parametrize("value, version", [
    ("TLS1_2", (1, 2)), ("TLS1_3", (1, 3)), ("TLS1_0", (1, 0)), ("Tls12", (1, 2)), ("Tls11", (1, 1)), ("Tls", (1, 0)),
    ("1.2", (1, 2)), ("1.3", (1, 3)), ("1.0", (1, 0)), ("bogus", None), (None, None), (1.2, None),
])
def test_tls_version_spellings(value, version):
    assert transport.tls_version(value) == version


def test_cosmos_tls13_and_servicebus_tls13_pass():
    found = run([
        resource("azure-native:cosmosdb:DatabaseAccount", "db", {"minimalTlsVersion": "Tls13"}),
        resource("azure-native:servicebus:Namespace", "bus", {"minimumTlsVersion": "1.3"}),
        resource("azure-native:storage:StorageAccount", "st", {"enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_3",
                                                               "allowBlobPublicAccess": False}),
    ])
    assert found.violations == [] and found.notes == []


def test_unreadable_tls_value_is_a_violation():
    found = run([resource("azure-native:servicebus:Namespace", "bus", {"minimumTlsVersion": "latest"})])
    assert [v.policy for v in found.violations] == ["azure-servicebus-tls12"]
    assert "minimumTlsVersion is 'latest'; required: '1.2' or newer" in found.violations[0].message


def test_unknown_tls_value_is_a_note_not_a_crash():
    found = run([resource("azure-native:web:WebApp", "app", {"httpsOnly": True, "siteConfig": {"minTlsVersion": UNKNOWN_STRING_VALUE}})],
                policy="azure-app-service-https-tls12-no-ftp")
    assert found.violations == []
    assert len(found.notes) == 1 and found.notes[0].startswith("azure-app-service-https-tls12-no-ftp: can't run on urn:")


# ------------------------------------------------------------------ SQS deny insecure transport

SQS = "aws-deny-insecure-transport"


def q_url(name):
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


def q_arn(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def deny(**over):
    stmt = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": q_arn("orders-1c168ad"),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    stmt.update(over)
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def queue_and_policy(doc, link=True, url=None, queue_inputs=None, queue_outputs=None):
    q = resource("aws:sqs/queue:Queue", "orders", queue_inputs or {}, outputs=queue_outputs)
    qp = resource("aws:sqs/queuePolicy:QueuePolicy", "orders-tls-only", {"queueUrl": url or q_url("orders-1c168ad"), "policy": doc},
                  {"queueUrl": [q["urn"]] if link else []})
    return [q, qp]


def test_queue_arn_from_url():
    assert insecure_transport.queue_arn_from_url(q_url("orders")) == q_arn("orders")
    assert insecure_transport.queue_arn_from_url("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q") == "arn:aws-cn:sqs:cn-north-1:123456789012:q"
    assert insecure_transport.queue_arn_from_url("not a url") is None


@pytest.mark.parametrize("stmt", [
    {},
    {"Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"]},
    {"Action": ["sqs:Send*", "sqs:Receive*"]},
    {"Action": "*"},
    {"Resource": "*"},
    {"Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-*"},
    {"Principal": {"AWS": "*"}},
    {"Condition": {"Bool": {"aws:securetransport": False}}},
    {"Condition": {"BoolIfExists": {"aws:SecureTransport": ["false"]}}},
])
def test_sqs_deny_shapes_that_cover_the_queue(stmt):
    assert run(queue_and_policy(deny(**stmt)), policy=SQS).violations == []


@pytest.mark.parametrize("stmt, reason", [
    ({"Effect": "Allow"}, "no Deny statement"),
    ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, "no Deny statement"),
    ({"Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}, "no Deny statement"),
    ({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, "its Principal"),
    ({"Action": "sqs:SendMessage"}, "its Action"),
    ({"Resource": q_arn("other")}, "its Resource"),
])
def test_sqs_deny_shapes_that_do_not(stmt, reason):
    found = run(queue_and_policy(deny(**stmt)), policy=SQS).violations
    assert len(found) == 1 and reason in found[0].message
    assert found[0].urn.endswith("aws:sqs/queue:Queue::orders") and "Fix:" in found[0].message


def test_sqs_not_action_deny_covers_unless_it_excludes_data_actions():
    body = json.loads(deny())["Statement"][0]
    body.pop("Action")
    ok = dict(body, NotAction=["sqs:GetQueueUrl"])
    bad = dict(body, NotAction=["sqs:ReceiveMessage"])
    assert run(queue_and_policy(json.dumps({"Statement": [ok]})), policy=SQS).violations == []
    assert len(run(queue_and_policy(json.dumps({"Statement": [bad]})), policy=SQS).violations) == 1


def test_sqs_policy_for_another_queue_does_not_count():
    resources = queue_and_policy(deny(), link=False, url=q_url("someone-else"))
    found = run(resources, policy=SQS).violations
    assert len(found) == 1 and "no aws:sqs/queuePolicy:QueuePolicy targets it" in found[0].message


def test_sqs_correlation_by_url_value_in_the_engine_outputs_view():
    """The engine gives stack policies outputs: the queue's url/arn, and maybe no property dependencies."""
    outputs = {"arn": q_arn("orders-1c168ad"), "url": q_url("orders-1c168ad"), "name": "orders-1c168ad"}
    resources = queue_and_policy(deny(), link=False, queue_inputs=None, queue_outputs=outputs)
    del resources[0]["inputs"]
    assert run(resources, policy=SQS).violations == []
    wrong = queue_and_policy(deny(Resource=q_arn("orders-dlq")), link=False, queue_outputs=outputs)
    del wrong[0]["inputs"]
    assert "its Resource" in run(wrong, policy=SQS).violations[0].message


def test_sqs_inline_policy_on_the_queue():
    inline = deny(Resource="*")
    assert run([resource("aws:sqs/queue:Queue", "orders", {"policy": inline})], policy=SQS).violations == []
    found = run([resource("aws:sqs/queue:Queue", "orders", {"policy": deny(Effect="Allow")})], policy=SQS).violations
    assert len(found) == 1 and "its policy input has no Deny statement" in found[0].message


def test_sqs_unknown_arn_and_url_during_preview_still_correlate_by_dependency():
    q = resource("aws:sqs/queue:Queue", "orders", {"arn": UNKNOWN_STRING_VALUE, "url": UNKNOWN_STRING_VALUE})
    qp = resource("aws:sqs/queuePolicy:QueuePolicy", "orders-tls-only", {"queueUrl": UNKNOWN_STRING_VALUE, "policy": deny(Resource="*")},
                  {"queueUrl": [q["urn"]]})
    found = run([q, qp], policy=SQS)
    assert found.violations == [] and found.notes == []


def test_sqs_unknown_policy_document_is_a_note_not_a_crash():
    found = run(queue_and_policy(UNKNOWN_STRING_VALUE), policy=SQS)
    assert found.violations == []
    assert len(found.notes) == 1 and found.notes[0].startswith(f"{SQS}: can't run")


# ------------------------------------------------------------------ Lambda function URLs


def test_function_url_unknown_auth_is_a_note():
    found = run([resource("aws:lambda/functionUrl:FunctionUrl", "u", {"authorizationType": UNKNOWN_STRING_VALUE})],
                policy="lambda-function-url-auth")
    assert found.violations == [] and len(found.notes) == 1


def test_function_url_none_is_refused_in_dev_too():
    found = run(fixture("lambda-function-url-auth", "aws-bad.json"), environment="dev", policy="lambda-function-url-auth")
    assert len(found.violations) == 1 and "authorizationType is 'NONE'; required: 'AWS_IAM'" in found.violations[0].message


# ------------------------------------------------------------------ API routes

ROUTES = "api-routes-require-auth"


def route_keys(report) -> list[str]:
    return sorted(v.urn.rsplit("::", 1)[-1] for v in report.violations)


def test_public_routes_config_declares_routes_public():
    resources = fixture(ROUTES, "aws-bad.json")
    assert route_keys(run(resources, policy=ROUTES)) == ["post-orders-route"]
    assert run(resources, config={"publicRoutes": ["GET /health", "post /orders/"]}, policy=ROUTES).violations == []
    assert route_keys(run(fixture(ROUTES, "aws-ok.json"), config={"publicRoutes": []}, policy=ROUTES)) == ["get-health-route"]


def test_dev_without_any_auth_is_open_but_prod_is_not():
    resources = fixture(ROUTES, "aws-ok-dev.json")
    assert run(resources, "dev", policy=ROUTES).violations == []
    assert route_keys(run(resources, "prod", policy=ROUTES)) == ["get-orders-order_id-route", "post-orders-route"]


def test_missing_authorization_type_means_none():
    api = resource("aws:apigatewayv2/api:Api", "http-api", {"protocolType": "HTTP"})
    r = resource("aws:apigatewayv2/route:Route", "r", {"apiId": "abc", "routeKey": "DELETE /orders/{id}"}, {"apiId": [api["urn"]]})
    found = run([api, r], policy=ROUTES).violations
    assert len(found) == 1 and "authorizationType is 'NONE' on routeKey 'DELETE /orders/{id}'" in found[0].message


def test_websocket_routes_authorize_on_connect_only():
    api = resource("aws:apigatewayv2/api:Api", "ws", {"protocolType": "WEBSOCKET"})
    routes = [resource("aws:apigatewayv2/route:Route", key.strip("$"), {"apiId": "ws1", "routeKey": key, "authorizationType": "NONE"},
                       {"apiId": [api["urn"]]}) for key in ("$connect", "$disconnect", "$default", "sendMessage")]
    assert route_keys(run([api, *routes], policy=ROUTES)) == ["connect"]


def test_rest_preflight_is_allowed_unless_configured_off():
    resources = fixture(ROUTES, "aws-ok-rest.json")
    assert run(resources, policy=ROUTES).violations == []
    found = run(resources, config={"allowUnauthenticatedPreflight": False}, policy=ROUTES).violations
    assert [v.urn.rsplit("::", 1)[-1] for v in found] == ["orders-preflight-method"]
    assert "'OPTIONS /orders'" in found[0].message


def test_rest_paths_resolve_from_outputs_path_when_inputs_are_absent():
    """The engine's outputs view has Resource.path; a method on a nested resource is matched by its full path."""
    api = resource("aws:apigateway/restApi:RestApi", "rest", None, outputs={"id": "api1", "rootResourceId": "root1"})
    res = resource("aws:apigateway/resource:Resource", "item", None, outputs={"id": "res9", "path": "/orders/{order_id}", "pathPart": "{order_id}"})
    m = resource("aws:apigateway/method:Method", "m", None, outputs={"restApi": "api1", "resourceId": "res9", "httpMethod": "GET",
                                                                     "authorization": "NONE"})
    found = run([api, res, m], policy=ROUTES).violations
    assert len(found) == 1 and "'GET /orders/{order_id}'" in found[0].message
    assert run([api, res, m], config={"publicRoutes": ["GET /orders/{order_id}"]}, policy=ROUTES).violations == []


def api_config(doc: Any, raw: bool = False) -> dict[str, Any]:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
    contents = text if raw else base64.b64encode(text.encode()).decode()
    return resource("gcp:apigateway/apiConfig:ApiConfig", "cfg", {"api": "orders", "openapiDocuments": [
        {"document": {"path": "openapi.yaml", "contents": contents}}]})


def test_openapi_security_semantics():
    doc = {"swagger": "2.0", "securityDefinitions": {"jwt": {"type": "oauth2", "flow": "implicit", "authorizationUrl": ""}},
           "security": [{"jwt": []}],
           "paths": {"/orders": {"parameters": [], "get": {}, "post": {"security": []}, "put": {"security": [{"jwt": []}, {}]},
                                 "x-extension": {"security": []}},
                     "/health": {"get": {"security": []}}}}
    assert exposure.openapi_open_operations(doc) == ["POST /orders", "PUT /orders", "GET /health"]
    found = run([api_config(doc)], policy=ROUTES).violations
    assert len(found) == 1 and "POST /orders, PUT /orders:" in found[0].message


def test_openapi3_components_and_unreadable_documents():
    doc = {"openapi": "3.0.3", "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
           "paths": {"/orders": {"get": {"security": [{"bearer": []}]}, "delete": {}}}}
    found = run([api_config(doc)], "dev", policy=ROUTES).violations
    assert len(found) == 1 and "DELETE /orders" in found[0].message
    unreadable = run([api_config("%%% not: [yaml", raw=True)], policy=ROUTES).violations
    assert len(unreadable) == 1 and "is not a base64-encoded OpenAPI" in unreadable[0].message


def test_gcp_unknown_document_is_a_note():
    cfg = resource("gcp:apigateway/apiConfig:ApiConfig", "cfg", {"openapiDocuments": [{"document": {"path": "o.yaml",
                                                                                                    "contents": UNKNOWN_STRING_VALUE}}]})
    found = run([cfg], policy=ROUTES)
    assert found.violations == [] and len(found.notes) == 1 and found.notes[0].startswith(f"{ROUTES}: can't run")


JWT = '<validate-jwt header-name="Authorization"><openid-config url="https://auth.example.com/.well-known/openid-configuration" /></validate-jwt>'


def xml(inbound: str) -> str:
    return f"<policies><inbound>{inbound}</inbound><backend><base /></backend><outbound><base /></outbound></policies>"


@pytest.mark.parametrize("levels, expected", [
    ([None, xml(f"<base />{JWT}"), None], True),
    ([xml("<base />"), xml(f"<base />{JWT}"), None], True),
    ([xml("<set-header name='x' />"), xml(JWT), None], False),
    ([None, None, xml(JWT)], True),
    ([None, xml("<cors />"), xml(JWT)], False),
    ([xml(f"<!-- {JWT} --><base />"), None, None], False),
    ([xml('<validate-azure-ad-token tenant-id="t" />'), None, None], True),
    (["<policies><backend><base /></backend></policies>", xml(JWT), None], False),
    ([None, None, None], False),
    # parsed, not searched: a validation inside a branch, after the request path, or in text that is not XML
    ([xml(f'<base /><choose><when condition="@(false)">{JWT}</when></choose>'), None, None], False),
    ([xml("<base />").replace("<outbound><base /></outbound>", f"<outbound>{JWT}</outbound>"), None, None], False),
    ([f"<policies><inbound>{JWT}<inbound></policies>", None, None], False),
    ([xml(f'<choose><when condition="@(true)">{JWT}</when><otherwise>{JWT}</otherwise></choose><base />'), None, None], False),
])
def test_apim_inheritance_chain(levels, expected):
    assert exposure.apim_chain_authenticates(levels) is expected


def test_apim_correlates_by_arm_id_in_the_engine_outputs_view():
    """azure-native outputs have no serviceName/apiId/operationId: the ARM id names them."""
    op = resource("azure-native:apimanagement:ApiOperation", "create-order", None,
                  outputs={"id": f"{APIM}/apis/orders-api/operations/create-order", "name": "create-order", "method": "POST",
                           "urlTemplate": "/orders"})
    api_policy = resource("azure-native:apimanagement:ApiPolicy", "orders-policy", None,
                          outputs={"id": f"{APIM}/apis/orders-api/policies/policy", "value": xml(f"<base />{JWT}"), "format": "xml"})
    other_api = resource("azure-native:apimanagement:ApiPolicy", "other-policy", None,
                         outputs={"id": f"{APIM}/apis/other-api/policies/policy", "value": xml(f"<base />{JWT}"), "format": "xml"})
    assert run([op, api_policy], policy=ROUTES).violations == []
    found = run([op, other_api], policy=ROUTES).violations
    assert len(found) == 1 and "'POST /orders' is not in publicRoutes" in found[0].message


def test_apim_dev_open_service_is_allowed_but_partial_auth_is_not():
    assert run(fixture(ROUTES, "azure-bad.json"), "dev", policy=ROUTES).violations == []
    assert len(run(fixture(ROUTES, "azure-bad-operation-drops-base.json"), "dev", policy=ROUTES).violations) == 1


# ------------------------------------------------------------------ storage exposure


def test_gcs_and_blob_unknown_values_are_notes():
    found = run([resource("gcp:storage/bucket:Bucket", "b", {"publicAccessPrevention": UNKNOWN_STRING_VALUE}),
                 resource("azure-native:storage:StorageAccount", "s", {"allowBlobPublicAccess": UNKNOWN_STRING_VALUE,
                                                                       "enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2"})])
    assert found.violations == []
    assert sorted(n.split(":")[0] for n in found.notes) == ["azure-blob-public-access-off", "gcs-public-access-prevention"]


# ------------------------------------------------------------------ CORS

CORS = "cors-no-wildcard-in-prod"


@pytest.mark.parametrize("origin, wildcard", [
    ("*", True), (" * ", True), ("https://*", True), ("http://*/", True),
    ("https://shop.example.com", False), ("https://*.example.com", False), ("null", False), (None, False),
])
def test_wildcard_origin(origin, wildcard):
    assert exposure.wildcard_origin(origin) is wildcard


def test_cors_wildcard_is_prod_only_on_every_cloud():
    for cloud in ("aws", "gcp", "azure"):
        bad = fixture(CORS, f"{cloud}-bad.json")
        assert run(bad, "prod", policy=CORS).violations, cloud
        assert run(bad, "dev", policy=CORS).violations == [], cloud


def test_cors_on_s3_and_blob_service_side_resources():
    s3 = resource("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration", "uploads-cors",
                  {"bucket": "orders-prod-uploads", "corsRules": [{"allowedMethods": ["GET"], "allowedOrigins": ["https://shop.example.com"]},
                                                                  {"allowedMethods": ["PUT"], "allowedOrigins": ["*"]}]})
    blob = resource("azure-native:storage:BlobServiceProperties", "blob", {"accountName": "st", "blobServicesName": "default",
                                                                             "cors": {"corsRules": [{"allowedOrigins": ["*"]}]}})
    messages = sorted(v.message for v in run([s3, blob], policy=CORS).violations)
    assert len(messages) == 2
    assert messages[0].startswith("Blob service blob: cors.corsRules[0].allowedOrigins contains '*'")
    assert messages[1].startswith("S3 bucket CORS configuration uploads-cors: corsRules[1].allowedOrigins contains '*'")


def test_apim_cors_wildcard_in_comments_or_outside_cors_is_ignored():
    wildcard = "<cors><allowed-origins><origin>*</origin></allowed-origins></cors>"
    assert not exposure.apim_wildcard_origins(f"<policies><inbound><!-- {wildcard} --></inbound></policies>")
    assert not exposure.apim_wildcard_origins("<policies><inbound><set-header name='x'><value>*</value></set-header></inbound></policies>")
    assert exposure.apim_wildcard_origins("<cors allow-credentials='false'>\n<allowed-origins>\n<origin> * </origin></allowed-origins></cors>")
