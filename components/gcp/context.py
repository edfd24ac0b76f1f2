"""What every GCP module needs: the project and region, the enabled APIs, the service agents,
the service key, names that fit GCP.

Every resource names the API it is created through (`opts(parent, api=...)`), and waits for that
API's `projects.Service`: in a fresh project the provider does not retry "API has not been used in
project ... or it is disabled" (terraform-provider-google FAQ, "403 Service API disabled"). The
bootstrap APIs cannot be enabled by the stack that needs them (enabling an API is itself a Service
Usage call, and reading the project a Resource Manager one): they must be on before the first `up`.
"""

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
#: APIs a stack cannot enable for itself: `projects.Service` and `getProject` go through them, and
#: project-level IAM members are set through Resource Manager. The deployer enables them once.
BOOTSTRAP_APIS = ("cloudresourcemanager", "serviceusage")
#: Agents Google creates when their API is enabled, by the domain of their e-mail; the others are
#: created on request (ServiceIdentity). Cloud Functions and Cloud Run agents are not generated on
#: request (cloud-foundation-fabric's service-agents.yaml marks neither as JIT), so grants to them
#: wait for the API itself.
IMPLICIT_AGENTS = {"cloudfunctions": "gcf-admin-robot.iam.gserviceaccount.com",
                   "run": "serverless-robot-prod.iam.gserviceaccount.com"}


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
    #: The enabled APIs' `projects.Service`, by short name (`keys.enable_apis`).
    apis: dict[str, gcp.projects.Service] = field(default_factory=dict)
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

    def service_agent(self, api: str) -> tuple[pulumi.Input[str], pulumi.Resource]:
        """(IAM member, what a grant to it waits for) of the Google service agent of `api`.

        Cloud Storage's agent comes from its data source once the API is on; the Cloud Functions
        and Cloud Run agents appear with their API (a grant waits for the API's Service); every
        other agent is materialised with `ServiceIdentity` (a grant waits for it)."""
        def make():
            if api in IMPLICIT_AGENTS:
                domain = IMPLICIT_AGENTS[api]
                return self.number.apply(lambda n: f"serviceAccount:service-{n}@{domain}"), self.apis[api]
            if api == "storage":
                found = invoke(self.parent, "gcp:storage/getProjectServiceAccount:getProjectServiceAccount", {})
                return found["member"], self.apis[api]
            identity = gcp.projects.ServiceIdentity(f"agent-{api}", service=f"{api}.googleapis.com",
                                                    opts=self.opts(self.parent, api=api))
            return identity.member, identity
        return self.once(("agent", api), make)

    def opts(self, parent: pulumi.Resource, *, api: str | tuple[str, ...], **kwargs) -> pulumi.ResourceOptions:
        """Child options for a resource created through `api` (a short name: "pubsub", or several
        when the service calls others to create it); it waits for those APIs' Services. Prod
        protects what holds data (pass protect=True); CMEK users pass cmek=True to wait for the key
        grants."""
        protect = kwargs.pop("protect", False) and self.settings.guarded
        waits = list(kwargs.pop("depends_on", []))
        for name in (api,) if isinstance(api, str) else api:
            if name in BOOTSTRAP_APIS:
                continue
            if name not in self.apis:
                raise KeyError(f"{name}: not an API this stack enables (components/gcp/keys.py APIS)")
            waits.append(self.apis[name])
        if kwargs.pop("cmek", False):
            waits += self.key_grants
        return pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=waits, **kwargs)

    @property
    def key_name(self) -> pulumi.Output[str] | None:
        return self.key.id if self.key is not None else None
