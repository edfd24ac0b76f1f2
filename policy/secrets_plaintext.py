"""No secret in plain text where a workload reads its configuration.

A function's environment, an app's settings and connection strings, a container's env, a
parameter or configuration store entry that is not a secret type, and a workflow definition are
readable by everyone who may read the resource's configuration (lambda:GetFunctionConfiguration,
cloudfunctions.functions.get, Microsoft.Web/sites/config/list, the console) and are kept in the
stack's state. `LOCATIONS` names, per resource type, every place such a value is written; what
counts as a secret is policy/secret_scan.py's (Yelp's detect-secrets). The secret itself never
appears in a message.

Documentation: AWS Lambda, "Securing environment variables" (use Secrets Manager, not
environment variables, for secrets); Cloud Functions / Cloud Run, "Configure secrets" (Secret
Manager, not environment variables); App Service, "Use Key Vault references as app settings";
Container Apps, "Manage secrets"; Container Instances, "secure environment variables"; App
Configuration, "Key Vault references"; API Management, "named values" (secret or Key Vault).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .common import (
    GCP_FUNCTION_V1,
    GCP_FUNCTION_V2,
    GCP_WORKFLOW,
    LAMBDA_FUNCTION,
    STATE_MACHINE,
    WEB_APP,
    WEB_APP_SLOT,
    each_known,
    get,
    items_at,
    named,
    plain,
    resource_policy,
)
from .secret_scan import secret_kind


@dataclass(frozen=True)
class Named:
    """A mapping of name -> value at `path` (name -> {value_key: value} when value_key is set)."""
    path: str
    value_key: str | None = None

    def values(self, props: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
        for where, mapping in items_at(props, self.path):
            if isinstance(mapping, Mapping):
                for name in mapping:
                    yield f"{where}.{name}", name, (lambda m=mapping, n=name: _value(m[n], self.value_key))


@dataclass(frozen=True)
class Entries:
    """List items at `path` (ending in `[]`), each a {name_key, value_key} object."""
    path: str
    value_key: str = "value"
    name_key: str = "name"

    def values(self, props: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
        for where, entry in items_at(props, self.path):
            name = get(entry, self.name_key) if isinstance(entry, Mapping) else None
            if isinstance(name, str):
                yield f"{where} ({name})", name, (lambda e=entry: get(e, self.value_key))


@dataclass(frozen=True)
class Document:
    """A JSON document (string or object) at `path`, judged whole: its members are named values."""
    path: str

    def values(self, props: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
        for where, _ in items_at(props, self.path):
            yield where, self.path, (lambda: _json_text(get(props, self.path)))


@dataclass(frozen=True)
class Field:
    """The value at `value_path`, named by the value at `name_path`; not judged when the property
    `unless` says the value is kept as a secret (its value, in lower case, is in `secret_when`)."""
    name_path: str
    value_path: str
    unless: str | None = None
    secret_when: frozenset[str] = frozenset()

    def values(self, props: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
        if self.unless and str(get(props, self.unless, "")).lower() in self.secret_when:
            return
        name = get(props, self.name_path)
        if get(props, self.value_path) not in (None, OPAQUE_SECRET):  # providers encrypt some (SSM `value`)
            yield self.value_path, str(name or self.value_path), (lambda: get(props, self.value_path))


def _value(item: Any, key: str | None) -> Any:
    return get(item, key) if key else item


def _json_text(value: Any) -> str | None:
    """A document as JSON text (an object or list is serialised; a string is judged as it is)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(plain(value))


#: How an encrypted value of a stack export reaches the pack offline (policy/offline.py): a Pulumi secret
#: copied into the configuration, which the configuration itself then shows in plain text.
OPAQUE_SECRET = "[secret]"
OPAQUE_SECRET_KIND = "Pulumi secret (encrypted in the state only)"

APP_SETTINGS = "azure-native:web:WebAppApplicationSettings"
APP_SETTINGS_SLOT = "azure-native:web:WebAppApplicationSettingsSlot"
CONNECTION_STRINGS = "azure-native:web:WebAppConnectionStrings"
CONNECTION_STRINGS_SLOT = "azure-native:web:WebAppConnectionStringsSlot"
_CONTAINERS = (Entries("template.containers[].env[]"), Entries("template.initContainers[].env[]"))
#: App Configuration marks a Key Vault reference by this content type; API Management by `secret`.
KEY_VAULT_REF_CONTENT_TYPE = "application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8"

