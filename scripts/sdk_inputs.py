"""Read the installed Pulumi provider SDKs (pulumi-aws, pulumi-gcp, pulumi-azure-native) as schemas:
every resource type they register and the engine-level (camelCase) paths of its inputs.

The generators in this folder use it to derive catalogues from the SDK rather than keep lists by
hand. How an SDK tells: its `__init__.py` lists every resource type (`resource_modules`: module,
type token, class); the class's `<Class>Args` (or `<Class>InitArgs`, where an input type has the
same name) in the module's file declares the inputs, and nested inputs are `*Args` classes of the
module's `_inputs.py`. An input's engine name is the camelCase of its Python name unless its
getter says otherwise (`@pulumi.getter(name="iPAddressOrRange")`).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.metadata
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PACKAGES = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")
#: How deep nested inputs are followed (Event Grid's namespace subscriptions nest dead letters at 4).
MAX_DEPTH = 6


@dataclass(frozen=True)
class Input:
    name: str  # the engine's (camelCase) name
    annotation: str  # the Python annotation, unparsed


def version(package: str) -> str:
    return importlib.metadata.version(package.replace("_", "-"))


def sdk_root(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        sys.exit(f"{package} is not installed: pip install -e '.[dev]'")
    return Path(spec.origin).parent


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def resource_types(package: str) -> list[tuple[str, str, Path]]:
    """(type token, class name, module file) of every resource the SDK registers."""
    root = sdk_root(package)
    text = (root / "__init__.py").read_text()
    modules = json.loads(re.search(r'resource_modules="""(.*?)"""', text, re.S).group(1))
    out = []
    for module in modules:
        folder = root.joinpath(*module["fqn"].split(".")[1:])
        for token, cls in module["classes"].items():
            out.append((token, cls, _module_file(folder, cls)))
    return sorted(out)


def _module_file(folder: Path, cls: str) -> Path:
    """The file defining `cls`: its snake-case name, or (for names like IPv6FirewallRule, whose
    file is i_pv6_firewall_rule.py) the file that declares the class."""
    guess = folder / f"{_snake(cls)}.py"
    if guess.exists():
        return guess
    declaration = f"class {cls}(pulumi.CustomResource)"
    return next((f for f in sorted(folder.glob("*.py")) if declaration in f.read_text()), guess)


def _getter_names(node: ast.ClassDef) -> dict[str, str]:
    names = {}
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            for decorator in item.decorator_list:
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("getter"):
                    for keyword in decorator.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            names[item.name] = keyword.value.value
    return names


def _inputs_of(node: ast.ClassDef) -> list[Input]:
    init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    if init is None:
        return []
    getters = _getter_names(node)
    return [Input(getters.get(a.arg, camel(a.arg)), ast.unparse(a.annotation) if a.annotation else "")
            for a in init.args.args[1:] + init.args.kwonlyargs]


@lru_cache(maxsize=None)
def _classes(path: Path) -> dict[str, list[Input]]:
    """The `*Args` classes of a file: name -> their inputs."""
    if not path.exists():
        return {}
    return {node.name: _inputs_of(node) for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.ClassDef) and node.name.endswith("Args")}


@lru_cache(maxsize=None)
def mentions(path: Path, pattern: str) -> bool:
    """Whether a source file matches `pattern` at all: a cheap filter before parsing, each file
    (a module's large `_inputs.py` above all) read once per pattern, not once per resource type."""
    return path.exists() and re.search(pattern, path.read_text()) is not None


def resource_inputs(path: Path, cls: str) -> list[Input]:
    """The top-level inputs of a resource class."""
    classes = _classes(path)
    return classes.get(f"{cls}Args") or classes.get(f"{cls}InitArgs") or []


def nested(annotation: str, path: Path) -> Iterator[tuple[str, list[Input]]]:
    """(name, inputs) of the input classes an annotation refers to (`'QueueRetryConfigArgs'`), from the
    module's `_inputs.py`."""
    classes = _classes(path.parent / "_inputs.py")
    for name in sorted(set(re.findall(r"'(\w+Args)'", annotation))):
        if name in classes:
            yield name, classes[name]


def input_paths(path: Path, cls: str, wanted: Callable[[str], bool], *, descend_matches: bool = False) -> list[str]:
    """Dotted camelCase paths of the inputs of `cls` (nested ones included) for which `wanted(path)` holds.

    A list on the way is not marked: `ingress.fromPort` means the fromPort of each ingress item.
    Below a match, nothing more is looked for unless `descend_matches`.
    """
    found: list[str] = []

    def walk(inputs: list[Input], prefix: str, depth: int, seen: frozenset[str]) -> None:
        for item in inputs:
            dotted = prefix + item.name
            if wanted(dotted):
                found.append(dotted)
                if not descend_matches:
                    continue
            if depth >= MAX_DEPTH:
                continue
            for name, inner in nested(item.annotation, path):
                if name not in seen:
                    walk(inner, dotted + ".", depth + 1, seen | {name})

    walk(resource_inputs(path, cls), "", 0, frozenset())
    return sorted(set(found))


def render_mapping(name: str, mapping: dict[str, tuple[str, ...]]) -> str:
    rows = "\n".join(f"    {token!r}: {paths!r}," for token, paths in sorted(mapping.items()))
    return f"{name}: dict[str, tuple[str, ...]] = {{\n{rows}\n}}\n"


def generate(description: str, output: Path, name: str, catalogue: Callable[[], Mapping[str, tuple[str, ...]]],
             render: Callable[[Mapping[str, tuple[str, ...]], dict[str, str], str], str]) -> None:
    """A generator's command line: write `output` (its mapping `name` and SDK_VERSIONS), or with
    --check exit 1 when the committed module differs from what the installed SDKs give."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the module differs from the installed SDKs")
    args = parser.parse_args()
    versions = {p: version(p) for p in PACKAGES}
    found = catalogue()
    if args.check:
        namespace: dict = {}
        exec(output.read_text(), namespace)  # noqa: S102 - our own generated module
        same = namespace[name] == found and namespace["SDK_VERSIONS"] == versions
        print("up to date" if same else f"{output.name} differs from the installed SDKs: regenerate it")
        sys.exit(0 if same else 1)
    output.write_text(render(found, versions, datetime.date.today().isoformat()))
    print(f"{output}: {len(found)} resource types")
