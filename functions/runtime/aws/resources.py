"""The portable resource interfaces over boto3: DynamoDB, SQS, Step Functions, Secrets Manager.

`build_context(env)` reads the wiring the AWS renderer sets (``ANYCLOUD_<KIND>_<NAME>``, read by
runtime/wiring.py) and returns a `Context` holding exactly the declared resources. Nothing
here touches the network or imports boto3 until a resource is used: each AWS service gets one
client per instance, created on first use (`Clients`), so a function that declares no workflow
never builds a Step Functions client, and importing the module stays cheap.

Table key names travel with the wiring too: ``ANYCLOUD_KEYS_<NAME>`` holds
``{"key": [partition, sort?], "indexes": {index: [partition, sort?]}}`` for each declared table
(set by the renderer from the table spec). Conditional writes and queries need them; reading
them from the environment costs nothing at cold start and needs no ``dynamodb:DescribeTable``
permission, which the functions' roles do not hold.

Numbers come back from DynamoDB as `Decimal`; they are returned as `int` when integral and
`float` otherwise, so items are plain JSON. Floats are written as `Decimal(str(x))`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import wiring
from ..clients import LazyClients
from ..contracts import ConditionFailed, Context, check_delay, check_execution_id
from ..secrets import SECRET_TTL_S, CachedSecret
from ..tables import check_changes, key_values, matches, query_keys

def _boto3_client(service: str) -> Any:
    import boto3  # the Lambda runtime provides it; imported on first use only

    return boto3.client(service)


class Clients(LazyClients):
    """One boto3 client per AWS service for this instance, created on first use."""

    def __init__(self) -> None:
        super().__init__(_boto3_client)


# ------------------------------------------------------------------------- DynamoDB


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_from_dynamo(v) for v in value]
    return value


class _Codec:
    """boto3's own type (de)serializers, loaded once."""

    _serializer = None
    _deserializer = None

    @classmethod
    def dump(cls, item: Mapping[str, Any]) -> dict[str, Any]:
        if cls._serializer is None:
            from boto3.dynamodb.types import TypeSerializer

            cls._serializer = TypeSerializer()
        return {k: cls._serializer.serialize(_to_dynamo(v)) for k, v in item.items()}

    @classmethod
    def value(cls, value: Any) -> dict[str, Any]:
        return cls.dump({"v": value})["v"]

    @classmethod
    def load(cls, item: Mapping[str, Any]) -> dict[str, Any]:
        if cls._deserializer is None:
            from boto3.dynamodb.types import TypeDeserializer

            cls._deserializer = TypeDeserializer()
        return {k: _from_dynamo(cls._deserializer.deserialize(v)) for k, v in item.items()}