#: Where each type writes named configuration values.
LOCATIONS: dict[str, tuple[Named | Entries | Document | Field, ...]] = {
    LAMBDA_FUNCTION: (Named("environment.variables"),),
    "aws:ecs/taskDefinition:TaskDefinition": (Document("containerDefinitions"),),
    "aws:apprunner/service:Service": (
        Named("sourceConfiguration.imageRepository.imageConfiguration.runtimeEnvironmentVariables"),
        Named("sourceConfiguration.codeRepository.codeConfiguration.codeConfigurationValues.runtimeEnvironmentVariables"),
    ),
    "aws:ssm/parameter:Parameter": (Field("name", "value", "type", frozenset({"securestring"})),
                                    Field("name", "insecureValue")),
    STATE_MACHINE: (Document("definition"),),
    GCP_FUNCTION_V1: (Named("environmentVariables"), Named("buildEnvironmentVariables")),
    GCP_FUNCTION_V2: (Named("serviceConfig.environmentVariables"), Named("buildConfig.environmentVariables")),
    "gcp:cloudrun/service:Service": (Entries("template.spec.containers[].envs[]"),),
    "gcp:cloudrunv2/service:Service": (Entries("template.containers[].envs[]"),),
    "gcp:cloudrunv2/job:Job": (Entries("template.template.containers[].envs[]"),),
    "gcp:cloudrunv2/workerPool:WorkerPool": (Entries("template.containers[].envs[]"),),
    GCP_WORKFLOW: (Named("userEnvVars"),),
    "gcp:appengine/standardAppVersion:StandardAppVersion": (Named("envVariables"),),
    "gcp:appengine/flexibleAppVersion:FlexibleAppVersion": (Named("envVariables"),),
    WEB_APP: (Entries("siteConfig.appSettings[]"), Entries("siteConfig.connectionStrings[]", "connectionString")),
    WEB_APP_SLOT: (Entries("siteConfig.appSettings[]"), Entries("siteConfig.connectionStrings[]", "connectionString")),
    APP_SETTINGS: (Named("properties"),),
    APP_SETTINGS_SLOT: (Named("properties"),),
    CONNECTION_STRINGS: (Named("properties", "value"),),
    CONNECTION_STRINGS_SLOT: (Named("properties", "value"),),
    "azure-native:app:ContainerApp": _CONTAINERS,
    "azure-native:app:Job": _CONTAINERS,
    "azure-native:containerinstance:ContainerGroup": (Entries("containers[].environmentVariables[]"),
                                                      Entries("initContainers[].environmentVariables[]")),
    "azure-native:appconfiguration:KeyValue": (
        Field("keyValueName", "value", "contentType", frozenset({KEY_VAULT_REF_CONTENT_TYPE, KEY_VAULT_REF_CONTENT_TYPE.split(";")[0]})),),
    "azure-native:apimanagement:NamedValue": (Field("displayName", "value", "secret", frozenset({"true"})),),
    "azure-native:apimanagement:WorkspaceNamedValue": (Field("displayName", "value", "secret", frozenset({"true"})),),
}


def _opaque(props: Mapping[str, Any], location: Named | Entries | Document | Field) -> Iterator[str]:
    """The part of a location's path that reaches the pack as an encrypted value: Pulumi makes a whole
    property secret (environment, siteConfig) when a secret is put anywhere inside it."""
    if isinstance(location, Field):
        return
    parts = location.path.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix.endswith("[]"):
            return
        if get(props, prefix) == OPAQUE_SECRET:
            yield prefix
            return


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = [f"{where} holds a {OPAQUE_SECRET_KIND}" for location in LOCATIONS[args.resource_type]
             for where in _opaque(args.props, location)]

    def judge(item: tuple[str, str, Any]) -> None:
        where, name, read = item
        value = read()
        kind = (OPAQUE_SECRET_KIND if value == OPAQUE_SECRET
                else secret_kind(name, value) if isinstance(value, str) else None)
        if kind:
            found.append(f"{where} holds a {kind}")

    try:
        each_known((item for location in LOCATIONS[args.resource_type] for item in location.values(args.props)), judge)
    finally:  # what was found is reported even when an unknown value then skips the rest with a note
        if found:
            report(f"{named(args, 'Resource')}: {'; '.join(found)} in plain text (detect-secrets), readable by "
                   "whoever may read its configuration and kept in the stack's state; allowed: a reference to a "
                   "secret store.")


POLICIES = [
    resource_policy(
        "no-plaintext-secrets-in-config",
        "No secret in plain text in a function's environment, an app's settings or connection strings, a container's "
        "env, a non-secret parameter or configuration value, or a workflow definition, judged by Yelp's detect-secrets "
        "(format detectors; secret-sounding names; high-entropy keys inside connection strings and URLs). AWS Lambda "
        "'Securing environment variables'; Cloud Run/Functions 'Configure secrets'; App Service 'Use Key Vault "
        "references'; Container Apps 'Manage secrets'; API Management 'named values'.",
        LOCATIONS,
        _check,
        remediation="keep the value in a secret store and pass a reference: Lambda/ECS/App Runner: the Secrets Manager or "
                    "SecureString parameter ARN (ECS `secrets`, App Runner runtimeEnvironmentSecrets); GCP: "
                    "secretEnvironmentVariables / envs[].valueSource.secretKeyRef; Azure: @Microsoft.KeyVault(SecretUri=...) "
                    "app settings or identity-based connections, Container Apps secretRef, Container Instances secureValue, "
                    "App Configuration Key Vault references, API Management secret or Key Vault named values.",
        severity=Severity.HIGH,
    ),
]
