"""How an Azure stack maps back to the declared blocks (components/architecture.py): what each block
is on Azure, and the role assignments that join them, read from the resources themselves.

A role assignment's principal resolves to the user-assigned identity with that principal id, and
the identity to the app that carries it (a function's app, a workflow's orchestrator app, API
Management). The role says the verb (the GUIDs in identity.py and table.py): Queue Data Message
Sender on a queue sends (on a workflow's start queue, starts it), Queue Data Contributor held by a
consumer takes the queue's messages, Key Vault Secrets User reads, Cosmos DB's data roles read or
write one container. A function app's authentication admitting another app's identity is how a
workflow invokes its tasks, and how API Management reaches a route's backend. A table's change
stream is its consumer app's Cosmos DB trigger, named by the app's settings (stream.py): the table
delivers to that app, where the app's identity holds the stream's data roles (made under the
table's block: read on the container, write on its lease container), which are not the app's
declared reads.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..architecture import Architecture, Block, Grant, Stack, mentions
from .identity import QUEUE_CONTRIBUTOR, QUEUE_SENDER, SECRETS_USER
from .stream import CONNECTION, CONTAINER_SETTING, DATABASE_SETTING, LEASES_SETTING
from .table import DATA_ROLES

APP, GATEWAY, QUEUE = "azure-native:web:WebApp", "azure-native:apimanagement:ApiManagementService", "azure-native:storage:Queue"
CONTAINER, IDENTITY = "azure-native:cosmosdb:SqlResourceSqlContainer", "azure-native:managedidentity:UserAssignedIdentity"
OPERATION, OPERATION_POLICY = "azure-native:apimanagement:ApiOperation", "azure-native:apimanagement:ApiOperationPolicy"
BACKEND, AUTH = "azure-native:apimanagement:Backend", "azure-native:web:WebAppAuthSettingsV2"
ROLE_ASSIGNMENT, DATA_ASSIGNMENT = ("azure-native:authorization:RoleAssignment",
                                    "azure-native:cosmosdb:SqlResourceSqlRoleAssignment")
SERVICES = {
    GATEWAY: "API Management",
    APP: "Function app (Flex Consumption)",
    QUEUE: "Storage queue",
    CONTAINER: "Cosmos DB container",
    "azure-native:keyvault:Secret": "Key Vault secret",
    "azure-native:keyvault:Key": "Key Vault key",
}
#: The Functions host moves a message it failed to process maxDequeueCount times to `<queue>-poison`.
POISON_SUFFIX = "-poison"
TABLE_VERBS = {guid: verb for verb, guid in DATA_ROLES.items()}
BACKEND_ID = re.compile(r'<set-backend-service[^>]*backend-id="([^"]+)"')


def read(stack: Stack) -> Architecture:
    blocks = list(_blocks(stack))
    grants = [*_role_grants(stack, blocks), *_table_grants(stack), *_stream_grants(stack), *_caller_grants(stack, blocks),
              *_dead_letter_grants(stack), *_key_grants(stack, blocks)]
    return Architecture.build(stack, blocks, grants)


def _queue_name(stack: Stack, queue: dict[str, Any]) -> str:
    return str(stack.value(queue, "queueName") or stack.value(queue, "name") or "")


def _start_queues(stack: Stack) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Workflow -> the queue its orchestrator app consumes (its start queue) and that queue's poison queue."""
    queues: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for assignment in _assignments(stack, QUEUE_CONTRIBUTOR):
        holder, queue = _holder(stack, assignment), stack.find([QUEUE], "id", stack.value(assignment, "scope"))
        owner = holder and stack.component(holder["urn"])
        if queue and owner and owner[0] == "workflow":
            poison = [q for q in stack.of_type(QUEUE) if _queue_name(stack, q) == _queue_name(stack, queue) + POISON_SUFFIX]
            queues.setdefault(owner, []).extend([queue, *poison])
    return queues


