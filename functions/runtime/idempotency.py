"""Idempotency on the service's `idempotency` table, through the portable `Table` protocol.

AWS uses Powertools' DynamoDB persistence layer; clouds without such a library (GCP's
Firestore, Azure's Cosmos DB) use this, so routes and consumers mean the same thing
everywhere. The table is the one the service declares: partition key ``id``, TTL attribute
``expiration`` (epoch seconds; the cloud deletes expired records eventually, within a day on
Firestore, so expiry is also checked here).

- Routes (`TableIdempotency.run`, the `http.IdempotencyStore` that `run_route` drives): the
  record id is the scope (the function, and the caller's identity behind JWT auth) plus the
  ``Idempotency-Key``. A conditional create claims the key; the same key with another body
  hash, or while the first request is still running, is 409; a completed record replays the
  stored response; when the handler raises, the record is deleted, so a corrected retry runs.
- Consumers (`TableIdempotency.once`): the record id is the scope plus the hash of the whole
  message body, as on AWS; a processed body is acknowledged without running again, a failed
  run deletes its record so the redelivery runs.

An in-progress record lives as long as the function may run (`in_progress_s`), so a crashed
instance blocks a retry for at most that long.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from .contracts import ConditionFailed, Response, Table
from .http import idempotency_key_in_progress, idempotency_key_reused

#: How long a completed outcome is kept and replayed: a day, as on AWS.
EXPIRES_AFTER_S = 24 * 3600
IN_PROGRESS, COMPLETED = "INPROGRESS", "COMPLETED"


class TableIdempotency:
    def __init__(self, table: Table, scope: str, in_progress_s: float, clock: Callable[[], float] = time.time,
                 expires_after_s: float = EXPIRES_AFTER_S):
        self.table = table
        self.scope = scope
        self.in_progress_s = in_progress_s
        self.expires_after_s = expires_after_s
        self._clock = clock

    def run(self, key: str, body_hash: str, compute: Callable[[], Response]) -> Response:
        record_id = f"{self.scope}#route#{key}"
        found = self._claim(record_id, body_hash)
        if found is not None:
            return found
        response = self._complete(record_id, body_hash, compute)
        self.table.update({"id": record_id}, {"status": COMPLETED, "expiration": self._expiry(self.expires_after_s),
                                              "response": {"status": response.status, "body": response.body,
                                                           "headers": dict(response.headers)}})
        return response

    def once(self, body: Any, process: Callable[[], None]) -> bool:
        """Run `process` unless this message body was processed already; True when it ran.
        A copy still in progress elsewhere raises, so this delivery is retried later."""
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        record_id = f"{self.scope}#message#{digest}"
        if self._claim(record_id, digest) is not None:
            return False
        self._complete(record_id, digest, process)
        self.table.update({"id": record_id}, {"status": COMPLETED, "expiration": self._expiry(self.expires_after_s)})
        return True

    # -- steps

    def _expiry(self, seconds: float) -> int:
        return int(self._clock() + seconds)

    def _claim(self, record_id: str, body_hash: str) -> Response | None:
        """Create the in-progress record; None when claimed, else the stored response to replay
        (an empty one for a consumer's completed record). 409 for another body or a run in progress."""
        fresh = {"id": record_id, "status": IN_PROGRESS, "hash": body_hash, "expiration": self._expiry(self.in_progress_s)}
        for _ in range(2):  # once more if the record we saw expired or vanished in between
            try:
                self.table.put(fresh, if_absent=True)
                return None
            except ConditionFailed:
                record = self.table.get({"id": record_id})
            if record is None:
                continue
            if record["expiration"] <= self._clock():
                try:
                    self.table.update({"id": record_id}, {k: v for k, v in fresh.items() if k != "id"},
                                      expect={"status": record["status"], "expiration": record["expiration"]})
                    return None
                except ConditionFailed:
                    continue
            if record["hash"] != body_hash:
                raise idempotency_key_reused()
            if record["status"] != COMPLETED:
                raise idempotency_key_in_progress()
            stored = record.get("response") or {}
            return Response(stored.get("status", 200), stored.get("body"), stored.get("headers", {}))
        raise idempotency_key_in_progress()

    def _complete(self, record_id: str, body_hash: str, compute: Callable[[], Any]) -> Any:
        try:
            return compute()
        except BaseException:
            try:
                self.table.delete({"id": record_id}, expect={"status": IN_PROGRESS, "hash": body_hash})
            except ConditionFailed:
                pass  # taken over after expiry by another run: theirs now
            raise
