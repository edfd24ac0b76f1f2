"""What a stack's config may name and what it must: a typo is an error, never a silent default.

A misspelt key is worse than a wrong value: Pulumi hands it to the program, nothing reads it,
and the stack renders with the default (`anycloud:enviroment: prod` rendered prod as dev). So:
- every `anycloud:*` key is one settings.py reads (declared in Pulumi.yaml) or a declared
  secret's key; anything else is refused with the closest known key;
- keys of the selected cloud's provider namespaces are checked against the provider SDK's own
  config module (read as text, so the check never imports an SDK, least of all another cloud's);
- the region is required on every cloud, in the key Pulumi users set it in;
- a stack named like an environment (`prod`, `prod-gcp`, `dev`) that would render as another
  one is refused unless its stack file sets `anycloud:environment` explicitly.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .settings import KEYS, NAMESPACE, SettingsError


@dataclass(frozen=True)
class Provider:
    namespaces: tuple[str, ...]
    packages: tuple[str, ...]
    region_key: str
    region_example: str
    region_kind: str


#: The provider config of each cloud: its namespaces (and their SDK packages), and where its region goes.
PROVIDERS = {
    "aws": Provider(("aws",), ("pulumi_aws",), "aws:region", "eu-west-1", "an AWS region"),
    "gcp": Provider(("gcp",), ("pulumi_gcp",), "gcp:region", "europe-west1", "a Google Cloud region"),
    "azure": Provider(("azure-native", "azuread"), ("pulumi_azure_native", "pulumi_azuread"), "azure-native:location",
                      "westeurope", "an Azure region"),
}
#: Words in a stack name that say which environment the stack is.
ENVIRONMENT_WORDS = {"prod": "prod", "production": "prod", "dev": "dev", "development": "dev"}
_GETTER = re.compile(r"__config__\.get\w*\('([A-Za-z0-9_]+)'")


@cache
def provider_keys(package: str) -> frozenset[str] | None:
    """The config keys a provider SDK reads (its generated config/vars.py), or None if not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    source = Path(spec.origin).parent / "config" / "vars.py"
    return frozenset(_GETTER.findall(source.read_text())) if source.is_file() else None


def _unknown(key: str, known: Iterable[str], what: str) -> SettingsError:
    namespace, _, name = key.partition(":")
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {namespace}:{close[0]}?" if close else f"allowed: {', '.join(sorted(known))}"
    return SettingsError(f"{key}: unknown {what} config key; {hint} (pulumi config rm {key})")


def check_keys(config: Mapping[str, str], cloud: str | None, secrets: Iterable[str]) -> None:
    """Refuse unknown `anycloud:*` keys and unknown keys of `cloud`'s provider namespaces."""
    allowed = {*KEYS, *secrets}
    provider = PROVIDERS.get(cloud)
    for key in sorted(config):
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE and name not in allowed:
            raise _unknown(key, allowed, "anycloud")
        if provider and namespace in provider.namespaces:
            known = provider_keys(provider.packages[provider.namespaces.index(namespace)])
            if known is not None and name not in known:
                raise _unknown(key, known, f"{namespace} provider")


def check_region(config: Mapping[str, str], cloud: str) -> None:
    provider = PROVIDERS[cloud]
    if not config.get(provider.region_key):
        raise SettingsError(f"{provider.region_key}: not set; allowed: {provider.region_kind} such as "
                            f"{provider.region_example} (pulumi config set {provider.region_key} {provider.region_example})")


def check_environment(stack: str, environment: str, explicit: bool) -> None:
    """A stack whose name says prod must not render as dev by omission (no protection, dev rules)."""
    named = {ENVIRONMENT_WORDS[w] for w in re.split(r"[-_.]", stack.lower()) if w in ENVIRONMENT_WORDS}
    if explicit or not named or environment in named:
        return
    wanted = sorted(named)[0]
    raise SettingsError(f"{NAMESPACE}:environment: not set, so stack {stack!r} would render as {environment}; allowed: "
                        f"set it explicitly (pulumi config set {NAMESPACE}:environment {wanted} -s {stack})")


def stack_config() -> dict[str, str]:
    """Every config key the engine (or the mock engine) gave this program."""
    from pulumi.runtime.config import CONFIG, get_config_env

    return {**get_config_env(), **CONFIG.get()}


def check_names(stack: str, secrets: Iterable[str]) -> None:
    """Before values are read: every key is one something reads, and the stack's name agrees
    with the environment it renders."""
    config = stack_config()
    cloud = config.get(f"{NAMESPACE}:cloud")
    check_keys(config, cloud if cloud in PROVIDERS else None, secrets)
    environment = config.get(f"{NAMESPACE}:environment")
    if environment in (None, "dev", "prod"):
        check_environment(stack, environment or "dev", explicit=environment is not None)