def _blocks(stack: Stack) -> Iterator[Block]:
    names = {_queue_name(stack, q) for q in stack.of_type(QUEUE)}
    starts = _start_queues(stack)
    for resource in stack.of_type(*SERVICES):
        component = stack.component(resource["urn"]) or ("service", stack.name(resource))
        service, kind, note, also = SERVICES[resource["type"]], None, "", []
        if resource["type"] == "azure-native:keyvault:Key":
            kind = "key"
        elif component[0] in ("service", "workflow") and resource["type"] != APP:
            continue  # what the service keeps for itself, or runs a workflow
        elif resource["type"] == QUEUE and _queue_name(stack, resource).removesuffix(POISON_SUFFIX) in names - {_queue_name(stack, resource)}:
            kind = "dead-letters"
        if resource["type"] == APP:
            config = ((resource.get("inputs") or {}).get("functionAppConfig") or {}).get("scaleAndConcurrency") or {}
            warm = sum(int(a.get("instanceCount") or 0) for a in config.get("alwaysReady") or [])
            note = f"{warm} always ready" if warm else ""
            if component[0] == "workflow":
                service, also = "Durable Functions app (Flex Consumption)", starts.get(component, [])
        if resource["type"] == GATEWAY:
            sku = ((resource.get("inputs") or {}).get("sku") or {}).get("name")
            service = f"API Management ({sku})" if sku else service
        yield stack.block(resource, service, kind=kind, name=stack.name(resource) if kind == "key" else None,
                          note=note, also=also)
    for operation, app, secured in _routes(stack):
        api = stack.component(operation["urn"]) or ("api", "api")
        name = f"{str(stack.value(operation, 'method')).upper()} {stack.value(operation, 'urlTemplate')}"
        yield stack.block(operation, "API Management operation", kind="route", name=name,
                          note="JWT" if secured else "public", group=f"{api[0]}:{api[1]}")


def _routes(stack: Stack) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None, bool]]:
    """(operation, the app its policy sends it to, whether the policy validates a JWT)."""
    policies = {(stack.value(p, "serviceName"), stack.value(p, "operationId")): str(stack.value(p, "value") or "")
                for p in stack.of_type(OPERATION_POLICY)}
    for operation in stack.of_type(OPERATION):
        policy = policies.get((stack.value(operation, "serviceName"), stack.value(operation, "operationId")), "")
        match = BACKEND_ID.search(policy)
        backend = match and stack.find([BACKEND], "backendId", match.group(1))
        site = str(stack.value(backend, "resourceId") or "") if backend else ""
        app = next((a for a in stack.of_type(APP) if a.get("id") and site.endswith(a["id"])), None)
        yield operation, app, "<validate-jwt" in policy


def _assignments(stack: Stack, role: str) -> Iterator[dict[str, Any]]:
    return (a for a in stack.of_type(ROLE_ASSIGNMENT) if str(stack.value(a, "roleDefinitionId") or "").endswith(role))


