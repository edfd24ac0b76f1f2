"""What every Azure module needs: the location, the subscription and tenant, the service's
resource group, its key, and names that fit Azure's rules.

Azure names are of three kinds. Resources inside the resource group take `prefix-name`.
Names that are global DNS labels (storage accounts, key vaults, Cosmos DB accounts, API
Management services, function apps) must be unique across Azure, so they also carry a short
hash of the subscription, project and stack: two stacks, or two subscriptions, never collide.
Names Azure keeps reserved after a delete (purge-protected vaults for their retention, API
Management for 48 hours) carry the stack instance's random suffix instead (`reusable_name`),
so a destroyed stack deploys again at once under new names (azure-cli#29115,
pulumi-azure-native#1174; policy azure-purge-protected-names-reusable).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi

from .. import datasource
from ..settings import Settings, SettingsError
from ..spec import ServiceSpec
from .arm import Arm, plugin_options

#: Role assignment and Cosmos role assignment names are GUIDs; uuid5 over this namespace and
#: (scope, role, principal) keeps them stable across runs, as ARM requires for updates.
ASSIGNMENT_NAMESPACE = uuid.UUID("5f0c6a3e-8d57-4f0e-9a4e-1f2b6c7d8e90")


def fit(text: str, limit: int, hyphens: bool = True) -> str:
    """`text` as lowercase letters, digits and single hyphens (no hyphens without `hyphens`),
    if it fits `limit`, else its head and a short hash (stable per text)."""
    text = re.sub(r"[^a-z0-9]+", "-" if hyphens else "", text.lower()).strip("-")
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    if hyphens:
        return f"{text[: limit - 7].rstrip('-')}-{digest}"
    return f"{text[: limit - 6]}{digest}"


def invoke(parent: pulumi.Resource, token: str, args: dict) -> pulumi.Output[dict]:
    """An azure-native data source by its token (components/datasource.py says why)."""
    plugin = plugin_options("azure-native")
    defaults = pulumi.InvokeOptions(version=plugin.version, plugin_download_url=plugin.plugin_download_url)
    return datasource.invoke(token, args, parent, defaults)


@dataclass
class AzureContext:
    spec: ServiceSpec
    settings: Settings
    parent: pulumi.Resource
    location: str
    subscription: pulumi.Output[str]
    tenant: pulumi.Output[str]
    group: Arm | None = None
    #: Six random lowercase letters and digits, made once per stack instance (`reusable_name`).
    suffix: Arm | None = None
    #: The service key's versionless URI and its vault, once keys.py made them.
    key: Any = None
    _outputs: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @staticmethod
    def stack_location() -> str:
        """`azure-native:location`, where Pulumi users set it; every resource goes there."""
        location = pulumi.Config("azure-native").get("location")
        if not location:
            raise SettingsError("azure-native:location: not set; allowed: an Azure region such as westeurope "
                                "(pulumi config set azure-native:location westeurope)")
        if not re.fullmatch(r"[a-z][a-z0-9]{2,30}", location):
            raise SettingsError(f"azure-native:location: {location!r} is not allowed; allowed: a region name in "
                                "lowercase letters and digits, such as westeurope or eastus2")
        return location

    @classmethod
    def create(cls, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource) -> AzureContext:
        client = invoke(parent, "azure-native:authorization:getClientConfig", {})
        ctx = cls(spec=spec, settings=settings, parent=parent, location=cls.stack_location(),
                  subscription=client["subscriptionId"], tenant=client["tenantId"])
        ctx.group = Arm("azure-native:resources:ResourceGroup", "group",
                        {"resourceGroupName": ctx.physical("rg", 90), "location": ctx.location, "tags": ctx.tags},
                        pulumi.ResourceOptions(parent=parent, protect=settings.guarded))
        # protected in prod like the vaults it names: replacing it would rename (replace) them
        ctx.suffix = Arm("random:index/randomString:RandomString", "name-suffix", {
            "length": 6, "lower": True, "numeric": True, "upper": False, "special": False,
        }, pulumi.ResourceOptions(parent=parent, protect=settings.guarded), outputs=("result",))
        return ctx

    @property
    def prefix(self) -> str:
        """`service-stack`, at most 20 characters."""
        return fit(f"{self.spec.name}-{self.settings.stack}", 20)

    @property
    def tags(self) -> dict[str, str]:
        return {"anycloud-service": self.spec.name, "anycloud-stack": self.settings.stack}

    @property
    def group_name(self) -> pulumi.Output[str]:
        return self.group.name

    def physical(self, name: str, limit: int = 63) -> str:
        return fit(f"{self.prefix}-{name}", limit)

    def _head(self, name: str, limit: int, sep: str) -> str:
        """`prefix-name` cut to leave room for `sep` and six characters, a letter first."""
        head = fit(f"{self.prefix}-{name}", limit - 6 - len(sep), bool(sep))
        return head if head[:1].isalpha() else fit(f"a{head}", limit - 6 - len(sep), bool(sep))

    def reusable_name(self, name: str, limit: int) -> pulumi.Output[str]:
        """A globally unique name that a re-created stack does not share with its destroyed
        predecessor: `prefix-name` cut to fit and the stack instance's random suffix."""
        head = self._head(name, limit, "-")
        return self.suffix.result.apply(lambda s: f"{head}-{s}")

    def global_name(self, name: str, limit: int, hyphens: bool = True) -> pulumi.Output[str]:
        """A globally unique DNS label: `prefix-name` cut to fit, a letter first, and 6 hex digits
        of the subscription, project and stack (lowercase letters and digits only without `hyphens`)."""
        sep = "-" if hyphens else ""
        head = self._head(name, limit, sep)
        scope = f"{self.settings.project}/{self.settings.stack}/{name}"
        return self.subscription.apply(
            lambda sub: f"{head}{sep}{hashlib.sha256(f'{sub}/{scope}'.encode()).hexdigest()[:6]}")

    def once(self, key: tuple, make: Callable[[], Any]) -> Any:
        if key not in self._outputs:
            self._outputs[key] = make()
        return self._outputs[key]

    def opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """Child options; prod protects what holds data (pass protect=True)."""
        protect = kwargs.pop("protect", False) and self.settings.guarded
        return pulumi.ResourceOptions(parent=parent, protect=protect, **kwargs)

    def common(self) -> dict[str, Any]:
        """Inputs every tracked resource in the group takes."""
        return {"resourceGroupName": self.group_name, "location": self.location, "tags": self.tags}

    @staticmethod
    def assignment_name(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
        """A stable GUID for a role assignment, from its scope, role and principal."""
        return pulumi.Output.all(*parts).apply(lambda v: str(uuid.uuid5(ASSIGNMENT_NAMESPACE, "/".join(v))))
