"""Callers of Azure apps in tests: a local stand-in of Entra ID's token signing, and an app reached
over HTTP called as the Functions host calls it.

`EntraStandIn` makes an RSA key, serves its public half as the tenant's JWKS on a local HTTP
server (tests/support/local_http.py), and signs access tokens with it as Entra ID signs a
managed identity's v2 token for an app registration (RS256, `kid` in the header; `iss`, `aud`,
`oid`, `tid`, `iat`, `nbf`, `exp` in the claims). Apps under test read the keys from its
`keys_url` (the Azure adapter's `ANYCLOUD_CALLER_KEYS_URL`, which only a loopback address may
replace) instead of Entra ID's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import azure.functions as func
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from runtime import memory
from runtime.azure import entry
from runtime.azure.callers import AUDIENCE, CALLERS, KEYS_URL, TENANT, issuer
from runtime.azure.messaging import Clients
from runtime.contracts import Context
from tests.support.local_http import LocalServer

KEYS_PATH = "/discovery/v2.0/keys"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE_ID = "6b0e4c1a-2d3f-4e5a-8b7c-9d0e1f2a3b4c"
ORCHESTRATOR = "0d5f3a9e-1b2c-4d3e-8f4a-5b6c7d8e9f01"
GATEWAY = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
#: `call(..., authorization=CALLER)`: a valid token of the app's first caller.
CALLER = object()


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class EntraStandIn:
    def __init__(self, tenant: str, kid: str = "test-key-1") -> None:
        self.tenant = tenant
        self.kid = kid
        self.key = new_key()
        self.fetches = 0
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self._jwks = json.dumps({"keys": [{**public, "kid": kid, "use": "sig"}]})
        self._server = LocalServer(self._answer)
        self.keys_url = f"http://{self._server.address}{KEYS_PATH}"

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if method == "GET" and path == KEYS_PATH:
            self.fetches += 1
            return 200, self._jwks
        return 404, "{}"

    def close(self) -> None:
        self._server.close()

    def claims(self, principal: str, audience: str, lifetime_s: int = 3600) -> dict[str, Any]:
        """The claims of a v2 app token for `audience` issued to `principal` (its object id)."""
        now = int(time.time())
        return {"iss": issuer(self.tenant), "aud": audience, "oid": principal, "sub": principal, "tid": self.tenant,
                "iat": now, "nbf": now, "exp": now + lifetime_s, "ver": "2.0", "idtyp": "app"}

    def token(self, principal: str, audience: str, key: rsa.RSAPrivateKey | None = None, headers: dict | None = None,
              **overrides: Any) -> str:
        """A signed token (`key` for another signer, `overrides` to change or, with None, drop claims)."""
        claims = {**self.claims(principal, audience), **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})})

    def bearer(self, principal: str, audience: str, **overrides: Any) -> str:
        return f"Bearer {self.token(principal, audience, **overrides)}"


@pytest.fixture(scope="module")
def entra():
    standin = EntraStandIn(TENANT_ID)
    yield standin
    standin.close()


def caller_settings(entra: EntraStandIn, callers: str = ORCHESTRATOR) -> dict[str, str]:
    """What the renderer sets on an app reached over HTTP, with the keys read from `entra`."""
    return {CALLERS: callers, AUDIENCE: AUDIENCE_ID, TENANT: TENANT_ID, KEYS_URL: entra.keys_url}


@pytest.fixture
def http_app(entra, monkeypatch):
    """`make(handler, triggers, routes, callers)`: an app for a sample handler (tests/support/
    sample_handlers.py) and `call`, which reaches its HTTP function as the host does, by default
    with a valid token of the app's first caller; and the app's resources."""

    def make(handler: str, triggers: str, routes: str = "", callers: str = ORCHESTRATOR):
        env = {"ANYCLOUD_FUNCTION": handler, "ANYCLOUD_HANDLER": f"tests.support.sample_handlers:{handler}",
               "ANYCLOUD_TRIGGERS": triggers, "ANYCLOUD_ROUTES": routes, **caller_settings(entra, callers)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        entry.reset()
        context = Context(tables={"items": memory.Table("id"), "idempotency": memory.Table("id")}, queues={},
                          workflows={}, secrets={})
        made = entry.Instance(env, clients=Clients(), context=context)
        monkeypatch.setattr(entry, "instance", lambda: made)
        (function,) = entry.create_app(env).get_functions()
        user = function.get_user_function()

        def call(method: str, path: str, body: bytes = b"", headers: dict | None = None, params: dict | None = None,
                 authorization: Any = CALLER) -> tuple[int, Any, dict[str, str]]:
            headers = dict(headers or {})
            if authorization is CALLER:
                authorization = entra.bearer(callers.split(",")[0], AUDIENCE_ID)
            if authorization is not None:
                headers["Authorization"] = authorization
            request = func.HttpRequest(method, f"https://app.azurewebsites.net/api/{path}", headers=headers,
                                       params=params or {}, route_params={"path": path}, body=body)
            response = user(request)
            text = response.get_body()
            return response.status_code, json.loads(text) if text else None, dict(response.headers)

        return call, context

    yield make
    entry.reset()