def _app_of(stack: Stack, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The app (a function app or API Management) that carries a user-assigned identity."""
    for app in stack.of_type(APP, GATEWAY):
        if mentions({"inputs": (app.get("inputs") or {}).get("identity")}, identity.get("id") or ""):
            return app
    return None


def _holder(stack: Stack, assignment: dict[str, Any], principal: Any = None) -> dict[str, Any] | None:
    identity = stack.find([IDENTITY], "principalId", principal or stack.value(assignment, "principalId"))
    return identity and (_app_of(stack, identity) or identity)


def _role_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    starts = {urn for b in blocks if b.kind == "workflow" for urn in b.urns}
    dead_letters = {urn for b in blocks if b.kind == "dead-letters" for urn in b.urns}
    for role, verb, types in ((QUEUE_SENDER, "send", [QUEUE]), (QUEUE_CONTRIBUTOR, "consume", [QUEUE]),
                              (SECRETS_USER, "read", ["azure-native:keyvault:Secret"])):
        for assignment in _assignments(stack, role):
            holder, target = _holder(stack, assignment), stack.find(types, "id", stack.value(assignment, "scope"))
            if holder is None or target is None or (verb == "send" and target["urn"] in dead_letters):
                continue  # (a consumer's send to its poison queue is the dead-letter move: _dead_letter_grants)
            if verb == "consume":  # the queue delivers to the app that may take its messages
                yield Grant(target["urn"], holder["urn"], verb, (assignment["urn"],))
            else:
                yield Grant(holder["urn"], target["urn"], "start" if verb == "send" and target["urn"] in starts else verb,
                            (assignment["urn"],))


def _data_grants(stack: Stack) -> Iterator[tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]]:
    """(assignment, verb, container, holder) of each Cosmos DB data-plane assignment, scoped to
    `<account>/dbs/<database>/colls/<container>`."""
    for assignment in stack.of_type(DATA_ASSIGNMENT):
        verb = TABLE_VERBS.get(str(stack.value(assignment, "roleDefinitionId") or "").rsplit("/", 1)[-1])
        scope = str(stack.value(assignment, "scope") or "")
        match = re.search(r"/databaseAccounts/([^/]+)/dbs/([^/]+)/colls/([^/]+)$", scope)
        container = match and next((c for c in stack.of_type(CONTAINER) if (
            stack.value(c, "accountName"), stack.value(c, "databaseName"), stack.value(c, "containerName")) == match.groups()), None)
        holder = _holder(stack, assignment)
        if verb and container and holder:
            yield assignment, verb, container, holder


def _table_grants(stack: Stack) -> Iterator[Grant]:
    """The declared reads and writes (a stream's own data roles are made under its table's block)."""
    for assignment, verb, container, holder in _data_grants(stack):
        if (stack.component(assignment["urn"]) or ("",))[0] != "table":
            yield Grant(holder["urn"], container["urn"], verb, (assignment["urn"],))


def _stream_grants(stack: Stack) -> Iterator[Grant]:
    """A table's container delivers its changes to the app whose Cosmos DB trigger its settings name
    (the account's endpoint, the database, the container), where that app holds data roles on the
    container and on the lease container its settings name."""
    held: dict[tuple[str, str], list[str]] = {}
    for assignment, _, container, holder in _data_grants(stack):
        held.setdefault((holder["urn"], container["urn"]), []).append(assignment["urn"])
    accounts = stack.of_type("azure-native:cosmosdb:DatabaseAccount")
    for app in stack.of_type(APP):
        settings = {s.get("name"): s.get("value") for s in ((app.get("inputs") or {}).get("siteConfig") or {}).get("appSettings") or []}
        endpoint = settings.get(f"{CONNECTION}__accountEndpoint")
        account = next((a for a in accounts if endpoint and stack.value(a, "documentEndpoint") == endpoint), None)
        if account is None:
            continue

        def container(name: Any) -> dict[str, Any] | None:
            return next((c for c in stack.of_type(CONTAINER) if (
                stack.value(c, "accountName"), stack.value(c, "databaseName"), stack.value(c, "containerName")) ==
                (stack.value(account, "accountName"), settings.get(DATABASE_SETTING), name)), None)

        monitored, leases = container(settings.get(CONTAINER_SETTING)), container(settings.get(LEASES_SETTING))
        reads = monitored and held.get((app["urn"], monitored["urn"]))
        writes = leases and held.get((app["urn"], leases["urn"]))
        if reads and writes:
            yield Grant(monitored["urn"], app["urn"], "consume", tuple(reads + writes))


def _caller_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    """An app's authentication admitting another app's identity: the workflow invoking a task, API
    Management reaching a route's backend."""
    routes = {b.urns[0]: b for b in blocks if b.kind == "route"}
    operations = list(_routes(stack))
    for auth in stack.of_type(AUTH):
        app = stack.find([APP], "name", (auth.get("inputs") or {}).get("name"))  # the app it configures
        validation = (((auth.get("inputs") or {}).get("identityProviders") or {}).get("azureActiveDirectory") or {}).get("validation") or {}
        principals = ((validation.get("defaultAuthorizationPolicy") or {}).get("allowedPrincipals") or {}).get("identities") or []
        for principal in principals:
            holder = app and _holder(stack, auth, principal)
            if holder is None:
                continue
            if holder["type"] == GATEWAY:
                for operation, backend, _ in operations:
                    if backend is app and operation["urn"] in routes:
                        yield Grant(operation["urn"], app["urn"], "invoke", (auth["urn"],))
            else:
                yield Grant(holder["urn"], app["urn"], "invoke", (auth["urn"],))


def _dead_letter_grants(stack: Stack) -> Iterator[Grant]:
    """A queue -> its poison queue, where its consumer may send there (the host moves the message as it)."""
    consumers = {stack.value(a, "principalId"): a for a in _assignments(stack, QUEUE_CONTRIBUTOR)}
    for assignment in _assignments(stack, QUEUE_SENDER):
        poison = stack.find([QUEUE], "id", stack.value(assignment, "scope"))
        consumer = consumers.get(stack.value(assignment, "principalId"))
        source = consumer and stack.find([QUEUE], "id", stack.value(consumer, "scope"))
        if poison and source and _queue_name(stack, poison) == _queue_name(stack, source) + POISON_SUFFIX:
            yield Grant(source["urn"], poison["urn"], "dead-letter", (assignment["urn"],))


def _key_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    """A key encrypts a block whose account (Cosmos DB account, storage account) names its vault and key."""
    accounts = stack.of_type("azure-native:cosmosdb:DatabaseAccount", "azure-native:storage:StorageAccount")
    for key in stack.of_type("azure-native:keyvault:Key"):
        vault, name = stack.value(key, "vaultName"), stack.value(key, "keyName")
        for block in blocks:
            if block.kind not in ("table", "queue", "dead-letters"):
                continue
            primary = stack.by_urn[block.urns[0]]
            account = next((a for a in accounts if stack.value(a, "accountName") == stack.value(primary, "accountName")), None)
            if account and mentions(account, f"{vault}.vault.azure.net") and mentions(account, name):
                yield Grant(key["urn"], primary["urn"], "encrypts", (account["urn"],))