def plain_item(image: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB-JSON item (a stream record's NewImage or Keys) as the portable Table returns items."""
    return _Codec.load(image)


class _Expression:
    """Placeholders for attribute names and values (every name goes through #n, every value :v)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _Codec.value(value)
        return placeholder

    def expect(self, expect: Mapping[str, Any] | None) -> list[str]:
        """Each attribute equals its value; None means absent or null (as memory.Table)."""
        out = []
        for attribute, value in (expect or {}).items():
            name = self.name(attribute)
            if value is None:
                out.append(f"(attribute_not_exists({name}) OR {name} = {self.value(None)})")
            else:
                out.append(f"{name} = {self.value(value)}")
        return out

    def args(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


def _is_condition_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoTable:
    """`Table` over a DynamoDB table (low-level client: no boto3 resource models to load)."""

    def __init__(self, clients: Clients, table_name: str, key: list[str], indexes: Mapping[str, list[str]]):
        self._clients = clients
        self.table_name = table_name
        self.key_attributes = list(key)
        self.index_keys = {name: list(attrs) for name, attrs in indexes.items()}

    @property
    def _client(self) -> Any:
        return self._clients.get("dynamodb")

    def _key(self, key: Mapping[str, Any]) -> dict[str, Any]:
        key_values(key, self.key_attributes, exact=True)
        return _Codec.dump(key)

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        out = self._client.get_item(TableName=self.table_name, Key=self._key(key), ConsistentRead=True)
        item = out.get("Item")
        return _Codec.load(item) if item else None

    def put(self, item: Mapping[str, Any], *, if_absent: bool = False) -> None:
        key_values(item, self.key_attributes, exact=False)
        args: dict[str, Any] = {"TableName": self.table_name, "Item": _Codec.dump(item)}
        if if_absent:
            expr = _Expression()
            args["ConditionExpression"] = " AND ".join(f"attribute_not_exists({expr.name(a)})" for a in self.key_attributes)
            args.update(expr.args())
        self._write(self._client.put_item, args)

    def update(self, key: Mapping[str, Any], changes: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> dict[str, Any]:
        check_changes(changes, self.key_attributes)
        if not changes:  # nothing to write: the item must still exist and match
            item = self.get(key)
            if item is None or not matches(item, expect):
                raise ConditionFailed("the conditional write did not apply")
            return item
        expr = _Expression()
        updates = ", ".join(f"{expr.name(k)} = {expr.value(v)}" for k, v in changes.items())
        conditions = [f"attribute_exists({expr.name(a)})" for a in self.key_attributes] + expr.expect(expect)
        args = {
            "TableName": self.table_name,
            "Key": self._key(key),
            "UpdateExpression": f"SET {updates}",
            "ConditionExpression": " AND ".join(conditions),
            "ReturnValues": "ALL_NEW",
            **expr.args(),
        }
        out = self._write(self._client.update_item, args)
        return _Codec.load(out.get("Attributes", {}))

    def delete(self, key: Mapping[str, Any], *, expect: Mapping[str, Any] | None = None) -> None:
        args: dict[str, Any] = {"TableName": self.table_name, "Key": self._key(key)}
        if expect is not None:  # then the item must exist, and match
            expr = _Expression()
            conditions = [f"attribute_exists({expr.name(a)})" for a in self.key_attributes] + expr.expect(expect)
            args["ConditionExpression"] = " AND ".join(conditions)
            args.update(expr.args())
        self._write(self._client.delete_item, args)

    def query(self, key: Mapping[str, Any], *, index: str | None = None, limit: int = 100, descending: bool = False) -> list[dict[str, Any]]:
        partition, _ = query_keys(key, self.key_attributes, self.index_keys, index, limit)
        expr = _Expression()
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": f"{expr.name(partition)} = {expr.value(key[partition])}",
            "ScanIndexForward": not descending,
            "Limit": limit,
            **expr.args(),
        }
        if index:
            args["IndexName"] = index
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            out = self._client.query(**args)
            items.extend(_Codec.load(i) for i in out.get("Items", []))
            if "LastEvaluatedKey" not in out:
                break
            args["ExclusiveStartKey"] = out["LastEvaluatedKey"]
            args["Limit"] = limit - len(items)
        return items[:limit]

    @staticmethod
    def _write(call: Any, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return call(**args)
        except Exception as exc:
            if _is_condition_failure(exc):
                raise ConditionFailed("the conditional write did not apply") from None
            raise


# ------------------------------------------------------------------- SQS, SFN, secrets


class SqsQueue:
    def __init__(self, clients: Clients, url: str):
        self._clients = clients
        self.url = url

    def send(self, body: Any, *, delay_s: int = 0) -> str:
        check_delay(delay_s)
        args: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": json.dumps(body, separators=(",", ":"))}
        if delay_s:
            args["DelaySeconds"] = delay_s
        return self._clients.get("sqs").send_message(**args)["MessageId"]


class StepFunctionsWorkflow:
    """`start` names the execution `execution_id`: Step Functions refuses a second execution with
    a name already used by this state machine (ExecutionAlreadyExists -> False). Starting again
    with the same name and input while the first still runs is accepted by Step Functions without
    a second run; that also reports True (no second run either way)."""

    def __init__(self, clients: Clients, arn: str):
        self._clients = clients
        self.arn = arn

    def start(self, execution_id: str, state: Mapping[str, Any]) -> bool:
        check_execution_id(execution_id)
        client = self._clients.get("stepfunctions")
        try:
            client.start_execution(stateMachineArn=self.arn, name=execution_id, input=json.dumps(state, separators=(",", ":")))
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code == "ExecutionAlreadyExists":
                return False
            raise
        return True


class SecretsManagerSecret(CachedSecret):
    """The secret's current value from Secrets Manager, read at most once per `ttl_s` per instance."""

    def __init__(self, clients: Clients, secret_id: str, ttl_s: float = SECRET_TTL_S, clock=time.monotonic):
        self.secret_id = secret_id
        super().__init__(
            lambda: clients.get("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString") or "",
            ttl_s, clock)


# ------------------------------------------------------------------------ the context


def build_context(env: Mapping[str, str] | None = None, clients: Clients | None = None) -> Context:
    """The declared resources, by name, from ``ANYCLOUD_<KIND>_<NAME>`` variables."""
    env = os.environ if env is None else env
    clients = clients or Clients()
    tables: dict[str, DynamoTable] = {}
    queues: dict[str, SqsQueue] = {}
    workflows: dict[str, StepFunctionsWorkflow] = {}
    secrets: dict[str, SecretsManagerSecret] = {}
    for kind, name, value in wiring.wired(env):
        if kind == "table":
            key, indexes = wiring.table_keys(env, name)
            tables[name] = DynamoTable(clients, value, key, indexes)
        elif kind == "queue":
            queues[name] = SqsQueue(clients, value)
        elif kind == "workflow":
            workflows[name] = StepFunctionsWorkflow(clients, value)
        else:
            secrets[name] = SecretsManagerSecret(clients, value)
    return Context(tables=tables, queues=queues, workflows=workflows, secrets=secrets)


def services_used(ctx: Context) -> list[str]:
    """The AWS services this context's resources call (what to warm at init)."""
    out = []
    for attr, service in (("tables", "dynamodb"), ("queues", "sqs"), ("workflows", "stepfunctions"), ("secrets", "secretsmanager")):
        if getattr(ctx, attr):
            out.append(service)
    return out
