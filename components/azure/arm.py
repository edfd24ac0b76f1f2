"""Azure resources registered by their type token, as the provider's typed classes would.

pulumi-azure-native's typed classes cost 2.5 to 9 ms each to register (measured here under
the mock engine: a role assignment 2.7 ms, a storage account 8.6 ms, a web app 9.3 ms,
against 0.5 ms for the same inputs registered by token), and importing the submodules that
hold them and their argument types takes about 0.9 s. Most of it is machinery a new stack
never uses: an Output for every one of the dozens of output properties of a type, and some
twenty aliases per resource to the type's older API versions, each a URN to compute. The
service's 200-odd Azure resources made the offline check 5.6 times slower than the floor.

So each module states its resources' inputs as the engine receives them (camelCase, nested
plain dicts), registers them with `Arm(token, name, inputs, opts, outputs=...)`, and names
the outputs it reads. The provider plugin is the same one the typed classes would use: the
resource options carry the installed package's plugin version, read from its
`pulumi-plugin.json` without importing the package. The names are checked against the typed
SDK by a test (tests/test_azure_arm_schema.py walks every rendered resource's inputs through
the typed classes' arguments), so a typo still fails, in the test suite instead of at
construction.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

#: Pulumi package (the token's first segment) -> the Python package that ships its plugin.
PACKAGES = {"azure-native": "pulumi_azure_native", "azuread": "pulumi_azuread", "random": "pulumi_random",
            "time": "pulumiverse_time"}


@functools.cache
def plugin_options(package: str) -> pulumi.ResourceOptions:
    """The plugin version (and download URL) the package's own typed classes would request."""
    spec = importlib.util.find_spec(PACKAGES[package])
    plugin = json.loads((Path(spec.origin).parent / "pulumi-plugin.json").read_text())
    version = plugin.get("version") or importlib.metadata.version(PACKAGES[package])  # pulumiverse's omit it
    return pulumi.ResourceOptions(version=version, plugin_download_url=plugin.get("server"))


class Arm(pulumi.CustomResource):
    """A resource of type `token` with engine-level `inputs` (None values are left out); each
    name in `outputs` becomes an Output attribute (`.name` and `.id` always exist)."""

    def __init__(self, token: str, name: str, inputs: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None,
                 outputs: Sequence[str] = ()):
        props = {k: v for k, v in inputs.items() if v is not None}
        props.update({o: None for o in ("name", *outputs) if o not in props})
        opts = pulumi.ResourceOptions.merge(plugin_options(token.split(":", 1)[0]), opts)
        super().__init__(token, name, props, opts)

    def out(self, path: str) -> pulumi.Output[Any]:
        """The output at a dotted path (`primaryEndpoints.queue`); its first segment must be
        one of the resource's declared outputs or inputs."""
        head, *rest = path.split(".")
        value: pulumi.Output[Any] = getattr(self, head)
        for key in rest:
            value = value.apply(lambda v, k=key: v[k])
        return value
