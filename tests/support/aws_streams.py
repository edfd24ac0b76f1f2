"""Lambda's event source mapping for a DynamoDB stream, over moto's DynamoDB Streams.

moto keeps a stream-enabled table's records and serves them through `dynamodbstreams`
(DescribeStream, GetShardIterator, GetRecords; one shard); Lambda's poller is not in moto.
`StreamMapping` does what a rendered mapping asks of Lambda, as Lambda's documentation says:

- It reads the shard from TRIM_HORIZON, drops the records `filterCriteria` does not match (they
  are never delivered: "Using event filtering with a DynamoDB event source",
  https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html; only the top-level
  `{"field": [values...]}` patterns anycloud renders are understood here), and delivers
  `batchSize` records at a time as Lambda's event ("Example event",
  https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): eventID, eventName,
  eventVersion, eventSource ``aws:dynamodb``, awsRegion, eventSourceARN, and ``dynamodb`` with
  ApproximateCreationDateTime in epoch seconds, Keys, NewImage, SequenceNumber, SizeBytes,
  StreamViewType.
- A reported failure (`ReportBatchItemFailures`) resumes the batch at the lowest failed
  sequence number; an identifier that is not in the batch fails all of it ("Configuring partial
  batch response with DynamoDB and Lambda",
  https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html).
- An invocation that fails (the function raised, or its process died): with
  `bisectBatchOnFunctionError` the batch is split in two, each half delivered in turn, and a
  split is not a retry; every retry counts against `maximumRetryAttempts`, past which the
  batch's records are skipped and the on-failure destination gets Lambda's invocation record:
  metadata only (requestContext, responseContext, version, timestamp, DDBStreamBatchInfo with
  the shard, first and last sequence numbers, arrival times, batch size and stream ARN; "Retain
  discarded records for a DynamoDB event source in Lambda",
  https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html). Lambda's
  documentation does not say whether the retry count restarts when a partial failure moves the
  checkpoint; this keeps counting until the batch is done (the stricter reading).

`read_records(stream_arn, first, last)` is what an operator does with such metadata within the
stream's 24 hours: GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords up to the last one.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

Invoke = Callable[[dict[str, Any]], Any]


def _seq(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _matches(pattern: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    return pattern is None or all(record.get(field) in values for field, values in pattern.items())


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda puts it in the event (JSON; the stream's ARN and region)."""
    dynamodb = {**record["dynamodb"], "ApproximateCreationDateTime": _epoch(record["dynamodb"]["ApproximateCreationDateTime"])}
    return {**record, "awsRegion": stream_arn.split(":")[3], "eventSourceARN": stream_arn, "dynamodb": dynamodb}


def shard_of(stream_arn: str) -> str:
    """The stream's shard (moto keeps one per table)."""
    (shard,) = boto3.client("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    return shard["ShardId"]


def records(stream_arn: str, **position: str) -> list[dict[str, Any]]:
    """The shard's records from `position` (ShardIteratorType and SequenceNumber; TRIM_HORIZON
    when none), as GetRecords returns them."""
    streams = boto3.client("dynamodbstreams")
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_of(stream_arn),
                                          **(position or {"ShardIteratorType": "TRIM_HORIZON"}))["ShardIterator"]
    return streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def read_records(stream_arn: str, first: str, last: str) -> list[dict[str, Any]]:
    """The records from sequence number `first` to `last`, as Lambda would deliver them."""
    found = records(stream_arn, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=first)
    return [lambda_record(r, stream_arn) for r in found if _seq(r) <= int(last)]


