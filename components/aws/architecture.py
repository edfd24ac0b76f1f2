"""How an AWS stack maps back to the declared blocks (components/architecture.py): what each block
is on AWS, and the grants that join them, read from the resources themselves.

Grants: each Allow statement of an IAM role's policies (aws:iam/rolePolicy:RolePolicy, or a role's
inline policies) names actions on ARNs; an ARN resolves to the resource whose `arn` output it is
(a table's index ARN to its table), the role to the block it belongs to. An API route invokes its
function only where a Lambda permission lets API Gateway (that API) invoke it; a queue's consumer
is the function whose role may receive from it and an event source mapping delivers to.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..architecture import Architecture, Block, Grant, Stack, mentions, policy_document

SERVICES = {
    "aws:apigatewayv2/api:Api": "API Gateway HTTP API",
    "aws:lambda/function:Function": "Lambda function",
    "aws:sqs/queue:Queue": "SQS queue",
    "aws:dynamodb/table:Table": "DynamoDB table",
    "aws:sfn/stateMachine:StateMachine": "Step Functions state machine",
    "aws:secretsmanager/secret:Secret": "Secrets Manager secret",
    "aws:kms/key:Key": "KMS key",
}
ROLE_POLICY, ROLE = "aws:iam/rolePolicy:RolePolicy", "aws:iam/role:Role"
ROUTE, INTEGRATION, PERMISSION = ("aws:apigatewayv2/route:Route", "aws:apigatewayv2/integration:Integration",
                                  "aws:lambda/permission:Permission")
EVENT_SOURCE = "aws:lambda/eventSourceMapping:EventSourceMapping"
WARM = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"

#: Actions that change a table's items (the Service Authorization Reference's "Write" level for
#: the item API); any of them on a table makes the grant `write`, the rest `read`.
TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:*"}
#: action -> verb on the other kinds of block (docs/design.md's verb table).
VERBS = {"sqs:SendMessage": "send", "sqs:ReceiveMessage": "consume", "states:StartExecution": "start",
         "states:StartSyncExecution": "start", "lambda:InvokeFunction": "invoke",
         "secretsmanager:GetSecretValue": "read"}


def read(stack: Stack) -> Architecture:
    blocks = list(_blocks(stack))
    return Architecture.build(stack, blocks, [*_policy_grants(stack), *_route_grants(stack), *_dead_letter_grants(stack),
                                              *_stream_grants(stack), *_key_grants(stack, blocks)])


def _dead_letter_targets(stack: Stack) -> dict[str, str]:
    """Dead-letter queue ARN -> the URN of the queue that redrives into it."""
    targets = {}
    for queue in stack.of_type("aws:sqs/queue:Queue"):
        redrive = policy_document(stack.value(queue, "redrivePolicy"))
        if redrive.get("deadLetterTargetArn"):
            targets[redrive["deadLetterTargetArn"]] = queue["urn"]
    return targets


def _dead_letter_grants(stack: Stack) -> Iterator[Grant]:
    """A queue's redrive policy moves what its consumer keeps failing to its dead-letter queue."""
    by_arn = {stack.value(q, "arn"): q for q in stack.of_type("aws:sqs/queue:Queue")}
    for arn, source in _dead_letter_targets(stack).items():
        if arn in by_arn:
            yield Grant(source, by_arn[arn]["urn"], "dead-letter", (source,))


def _blocks(stack: Stack) -> Iterator[Block]:
    dead_letters = _dead_letter_targets(stack)
    warm = {stack.value(w, "functionName"): int(stack.value(w, "provisionedConcurrentExecutions") or 0)
            for w in stack.of_type(WARM)}
    for resource in stack.of_type(*SERVICES):
        service, kind = SERVICES[resource["type"]], None
        if resource["type"] == "aws:kms/key:Key":
            kind = "key"
        elif resource["type"] == "aws:sqs/queue:Queue" and stack.value(resource, "arn") in dead_letters:
            kind = "dead-letters"
        component = stack.component(resource["urn"])
        if kind is None and (component is None or component[0] == "service"):
            continue  # e.g. a queue the service keeps for itself: not a declared block
        note = ""
        if resource["type"] == "aws:lambda/function:Function" and warm.get(stack.value(resource, "name")):
            note = f"{warm[stack.value(resource, 'name')]} provisioned"
        yield stack.block(resource, service, kind=kind, name=stack.name(resource) if kind == "key" else None, note=note)
    yield from _routes(stack)


def _integration_function(stack: Stack, route: dict[str, Any]) -> dict[str, Any] | None:
    target = str(stack.value(route, "target") or "")
    integration = stack.find([INTEGRATION], "id", target.removeprefix("integrations/"))
    if integration is None:
        return None
    uri = str(stack.value(integration, "integrationUri") or "")
    for function in stack.of_type("aws:lambda/function:Function"):
        arn = str(stack.value(function, "arn") or "")
        # the function, one of its aliases or versions (arn:...:function:NAME:live), or its invoke ARN
        if arn and (uri in (arn, stack.value(function, "invokeArn")) or uri.startswith(arn + ":")):
            return function
    return None


