"""Every Azure input the renderer writes is an argument the typed SDK knows, at every depth.

components/azure/arm.py registers resources by token with engine-level (camelCase) inputs,
for speed; this test is what the typed classes' keyword arguments would have checked at
construction: each input name, converted to the SDK's Python name, is a parameter of the
resource class, and each nested object's names are parameters of the argument type the SDK
declares for it (list items included).
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest

from components.mock_engine import SIG_KEY, Rendering

#: Python names the SDK renames because they clash with Pulumi's own (`resource_name`).
RENAMED = {"resource_name": "resource_name_"}


def python_name(name: str) -> str:
    """Pulumi's Python codegen name for a camelCase property (`instanceMemoryMB` ->
    `instance_memory_mb`, `defaultToOAuthAuthentication` -> `default_to_o_auth_authentication`)."""
    out = []
    for i, char in enumerate(name):
        prev, nxt = name[i - 1] if i else "", name[i + 1] if i + 1 < len(name) else ""
        if char.isupper() and i and (prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower())):
            out.append("_")
        out.append(char.lower())
    snake = "".join(out)
    return RENAMED.get(snake, snake)


def sdk_class(token: str) -> tuple[Any, Any]:
    """(module, class) of a type token in pulumi-azure-native or pulumi-azuread."""
    package, module, name = token.split(":")
    if package == "azuread":
        return importlib.import_module("pulumi_azuread"), getattr(importlib.import_module("pulumi_azuread"), name)
    mod = importlib.import_module(f"pulumi_azure_native.{module}")
    return mod, getattr(mod, name)


def args_types(module: Any, annotation: Any) -> list[Any]:
    """The `*Args` classes an argument's annotation names (nested objects, lists of them, and
    unions of object kinds such as the metric alert's criteria)."""
    found = re.findall(r"ForwardRef\('(\w+Args)'\)|\b(\w+Args)\b", str(annotation))
    return [getattr(module, name) for name in dict.fromkeys(a or b for a, b in found)]


def unknown_names(module: Any, params: dict[str, inspect.Parameter], value: dict, path: str) -> list[str]:
    problems = []
    for key, item in value.items():
        if isinstance(item, dict) and SIG_KEY in item:  # a secret input: check the value it wraps
            item = item["value"]
        name = python_name(key)
        if name not in params:
            problems.append(f"{path}.{key} (python {name})")
            continue
        kinds = args_types(module, params[name].annotation)
        keyed = isinstance(item, dict) and "Mapping[str" in str(params[name].annotation)  # {key: Args}
        for element in item if isinstance(item, list) else list(item.values()) if keyed else [item]:
            if not kinds or not isinstance(element, dict):
                continue
            found = [unknown_names(module, dict(inspect.signature(kind.__init__).parameters), element, f"{path}.{key}")
                     for kind in kinds]
            if all(found):  # no kind of the union takes all these names
                problems += min(found, key=len)
    return problems


def test_the_name_conversion_matches_the_sdk_on_its_hard_cases():
    assert python_name("instanceMemoryMB") == "instance_memory_mb"
    assert python_name("defaultToOAuthAuthentication") == "default_to_o_auth_authentication"
    assert python_name("http20Enabled") == "http20_enabled"
    assert python_name("resourceName") == "resource_name_"


def test_a_misspelt_input_is_caught():
    from pulumi_azure_native import apimanagement, web
    params = dict(inspect.signature(web.WebApp._internal_init).parameters)
    assert unknown_names(web, params, {"httpsOnly": True, "siteConfig": {"minTlsVersoin": "1.2"}}, "WebApp") == [
        "WebApp.siteConfig.minTlsVersoin (python min_tls_versoin)"]
    params = dict(inspect.signature(apimanagement.ApiManagementService._internal_init).parameters)
    keyed = {"identity": {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/s/id": {"objectId": "o"}}}}
    assert unknown_names(apimanagement, params, keyed, "Service") == [
        "Service.identity.userAssignedIdentities.objectId (python object_id)"]


@pytest.mark.parametrize("fixture", ["azure_prod", "azure_dev"])
def test_every_rendered_input_is_an_sdk_argument(fixture, request):
    rendering: Rendering = request.getfixturevalue(fixture)
    problems = []
    for resource in rendering.resources:
        if not resource.custom or not resource.type.startswith(("azure-native:", "azuread:")):
            continue
        module, cls = sdk_class(resource.type)
        params = dict(inspect.signature(cls._internal_init).parameters)
        problems += unknown_names(module, params, resource.inputs, f"{resource.type} {resource.name}")
    assert problems == []
