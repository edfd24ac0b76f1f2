"""Who may call a route or task app, verified by the app itself before any handler runs.

App Service authentication in front of the app (components/azure/callers.py) admits only the
app's callers, but whether it blocks callers on Flex Consumption cannot be confirmed from
Microsoft's documentation (its preview documentation said it did not). So the app does not
rely on it: every HTTP request must carry ``Authorization: Bearer <token>`` (API Management's
``authentication-managed-identity`` sets it for routes, the orchestrator's durable HTTP call
with a managed-identity token source for tasks), and the token must be

- signed (RS256 only) by one of Entra ID's signing keys for the tenant
  (``https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys``, fetched with PyJWT's
  `PyJWKClient` and cached per instance for `KEYS_LIFESPAN_S`; a key id it does not know
  refetches the set, which is how Entra's key rotation arrives),
- issued by ``https://login.microsoftonline.com/<tenant>/v2.0`` (the service's registration
  issues v2 tokens, ``requestedAccessTokenVersion`` 2),
- for the service's backend registration (``aud`` its client id, or ``api://<client id>``),
- unexpired (`LEEWAY_S` of clock skew), and
- of an allowed caller (``oid``, the caller's principal id): API Management's identity for a
  route app (also on public routes: the app is reached only through API Management, which
  always sends its own token), the workflow's orchestrator identity for a task app.

Anything else is 401 with the usual error body, logged with the reason; signing keys that
cannot be fetched make 503. Either way the handler does not run.

A caller sends the same token for as long as it lives (managed identities cache theirs for
hours), so the claims of the last `VERIFIED_KEPT` tokens that passed are kept until they expire:
the same bytes verified again would give the same answer, and the RS256 check costs about 140 µs
per request (benchmarks/overhead.py), a cache hit a few.

Settings (the renderer sets them): `CALLERS` (principal ids, comma-separated), `AUDIENCE` (the
registration's client id), `TENANT`. `KEYS_URL` replaces Entra's keys URL for tests only: it must
be a loopback address, so no deployed app can be pointed at anyone else's keys. This module is
imported only by apps reached over HTTP (entry.py), so queue consumers and orchestrators do not
load PyJWT and cryptography at start.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKSetError, PyJWTError

from ..contracts import HttpError

CALLERS = "ANYCLOUD_CALLERS"
AUDIENCE = "ANYCLOUD_CALLER_AUDIENCE"
TENANT = "ANYCLOUD_CALLER_TENANT"
#: Tests only (a loopback URL): where the tenant's signing keys are read instead of Entra ID.
KEYS_URL = "ANYCLOUD_CALLER_KEYS_URL"
ALGORITHMS = ["RS256"]
LEEWAY_S = 60
#: How long an instance keeps the tenant's key set before reading it again.
KEYS_LIFESPAN_S = 3600
KEYS_TIMEOUT_S = 10
REQUIRED_CLAIMS = ["exp", "iss", "aud", "oid"]
#: How many verified tokens an instance remembers (a handful of callers, each with one live token).
VERIFIED_KEPT = 32


def issuer(tenant: str) -> str:
    return f"https://login.microsoftonline.com/{tenant}/v2.0"


def keys_url(tenant: str) -> str:
    return f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"


class CallerRefused(HttpError):
    """A request whose caller is not verified: 401, or 503 when the signing keys cannot be read.
    The client sees the usual error body; `reason` is for the log only."""

    def __init__(self, status: int, reason: str):
        if status == 503:
            super().__init__(503, "Unavailable", "the caller could not be verified; retry later")
        else:
            super().__init__(401, "Unauthorized", "the caller is not allowed to call this app")
        self.reason = reason


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Callers:
    """The app's allowed callers and how their tokens are checked."""

    def __init__(self, env: Mapping[str, str]):
        missing = [name for name in (CALLERS, AUDIENCE, TENANT) if not env.get(name, "").strip()]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not set: an app reached over HTTP verifies its callers itself "
                               "(the Azure renderer sets the callers' principal ids, the audience and the tenant)")
        self.allowed = frozenset(c.strip().lower() for c in env[CALLERS].split(",") if c.strip())
        audience, tenant = env[AUDIENCE].strip(), env[TENANT].strip()
        self.audiences = [audience, f"api://{audience}"]
        self.issuer = issuer(tenant)
        url = env.get(KEYS_URL, "").strip() or keys_url(tenant)
        if url != keys_url(tenant) and not _loopback(url):
            raise RuntimeError(f"{KEYS_URL}: {url!r} is not allowed; allowed: unset (Entra ID's keys of the tenant), "
                               "or a loopback URL in tests")
        self.keys = PyJWKClient(url, lifespan=KEYS_LIFESPAN_S, timeout=KEYS_TIMEOUT_S)
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The verified claims of `authorization` (`Bearer <token>`); CallerRefused otherwise."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CallerRefused(401, "no bearer token")
        claims = self._verified.get(token)
        if claims is not None:
            if time.time() <= float(claims["exp"]) + LEEWAY_S:
                return claims
            del self._verified[token]
        claims = self._check(token)
        self._verified[token] = claims
        while len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return claims

    def _check(self, token: str) -> dict[str, Any]:
        try:
            key = self.keys.get_signing_key_from_jwt(token)
        except (PyJWKClientConnectionError, PyJWKSetError) as err:
            raise CallerRefused(503, f"the tenant's signing keys could not be read: {err}") from None
        except PyJWTError as err:
            raise CallerRefused(401, f"no signing key for the token: {err}") from None
        try:
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS, audience=self.audiences, issuer=self.issuer,
                                leeway=LEEWAY_S, options={"require": REQUIRED_CLAIMS})
        except PyJWTError as err:
            raise CallerRefused(401, f"{type(err).__name__}: {err}") from None
        caller = str(claims["oid"]).lower()
        if caller not in self.allowed:
            raise CallerRefused(401, f"oid {caller} is not an allowed caller")
        return claims
