"""Azure Functions on Flex Consumption: one Function App per function, with its own plan,
user-assigned identity, deployment container and host storage grant.

An identity belongs to an app, and a Flex plan holds exactly one app, so least privilege on
Azure is one app per function. Every app is Linux Python, HTTPS only, TLS 1.2 (also for the
SCM site), HTTP/2, basic-auth publishing off (Flex has no FTP and rejects `ftpsState`, so
none is set), and connects to everything with its identity: `AzureWebJobsStorage__*`, the
queue trigger's `ANYCLOUD_TRIGGER__*`, Application Insights with Entra ID, Key Vault
references resolved as the app's identity. No key or connection string is in its settings.

Every app runs the one Azure entry module (`function_app.py` of the Azure adapter) and learns
from `ANYCLOUD_HANDLER` and `ANYCLOUD_TRIGGERS` which trigger to register. The program deploys
that package to each app itself (deploy.py: pulumi-azure-native has no resource for a Flex
app's code), again exactly when the package's content changes. Flex's instance
sizes are 512, 2048 and 4096 MB: a declared size runs on the smallest that holds it. A Flex
app's maximum instance count is the declared `reserved_concurrency` (Flex takes 1 to 1000).
`warm_instances` become always-ready instances of the app's trigger group.

Each app has its own host storage account (storage.py says why). Apps update with the
Recreate strategy: rolling updates are in preview and "isn't recommended for production apps"
(https://learn.microsoft.com/azure/azure-functions/flex-consumption-site-updates); dev runs
what prod runs. Apps whose traces or requests feed a log alert (queue consumers: poison
messages; table stream consumers: dead-lettered changes; orchestrators: failed orchestrations; apps reading secrets: unresolved Key Vault
references) keep those types out of the host's sampling (`UNSAMPLED`), or under load the
one trace an alert waits for can be dropped (policy azure-log-alerts-read-unsampled-telemetry).

Who may call an app is settled when it is made (callers.py): apps reached over HTTP (routes,
workflow tasks) accept tokens of their named callers only, in App Service authentication and
in the app itself; the others deny all inbound traffic to the site (their triggers are queue
listeners, which reach out).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi

from ..packaging import cloud_archive
from ..spec import FunctionSpec
from .arm import Arm
from .context import AzureContext
from .deploy import Package, PackageDeployment, write_package
from .identity import BLOB_CONTRIBUTOR, BLOB_OWNER, METRICS_PUBLISHER, QUEUE_CONTRIBUTOR, TABLE_CONTRIBUTOR, Identity, \
    assign, user_identity
from .storage import Account, container, host_account

RUNTIME = {"name": "python", "version": "3.12"}
MEMORY_SIZES_MB = (512, 2048, 4096)
#: Instances an app may scale to unless `reserved_concurrency` says otherwise. Flex's own default
#: is 100, but a subscription's Flex apps share 512,000 MB per region: at 100 the example service
#: alone could claim 768,000 MB; at 40 it claims 307,200 (the pack's memory-quota policy adds it up).
DEFAULT_SCALE_LIMIT = 40
#: The connection every queue trigger names; its `__queueServiceUri` is the data account's.
TRIGGER_CONNECTION = "ANYCLOUD_TRIGGER"
#: The queue a consumer or orchestrator app listens on (the trigger reads `%ANYCLOUD_TRIGGER_QUEUE%`).
TRIGGER_QUEUE = "ANYCLOUD_TRIGGER_QUEUE"
#: Where a workflow task app answers the orchestrator's POST (DESIGN.md section 5).
TASK_PATH = "/api/task"
#: Where the program writes the package it deploys (a zip named by its content digest).
PACKAGE_DIR = os.path.join(tempfile.gettempdir(), "anycloud-packages")
#: Always-ready groups by how the app is reached (the adapter names its queue function `consume`).
ALWAYS_READY_GROUP = {"route": "http", "task": "http", "consumer": "function:consume", "changes": "function:changes",
                      "orchestrator": "durable"}
#: Telemetry the log alerts read, kept whole (host.json's samplingSettings through an app setting).
SAMPLING_EXCLUDED = "AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__excludedTypes"
UNSAMPLED = "Request;Trace"


@dataclass
class AppHandle:
    name: str
    spec: FunctionSpec | None
    kinds: list[str]
    app: Arm
    identity: Identity
    #: Principal ids allowed to call the app over HTTP (callers.py): in its settings, and in its
    #: App Service authentication (made in the platform's `finish`).
    callers: list[pulumi.Output[str]] = field(default_factory=list)

    @property
    def host(self) -> pulumi.Output[str]:
        return self.app.defaultHostName

    @property
    def base_url(self) -> pulumi.Output[str]:
        return self.host.apply(lambda h: f"https://{h}")

    @property
    def reached_over_http(self) -> bool:
        return bool({"route", "task"} & set(self.kinds))


def scm_host(default_host: str) -> str:
    """The app's SCM (Kudu) host: `.scm` after the first label of its default host name, for
    both `<app>.azurewebsites.net` and the newer `<app>-<hash>.<region>-01.azurewebsites.net`."""
    first, _, rest = default_host.partition(".")
    return f"{first}.scm.{rest}"


def package(ctx: AzureContext) -> Package:
    """The Azure package (the runtime, the Azure adapter, function_app.py, host.json and the
    functions' requirements at its root), written once per program run."""
    return ctx.once(("package",), lambda: write_package(cloud_archive("azure"), PACKAGE_DIR))


def memory_size(memory_mb: int) -> int:
    return next(size for size in MEMORY_SIZES_MB if size >= memory_mb)


def settings_list(values: dict[str, pulumi.Input[str]]) -> list[dict[str, pulumi.Input[str]]]:
    return [{"name": k, "value": v} for k, v in sorted(values.items())]


def host_settings(connection: str, account: Account, identity: Identity, service: str) -> dict[str, pulumi.Input[str]]:
    """An identity-based connection to one service (`queue`, or the host's account) of `account`."""
    if service == "host":
        return {f"{connection}__accountName": account.name, f"{connection}__credential": "managedidentity",
                f"{connection}__clientId": identity.client_id}
    return {f"{connection}__queueServiceUri": account.queue_endpoint, f"{connection}__credential": "managedidentity",
            f"{connection}__clientId": identity.client_id}


@dataclass
class AppBuild:
    """What every app of the service shares."""

    data: Account
    key: Any
    insights_id: pulumi.Output[str]
    insights_connection: pulumi.Output[str]


def create_app(ctx: AzureContext, name: str, spec: FunctionSpec | None, kinds: list[str],
               settings: Callable[[Identity], dict[str, pulumi.Input[str]]], build: AppBuild, parent: pulumi.Resource,
               warm: int = 0, memory_mb: int = 2048, timeout_s: int = 300, scale_limit: int = DEFAULT_SCALE_LIMIT,
               alerted: bool = False, identity: Identity | None = None, waits_for: list[pulumi.Resource] = (),
               callers: list[pulumi.Output[str]] = ()) -> AppHandle:
    """A Flex Consumption app named `prefix-name` (at most 32 characters: the Functions host id
    is the first 32 characters of the app name, and two apps on one host account must differ
    there) with its plan, identity (its own, or `identity` when another resource needed it
    first), deployment container and grants; `settings` gives the app's own settings for its
    identity (identity-based connections name its client id); `alerted`: a log alert reads its
    traces; `waits_for`: grants made elsewhere that its triggers need at start; `callers`: who may
    call it over HTTP."""
    alerted = alerted or bool({"consumer", "changes", "orchestrator"} & set(kinds))
    host = host_account(ctx, name, build.key, parent, holds_state="orchestrator" in kinds)
    identity = identity or user_identity(ctx, name, parent)
    deploy = container(ctx, f"deploy-{name}", build.data, parent)
    grants = [
        assign(ctx, f"{name}-deploys", identity, BLOB_CONTRIBUTOR, build.data.container_scope(deploy.name), parent),
        assign(ctx, f"{name}-host-storage", identity, BLOB_OWNER, host.id, parent),
        assign(ctx, f"{name}-telemetry", identity, METRICS_PUBLISHER, build.insights_id, parent),
    ]
    if "orchestrator" in kinds:  # the Durable task hub: queues and tables on its own account
        grants += [assign(ctx, f"{name}-hub-{role_name}", identity, role, host.id, parent)
                   for role_name, role in (("queues", QUEUE_CONTRIBUTOR), ("tables", TABLE_CONTRIBUTOR))]
    plan = Arm("azure-native:web:AppServicePlan", f"{name}-plan", {
        "name": ctx.physical(name, 40), **ctx.common(), "kind": "functionapp", "reserved": True,
        "sku": {"name": "FC1", "tier": "FlexConsumption"},
    }, ctx.opts(parent))
    app_settings = {
        **host_settings("AzureWebJobsStorage", host, identity, "host"),
        **({SAMPLING_EXCLUDED: UNSAMPLED} if alerted else {}),
        "AZURE_CLIENT_ID": identity.client_id,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": build.insights_connection,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": identity.client_id.apply(
            lambda c: f"ClientId={c};Authorization=AAD"),
        "AzureFunctionsJobHost__functionTimeout": f"{timeout_s // 3600:02d}:{timeout_s % 3600 // 60:02d}:{timeout_s % 60:02d}",
        **settings(identity),
    }
    site_config: dict = {
        "minTlsVersion": "1.2",
        "scmMinTlsVersion": "1.2",
        "http20Enabled": True,
        "appSettings": settings_list(app_settings),
    }
    if not {"route", "task"} & set(kinds):
        site_config["ipSecurityRestrictionsDefaultAction"] = "Deny"
        site_config["scmIpSecurityRestrictionsUseMain"] = False
    scale: dict = {"instanceMemoryMB": memory_size(memory_mb), "maximumInstanceCount": scale_limit}
    if warm:
        scale["alwaysReady"] = [{"name": ALWAYS_READY_GROUP[kinds[0]], "instanceCount": warm}]
    deployment = {
        "type": "blobContainer",
        "value": pulumi.Output.all(build.data.blob_endpoint, deploy.name).apply(lambda v: f"{v[0].rstrip('/')}/{v[1]}"),
        "authentication": {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": identity.id},
    }
    app = Arm("azure-native:web:WebApp", name, {
        "name": ctx.global_name(name, 32),
        **ctx.common(),
        "kind": "functionapp,linux",
        "serverFarmId": plan.id,
        "httpsOnly": True,
        "clientCertEnabled": False,
        "clientAffinityEnabled": False,
        "hyperV": False,
        "isXenon": False,
        "scmSiteAlsoStopped": False,
        "identity": {"type": "UserAssigned", "userAssignedIdentities": [identity.id]},
        "keyVaultReferenceIdentity": identity.id,
        "siteConfig": site_config,
        "functionAppConfig": {
            "deployment": {"storage": deployment},
            "runtime": RUNTIME,
            "scaleAndConcurrency": scale,
            "siteUpdateStrategy": {"type": "Recreate"},
        },
    }, ctx.opts(parent, depends_on=[*grants, *waits_for]), outputs=("defaultHostName",))
    code = package(ctx)
    PackageDeployment(f"{name}-code", app_name=app.name, scm_host=app.defaultHostName.apply(scm_host),
                      package=code.path, content_hash=code.digest, opts=ctx.opts(app))
    for policy in ("ftp", "scm"):
        kind = "WebAppFtpAllowed" if policy == "ftp" else "WebAppScmAllowed"
        Arm(f"azure-native:web:{kind}", f"{name}-no-{policy}-basic-auth",
            {"name": app.name, "resourceGroupName": ctx.group_name, "allow": False}, ctx.opts(app))
    return AppHandle(name=name, spec=spec, kinds=kinds, app=app, identity=identity, callers=list(callers))
