"""A rendered stack, stood up in moto and driven as AWS would drive its Lambda functions.

`MotoStack.create(rendering)` (inside `mock_aws`) creates, from the recorded resource inputs
and outputs: the DynamoDB tables (keys, indexes, TTL), the SQS queues (retention, visibility
timeout, the rendered redrive policy to the DLQ), the Secrets Manager secret with the value of
the rendered `SecretVersion` and the ARN the functions were wired with, and the Step Functions
state machine with the rendered definition (its Lambda tasks name the rendered function ARNs).
Physical names are the rendered ones, so every function's rendered environment points at
these resources unchanged.

Then, as AWS would:
- `api(method, path, ...)`: API Gateway's HTTP API picks the route from the rendered routes and
  integrations and invokes the function with a payload 2.0 event;
- `deliver(queue)`: the SQS event source mapping receives a batch, invokes the consumer, deletes
  what succeeded and leaves the `batchItemFailures` on the queue (receives use a visibility
  timeout of 0 so a failed message is visible again at once; redrive then applies as rendered);
- `changes[table]`: the DynamoDB stream event source mapping (tests/support/aws_streams.py) over
  moto's stream of the table, delivering to the consumer with the rendered batch size, filter,
  bisection, retries and on-failure destination;
- the state machine's Lambda tasks run in this process through `run_lambdas_inprocess`.

Faults, as the tests inject them: an invocation whose process dies raises `ProcessDied` (no
answer; to an event source mapping, a failed invocation); `lose_answers[function] = n` makes the
next n task invocations of `function` run and then fail to answer the state machine as a lost
response does (Lambda.SdkClientException); `invoke(..., instance=2)` runs in a second execution
environment of the function (its own adapter instance), as Lambda does for concurrent invocations.

Every function runs `runtime.aws.entry.handler` with `os.environ` set to its rendered
environment (plus what the Lambda runtime adds: credentials and region). moto runs executions
in threads, so invocations take a lock: one function runs at a time, as if each had its own
process.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3

from components.mock_engine import SECRET_SIG, SIG_KEY, Recorded, Rendering
from tests.support.aws_streams import StreamMapping
from tests.support.inprocess_lambda import LambdaContext, run_lambdas_inprocess
from tests.support.lambda_events import http_event, sqs_event_from_messages
from tests.support.faults import ProcessDied

TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
MACHINE = "aws:sfn/stateMachine:StateMachine"
LAMBDA = "aws:lambda/function:Function"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"

#: What the Lambda runtime puts in every function's environment besides its configuration.
RUNTIME_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
}



def lost_answer() -> Exception:
    """What Step Functions gets when a task's response is lost on the way back: a Lambda client
    error (the optimized integration names it Lambda.SdkClientException), after the task ran."""
    return type("Lambda.SdkClientException", (Exception,), {})("the task's answer was lost")


def _plain(value: Any) -> Any:
    """A Pulumi secret as recorded ({SIG_KEY: SECRET_SIG, "value": ...}) -> its value."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return value["value"]
    return value


@dataclass
class Invocation:
    function: str
    kind: str
    outcome: str  # "ok" or the error type


