"""The installed provider SDKs read as data: every resource type token and every input property
path under it, for deriving the settings catalogue (`python -m policy.settings.derive`) and for
the test that holds the catalogue to the SDK. The pack itself never imports this module.

A Pulumi Python SDK registers its types in `resource_modules` (its __init__.py) and defines
each resource in a module whose resource class calls `super().__init__('<type token>', ...)`;
the inputs are the `@pulumi.input_type` class `<Name>Args` of that module, whose getters carry
the engine's camelCase name (`@pulumi.getter(name="minimumTlsVersion")`), and nested inputs are
the `...Args` classes of the package's `_inputs.py`. A path is the camelCase names joined by
dots, with `[]` after a list and `{}` after a map: `replicas[].kmsKeyArn`, `properties{}.value`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

#: Type-token prefix -> the SDK's Python package and its distribution.
PACKAGES = {"aws": ("pulumi_aws", "pulumi-aws"), "gcp": ("pulumi_gcp", "pulumi-gcp"),
            "azure-native": ("pulumi_azure_native", "pulumi-azure-native")}
#: Nested inputs deeper than this are not followed (no setting the pack reads is deeper).
MAX_DEPTH = 8

_INPUT_CLASS = re.compile(r"^@pulumi\.input_type\nclass (\w+):\n(.*?)(?=^@pulumi\.input_type|^class |\Z)", re.M | re.S)
_GETTER = re.compile(r'@pulumi\.getter(?:\(name="(\w+)"\))?\n    def (\w+)\(self\) -> (.*?):\n(?:\s*"""(.*?)""")?', re.S)
_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'([^']+)'")
_NESTED = re.compile(r"'((?:_root_inputs\.)?\w+Args)'")


def root(prefix: str) -> Path:
    return Path(importlib.util.find_spec(PACKAGES[prefix][0]).origin).parent


def version(prefix: str) -> str:
    return importlib.metadata.version(PACKAGES[prefix][1])


@cache
def _input_classes(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    """{class name: [(camelCase input, annotation, docstring)]} of a module's input types; a bare
    `@pulumi.getter` keeps the Python name, a single word and so camelCase already."""
    if not path.exists():
        return {}
    return {m.group(1): [(g.group(1) or g.group(2), g.group(3), " ".join((g.group(4) or "").split())) for g in _GETTER.finditer(m.group(2))]
            for m in _INPUT_CLASS.finditer(path.read_text())}


@cache
def resources(prefix: str) -> dict[str, tuple[Path, tuple[tuple[str, str, str], ...]]]:
    """{type token: (module file, its Args getters)} for every resource of one SDK."""
    out = {}
    for path in root(prefix).rglob("*.py"):
        if path.name.startswith(("get_", "_", "outputs")):
            continue
        text = path.read_text()
        token = _TOKEN.search(text)
        if token is None or not token.group(1).startswith(prefix + ":"):
            continue
        args = [c for c in _input_classes(path) if c.endswith("Args")]
        if args:
            out[token.group(1)] = (path, tuple(_input_classes(path)[args[0]]))
    return out


def paths(token: str) -> Iterator[tuple[str, str]]:
    """(path, its documentation) for every input property of a resource type, outermost first."""
    prefix = token.split(":", 1)[0]
    module, getters = resources(prefix)[token]
    local, shared = module.parent / "_inputs.py", root(prefix) / "_inputs.py"

    def walk(at: str, getters, depth: int, seen: frozenset[str]) -> Iterator[tuple[str, str]]:
        for name, annotation, doc in getters:
            suffix = "[]" if "Sequence[" in annotation else "{}" if "Mapping[" in annotation else ""
            path = f"{at}{name}{suffix}"
            yield path, doc
            nested = _NESTED.search(annotation)
            if nested is None or depth >= MAX_DEPTH:
                continue
            ref = nested.group(1)
            source = shared if ref.startswith("_root_inputs.") else local
            ref = ref.rsplit(".", 1)[-1]
            inner = _input_classes(source).get(ref) or _input_classes(module).get(ref)
            if inner and ref not in seen:
                yield from walk(path + ".", inner, depth + 1, seen | {ref})

    yield from walk("", getters, 0, frozenset())


def all_paths(prefix: str) -> dict[str, dict[str, str]]:
    """{type token: {path: documentation}} for every resource type of one SDK."""
    return {token: dict(paths(token)) for token in sorted(resources(prefix))}
