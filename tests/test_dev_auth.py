"""Tokens whose claims the developer chooses (components/dev/auth.py): what `anycloud dev` accepts
and refuses, and that nothing deployed accepts them. On AWS and GCP the gateway verifies the
JWT and the adapters read the claims only from what the gateway verified (the authorizer context,
the X-Apigateway-Api-Userinfo header on verified routes); on Azure API Management validates it
and every app verifies its caller's signed token itself. A dev token in the Authorization
header is none of those. And no deployed code can reach the dev reader: nothing under
functions/ or a cloud's package imports components.dev."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

import pytest
from runtime.aws.events import caller_of
from runtime.azure import events as azure_events
from runtime.azure.callers import CallerRefused, Callers
from runtime.contracts import HttpError
from runtime.gcp import events as gcp_events

from components.dev.auth import claims
from components.spec import JwtAuth
from tests.support.azure_callers import AUDIENCE_ID, ORCHESTRATOR, TENANT_ID, caller_settings, entra  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
AUTH = JwtAuth(issuer="https://auth.example.com/", audience=("orders-api",))
NOW = 1_800_000_000


def unsigned(payload: dict, header: dict | None = None, signature: str = "") -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part(header or {'alg': 'none'})}.{part(payload)}.{signature}"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------ what dev takes


@pytest.mark.parametrize("token", [
    unsigned({"sub": "alice", "roles": ["admin"]}),
    unsigned({"sub": "alice", "roles": ["admin"]}, {"alg": "None", "typ": "JWT"}),
    '{"sub": "alice", "roles": ["admin"]}',
    ' {"sub": "alice", "roles": ["admin"]} ',
])
def test_an_unsigned_jwt_or_a_json_object_gives_its_claims(token):
    assert claims(bearer(token), AUTH, NOW) == {"sub": "alice", "roles": ["admin"]}


def test_claims_that_agree_with_the_configured_auth_pass():
    agreeing = {"sub": "a", "iss": AUTH.issuer, "aud": ["other", "orders-api"], "exp": NOW + 60, "nbf": NOW - 60}
    assert claims(bearer(unsigned(agreeing)), AUTH, NOW) == agreeing
    assert claims(bearer(json.dumps({"aud": "orders-api"})), AUTH, NOW) == {"aud": "orders-api"}


@pytest.mark.parametrize("headers, reason", [
    ({}, "no Authorization header"),
    ({"authorization": 'Basic {"sub": "a"}'}, "not a bearer token"),
    ({"authorization": "Bearer "}, "not a bearer token"),
    (bearer("abc"), "neither a JWT nor a JSON object"),
    (bearer("{not json"), "not a JSON object"),
    (bearer("[1, 2]"), "neither a JWT nor a JSON object"),
    (bearer('"alice"'), "neither a JWT nor a JSON object"),
    (bearer(unsigned({"sub": "a"}, {"alg": "RS256"}, "c2lnbmF0dXJl")), "the token is signed (alg RS256)"),
    (bearer(unsigned({"sub": "a"}, {"alg": "none"}, "c2ln")), "the token is signed"),
    (bearer(unsigned({"sub": "a"}, {"typ": "JWT"})), "header names no alg"),
    (bearer("eyJhbGciOiJub25lIn0.!!!."), "claims is not base64url-encoded JSON"),
    (bearer(unsigned(["a"])), "the token's claims are not a JSON object"),
    (bearer(unsigned({"iss": "https://evil.example/"})), "is not the issuer"),
    (bearer(unsigned({"aud": ["x", "y"]})), "names none of the audiences"),
    (bearer(unsigned({"exp": NOW})), "expired"),
    (bearer(unsigned({"nbf": NOW + 1})), "not valid yet"),
])
def test_anything_else_is_401_naming_what_is_wrong(headers, reason):
    with pytest.raises(HttpError) as info:
        claims(headers, AUTH, NOW)
    assert (info.value.status, info.value.error) == (401, "Unauthorized")
    assert reason in info.value.message and "anycloud dev takes Authorization: Bearer" in info.value.message


# ------------------------------------------------------------- what deployed code takes


DEV_TOKENS = {
    "unsigned JWT": unsigned({"sub": "alice", "oid": ORCHESTRATOR, "aud": AUDIENCE_ID, "exp": 4_000_000_000,
                              "iss": f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"}),
    "JSON claims": json.dumps({"sub": "alice", "oid": ORCHESTRATOR, "aud": AUDIENCE_ID}),
}


@pytest.mark.parametrize("token", DEV_TOKENS.values(), ids=DEV_TOKENS.keys())
def test_no_cloud_adapter_accepts_a_dev_token(token, entra):  # noqa: F811
    headers = bearer(token)
    # AWS: the caller is what API Gateway's JWT authorizer verified, never a request header.
    event = {"headers": headers, "requestContext": {"http": {"method": "POST", "path": "/orders"}}}
    assert caller_of(event) == ""
    # GCP: claims come from the header API Gateway sets after verifying, never from Authorization.
    assert gcp_events.caller_claims(headers) == {}
    # Azure: API Management forwards the token it validated in its own header; the app verifies
    # its caller's signed token against Entra ID's keys.
    assert azure_events.caller_claims(headers) == {}
    with pytest.raises(CallerRefused) as refused:
        Callers(caller_settings(entra)).verify(headers["authorization"])
    assert refused.value.status == 401


def test_nothing_deployed_imports_the_dev_package():
    deployed = [*ROOT.joinpath("functions").rglob("*.py"),
                *(p for cloud in ("aws", "gcp", "azure") for p in ROOT.joinpath("components", cloud).rglob("*.py"))]
    assert len(deployed) > 30
    for path in deployed:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "components.dev" or n.startswith("components.dev.") or n == "dev" and
                           isinstance(node, ast.ImportFrom) and node.level for n in names), path
