"""Secret values in `anycloud dev`: ``ANYCLOUD_SECRET_<NAME>`` from the environment (NAME
upper-cased, hyphens as underscores: runtime/wiring.py's naming) when set, else the stack file's
own `secure:` value, decrypted only when the developer gives the passphrase the Pulumi CLI takes
(PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE; components/pulumi_secrets.py).
A stack whose secrets another provider encrypts (`secretsprovider: awskms://...`, or Pulumi
Cloud's, with no `encryptionsalt`) is opened only by the Pulumi CLI: the line says how to pass
the value on.

A secret without a value does not stop `dev` (the routes that don't need it work): `missing()`
names it at start with what to do, and reading it fails the invocation with the same line.
The passphrase is checked at start, so a wrong one is said before any request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping

from runtime.secrets import CachedSecret
from runtime.wiring import var_name

from components.pulumi_secrets import PASSPHRASE_VARS, PassphraseError, StackDecrypter, passphrase
from components.settings import NAMESPACE
from components.spec import SecretSpec
from components.stackfile import StackConfig


class MissingSecret(RuntimeError):
    """A declared secret has no value here; the message says the ways to give it one."""


def variable(secret: SecretSpec) -> str:
    """`payment-api-key` -> `ANYCLOUD_SECRET_PAYMENT_API_KEY`."""
    return var_name("secret", secret.name)


class DevSecrets:
    """Where each declared secret's value comes from, for one reading of the stack."""

    def __init__(self, stack: StackConfig, env: Mapping[str, str] | None = None) -> None:
        self.stack = stack
        self.env = os.environ if env is None else env
        self._decrypter: StackDecrypter | None = None
        self._lock = threading.Lock()

    def _key(self, secret: SecretSpec) -> str:
        return f"{NAMESPACE}:{secret.config_key}"

    def _fetch_hint(self, secret: SecretSpec) -> str:
        var = variable(secret)
        return (f"export {var}=VALUE, or take the stack's value with the Pulumi CLI: export {var}=$(pulumi config "
                f"get {self._key(secret)} -s {self.stack.stack})")

    def problem(self, secret: SecretSpec) -> str | None:
        """None when the secret has a value here, else the one line that says what to do."""
        var, key, file = variable(secret), self._key(secret), self.stack.file_name
        if self.env.get(var):
            return None
        if key not in self.stack.secure:
            return f"secret {secret.name}: {var} is not set and {file} has no secure {key}; {self._fetch_hint(secret)}"
        if self.stack.secrets_provider not in (None, "passphrase") or not self.stack.encryption_salt:
            provider = self.stack.secrets_provider or "Pulumi Cloud"
            return (f"secret {secret.name}: {file} holds {key} encrypted by {provider}, which only the Pulumi CLI "
                    f"opens; {self._fetch_hint(secret)}")
        try:
            if self.decrypter() is None:
                return (f"secret {secret.name}: {var} is not set and {key} in {file} is encrypted; set "
                        f"{' or '.join(PASSPHRASE_VARS)} to the stack's passphrase, or export {var}=VALUE")
        except PassphraseError as err:
            return f"secret {secret.name}: {err}"
        return None

    def decrypter(self) -> StackDecrypter | None:
        """The stack's key, derived once (PassphraseError when the passphrase is wrong)."""
        with self._lock:
            if self._decrypter is None:
                phrase = passphrase(self.env)
                if phrase is None:
                    return None
                self._decrypter = StackDecrypter(self.stack.file_name, self.stack.encryption_salt or "", phrase)
            return self._decrypter

    def missing(self, secrets: Iterable[SecretSpec]) -> list[str]:
        """One line per declared secret without a value."""
        return [line for line in map(self.problem, secrets) if line]

    def values(self, secrets: Iterable[SecretSpec]) -> dict[str, CachedSecret]:
        """Each declared secret, read when a function first reads it."""

        def loader(secret: SecretSpec):
            def load() -> str:
                value = self.env.get(variable(secret))
                if value:
                    return value
                line = self.problem(secret)
                if line:
                    raise MissingSecret(line)
                key = self._key(secret)
                try:
                    return self.decrypter().decrypt(key, self.stack.secure[key])
                except PassphraseError as err:
                    raise MissingSecret(f"secret {secret.name}: {err}") from None
            return load

        return {s.name: CachedSecret(loader(s)) for s in secrets}
