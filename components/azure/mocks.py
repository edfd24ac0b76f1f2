"""What Azure would answer: ARM ids, names, endpoints and identities for mocked resources."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

SUBSCRIPTION = "3f2b9c1e-7a4d-4e8b-9c2f-5d6e7f8a9b0c"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEPLOYER = "0b6c4b5e-1d2f-4a3b-8c9d-7e6f5a4b3c2d"

#: type token -> (ARM provider/type path, input holding the resource's name)
ARM = {
    "azure-native:resources:ResourceGroup": ("", "resourceGroupName"),
    "azure-native:managedidentity:UserAssignedIdentity": ("Microsoft.ManagedIdentity/userAssignedIdentities", "resourceName"),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName"),
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName"),
    "azure-native:web:AppServicePlan": ("Microsoft.Web/serverfarms", "name"),
    "azure-native:web:WebApp": ("Microsoft.Web/sites", "name"),
    "azure-native:cosmosdb:DatabaseAccount": ("Microsoft.DocumentDB/databaseAccounts", "accountName"),
    "azure-native:apimanagement:ApiManagementService": ("Microsoft.ApiManagement/service", "serviceName"),
    "azure-native:operationalinsights:Workspace": ("Microsoft.OperationalInsights/workspaces", "workspaceName"),
    "azure-native:applicationinsights:Component": ("Microsoft.Insights/components", "resourceName"),
    "azure-native:monitor:ActionGroup": ("Microsoft.Insights/actionGroups", "actionGroupName"),
    "azure-native:monitor:MetricAlert": ("Microsoft.Insights/metricAlerts", "ruleName"),
    "azure-native:monitor:ScheduledQueryRule": ("Microsoft.Insights/scheduledQueryRules", "ruleName"),
}


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _guid(text: str) -> str:
    return str(uuid.UUID(_digest(text, 32)))


def invoke(token: str, args: dict[str, Any], config: dict[str, str]) -> dict[str, Any] | None:
    if token == "azure-native:authorization:getClientConfig":
        return {"clientId": _guid("deployer-app"), "objectId": DEPLOYER, "subscriptionId": SUBSCRIPTION,
                "tenantId": TENANT}
    return None


def _group_id(inputs: dict[str, Any]) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{inputs.get('resourceGroupName')}"


def _identity(value: Any) -> Any:
    """web/storage/cosmosdb take user-assigned identities as a list of ids and answer a map."""
    if isinstance(value, dict) and isinstance(value.get("userAssignedIdentities"), list):
        ids = value["userAssignedIdentities"]
        return {**value, "userAssignedIdentities": {i: {"principalId": _guid(f"p/{i}"), "clientId": _guid(f"c/{i}")}
                                                    for i in ids}}
    if isinstance(value, dict) and value.get("type") == "SystemAssigned":
        return {**value, "principalId": _guid(f"system/{value}"), "tenantId": TENANT}
    return value


def resource(typ: str, name: str, inputs: dict[str, Any], config: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(id, outputs) for an Azure or Entra ID resource type; outputs extend the inputs."""
    out = dict(inputs)
    if "identity" in out:
        out["identity"] = _identity(out["identity"])
    if typ.startswith("azuread:"):
        object_id = _guid(f"object/{name}")
        out.update(objectId=object_id, clientId=inputs.get("clientId") or _guid(f"client/{name}"))
        return object_id, out
    path, name_key = ARM.get(typ, ("", ""))
    physical = inputs.get(name_key) or f"{name}{_digest(name, 6)}"
    out["name"] = physical
    if typ == "azure-native:resources:ResourceGroup":
        rid = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{physical}"
    elif path:
        rid = f"{_group_id(inputs)}/providers/{path}/{physical}"
    else:
        rid = f"{_group_id(inputs)}/providers/{typ.split(':', 1)[1].replace(':', '/')}/{name}"
    if typ == "azure-native:managedidentity:UserAssignedIdentity":
        out.update(principalId=_guid(f"principal/{rid}"), clientId=_guid(f"client/{rid}"), tenantId=TENANT)
    elif typ == "azure-native:keyvault:Vault":
        out["properties"] = {**inputs.get("properties", {}), "vaultUri": f"https://{physical}.vault.azure.net/"}
    elif typ == "azure-native:keyvault:Key":
        vault = inputs.get("vaultName")
        rid = f"{_group_id(inputs)}/providers/Microsoft.KeyVault/vaults/{vault}/keys/{inputs.get('keyName')}"
        uri = f"https://{vault}.vault.azure.net/keys/{inputs.get('keyName')}"
        out.update(keyUri=uri, keyUriWithVersion=f"{uri}/{_digest(uri, 32)}", name=inputs.get("keyName"))
    elif typ == "azure-native:keyvault:Secret":
        vault = inputs.get("vaultName")
        rid = f"{_group_id(inputs)}/providers/Microsoft.KeyVault/vaults/{vault}/secrets/{inputs.get('secretName')}"
        uri = f"https://{vault}.vault.azure.net/secrets/{inputs.get('secretName')}"
        out.update(name=inputs.get("secretName"), properties={
            **inputs.get("properties", {}), "secretUri": uri, "secretUriWithVersion": f"{uri}/{_digest(uri, 32)}"})
    elif typ == "azure-native:storage:StorageAccount":
        out["primaryEndpoints"] = {svc: f"https://{physical}.{svc}.core.windows.net/"
                                   for svc in ("blob", "queue", "table", "file", "dfs", "web")}
    elif typ in ("azure-native:storage:Queue", "azure-native:storage:BlobContainer"):
        kind, key = ("queueServices/default/queues", "queueName") if typ.endswith("Queue") else \
            ("blobServices/default/containers", "containerName")
        out["name"] = inputs.get(key)
        rid = f"{_group_id(inputs)}/providers/Microsoft.Storage/storageAccounts/{inputs.get('accountName')}/{kind}/{inputs.get(key)}"
    elif typ == "azure-native:web:WebApp":
        out.update(defaultHostName=f"{physical}.azurewebsites.net", state="Running")
    elif typ == "azure-native:cosmosdb:DatabaseAccount":
        out["documentEndpoint"] = f"https://{physical}.documents.azure.com:443/"
    elif typ == "azure-native:cosmosdb:SqlResourceSqlContainer":
        out["name"] = inputs.get("containerName")
        rid = (f"{_group_id(inputs)}/providers/Microsoft.DocumentDB/databaseAccounts/{inputs.get('accountName')}"
               f"/sqlDatabases/{inputs.get('databaseName')}/containers/{inputs.get('containerName')}")
    elif typ == "azure-native:cosmosdb:SqlResourceSqlDatabase":
        out["name"] = inputs.get("databaseName")
        rid = (f"{_group_id(inputs)}/providers/Microsoft.DocumentDB/databaseAccounts/{inputs.get('accountName')}"
               f"/sqlDatabases/{inputs.get('databaseName')}")
    elif typ == "azure-native:authorization:ManagementLockByScope":
        out["name"] = inputs.get("lockName")
        rid = f"{inputs.get('scope')}/providers/Microsoft.Authorization/locks/{inputs.get('lockName')}"
    elif typ == "azure-native:apimanagement:ApiManagementService":
        out.update(gatewayUrl=f"https://{physical}.azure-api.net", managementApiUrl=f"https://{physical}.management.azure-api.net")
    elif typ.startswith("azure-native:apimanagement:"):
        key = next(k for k in ("policyId", "operationId", "backendId", "apiId", "serviceName") if inputs.get(k))
        out["name"] = inputs[key]
    elif typ == "azure-native:applicationinsights:Component":
        key = _guid(f"ikey/{rid}")
        out.update(instrumentationKey=key, appId=_guid(f"app/{rid}"),
                   connectionString=f"InstrumentationKey={key};IngestionEndpoint=https://{inputs.get('location')}-1"
                                    f".in.applicationinsights.azure.com/")
    elif typ == "azure-native:authorization:RoleAssignment":
        rid = f"{inputs.get('scope')}/providers/Microsoft.Authorization/roleAssignments/{inputs.get('roleAssignmentName')}"
    elif typ == "azure-native:cosmosdb:SqlResourceSqlRoleAssignment":
        rid = f"{_group_id(inputs)}/providers/Microsoft.DocumentDB/databaseAccounts/{inputs.get('accountName')}" \
              f"/sqlRoleAssignments/{inputs.get('roleAssignmentId')}"
    return rid, out