def _routes(stack: Stack) -> Iterator[Block]:
    for route in stack.of_type(ROUTE):
        auth = str(stack.value(route, "authorizationType") or "NONE")
        api = stack.component(route["urn"]) or ("api", "api")
        yield stack.block(route, "HTTP API route", kind="route", name=str(stack.value(route, "routeKey")),
                          note="public" if auth == "NONE" else auth, group=f"{api[0]}:{api[1]}")


def _route_grants(stack: Stack) -> Iterator[Grant]:
    """A route -> its integration's function, where a Lambda permission lets API Gateway invoke it."""
    permissions = [p for p in stack.of_type(PERMISSION) if stack.value(p, "principal") == "apigateway.amazonaws.com"
                   and stack.value(p, "action") in ("lambda:InvokeFunction", "lambda:*")]
    for route in stack.of_type(ROUTE):
        function = _integration_function(stack, route)
        if function is None:
            continue
        allowed = [p for p in permissions
                   if stack.value(p, "function") in (stack.value(function, "name"), stack.value(function, "arn"))]
        if allowed:
            yield Grant(route["urn"], function["urn"], "invoke", tuple(p["urn"] for p in allowed))


def _role_policies(stack: Stack) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(role, grant resource, policy document) for every policy a role holds."""
    roles = {stack.value(r, "name"): r for r in stack.of_type(ROLE)}
    roles.update({stack.value(r, "id"): r for r in stack.of_type(ROLE)})
    for attached in stack.of_type(ROLE_POLICY):
        role = roles.get(stack.value(attached, "role"))
        if role is not None:
            yield role, attached, policy_document(stack.value(attached, "policy"))
    for role in stack.of_type(ROLE):
        for inline in stack.value(role, "inlinePolicies") or []:
            yield role, role, policy_document(inline.get("policy"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _policy_grants(stack: Stack) -> Iterator[Grant]:
    by_arn = {stack.value(r, "arn"): r for r in stack.of_type(*SERVICES) if stack.value(r, "arn")}
    consumers = {(stack.value(m, "eventSourceArn"), stack.value(m, "functionName")): m for m in stack.of_type(EVENT_SOURCE)}
    functions = {stack.value(f, "role"): f for f in stack.of_type("aws:lambda/function:Function")}
    for role, grant, document in _role_policies(stack):
        for statement in _as_list(document.get("Statement")):
            if statement.get("Effect") != "Allow":
                continue
            actions = set(_as_list(statement.get("Action")))
            for arn in _as_list(statement.get("Resource")):
                target = by_arn.get(arn) or by_arn.get(str(arn).split("/index/", 1)[0])
                if "/stream/" in str(arn):
                    continue  # a table's stream: read by its consumer (_stream_grants)
                if target is None:
                    continue
                if target["type"] == "aws:dynamodb/table:Table":
                    if any(a.startswith("dynamodb:") for a in actions):
                        yield Grant(role["urn"], target["urn"], "write" if actions & TABLE_WRITES else "read", (grant["urn"],))
                    continue
                for verb in {VERBS[a] for a in actions if a in VERBS}:
                    if verb != "consume":
                        yield Grant(role["urn"], target["urn"], verb, (grant["urn"],))
                        continue
                    function = functions.get(stack.value(role, "arn"))
                    mapping = function and consumers.get((arn, stack.value(function, "arn")))
                    if mapping:  # the queue delivers to the function that may receive from it
                        yield Grant(target["urn"], function["urn"], "consume", (grant["urn"], mapping["urn"]))


def _stream_grants(stack: Stack) -> Iterator[Grant]:
    """A table's change stream delivers to the function an event source mapping names, where the
    function's role may read that stream."""
    tables = {stack.value(t, "streamArn"): t for t in stack.of_type("aws:dynamodb/table:Table") if stack.value(t, "streamArn")}
    functions = {stack.value(f, "arn"): f for f in stack.of_type("aws:lambda/function:Function")}
    functions.update({stack.value(f, "name"): f for f in stack.of_type("aws:lambda/function:Function")})
    readers = {}
    for role, grant, document in _role_policies(stack):
        for statement in _as_list(document.get("Statement")):
            if statement.get("Effect") == "Allow" and "dynamodb:GetRecords" in _as_list(statement.get("Action")):
                for arn in _as_list(statement.get("Resource")):
                    readers.setdefault((stack.value(role, "arn"), arn), grant["urn"])
    for mapping in stack.of_type(EVENT_SOURCE):
        table = tables.get(stack.value(mapping, "eventSourceArn"))
        function = functions.get(stack.value(mapping, "functionName"))
        grant = function and readers.get((stack.value(function, "role"), stack.value(mapping, "eventSourceArn")))
        if table and grant:
            yield Grant(table["urn"], function["urn"], "consume", (grant, mapping["urn"]))


def _key_grants(stack: Stack, blocks: list[Block]) -> Iterator[Grant]:
    """A key encrypts a block whose own resource names it (kmsKeyArn, kmsMasterKeyId, kmsKeyId)."""
    for key in stack.of_type("aws:kms/key:Key"):
        arn = stack.value(key, "arn")
        for block in blocks:
            if block.kind in ("table", "queue", "dead-letters", "workflow", "secret"):
                primary = stack.by_urn[block.urns[0]]
                if mentions(primary, arn):
                    yield Grant(key["urn"], primary["urn"], "encrypts", (primary["urn"],))
