"""A table's changes, as the consumer of its DynamoDB stream receives them (TableSpec.stream).

Lambda's event source mapping (components/aws/stream.py) delivers the stream's records in
batches. Each record becomes the portable `Message`: ``id`` = the record's ``eventID`` (the same
on every delivery of that change), ``body`` = ``{"table": the declared name, "key": its Keys,
"item": its NewImage, or None for a REMOVE}`` with values as the portable Table returns them
(numbers int or float, not Decimal), ``receive_count`` = the change's failed deliveries the
adapter counted, plus one. They run through Powertools' `BatchProcessor` for DynamoDB stream
records: a failed record is reported by its sequence number and Lambda resumes the shard there.

- In order: after the first record that fails, the rest of the batch is reported failed without
  running (a later change of the same item must not overtake it), as the shard would hold them.
- Counted: each failed delivery adds one to the change's count in the stream's attempts table
  (kept two days, past the stream's 24-hour retention). Lambda restarts a failed batch at the
  record that failed, so only a batch's first record can have failed before: its count is read,
  one GetItem a batch. An invocation that dies (timeout, out of memory) counts nothing here; the
  mapping's own retries and on-failure destination cover it (components/aws/stream.py).
- Kept: the ``max_receives``-th failure sends the change to the stream's dead-letter queue — the
  stream record as Lambda delivered it, the declared table, the error, the count — and the
  batch goes on. A stream's on-failure destination would only get the shard and sequence
  numbers, and the record leaves the stream after 24 hours. Redrive: invoke the consumer with
  ``{"Records": [record]}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..contracts import Message
from .resources import Clients, plain_item

#: The consumer's wiring, set by the renderer (components/aws/stream.py CHANGES): JSON with the
#: declared table, the dead-letter queue's URL, the attempts table and max_receives.
CHANGES = "ANYCLOUD_CHANGES"
#: How long a change's count is kept: longer than the stream keeps the change (24 h).
ATTEMPTS_KEPT_S = 2 * 24 * 3600
#: What marks the adapter's dead letters, beside Lambda's own metadata records in the same queue.
DEAD_LETTER_KIND = "anycloud.change"
#: An error's text in a dead letter is cut here (the record itself is kept whole).
ERROR_CHARS = 2000
REMOVE = "REMOVE"


@dataclass(frozen=True)
class StreamWiring:
    table: str
    dead_letters: str
    attempts: str
    max_receives: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StreamWiring | None:
        raw = env.get(CHANGES)
        if not raw:
            return None
        value = json.loads(raw)
        return cls(value["table"], value["deadLetters"], value["attempts"], int(value["maxReceives"]))


def change_message(record: Mapping[str, Any], table: str, receive_count: int = 1) -> Message:
    """The `Message` a DynamoDB stream record (as Lambda delivers it) becomes."""
    stream = record["dynamodb"]
    item = None if record.get("eventName") == REMOVE else plain_item(stream.get("NewImage") or {})
    body = {"table": table, "key": plain_item(stream["Keys"]), "item": item}
    return Message(id=str(record["eventID"]), body=body, receive_count=receive_count)


class NotAttempted(Exception):
    """An earlier change of this batch failed: this one waits behind it (reported, not run)."""


class ChangeConsumer:
    """Runs one function's stream batches; `run(message)` is its consumer (with idempotency)."""

    def __init__(self, wiring: StreamWiring, clients: Clients, run: Callable[[Message], None], logger: Any,
                 count: Callable[[str], None], clock: Callable[[], float] = time.time):
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

        self.wiring = wiring
        self._clients = clients
        self._run = run
        self._logger = logger
        self._count = count
        self._clock = clock
        self._processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self._first = True
        self._stopped = False

    def consume(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import process_partial_response

        self._first, self._stopped = True, False
        try:
            return process_partial_response(event=event, record_handler=self._record, processor=self._processor, context=context)
        finally:
            self._logger.set_correlation_id(None)

    # ------------------------------------------------------------------------- a record

    def _record(self, record: Any) -> None:
        first, self._first = self._first, False
        if self._stopped:
            raise NotAttempted("an earlier change of this batch failed")
        try:
            self._deliver(record.raw_event, first)
        except Exception:
            self._stopped = True  # whatever failed (the consumer, a count, a dead letter), the rest waits behind it
            raise

    def _deliver(self, raw: Mapping[str, Any], first: bool) -> None:
        change = str(raw["eventID"])
        self._logger.set_correlation_id(change)
        message = change_message(raw, self.wiring.table, (self._failures_before(change) if first else 0) + 1)
        try:
            self._run(message)
        except Exception as exc:
            failures = self._failed(change)
            if failures < self.wiring.max_receives:
                self._count("ChangeFailed")
                self._logger.warning("change failed; it will be retried",
                                     extra={"change_id": change, "receive_count": failures, "error": type(exc).__name__})
                raise
            self._dead_letter(raw, exc, failures)  # kept: the batch goes on (if this fails, it is retried and kept again)
            return
        self._count("ChangeProcessed")

    # --------------------------------------------------------------- counts and dead letters

    def _failures_before(self, change: str) -> int:
        out = self._clients.get("dynamodb").get_item(
            TableName=self.wiring.attempts, Key={"id": {"S": change}}, ConsistentRead=True)
        return int(out.get("Item", {}).get("attempts", {}).get("N", 0))

    def _failed(self, change: str) -> int:
        """Count one more failed delivery of `change`; the count so far."""
        out = self._clients.get("dynamodb").update_item(
            TableName=self.wiring.attempts,
            Key={"id": {"S": change}},
            UpdateExpression="ADD #attempts :one SET #expires = :expires",
            ExpressionAttributeNames={"#attempts": "attempts", "#expires": "expires"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(int(self._clock()) + ATTEMPTS_KEPT_S)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["attempts"]["N"])

    def _dead_letter(self, record: Mapping[str, Any], exc: Exception, failures: int) -> None:
        letter = {
            "kind": DEAD_LETTER_KIND,
            "table": self.wiring.table,
            "id": str(record["eventID"]),
            "receiveCount": failures,
            "error": f"{type(exc).__name__}: {exc}"[:ERROR_CHARS],
            "record": record,
        }
        self._clients.get("sqs").send_message(QueueUrl=self.wiring.dead_letters, MessageBody=json.dumps(letter, separators=(",", ":")))
        self._count("ChangeDeadLettered")
        self._logger.error("change dead-lettered after its last delivery",
                           extra={"change_id": letter["id"], "receive_count": failures, "error": type(exc).__name__})
