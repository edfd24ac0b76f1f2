"""How a GCP stack maps back to the declared blocks (components/architecture.py): what each block is
on GCP, and the IAM members that join them, read from the resources themselves.

A member's `serviceAccount:` resolves to the service account resource, and that to the block it
belongs to (a function's own account, a queue's push account, the workflow's, the gateway's). The
role says the verb: Datastore user/viewer (conditioned on one database) write/read a table, Pub/Sub
publisher on a queue's topic sends and on a workflow's start topic starts it, Secret Manager accessor
reads, Cloud Run invoker held by a workflow invokes a task, by a push subscription's account
delivers a queue's messages (by a table stream's trigger account, the table's changes), by the
gateway's account lets a route reach its function.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Iterator

import yaml

from ..architecture import YAML_LOADER, Architecture, Block, Grant, Stack, mentions

FUNCTION, TOPIC, SUBSCRIPTION = ("gcp:cloudfunctionsv2/function:Function", "gcp:pubsub/topic:Topic",
                                 "gcp:pubsub/subscription:Subscription")
ACCOUNT, API_CONFIG, GATEWAY = ("gcp:serviceaccount/account:Account", "gcp:apigateway/apiConfig:ApiConfig",
                                "gcp:apigateway/gateway:Gateway")
SERVICES = {
    GATEWAY: "API Gateway",
    FUNCTION: "Cloud Functions gen2 function",
    TOPIC: "Pub/Sub topic",
    "gcp:workflows/workflow:Workflow": "Workflows workflow",
    "gcp:firestore/database:Database": "Firestore database",
    "gcp:secretmanager/secret:Secret": "Secret Manager secret",
    "gcp:kms/cryptoKey:CryptoKey": "Cloud KMS key",
}
TABLE_ROLES = {"roles/datastore.user": "write", "roles/datastore.owner": "write", "roles/datastore.viewer": "read"}
DATABASE_CONDITION = re.compile(r'resource\.name\s*==\s*"([^"]+)"')
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def read(stack: Stack) -> Architecture:
    blocks = list(_blocks(stack))
    grants = [*_table_grants(stack), *_topic_grants(stack, blocks), *_secret_grants(stack), *_invoker_grants(stack, blocks),
              *_dead_letter_grants(stack), *_key_grants(stack, blocks)]
    return Architecture.build(stack, blocks, grants)


def _holder(stack: Stack, member: Any) -> dict[str, Any] | None:
    """The service account resource a `serviceAccount:EMAIL` member names."""
    email = str(member or "").removeprefix("serviceAccount:")
    return stack.find([ACCOUNT], "email", email)


def _dead_letter_topics(stack: Stack) -> dict[str, dict[str, Any]]:
    """Dead-letter topic id -> the subscription that dead-letters into it."""
    return {(s.get("inputs") or {}).get("deadLetterPolicy", {}).get("deadLetterTopic"): s
            for s in stack.of_type(SUBSCRIPTION) if (s.get("inputs") or {}).get("deadLetterPolicy")}


def _topic(stack: Stack, name: Any) -> dict[str, Any] | None:
    """A topic by its id (projects/P/topics/NAME) or its name."""
    name = str(name or "")
    return stack.find([TOPIC], "id", name) or stack.find([TOPIC], "name", name.rsplit("/", 1)[-1])


def _blocks(stack: Stack) -> Iterator[Block]:
    dead_letters = _dead_letter_topics(stack)
    workflows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for resource in stack.resources:  # what runs a workflow: its start subscription, topic and starter
        component = stack.component(resource["urn"])
        if component and component[0] == "workflow" and resource["type"] in (SUBSCRIPTION, FUNCTION):
            workflows.setdefault(component, []).append(resource)
            topic = _topic(stack, stack.value(resource, "topic")) if resource["type"] == SUBSCRIPTION else None
            if topic is not None:
                workflows[component] += [t for t in (topic, _topic(stack, ((resource.get("inputs") or {}).get(
                    "deadLetterPolicy") or {}).get("deadLetterTopic"))) if t is not None]
    for resource in stack.of_type(*SERVICES):
        component = stack.component(resource["urn"]) or ("service", stack.name(resource))
        service, kind, note, also = SERVICES[resource["type"]], None, "", []
        if resource["type"] == "gcp:kms/cryptoKey:CryptoKey":
            kind = "key"
        elif resource["type"] == TOPIC and (resource.get("id") or stack.value(resource, "id")) in dead_letters:
            if component[0] != "queue":
                continue  # a workflow's start dead letters: part of the workflow
            kind = "dead-letters"
        elif component[0] in ("service", "workflow") and resource["type"] != "gcp:workflows/workflow:Workflow":
            continue  # what the service keeps for itself, or runs a workflow
        if resource["type"] == FUNCTION:
            warm = int(((resource.get("inputs") or {}).get("serviceConfig") or {}).get("minInstanceCount") or 0)
            note = f"{warm} min instances" if warm else ""
        if resource["type"] == "gcp:workflows/workflow:Workflow":
            also = workflows.get(component, [])
        if resource["type"] == GATEWAY:
            also = [r for r in stack.of_type(API_CONFIG, "gcp:apigateway/api:Api") if stack.component(r["urn"]) == component]
        yield stack.block(resource, service, kind=kind, name=stack.name(resource) if kind == "key" else None,
                          note=note, also=also)
    for config, method, path, function, secured in _routes(stack):
        api = stack.component(config["urn"]) or ("api", "api")
        yield Block(kind="route", name=f"{method.upper()} {path}", service="API Gateway path",
                    urns=(f"{config['urn']}#{method.upper()} {path}",), note="JWT" if secured else "public",
                    group=f"{api[0]}:{api[1]}")


def _routes(stack: Stack) -> Iterator[tuple[dict[str, Any], str, str, dict[str, Any] | None, bool]]:
    """(api config, method, path, backend function, has security) for each operation of its OpenAPI documents."""
    by_uri = {((f.get("outputs") or {}).get("serviceConfig") or {}).get("uri"): f for f in stack.of_type(FUNCTION)}
    for config in stack.of_type(API_CONFIG):
        for entry in (config.get("inputs") or {}).get("openapiDocuments") or []:
            contents = ((entry or {}).get("document") or {}).get("contents") or ""
            try:
                spec = yaml.load(base64.b64decode(contents), Loader=YAML_LOADER)
            except (ValueError, yaml.YAMLError):
                continue
            for path, operations in ((spec or {}).get("paths") or {}).items():
                for method, operation in (operations or {}).items():
                    if method in METHODS:
                        address = ((operation or {}).get("x-google-backend") or {}).get("address")
                        security = (operation or {}).get("security", spec.get("security"))
                        yield config, method, path, by_uri.get(address), bool(security)


def _table_grants(stack: Stack) -> Iterator[Grant]:
    for member in stack.of_type("gcp:projects/iAMMember:IAMMember"):
        inputs = member.get("inputs") or {}
        verb, holder = TABLE_ROLES.get(inputs.get("role")), _holder(stack, inputs.get("member"))
        match = DATABASE_CONDITION.search(str((inputs.get("condition") or {}).get("expression") or ""))
        database = match and stack.find(["gcp:firestore/database:Database"], "id", match.group(1))
        if verb and holder and database:
            yield Grant(holder["urn"], database["urn"], verb, (member["urn"],))


def _topic_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    """Publisher on a queue's topic sends; on a workflow's start topic, starts it."""
    starts = {urn for b in blocks if b.kind == "workflow" for urn in b.urns}
    for member in stack.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember"):
        inputs = member.get("inputs") or {}
        holder, topic = _holder(stack, inputs.get("member")), _topic(stack, inputs.get("topic"))
        if inputs.get("role") == "roles/pubsub.publisher" and holder and topic:
            yield Grant(holder["urn"], topic["urn"], "start" if topic["urn"] in starts else "send", (member["urn"],))


def _secret_grants(stack: Stack) -> Iterator[Grant]:
    for member in stack.of_type("gcp:secretmanager/secretIamMember:SecretIamMember"):
        inputs = member.get("inputs") or {}
        holder = _holder(stack, inputs.get("member"))
        secret = (stack.find(["gcp:secretmanager/secret:Secret"], "id", inputs.get("secretId"))
                  or stack.find(["gcp:secretmanager/secret:Secret"], "secretId", str(inputs.get("secretId") or "").rsplit("/", 1)[-1]))
        if inputs.get("role") == "roles/secretmanager.secretAccessor" and holder and secret:
            yield Grant(holder["urn"], secret["urn"], "read", (member["urn"],))


def _invoker_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    """Cloud Run invoker on a function's service: by a workflow's account, a task call; by a queue's
    push account, the queue's delivery; by the gateway's account, each route whose backend it is."""
    functions = {stack.value(f, "name"): f for f in stack.of_type(FUNCTION)}
    gateway_accounts = {((c.get("inputs") or {}).get("gatewayConfig") or {}).get("backendConfig", {}).get(
        "googleServiceAccount"): c for c in stack.of_type(API_CONFIG)}
    routes = {b.urns[0]: b for b in blocks if b.kind == "route"}
    operations = list(_routes(stack))
    for member in stack.of_type("gcp:cloudrun/iamMember:IamMember", "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"):
        inputs = member.get("inputs") or {}
        holder, function = _holder(stack, inputs.get("member")), functions.get(str(inputs.get("service") or "").rsplit("/", 1)[-1])
        if inputs.get("role") != "roles/run.invoker" or holder is None or function is None:
            continue
        owner = stack.component(holder["urn"]) or ("service", "")
        email = stack.value(holder, "email")
        if email in gateway_accounts:
            for config, method, path, backend, _ in operations:
                route = routes.get(f"{config['urn']}#{method.upper()} {path}")
                if route and backend is function and config is gateway_accounts[email]:
                    yield Grant(route.urns[0], function["urn"], "invoke", (member["urn"], config["urn"]))
        elif owner[0] in ("queue", "table"):  # a push subscription's, or a table stream's trigger's, account
            yield Grant(holder["urn"], function["urn"], "consume", (member["urn"],))
        else:
            yield Grant(holder["urn"], function["urn"], "invoke", (member["urn"],))


def _dead_letter_grants(stack: Stack) -> Iterator[Grant]:
    """A subscription's dead-letter policy, with the Pub/Sub agent's publisher grant on the topic it
    forwards to (without it, nothing is forwarded)."""
    publishers = [m for m in stack.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
                  if (m.get("inputs") or {}).get("role") == "roles/pubsub.publisher"]
    for topic_id, subscription in _dead_letter_topics(stack).items():
        source, target = _topic(stack, stack.value(subscription, "topic")), _topic(stack, topic_id)
        agent = [m["urn"] for m in publishers if _topic(stack, (m.get("inputs") or {}).get("topic")) is target]
        if source and target and agent:
            yield Grant(source["urn"], target["urn"], "dead-letter", (subscription["urn"], *agent))


def _key_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    """A key encrypts a block whose own resource names it (kmsKeyName, cmekConfig, cryptoKeyName)."""
    for key in stack.of_type("gcp:kms/cryptoKey:CryptoKey"):
        key_id = key.get("id") or stack.value(key, "id")
        for block in blocks:
            if block.kind in ("table", "queue", "dead-letters", "workflow", "secret"):
                primary = stack.by_urn[block.urns[0]]
                if mentions(primary, key_id):
                    yield Grant(key["urn"], primary["urn"], "encrypts", (primary["urn"],))
