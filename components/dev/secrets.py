"""Secret values in `anycloud dev`: from the environment, ``ANYCLOUD_SECRET_<NAME>`` (NAME upper-cased,
hyphens as underscores: runtime/wiring.py's naming), never from the stack file itself.

Why not decrypt the stack's ``secure:`` values with PULUMI_CONFIG_PASSPHRASE: no well-kept Python
library reads Pulumi's passphrase format. Pulumi implements it in Go (pkg/secrets/passphrase in
github.com/pulumi/pulumi) and its Python SDK receives config already decrypted from the CLI; the
one Python package that reads it, pulumi-crypto (PyPI, github.com/sammck/pulumi-crypto), is a
single author's 2022 project (11 commits, pycryptodomex and Pygments as dependencies) that no one
maintains against Pulumi's changes. Writing the format ourselves would be our own crypto code,
and its key derivation (PBKDF2, 1,000,000 SHA-256 rounds) alone costs about a second of the
two-second start. The Pulumi CLI, where installed, prints a value for the variable:
``export ANYCLOUD_SECRET_PAYMENT_API_KEY=$(pulumi config get anycloud:paymentApiKey -s dev)``.

A secret that is not set does not stop `dev` (the routes that don't need it work): `missing()`
names it at start, and reading it fails the invocation with the same line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from runtime.secrets import CachedSecret
from runtime.wiring import var_name

from components.settings import NAMESPACE
from components.spec import SecretSpec


class MissingSecret(RuntimeError):
    """A declared secret has no value here; the message says the two ways to give it one."""


def variable(secret: SecretSpec) -> str:
    """`payment-api-key` -> `ANYCLOUD_SECRET_PAYMENT_API_KEY`."""
    return var_name("secret", secret.name)


def missing_line(secret: SecretSpec, stack: str) -> str:
    var = variable(secret)
    return (f"secret {secret.name}: {var} is not set; export {var}=VALUE, or take the stack's value with the Pulumi "
            f"CLI: export {var}=$(pulumi config get {NAMESPACE}:{secret.config_key} -s {stack})")


def missing(secrets: Iterable[SecretSpec], stack: str, env: Mapping[str, str] | None = None) -> list[str]:
    """One line per declared secret without a value."""
    env = os.environ if env is None else env
    return [missing_line(s, stack) for s in secrets if not env.get(variable(s))]


def dev_secrets(secrets: Iterable[SecretSpec], stack: str, env: Mapping[str, str] | None = None) -> dict[str, CachedSecret]:
    """Each declared secret, read from `env` (the process environment) when a function reads it."""
    env = os.environ if env is None else env

    def loader(secret: SecretSpec):
        def load() -> str:
            value = env.get(variable(secret))
            if not value:
                raise MissingSecret(missing_line(secret, stack))
            return value
        return load

    return {s.name: CachedSecret(loader(s)) for s in secrets}
