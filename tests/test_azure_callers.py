"""The Azure adapter verifies every HTTP caller itself (runtime/azure/callers.py): a token signed
by the tenant's keys (served here as a JWKS by a local stand-in of Entra ID), for the service's
audience, from the tenant's v2 issuer, unexpired, of an allowed principal; anything else is 401
before the handler runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from runtime.azure import entry
from runtime.azure.callers import AUDIENCE, CALLERS, KEYS_URL, TENANT, Callers
from runtime.contracts import Context
from tests.support import sample_handlers
from tests.support.azure_callers import (  # noqa: F401 (fixtures)
    AUDIENCE_ID,
    GATEWAY,
    ORCHESTRATOR,
    TENANT_ID,
    EntraStandIn,
    caller_settings,
    entra,
    http_app,
    new_key,
)


def hs256(entra: EntraStandIn, claims: dict) -> str:
    """A token signed with HMAC and the RSA public key as its secret (the algorithm-confusion
    attack); PyJWT refuses to sign so with a PEM key, so the signature is made here."""
    secret = entra.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing = f"{part(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': entra.kid}).encode())}." \
              f"{part(json.dumps(claims).encode())}"
    return f"{signing}.{part(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"


def refusals(entra: EntraStandIn) -> dict[str, str | None]:
    """Authorization headers the app must refuse, by what is wrong with them (REFUSED's keys)."""
    good = {"principal": ORCHESTRATOR, "audience": AUDIENCE_ID}
    claims = entra.claims(**good)
    signed = entra.token(**good)
    header, _, signature = signed.split(".")
    other_claims = entra.token(GATEWAY, AUDIENCE_ID).split(".")[1]
    return {
        "missing header": None,
        "empty": "",
        "another scheme": f"Basic {signed}",
        "not a JWT": "Bearer not-a-token",
        "wrong audience": entra.bearer(ORCHESTRATOR, "api://another-app"),
        "wrong issuer": entra.bearer(**good, iss=f"https://sts.windows.net/{TENANT_ID}/"),
        "another tenant's issuer": entra.bearer(**good, iss="https://login.microsoftonline.com/other-tenant/v2.0"),
        "expired": entra.bearer(**good, exp=claims["iat"] - 120),
        "not yet valid": entra.bearer(**good, nbf=claims["iat"] + 3600),
        "another caller": entra.bearer(GATEWAY, AUDIENCE_ID),
        "no oid": entra.bearer(**good, oid=None),
        "no expiry": entra.bearer(**good, exp=None),
        "bad signature": f"Bearer {entra.token(**good, key=new_key())}",
        "claims swapped under a valid signature": f"Bearer {header}.{other_claims}.{signature}",
        "alg none": "Bearer " + jwt.encode(claims, key=None, algorithm="none", headers={"kid": entra.kid}),
        "HS256 with the public key as secret": f"Bearer {hs256(entra, claims)}",
        "unknown key id": entra.bearer(**good, headers={"kid": "rotated-away"}),
    }


HEADERS = {"X-Request-Id": "req-1", "Content-Type": "application/json"}


def test_the_orchestrators_token_reaches_the_task(http_app, entra):
    call, _ = http_app("task", "task")
    sample_handlers.CALLS.clear()
    status, body, _ = call("POST", "task", b'{"n": 1}', HEADERS, authorization=entra.bearer(ORCHESTRATOR, AUDIENCE_ID))
    assert (status, body) == (200, {"seen": 1, "request_id": "req-1"})
    # the api:// form of the audience names the same registration
    assert call("POST", "task", b"{}", authorization=entra.bearer(ORCHESTRATOR, f"api://{AUDIENCE_ID}"))[0] == 200
    assert sample_handlers.CALLS["task"] == 2


#: what is wrong -> what the log says about it
REFUSED = {
    "missing header": "no bearer token", "empty": "no bearer token", "another scheme": "no bearer token",
    "not a JWT": "no signing key", "wrong audience": "InvalidAudienceError", "wrong issuer": "InvalidIssuerError",
    "another tenant's issuer": "InvalidIssuerError", "expired": "ExpiredSignatureError",
    "not yet valid": "ImmatureSignatureError", "another caller": f"oid {GATEWAY} is not an allowed caller",
    "no oid": 'missing the "oid" claim', "no expiry": 'missing the "exp" claim', "bad signature": "InvalidSignatureError",
    "claims swapped under a valid signature": "InvalidSignatureError", "alg none": "InvalidAlgorithmError",
    "HS256 with the public key as secret": "InvalidAlgorithmError", "unknown key id": "Unable to find a signing key",
}


@pytest.mark.parametrize("case", REFUSED)
def test_anything_else_is_401_before_the_handler_runs(http_app, entra, case, caplog):
    call, _ = http_app("task", "task")
    sample_handlers.CALLS.clear()
    with caplog.at_level("INFO", logger="anycloud"):
        status, body, headers = call("POST", "task", b'{"n": 1}', HEADERS, authorization=refusals(entra)[case])
    assert (status, body) == (401, {"error": "Unauthorized", "message": "the caller is not allowed to call this app",
                                    "request_id": "req-1"}), case
    assert headers["www-authenticate"] == "Bearer"
    assert sample_handlers.CALLS["task"] == 0, case
    (logged,) = [r for r in caplog.records if r.getMessage() == "caller refused"]
    assert logged.status == 401 and logged.request_id == "req-1" and REFUSED[case] in logged.reason


def test_a_route_app_admits_api_management_only_also_on_unknown_paths(http_app, entra):
    call, _ = http_app("echo", "route", "GET /things/{thing_id}", callers=GATEWAY)
    sample_handlers.CALLS.clear()
    assert call("GET", "things/1", authorization=entra.bearer(GATEWAY, AUDIENCE_ID))[0] == 200
    assert call("GET", "elsewhere", authorization=entra.bearer(GATEWAY, AUDIENCE_ID))[0] == 404
    for path in ("things/1", "elsewhere"):  # an unverified caller does not learn which paths exist
        assert call("GET", path, authorization=entra.bearer(ORCHESTRATOR, AUDIENCE_ID))[0] == 401
        assert call("GET", path, authorization=None)[0] == 401
    assert sample_handlers.CALLS["echo"] == 1


def test_the_keys_are_read_once_per_instance(http_app, entra):
    call, _ = http_app("task", "task")
    before = entra.fetches
    for _ in range(3):
        assert call("POST", "task", b"{}", authorization=entra.bearer(ORCHESTRATOR, AUDIENCE_ID))[0] == 200
    assert entra.fetches - before == 1


def test_without_the_signing_keys_the_app_answers_503_and_runs_nothing(entra, caplog):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        unreachable = f"http://127.0.0.1:{closed.getsockname()[1]}/keys"
    env = {"ANYCLOUD_HANDLER": "tests.support.sample_handlers:task", "ANYCLOUD_TRIGGERS": "task",
           **caller_settings(entra), KEYS_URL: unreachable}
    task = entry.Instance(env, context=Context(tables={}, queues={}, workflows={}, secrets={}))
    sample_handlers.CALLS.clear()
    with caplog.at_level("WARNING", logger="anycloud"):
        status, body, _ = task.http("POST", "/task", {}, {"Authorization": entra.bearer(ORCHESTRATOR, AUDIENCE_ID)},
                                    b"{}")
    assert (status, body["error"]) == (503, "Unavailable") and sample_handlers.CALLS["task"] == 0
    assert any("signing keys could not be read" in str(getattr(r, "reason", "")) for r in caplog.records)


def test_an_app_reached_over_http_without_its_callers_fails_at_start(entra):
    base = {"ANYCLOUD_HANDLER": "tests.support.sample_handlers:task", "ANYCLOUD_TRIGGERS": "task"}
    context = Context(tables={}, queues={}, workflows={}, secrets={})
    for missing in (CALLERS, AUDIENCE, TENANT):
        env = {**base, **caller_settings(entra)}
        env.pop(missing)
        with pytest.raises(RuntimeError, match=missing):
            entry.Instance(env, context=context)
    consumer = {"ANYCLOUD_HANDLER": "tests.support.sample_handlers:consume", "ANYCLOUD_TRIGGERS": "consumer",
                "ANYCLOUD_TRIGGER_QUEUE": "q", "ANYCLOUD_TRIGGER__queueServiceUri": "https://a.queue.core.windows.net/"}
    assert entry.Instance(consumer, context=context).callers is None  # a queue listener takes no inbound calls


@pytest.mark.parametrize("url", ["https://keys.example.com/keys", "http://10.0.0.4/keys", "http://127.0.0.1.example.com/k"])
def test_only_a_loopback_address_may_replace_entras_keys(entra, url):
    with pytest.raises(RuntimeError, match=KEYS_URL):
        Callers({**caller_settings(entra), KEYS_URL: url})
    assert Callers({**caller_settings(entra), KEYS_URL: ""}).keys.uri == \
        f"https://login.microsoftonline.com/{TENANT_ID}/discovery/v2.0/keys"


def test_a_token_verified_once_is_not_verified_again_until_it_expires(entra, monkeypatch):
    """The same bytes give the same answer: a caller's live token is checked once per instance,
    and checked again (by PyJWT, which then refuses it) once it has expired plus the leeway."""
    import runtime.azure.callers as callers_module

    callers = Callers(caller_settings(entra))
    token = entra.bearer(ORCHESTRATOR, AUDIENCE_ID)
    decoded = []
    real = callers_module.jwt.decode
    monkeypatch.setattr(callers_module.jwt, "decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    claims = callers.verify(token)
    assert callers.verify(token) == claims and callers.verify(token) == claims
    assert len(decoded) == 1
    monkeypatch.setattr(callers_module.time, "time", lambda: claims["exp"] + callers_module.LEEWAY_S + 1)
    callers.verify(token)
    assert len(decoded) == 2


def test_only_tokens_that_passed_are_remembered_and_only_a_few(entra):
    import runtime.azure.callers as callers_module

    callers = Callers(caller_settings(entra))
    with pytest.raises(callers_module.CallerRefused):
        callers.verify(entra.bearer(GATEWAY, AUDIENCE_ID))
    assert len(callers._verified) == 0
    for _ in range(callers_module.VERIFIED_KEPT + 5):
        callers.verify(entra.bearer(ORCHESTRATOR, AUDIENCE_ID, jti=str(_)))
    assert len(callers._verified) == callers_module.VERIFIED_KEPT
