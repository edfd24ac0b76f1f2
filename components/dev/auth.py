"""Who calls a route in `anycloud dev`: claims the developer chooses, because no identity provider
is there to sign a token. Only `anycloud dev` reads tokens this way; a deployed API verifies
signatures at its gateway (AWS's JWT authorizer, API Gateway on GCP, API Management's validate-jwt
on Azure) and no adapter under functions/runtime accepts either form (tests/test_dev_auth.py).

A route needs a token where it would deployed: not public, and `apiAuth` (or the declaration's
`api.auth`) set. It then takes ``Authorization: Bearer <token>`` where the token is

- an unsigned JWT: ``base64url({"alg": "none"}) . base64url(claims) .`` (empty signature), as
  https://www.rfc-editor.org/rfc/rfc7519#section-6.1 defines it; a signed JWT is refused rather
  than read unverified, so nobody mistakes dev for a check of their real tokens;
- or the claims as a JSON object: ``Bearer {"sub": "alice", "scope": "orders"}``.

The claims must not contradict the configured auth: ``iss``, when present, is the issuer;
``aud``, when present, names one of the audiences; ``exp`` and ``nbf``, when present, hold now.
Anything else is 401 with the runtime's error body and ``WWW-Authenticate: Bearer``, before the
function runs, as at a gateway.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import Any

from runtime.contracts import HttpError

from components.spec import JwtAuth

FORMS = 'Authorization: Bearer <an unsigned JWT (alg "none") or a JSON object of claims>'


def _refused(reason: str) -> HttpError:
    return HttpError(401, "Unauthorized", f"{reason}; anycloud dev takes {FORMS}")


def _segment(text: str, what: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise _refused(f"the token's {what} is not base64url-encoded JSON") from None


def _decode(token: str) -> Any:
    if token.startswith("{"):
        try:
            return json.loads(token)
        except (ValueError, RecursionError):
            raise _refused("the token starts with { but is not a JSON object") from None
    parts = token.split(".")
    if len(parts) != 3:
        raise _refused("the token is neither a JWT nor a JSON object")
    header = _segment(parts[0], "header")
    alg = header.get("alg") if isinstance(header, dict) else None
    if not isinstance(alg, str):
        raise _refused('the token\'s header names no alg (an unsigned JWT\'s is "none")')
    if alg.lower() != "none" or parts[2]:
        raise _refused(f"the token is signed (alg {alg}); anycloud dev verifies no signature, so it takes unsigned "
                       "tokens only")
    return _segment(parts[1], "claims")


def _audiences(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [a for a in value if isinstance(a, str)] if isinstance(value, list) else []


def claims(headers: Mapping[str, str], auth: JwtAuth, now: float | None = None) -> dict[str, Any]:
    """The caller's claims from the request's (lower-cased) headers; HttpError 401 when there is
    no acceptable token."""
    raw = headers.get("authorization", "")
    scheme, _, token = raw.strip().partition(" ")
    if not raw:
        raise _refused("no Authorization header")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refused("the Authorization header is not a bearer token")
    found = _decode(token.strip())
    if not isinstance(found, dict):
        raise _refused("the token's claims are not a JSON object")
    moment = time.time() if now is None else now
    if "iss" in found and found["iss"] != auth.issuer:
        raise _refused(f"iss {found['iss']!r} is not the issuer {auth.issuer!r}")
    if "aud" in found and not set(_audiences(found["aud"])) & set(auth.audience):
        raise _refused(f"aud {found['aud']!r} names none of the audiences {', '.join(auth.audience)}")
    if isinstance(found.get("exp"), (int, float)) and found["exp"] <= moment:
        raise _refused("the token expired (exp is past)")
    if isinstance(found.get("nbf"), (int, float)) and found["nbf"] > moment:
        raise _refused("the token is not valid yet (nbf is in the future)")
    return found