@dataclass
class MotoStack:
    rendering: Rendering
    functions: dict[str, Recorded]  # by physical name
    routes: list[tuple[str, re.Pattern, str, str]]  # (method, path pattern, route key, function physical name)
    queues: dict[str, dict[str, Any]]  # logical name -> {"url", "arn", "dlq_url", "consumer", "batch_size"}
    tables: dict[str, str]  # logical name -> physical name
    machine_arn: str
    streams: dict[str, str] = field(default_factory=dict)  # logical table name -> moto's stream ARN
    changes: dict[str, StreamMapping] = field(default_factory=dict)  # logical table name -> its mapping
    dead_letters: dict[str, str] = field(default_factory=dict)  # logical table name -> its stream DLQ's URL
    lock: threading.RLock = field(default_factory=threading.RLock)
    invocations: list[Invocation] = field(default_factory=list)
    after_task: Callable[[str, Any], None] | None = None
    lose_answers: dict[str, int] = field(default_factory=dict)
    _instances: dict[tuple[str, int], Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------- creation

    @classmethod
    def create(cls, rendering: Rendering) -> MotoStack:
        ddb = boto3.client("dynamodb")
        tables, streams, stream_by_arn = {}, {}, {}
        for table in rendering.of_type(TABLE):
            stream = _create_table(ddb, table)
            tables[table.name] = table.outputs["name"]
            if stream is not None:
                streams[table.name] = stream
                stream_by_arn[table.outputs["streamArn"]] = (table.name, stream)

        sqs = boto3.client("sqs")
        queues_by_arn = {}
        for queue in sorted(rendering.of_type(QUEUE), key=lambda q: "redrivePolicy" in q.inputs):  # DLQs first
            attributes = {
                "MessageRetentionPeriod": str(int(queue.inputs["messageRetentionSeconds"])),
                "VisibilityTimeout": str(int(queue.inputs.get("visibilityTimeoutSeconds", 30))),
                "ReceiveMessageWaitTimeSeconds": str(int(queue.inputs.get("receiveWaitTimeSeconds", 0))),
            }
            if "redrivePolicy" in queue.inputs:
                attributes["RedrivePolicy"] = queue.inputs["redrivePolicy"]
            url = sqs.create_queue(QueueName=queue.outputs["name"], Attributes=attributes)["QueueUrl"]
            assert url == queue.outputs["url"], (url, queue.outputs["url"])
            queues_by_arn[queue.outputs["arn"]] = (queue, url)
        functions = {f.outputs["name"]: f for f in rendering.of_type(LAMBDA)}
        by_arn = {f.outputs["arn"]: name for name, f in functions.items()}
        queues, stream_mappings = {}, []
        for mapping in rendering.of_type(MAPPING):
            if mapping.inputs["eventSourceArn"] in stream_by_arn:
                stream_mappings.append(mapping)
                continue
            queue, url = queues_by_arn[mapping.inputs["eventSourceArn"]]
            dlq_arn = json.loads(queue.inputs["redrivePolicy"])["deadLetterTargetArn"]
            queues[queue.name] = {
                "url": url,
                "arn": queue.outputs["arn"],
                "dlq_url": queues_by_arn[dlq_arn][1],
                "consumer": by_arn[mapping.inputs["functionName"]],
                "batch_size": int(mapping.inputs.get("batchSize", 10)),
                "report_failures": "ReportBatchItemFailures" in (mapping.inputs.get("functionResponseTypes") or []),
            }

        secrets = boto3.client("secretsmanager")
        versions = {v.inputs["secretId"]: v for v in rendering.of_type(SECRET_VERSION)}
        for secret in rendering.of_type(SECRET):
            arn = secret.outputs["arn"]
            suffix = arn.rsplit("-", 1)[1]  # the 6 characters AWS appends to the name
            created = secrets.create_secret(
                Name=secret.outputs["name"],
                SecretString=_plain(versions[arn].inputs["secretString"]),
                Tags=[{"Key": "_custom_id_", "Value": suffix}],  # moto: this ARN suffix, not a random one
            )
            assert created["ARN"] == arn, (created["ARN"], arn)

        sfn = boto3.client("stepfunctions")
        (machine,) = rendering.of_type(MACHINE)
        arn = sfn.create_state_machine(
            name=machine.inputs["name"],
            definition=machine.inputs["definition"],
            roleArn=machine.inputs["roleArn"],
            type=machine.inputs.get("type", "STANDARD"),
        )["stateMachineArn"]
        assert arn == machine.outputs["arn"], (arn, machine.outputs["arn"])

        integrations = {i.id: i for i in rendering.of_type(INTEGRATION)}
        routes = []
        for route in rendering.of_type(ROUTE):
            method, path = route.inputs["routeKey"].split(" ", 1)
            integration = integrations[route.inputs["target"].split("/", 1)[1]]
            assert integration.inputs["payloadFormatVersion"] == "2.0"
            function = integration.inputs["integrationUri"].split(":")[-1]
            pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
            routes.append((method, pattern, route.inputs["routeKey"], function))
        stack = cls(rendering, functions, routes, queues, tables, arn, streams=streams)
        for mapping in stream_mappings:
            table, stream = stream_by_arn[mapping.inputs["eventSourceArn"]]
            function = by_arn[mapping.inputs["functionName"]]
            destination = mapping.inputs["destinationConfig"]["onFailure"]["destinationArn"]
            stack.dead_letters[table] = queues_by_arn[destination][1]
            stack.changes[table] = StreamMapping.rendered(
                mapping.inputs, stream, mapping.inputs["functionName"],
                lambda event, function=function: stack.invoke(function, event), stack.dead_letters[table])
        return stack

    # ------------------------------------------------------------------------- functions

    def environment(self, function: str) -> dict[str, str]:
        return {**RUNTIME_ENV, **self.functions[function].inputs["environment"]["variables"]}

    def invoke(self, function: str, event: Any, *, instance: int = 1) -> Any:
        """`runtime.aws.entry.handler(event, context)` with `function`'s rendered environment, in
        its execution environment `instance` (the first unless a test asks for a concurrent one);
        the context's deadline is the function's timeout from now, as Lambda's."""
        from runtime.aws import entry

        record = self.functions[function]
        context = LambdaContext(function_name=function, invoked_function_arn=record.outputs["arn"],
                                memory_limit_in_mb=int(record.inputs["memorySize"]),
                                deadline=time.time() + int(record.inputs["timeout"]))
        with self.lock, mock.patch.dict(os.environ, self.environment(function)):
            handle = entry.handler if instance == 1 else self._instance(function, instance).handle
            try:
                result = handle(event, context)
            except (Exception, ProcessDied) as exc:
                self.invocations.append(Invocation(function, _kind(event), type(exc).__name__))
                raise
            self.invocations.append(Invocation(function, _kind(event), "ok"))
            if self.after_task is not None and _kind(event) == "task":
                self.after_task(function, event)
            return result

    def _instance(self, function: str, n: int) -> Any:
        from runtime.aws import entry

        if (function, n) not in self._instances:
            self._instances[function, n] = entry.Instance(os.environ)
        return self._instances[function, n]

    def _task(self, function: str, event: Any) -> Any:
        result = self.invoke(function, event)
        if self.lose_answers.get(function, 0) > 0:
            self.lose_answers[function] -= 1
            raise lost_answer()
        return result

    @contextmanager
    def running(self) -> Iterator[MotoStack]:
        """While active, the state machine's Lambda tasks run here, in process."""
        handlers = {f.outputs["arn"]: (lambda event, context, name=name: self._task(name, event)) for name, f in self.functions.items()}
        with run_lambdas_inprocess(handlers):
            yield self

    def calls(self, function: str) -> list[Invocation]:
        return [i for i in self.invocations if i.function == function]

    # ------------------------------------------------------------------------------- API

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """What a client gets from the HTTP API (statusCode, headers, body as parsed JSON)."""
        for route_method, pattern, route_key, function in self.routes:
            match = pattern.match(path)
            if match and route_method == method:
                event = http_event(method, path, body, path_params=match.groupdict() or None, route_key=route_key, **kwargs)
                out = self.invoke(function, event)
                return {**out, "json": json.loads(out["body"]) if out["body"] else None}
        return {"statusCode": 404, "headers": {}, "body": '{"message":"Not Found"}', "json": {"message": "Not Found"}}

    # ----------------------------------------------------------------------------- queues

    def receive(self, url: str, visibility: int = 0, batch_size: int = 10) -> list[dict[str, Any]]:
        return boto3.client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=0, VisibilityTimeout=visibility,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])

    def deliver(self, queue: str, delete: bool = True) -> dict[str, Any] | None:
        """One batch from `queue` to its consumer, as the event source mapping does; None when
        nothing was received. Succeeded messages are deleted (unless `delete` is False:
        a delete that never happened, e.g. the instance died after processing)."""
        q = self.queues[queue]
        messages = self.receive(q["url"], batch_size=q["batch_size"])
        if not messages:
            return None
        assert q["report_failures"], "without ReportBatchItemFailures one failure would return the whole batch"
        out = self.invoke(q["consumer"], sqs_event_from_messages(messages, q["arn"]))
        failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
        if delete:
            sqs = boto3.client("sqs")
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=q["url"], ReceiptHandle=m["ReceiptHandle"])
        return out

    def drain(self, queue: str, max_batches: int = 50) -> int:
        """Deliver until the queue is empty (failures come back until redrive moves them)."""
        batches = 0
        while batches < max_batches and self.deliver(queue) is not None:
            batches += 1
        assert batches < max_batches, "the queue did not drain"
        return batches

    def queue_depth(self, url: str) -> int:
        attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return sum(int(attrs[a]) for a in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"))

    # -------------------------------------------------------------------------- workflow

    def executions(self) -> list[dict[str, Any]]:
        return boto3.client("stepfunctions").list_executions(stateMachineArn=self.machine_arn)["executions"]

    def wait(self, execution_arn: str, timeout_s: float = 10.0) -> dict[str, Any]:
        client = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while (done := client.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.01)
        return done

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def deadlines_pass(self) -> int:
        """Time passes beyond the deadline of every invocation that died: the idempotency claims
        they held (Powertools' INPROGRESS records, held until the invocation's deadline) expire,
        as they have by the time SQS or a client tries again (SQS waits the visibility timeout,
        6x the function's). Nothing runs between two steps of a test, so every claim still in
        progress belongs to a dead invocation. The number of claims expired."""
        ddb = boto3.client("dynamodb")
        expired = 0
        for name in self.tables.values():
            for item in ddb.scan(TableName=name)["Items"]:
                if item.get("status", {}).get("S") == "INPROGRESS" and "in_progress_expiration" in item:
                    ddb.update_item(TableName=name, Key={"id": item["id"]}, UpdateExpression="SET in_progress_expiration = :past",
                                    ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}})
                    expired += 1
        return expired

    # ----------------------------------------------------------------------------- tables

    def items(self, table: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        d = TypeDeserializer()
        raw = boto3.client("dynamodb").scan(TableName=self.tables[table])["Items"]
        return [{k: d.deserialize(v) for k, v in item.items()} for item in raw]


def _kind(event: Any) -> str:
    from runtime.aws.events import kind_of

    return kind_of(event)


def _create_table(client, table: Recorded) -> str | None:
    """Create the rendered table; its stream's ARN in moto when it has one."""
    i = table.inputs
    key = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
    if i.get("rangeKey"):
        key.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
    args: dict[str, Any] = {
        "TableName": table.outputs["name"],
        "KeySchema": key,
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]} for a in i["attributes"]],
        "BillingMode": i["billingMode"],
    }
    if i.get("globalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = [
            {
                "IndexName": g["name"],
                "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in g["keySchemas"]],
                "Projection": {"ProjectionType": g["projectionType"]},
            }
            for g in i["globalSecondaryIndexes"]
        ]
    if i.get("streamEnabled"):
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": i["streamViewType"]}
    created = client.create_table(**args)["TableDescription"]
    if i.get("ttl", {}).get("enabled"):
        client.update_time_to_live(
            TableName=table.outputs["name"], TimeToLiveSpecification={"Enabled": True, "AttributeName": i["ttl"]["attributeName"]}
        )
    return created.get("LatestStreamArn")