@dataclass
class StreamMapping:
    """One rendered mapping from a stream (moto's, by its ARN) to a function (`invoke`)."""

    stream_arn: str
    function_arn: str
    invoke: Invoke
    batch_size: int
    max_retries: int
    bisect: bool
    pattern: dict[str, Any] | None
    on_failure_url: str | None
    invocations: int = 0
    _checkpoint: int | None = None  # the last sequence number done (delivered, filtered out or skipped)
    _batches: deque[list[dict[str, Any]]] = field(default_factory=deque)  # in hand; the first is delivered next
    _retries: int = 0
    _invoked: int = 0  # invocations of the batch in hand

    @classmethod
    def rendered(cls, inputs: dict[str, Any], stream_arn: str, function_arn: str, invoke: Invoke,
                 on_failure_url: str | None) -> StreamMapping:
        assert inputs["startingPosition"] == "TRIM_HORIZON", "LATEST would skip what was written before the mapping"
        assert "ReportBatchItemFailures" in (inputs.get("functionResponseTypes") or [])
        filters = (inputs.get("filterCriteria") or {}).get("filters") or []
        assert len(filters) <= 1
        return cls(stream_arn=stream_arn, function_arn=function_arn, invoke=invoke,
                   batch_size=int(inputs.get("batchSize", 100)), max_retries=int(inputs.get("maximumRetryAttempts", -1)),
                   bisect=bool(inputs.get("bisectBatchOnFunctionError")),
                   pattern=json.loads(filters[0]["pattern"]) if filters else None, on_failure_url=on_failure_url)

    # ---------------------------------------------------------------------------- reading

    def pending(self) -> list[dict[str, Any]]:
        """Every record after the checkpoint, in order, as GetRecords returns it."""
        if self._checkpoint is None:
            return records(self.stream_arn)
        return records(self.stream_arn, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=str(self._checkpoint))

    def _next_batch(self) -> list[dict[str, Any]] | None:
        records = self.pending()
        batch = [r for r in records if _matches(self.pattern, r)][: self.batch_size]
        if not batch:
            if records:  # only filtered-out records: passed
                self._checkpoint = _seq(records[-1])
            return None
        return batch

    # ---------------------------------------------------------------------------- delivery

    def step(self) -> bool:
        """One invocation with the batch in hand (or the next one); False when nothing waits."""
        if not self._batches:
            batch = self._next_batch()
            if batch is None:
                return False
            self._batches.append(batch)
            self._retries = self._invoked = 0
        batch = self._batches[0]
        event = {"Records": [lambda_record(r, self.stream_arn) for r in batch]}
        self.invocations += 1
        self._invoked += 1
        try:
            out = self.invoke(event)
        except BaseException as exc:  # noqa: BLE001 - a function error, or the process died
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            if self.bisect and len(batch) > 1:
                half = len(batch) // 2
                self._batches.popleft()
                self._batches.extendleft([batch[half:], batch[:half]])
            else:
                self._retry(batch, function_error=True)
            return True
        failed = [str(f["itemIdentifier"]) for f in (out or {}).get("batchItemFailures") or []]
        if not failed:
            self._done(batch)
            return True
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        at = min(sequences.index(f) for f in failed) if all(f in sequences for f in failed) else 0
        if at:
            self._checkpoint = _seq(batch[at - 1])
        self._batches[0] = batch[at:]
        self._retry(batch[at:], function_error=False)
        return True

    def drain(self, max_invocations: int = 500) -> int:
        """Deliver until nothing waits; the number of invocations."""
        start = self.invocations
        while self.step():
            assert self.invocations - start < max_invocations, "the stream did not drain"
        return self.invocations - start

    def _done(self, batch: list[dict[str, Any]]) -> None:
        self._batches.popleft()
        self._checkpoint = _seq(batch[-1])
        self._retries = self._invoked = 0

    def _retry(self, batch: list[dict[str, Any]], *, function_error: bool) -> None:
        self._retries += 1
        if self.max_retries < 0 or self._retries <= self.max_retries:
            return
        if self.on_failure_url:
            boto3.client("sqs").send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(self._invocation_record(batch, function_error)))
        self._done(batch)

    def _invocation_record(self, batch: list[dict[str, Any]], function_error: bool) -> dict[str, Any]:
        """What Lambda sends the on-failure destination of a stream mapping: metadata, not the records."""
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response["functionError"] = "Unhandled"
        arrival = [datetime.fromtimestamp(_epoch(r["dynamodb"]["ApproximateCreationDateTime"]), UTC) for r in (batch[0], batch[-1])]
        return {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.function_arn,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": self._invoked},
            "responseContext": response,
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_of(self.stream_arn),
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival[0].isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "approximateArrivalOfLastRecord": arrival[1].isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
