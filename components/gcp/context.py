"""What every GCP module needs: the project and region, the service key, names that fit GCP."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
import pulumi_gcp as gcp
from pulumi_gcp._utilities import get_invoke_opts_defaults as invoke_defaults

from .. import datasource
from ..settings import Settings, SettingsError
from ..spec import ServiceSpec

#: Service account ids: 6-30 characters, a lowercase letter first, letters, digits and hyphens.
ACCOUNT_ID_MAX = 30


def fit(text: str, limit: int) -> str:
    """`text` if it fits `limit` characters, else its head and a short hash (stable per text)."""
    text = re.sub(r"[^a-z0-9-]", "-", text.lower()).strip("-")
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{text[: limit - 7].rstrip('-')}-{digest}"


def invoke(parent: pulumi.Resource, token: str, args: dict) -> pulumi.Output[dict]:
    """A pulumi-gcp data source by its token (components/datasource.py says why)."""
    return datasource.invoke(token, args, parent, invoke_defaults())


@dataclass
class GcpContext:
    spec: ServiceSpec
    settings: Settings
    parent: pulumi.Resource
    project: pulumi.Output[str]
    number: pulumi.Output[str]
    region: str
    key: gcp.kms.CryptoKey | None = None
    #: Grants every CMEK resource waits for (the service agents' use of the key).
    key_grants: list[pulumi.Resource] = field(default_factory=list)
    _outputs: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @staticmethod
    def stack_region() -> str:
        """`gcp:region`, where Pulumi users set it; every regional resource goes there."""
        region = pulumi.Config("gcp").get("region")
        if not region:
            raise SettingsError("gcp:region: not set; allowed: a Google Cloud region such as europe-west1 "
                                "(pulumi config set gcp:region europe-west1)")
        return region

    @classmethod
    def create(cls, spec: ServiceSpec, settings: Settings, parent: pulumi.Resource) -> GcpContext:
        region = cls.stack_region()
        project = invoke(parent, "gcp:organizations/getProject:getProject", {})
        return cls(spec=spec, settings=settings, parent=parent, project=project["projectId"], number=project["number"],
                   region=region)

    @property
    def prefix(self) -> str:
        """`service-stack`, at most 20 characters, so `prefix-name` fits GCP's shortest name limits."""
        return fit(f"{self.spec.name}-{self.settings.stack}", 20)

    def physical(self, name: str, limit: int = 63) -> str:
        return fit(f"{self.prefix}-{name}", limit)

    def account_id(self, name: str) -> str:
        """A service account id (6-30 characters) for the identity named `name`."""
        return fit(f"{self.prefix}-{name}", ACCOUNT_ID_MAX)

    def once(self, key: tuple, make: Callable[[], Any]) -> Any:
        if key not in self._outputs:
            self._outputs[key] = make()
        return self._outputs[key]

    def agent(self, domain: str) -> pulumi.Output[str]:
        """`serviceAccount:service-N@<domain>`: a Google service agent of this project."""
        return self.once(("agent", domain), lambda: self.number.apply(lambda n: f"serviceAccount:service-{n}@{domain}"))

    def opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """Child options; prod protects what holds data (pass protect=True); CMEK users pass cmek=True
        to wait for the key grants."""
        protect = kwargs.pop("protect", False) and self.settings.prod
        if kwargs.pop("cmek", False) and self.key_grants:
            kwargs["depends_on"] = [*kwargs.get("depends_on", []), *self.key_grants]
        return pulumi.ResourceOptions(parent=parent, protect=protect, **kwargs)

    @property
    def key_name(self) -> pulumi.Output[str] | None:
        return self.key.id if self.key is not None else None
