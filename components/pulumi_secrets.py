"""Decrypt a stack file's `secure:` values with its passphrase, as the Pulumi CLI's passphrase
secrets provider does, so `anycloud dev` can run with the stack's own secrets and no Pulumi CLI.

The format (github.com/pulumi/pulumi, pkg/secrets/passphrase/manager.go and
sdk/go/common/resource/config/crypt.go): the stack file's `encryptionsalt` is
``v1:<base64 salt>:v1:<base64 nonce>:<base64 AES-256-GCM(ciphertext+tag) of "pulumi">``; the key is
PBKDF2-HMAC-SHA256 of the passphrase over the salt, 1,000,000 rounds, 32 bytes; each value is
``v1:<base64 nonce>:<base64 ciphertext+tag>`` under that key. The passphrase is
PULUMI_CONFIG_PASSPHRASE when set (an empty one is a passphrase), else the trimmed contents of
the file PULUMI_CONFIG_PASSPHRASE_FILE names. The cryptography is the `cryptography` package's;
only the framing is read here. The key is derived once per stack file and passphrase (about 0.2 s).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

ROUNDS = 1_000_000
CHECK_PLAINTEXT = "pulumi"
PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


class PassphraseError(ValueError):
    """The passphrase cannot be read, or does not open the stack file; the message is one line."""


def passphrase(env: Mapping[str, str] | None = None) -> str | None:
    """The passphrase the Pulumi CLI would use without prompting, or None when none is given."""
    env = os.environ if env is None else env
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        return env["PULUMI_CONFIG_PASSPHRASE"]
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text().strip()
    except OSError as err:
        raise PassphraseError(f"PULUMI_CONFIG_PASSPHRASE_FILE {path}: cannot be read ({err.strerror}); "
                              "allowed: a readable file holding the stack's passphrase") from None


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _open(key: bytes, value: str) -> str:
    """One `v1:nonce:ciphertext` value; ValueError when it is not one or does not open."""
    version, nonce, sealed = value.split(":")
    if version != "v1":
        raise ValueError(f"version {version!r}")
    try:
        return AESGCM(key).decrypt(_b64(nonce), _b64(sealed), None).decode()
    except InvalidTag:
        raise ValueError("does not decrypt with this key") from None


@lru_cache(maxsize=8)
def _derive(salt: bytes, phrase: str) -> bytes:
    """The stack's key; kept, as the CLI keeps its secrets manager, so a reload does not pay again."""
    return PBKDF2HMAC(hashes.SHA256(), 32, salt, ROUNDS).derive(phrase.encode())


class StackDecrypter:
    """The key of one stack file, checked against its `encryptionsalt`."""

    def __init__(self, file_name: str, salt_state: str, phrase: str) -> None:
        self.file_name = file_name
        try:
            version, salt, check = salt_state.split(":", 2)
            if version != "v1":
                raise ValueError(version)
            self._key = _derive(_b64(salt), phrase)
            opened = _open(self._key, check)
        except (ValueError, binascii.Error):
            raise PassphraseError(f"{file_name}: the passphrase in {' or '.join(PASSPHRASE_VARS)} does not open "
                                  f"this stack's secrets (encryptionsalt); allowed: the passphrase the stack was "
                                  "created with") from None
        if opened != CHECK_PLAINTEXT:
            raise PassphraseError(f"{file_name}: encryptionsalt does not hold Pulumi's check value; allowed: the "
                                  "value `pulumi stack init` wrote")

    def decrypt(self, key: str, value: str) -> str:
        try:
            return _open(self._key, value)
        except (ValueError, binascii.Error) as err:
            raise PassphraseError(f"{self.file_name}: {key}: the secure value does not decrypt ({err}); allowed: a "
                                  f"value written by `pulumi config set --secret {key}`") from None
