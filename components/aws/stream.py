"""A table's changes to their consumer (TableSpec.stream): DynamoDB Streams and a Lambda event
source mapping, with the dead letters kept whole.

The table writes NEW_IMAGE records (table.py). The mapping reads the stream from TRIM_HORIZON,
so nothing written before it exists is missed (LATEST would skip what the table took between
its creation and the mapping's), `batch_size` records at a time; REMOVE records are filtered out
unless the stream declares `deletes` (TTL deletes are REMOVE records too). The consumer reports
partial batch failures, and Lambda resumes at the first failed record, the next ones waiting
behind it on their shard: the order per item holds.

Dead letters. A stream's on-failure destination receives metadata only (shard and sequence
numbers, "Retain discarded records for a DynamoDB event source in Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html), and the records
themselves leave the stream after 24 hours; a stream record carries no delivery count either.
So the adapter (functions/runtime/aws/changes.py) counts each change's failed deliveries in the
stream's attempts table and, on the `max_receives`-th, sends the change itself (the stream
record as Lambda delivered it, and the error) to the stream's dead-letter queue, then goes on:
the dead letter is whole, kept 14 days and alarmed, and redriven by invoking the consumer with
it. The mapping's own budget is the backstop for what the adapter cannot count, an invocation
that dies every time (timeout, out of memory): bisected down to the record, retried, then its
metadata goes to the same queue, and an operator has the stream's 24 hours to read the record
(GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords). Lambda's documentation does not say
whether its retry count restarts when a partial failure moves the checkpoint; counted across a
whole batch, the adapter's failures can reach `batch_size * max_receives` before every change
of the batch is done or dead-lettered, so that is the mapping's `maximumRetryAttempts` (at most
100 x 100, Lambda's maximum of 10,000).

Least privilege: the consumer reads THIS table's stream (its ARN, not `stream/*`), decrypts it
through DynamoDB (the stream is encrypted with the table's key), sends to ITS dead-letter queue,
and reads and counts in ITS attempts table. ListStreams is left out: it applies only to
`Resource: "*"`, the mapping names the stream's ARN, and AWS's own example policy for a function
reading a stream grants it on the stream's ARN, where it cannot apply ("IAM policy to allow an
AWS Lambda function to access DynamoDB stream records", DynamoDB Developer Guide).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..spec import TableSpec
from .context import AwsContext
from .function import FunctionHandle
from .iam import statement
from .identity import QUEUE_SEND, STREAM_ATTEMPTS, STREAM_READ, key_use
from .queue import dead_letter_queue
from .table import stored_safely

#: The consumer's wiring (functions/runtime/aws/changes.py reads it): the declared table,
#: the dead-letter queue's URL, the attempts table and `max_receives`, as JSON.
CHANGES = "ANYCLOUD_CHANGES"
#: The attempts table's key and expiry attributes; a count outlives the 24 h stream record.
ATTEMPTS_KEY = "id"
ATTEMPTS_EXPIRY = "expires"
#: What the mapping delivers without `deletes`: inserts and updates ("Using event filtering with
#: a DynamoDB event source", https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html).
WRITES_ONLY = {"eventName": ["INSERT", "MODIFY"]}


@dataclass
class ChangeStream:
    """The stores of one table's stream, made before its consumer (whose wiring names them)."""

    spec: TableSpec
    parent: pulumi.Resource
    dead_letters: aws.sqs.Queue
    attempts: aws.dynamodb.Table

    @property
    def consumer(self) -> str:
        return self.spec.stream.consumer

    def wiring(self) -> dict[str, pulumi.Output[str]]:
        stream = self.spec.stream
        return {CHANGES: pulumi.Output.json_dumps({
            "table": self.spec.name, "deadLetters": self.dead_letters.url, "attempts": self.attempts.name,
            "maxReceives": stream.max_receives,
        })}


def create_change_stores(ctx: AwsContext, spec: TableSpec, parent: pulumi.Resource) -> ChangeStream:
    dead_letters = dead_letter_queue(ctx, f"{spec.name}-changes-dlq", parent)
    attempts = aws.dynamodb.Table(
        f"{spec.name}-changes-attempts",
        billing_mode="PAY_PER_REQUEST",
        hash_key=ATTEMPTS_KEY,
        attributes=[aws.dynamodb.TableAttributeArgs(name=ATTEMPTS_KEY, type="S")],
        ttl=aws.dynamodb.TableTtlArgs(attribute_name=ATTEMPTS_EXPIRY, enabled=True),
        **stored_safely(ctx),
        opts=ctx.opts(parent),
    )
    return ChangeStream(spec=spec, parent=parent, dead_letters=dead_letters, attempts=attempts)


def retry_budget(spec: TableSpec) -> int:
    """The mapping's maximumRetryAttempts (the module docstring says why)."""
    return spec.stream.batch_size * spec.stream.max_receives


def subscribe_changes(ctx: AwsContext, stream: ChangeStream, table: aws.dynamodb.Table, handle: FunctionHandle) -> aws.lambda_.EventSourceMapping:
    """The consumer's permissions on its stream, dead letters and attempts, and the mapping."""
    spec = stream.spec
    sid = "".join(part.title() for part in spec.name.split("-"))
    handle.identity.allow(
        statement(f"ReadChangesOf{sid}", STREAM_READ, [table.stream_arn]),
        key_use(ctx, f"ReadChangesOf{sid}Key", ["kms:Decrypt"], "dynamodb"),
        statement(f"DeadLetterChangesOf{sid}", QUEUE_SEND, [stream.dead_letters.arn]),
        key_use(ctx, f"DeadLetterChangesOf{sid}Key", ["kms:Decrypt", "kms:GenerateDataKey"], "sqs"),
        statement(f"CountChangesOf{sid}", STREAM_ATTEMPTS, [stream.attempts.arn]),
        key_use(ctx, f"CountChangesOf{sid}Key", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "dynamodb"),
    )
    filters = None if spec.stream.deletes else aws.lambda_.EventSourceMappingFilterCriteriaArgs(
        filters=[aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(pattern=json.dumps(WRITES_ONLY, separators=(",", ":")))])
    return aws.lambda_.EventSourceMapping(
        f"{spec.name}-changes-to-{stream.consumer}",
        event_source_arn=table.stream_arn,
        function_name=handle.target_arn,
        starting_position="TRIM_HORIZON",
        batch_size=spec.stream.batch_size,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=retry_budget(spec),
        function_response_types=["ReportBatchItemFailures"],
        filter_criteria=filters,
        destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
            on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(destination_arn=stream.dead_letters.arn)),
        opts=ctx.opts(stream.parent, depends_on=[handle.identity.policy]),
    )
