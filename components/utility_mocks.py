"""What Pulumi's utility providers answer under mocks: `random` (names that differ per stack
instance) and `time` (waits), with deterministic values so renders compare across runs."""

from __future__ import annotations

import hashlib
import string
from typing import Any

ALPHABET = string.ascii_lowercase + string.digits


def resource(typ: str, name: str, inputs: dict[str, Any], config: dict[str, str]) -> tuple[str, dict[str, Any]]:
    out = dict(inputs)
    if typ == "random:index/randomString:RandomString":
        digest = hashlib.sha256(f"random/{name}".encode()).digest()
        chars = ALPHABET if not inputs.get("upper") else ALPHABET + string.ascii_uppercase
        out["result"] = "".join(chars[b % len(chars)] for b in digest[: int(inputs.get("length", 16))])
        return out["result"], out
    return f"{name}-id", out


def invoke(token: str, args: dict[str, Any], config: dict[str, str]) -> dict[str, Any] | None:
    return None
