"""Whether a named configuration value is a secret in plain text, judged by Yelp's detect-secrets.

A value is a secret when one of detect-secrets' format detectors recognises it (AWS keys, Azure
Storage account keys, private keys, JSON web tokens, GitHub, GitLab, Slack, Stripe, SendGrid,
Twilio, npm, PyPI, OpenAI and other tokens, credentials in a URL; its public-IP detector aside),
or when its name is secret-sounding by detect-secrets' KeywordDetector (password, secret,
api_key, private_key, ...) and the value survives detect-secrets' own false-positive heuristics
(templates, `$` references, sequences, UUIDs, ids, indirect references, values without a
letter). Values are looked into: the fields of a connection string (`Password=...;`), the query
of a URL (`?code=...&sig=...`) and the members of a JSON document are named values of their own,
and a connection-string field or URL query value that is a high-entropy string by detect-secrets'
Base64/Hex detectors (their default limits) is a key whatever its field is called
(`SharedAccessKey=`, `sig=`, `code=`).

Not secrets: references to a secret store or a resource (`@Microsoft.KeyVault(...)`, ARNs,
`projects/.../secrets/...`, ARM ids, parameter paths, URLs without credentials, connection strings
whose fields hold none), switches and numbers, and values under names that say they hold a
pointer (`..._NAME`, `..._ARN`, `..._URL`, `..._PATH`, `..._PARAM`, `..._FILE`, ...; `..._ID` is
detect-secrets' own id heuristic).

detect-secrets imports `requests` (about 55 ms), so it is imported on first use, not with the pack;
a verdict depends only on the name and the value, so verdicts are cached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Values that point at a secret or a resource instead of holding one.
_REFERENCE = re.compile(
    r"^(?:@Microsoft\.(?:KeyVault|AppConfiguration)\(.*\)"   # App Service / Functions references
    r"|\{\{resolve:[^}]+\}\}"                                # CloudFormation dynamic references
    r"|arn:aws[\w-]*:\S+"                                    # ARNs (secrets, parameters, keys, ...)
    r"|projects/[^/\s]+/\S*"                                 # GCP resource names (secrets/..., versions/...)
    r"|/[\w.\-/]+"                                           # parameter paths, ARM ids, log group names
    r"|[a-z][a-z0-9+.\-]*://[^\s@/?]+(?:/[^\s?]*)?)$",         # URLs without user info or query
    re.IGNORECASE | re.DOTALL,
)
#: Names that say their value is a pointer to a secret, not the secret (FOO_SECRET_NAME, DB_PASSWORD_FILE).
_POINTER_NAME = re.compile(
    r"(?:^|[_.:\-/])(?:name|arn|uri|url|path|ref|param|parameter|file|version|host|endpoint|location)s?$",
    re.IGNORECASE,
)
#: Switch values a secret-sounding name may carry (ENABLE_SECRET_ROTATION=true).
_SWITCHES = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"})
#: How deep values are looked into (a JSON document in a setting, a connection string inside it).
_MAX_DEPTH = 3


@lru_cache(maxsize=1)
def _detectors() -> tuple[tuple[Any, ...], tuple[Any, ...], Any, re.Pattern[str]]:
    """(format detectors, entropy detectors, the keyword detector, its keyword pattern), built once."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.ip_public import IPPublicDetector
    from detect_secrets.plugins.keyword import DENYLIST_REGEX, KeywordDetector

    classes = get_mapping_from_secret_type_to_class().values()
    formats = tuple(c() for c in classes if issubclass(c, RegexBasedDetector) and c is not IPPublicDetector)
    entropy = tuple(c() for c in classes if issubclass(c, HighEntropyStringsPlugin))
    return formats, entropy, KeywordDetector(), re.compile(DENYLIST_REGEX, re.IGNORECASE)


def _plausible(secret: str, line: str) -> bool:
    """detect-secrets' heuristic filters (the ones a value, not a file, can trip) pass the candidate."""
    from detect_secrets.filters import heuristic

    return not (heuristic.is_templated_secret(secret) or heuristic.is_prefixed_with_dollar_sign(secret)
                or heuristic.is_sequential_string(secret) or heuristic.is_potential_uuid(secret)
                or heuristic.is_not_alphanumeric_string(secret) or heuristic.is_likely_id_string(secret, line)
                or heuristic.is_indirect_reference(line) or secret.strip().lower() in _SWITCHES)


def _json_members(value: Any, name: str) -> Iterator[tuple[str, str]]:
    """The string leaves of a JSON document, each named by its key ({"name": n, "value": v} by n)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("name"), str) and "value" in value:
            yield from _json_members(value["value"], value["name"])
            return
        for key, item in value.items():
            yield from _json_members(item, str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _json_members(item, name)
    elif isinstance(value, str):
        yield name, value


def _parts(value: str) -> tuple[list[tuple[str, str]], bool]:
    """(the named values inside `value`, whether they are credential fields): JSON members (False);
    connection-string fields or URL query parameters (True)."""
    text = value.strip()
    if text[:1] in "{[":
        try:
            return list(_json_members(json.loads(text), "")), False
        except ValueError:
            pass
    if "://" in text and "?" in text and ";" not in text:
        return parse_qsl(urlsplit(text).query, keep_blank_values=False), True
    fields = [f for f in text.split(";") if f.strip()]
    if ";" in text and fields and all("=" in f for f in fields):
        return [tuple(s.strip() for s in f.split("=", 1)) for f in fields], True
    return [], False


def _line(name: str, value: str) -> str:
    """The value as detect-secrets reads a config file's line."""
    return f'{name}: "{value}"'


@lru_cache(maxsize=4096)
def secret_kind(name: str, value: str, depth: int = 0, credential_field: bool = False) -> str | None:
    """What secret `value`, set under `name`, is in detect-secrets' words ('Stripe Access Key',
    'Secret Keyword', ...); None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    formats, entropy, keyword, keyword_name = _detectors()
    line = _line(name, value)
    for detector in formats if depth == 0 else ():  # the whole value's line holds its parts
        if next(iter(detector.analyze_string(line)), None) is not None:
            return detector.secret_type
    if _REFERENCE.match(value.strip()):
        return None
    parts, credentials = _parts(value) if depth < _MAX_DEPTH else ([], False)
    for part_name, part_value in parts:
        found = secret_kind(part_name, part_value, depth + 1, credentials)
        if found:
            return found
    if parts:
        return None
    if credential_field:
        for detector in entropy:
            for candidate in detector.analyze_string(f'"{value}"'):
                if detector.calculate_shannon_entropy(candidate) >= detector.entropy_limit and _plausible(candidate, line):
                    return detector.secret_type
    if not keyword_name.search(name) or _POINTER_NAME.search(name):
        return None
    for found in keyword.analyze_line(filename="settings.yaml", line=line):
        if found.secret_value and _plausible(found.secret_value, line):
            return keyword.secret_type
    return None
