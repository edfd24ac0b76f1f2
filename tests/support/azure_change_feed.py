"""The Functions host's Cosmos DB trigger, played for one consumer app over the Cosmos stand-in's change feed.

The Cosmos DB extension (4.x) runs the .NET SDK's change feed processor for a trigger
(https://learn.microsoft.com/azure/cosmos-db/nosql/change-feed-processor, "Processing life cycle"
and "Error handling"; the trigger's options:
https://learn.microsoft.com/azure/azure-functions/functions-bindings-cosmosdb-v2-trigger#configuration).
This plays it from what the app registered (its ``cosmosDBTrigger`` binding, the ``%setting%``
names resolved from the app's settings, and its retry policy) through the real azure-cosmos
client, authenticated as the app's identity, against the stand-in's REST change feed
(tests/support/cosmos_standin.py):

- Leases: one lease document per partition key range in the lease container the binding names (the
  stand-in has one range, ``0``), ``{id, LeaseToken, ContinuationToken, Owner, timestamp}``. A host
  takes a lease that has no owner, or whose owner has not renewed it for ``leaseExpirationInterval``
  (60 s by default), by a conditional replace on the lease's etag; on its first start (no lease
  yet) it creates it, starting from the beginning of the feed with ``startFromBeginning``, else
  from now. The lease container must exist: the trigger's identity cannot create one.
- Reading: the range's change feed from the lease's continuation, at most ``maxItemsPerInvocation``
  documents (each item at its latest version, by ``_lsn``).
- Delivering: the function is invoked with the documents as the worker's Cosmos DB converter
  makes them (``func.DocumentList``) and a ``func.Context`` whose ``retry_context`` carries the
  runtime's retry count. A failure is retried on the same documents as the function's retry policy
  says (``fixed_delay``: the delay passes on the virtual clock; ``max_retry_count`` -1: without
  limit, bounded here so a test never spins); without a policy, or when the policy gives up, the
  batch counts as processed ("at most once":
  https://learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-changefeed-functions).
- Checkpointing: once the batch is processed, the lease's continuation becomes the page's etag, by a
  conditional replace (a host that lost its lease in between checkpoints nothing).
- A host that dies (`ProcessDied`, injected) before its checkpoint leaves the lease owned until it
  expires: the clock passes the expiry, a new host (a new process of the app: `restart`) takes the
  lease and reads from the last checkpoint, so the batch is delivered again, counted from retry 0
  (the runtime keeps the count in the instance's memory: "Max retry counts",
  https://learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages#max-retry-counts).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.cosmos import CosmosClient
from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceNotFoundError
from tests.support.faults import ProcessDied

#: The extension's default lease expiration (leaseExpirationInterval, 60 000 ms).
LEASE_EXPIRATION_S = 60.0
#: How often a retry policy without limit runs here before the test fails instead of spinning.
RETRIES_BOUND = 200
RANGE = "0"



class Clock:
    """The harness's time (epoch seconds): lease expiry and retry delays pass on it, nothing sleeps."""

    def __init__(self, start: float = 1_767_225_600.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Invocation:
    """One invocation of the trigger: the host, the changes (``<id>:<_lsn>``), the retry count and
    the outcome ("ok", the exception's type name, or "died")."""

    app: str
    host: str
    changes: list[str]
    retry_count: int
    outcome: str


def _seconds(interval: str) -> float:
    hours, minutes, seconds = (float(p) for p in interval.split(":"))
    return hours * 3600 + minutes * 60 + seconds


@dataclass
class ChangeFeedTrigger:
    """The trigger of `function` (an azure.functions Function) in `app` (tests/support/azure_stack.App).
    `invoke(host, documents, retry_count)` runs the function in the app's current process (raises what
    it raises); `restart()` starts a new process of the app after a crash."""

    app: Any
    function: Any
    transport: Any  # the Cosmos stand-in
    credential: Any
    clock: Clock
    invoke: Callable[[str, list[dict[str, Any]], int], None]
    restart: Callable[[], None]
    invocations: list[Invocation] = field(default_factory=list)
    host_number: int = 1

    def __post_init__(self) -> None:
        (binding,) = [b.get_dict_repr() for b in self.function.get_bindings() if b.type == "cosmosDBTrigger"]
        resolve = lambda v: re.sub(r"%([^%]+)%", lambda m: self.app.settings[m[1]], v) if isinstance(v, str) else v  # noqa: E731
        self.binding = {k: resolve(v) for k, v in binding.items()}
        connection = self.binding["connection"]
        endpoint = self.app.env[f"{connection}__accountEndpoint"]
        assert endpoint == self.transport.endpoint, endpoint
        assert self.app.env[f"{connection}__credential"] == "managedidentity"
        assert self.app.env[f"{connection}__clientId"] == self.app.env["AZURE_CLIENT_ID"]  # the app's own identity
        assert not self.binding.get("createLeaseContainerIfNotExists"), "the identity cannot create containers"
        database = CosmosClient(endpoint, credential=self.credential, transport=self.transport) \
            .get_database_client(self.binding["databaseName"])
        self.monitored = database.get_container_client(self.binding["containerName"])
        leases = self.binding.get("leaseContainerName") or "leases"
        self.leases = CosmosClient(endpoint, credential=self.credential, transport=self.transport) \
            .get_database_client(self.binding.get("leaseDatabaseName") or self.binding["databaseName"]) \
            .get_container_client(leases)
        self.batch = int(self.binding.get("maxItemsPerInvocation") or 100)
        retry = self.function.get_setting("retry_policy")
        self.retry = retry.get_dict_repr() if retry is not None else None
        rid = self.monitored.read()["_rid"]
        self.lease_id = f"{urlsplit(endpoint).hostname}_{self.binding['databaseName']}_{rid}..{RANGE}"
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        return f"{self.app.name}-host-{self.host_number}"

    # ------------------------------------------------------------------ leases

    def _acquire(self) -> dict[str, Any] | None:
        """The range's lease, held by this host (taken if free or expired); None if another live host holds it."""
        now = self.clock()
        try:
            lease = self.leases.read_item(self.lease_id, partition_key=self.lease_id)
        except CosmosResourceNotFoundError:
            start = None if self.binding.get("startFromBeginning") else self._now_etag()
            lease = {"id": self.lease_id, "LeaseToken": RANGE, "ContinuationToken": start, "Owner": self.host,
                     "timestamp": now}
            return self.leases.create_item(lease)
        if lease["Owner"] == self.host:
            return self._write(lease, timestamp=now)  # renewed
        if lease["Owner"] and lease["timestamp"] + LEASE_EXPIRATION_S > now:
            return None
        return self._write(lease, Owner=self.host, timestamp=now)

    def _write(self, lease: dict[str, Any], **changes: Any) -> dict[str, Any] | None:
        from azure.core import MatchConditions

        body = {k: v for k, v in {**lease, **changes}.items() if not k.startswith("_")}
        try:
            return self.leases.replace_item(self.lease_id, body, etag=lease["_etag"],
                                            match_condition=MatchConditions.IfNotModified)
        except CosmosAccessConditionFailedError:
            return None  # another host wrote it first: the lease is theirs

    def _feed(self, **options: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of the range's change feed and its response headers. By partition key range id,
        as a lease names its range and keeps the feed's etag as its continuation (the SDK calls
        that deprecated in favour of feed ranges, whose continuations are the SDK's own tokens)."""
        headers: dict[str, Any] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pages = self.monitored.query_items_change_feed(partition_key_range_id=RANGE, max_item_count=self.batch,
                                                           response_hook=lambda h, _: headers.update(h),
                                                           **options).by_page()
            return list(next(pages, [])), headers

    def _now_etag(self) -> str:
        return self._feed(start_time="Now")[1]["etag"]

    def _read(self, lease: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """(the next page of the range's change feed after the lease's continuation, its etag)."""
        continuation = lease["ContinuationToken"]
        page, headers = self._feed(**({"continuation": continuation} if continuation else {"start_time": "Beginning"}))
        return page, headers.get("etag", continuation)

    # ----------------------------------------------------------------- delivery

    def poll(self) -> int:
        """Deliver the next batch, if any (with retries), and checkpoint it; the number of documents
        delivered (a crash counts: what it held is delivered again)."""
        with self._lock:
            lease = self._acquire()
            if lease is None:
                return 0
            page, etag = self._read(lease)
            if not page:
                return 0
            if self._deliver(page):
                self._write(lease, ContinuationToken=etag, timestamp=self.clock())
            return len(page)

    def peek(self) -> list[dict[str, Any]]:
        """The batch the next poll would deliver (nothing is delivered or checkpointed)."""
        with self._lock:
            lease = self._acquire()
            return self._read(lease)[0] if lease is not None else []

    def twice_at_once(self, other_host: str) -> list[str]:
        """The next batch delivered at the same time to this host and to `other_host`, which took
        the lease over while this one still worked (a late renewal), then checkpointed once: what
        "at least once" allows. The two outcomes."""
        with self._lock:
            lease = self._acquire()
            page, etag = self._read(lease)
            assert page, "no change to deliver"
            outcomes = ["", ""]
            barrier = threading.Barrier(2)

            def run(i: int, host: str) -> None:
                barrier.wait()
                outcomes[i] = self.attempt(host, page, 0)

            threads = [threading.Thread(target=run, args=(i, h)) for i, h in enumerate((self.host, other_host))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if "ok" in outcomes:
                self._write(lease, ContinuationToken=etag, timestamp=self.clock())
            return outcomes

    def _deliver(self, page: list[dict[str, Any]]) -> bool:
        """Invoke until the retry policy is done; False when the host died (no checkpoint)."""
        retry_count = 0
        while True:
            outcome = self.attempt(self.host, page, retry_count)
            if outcome == "died":
                self.crashed()
                return False
            if outcome == "ok" or self.retry is None:
                return True
            limit = int(self.retry["max_retry_count"])
            if 0 <= limit <= retry_count:
                return True  # the policy gave up: the batch is checkpointed all the same
            assert retry_count < RETRIES_BOUND, f"{self.app.name}: the batch was retried {RETRIES_BOUND} times"
            retry_count += 1
            self.clock.advance(_seconds(self.retry.get("delay_interval") or "00:00:00"))

    def attempt(self, host: str, page: list[dict[str, Any]], retry_count: int) -> str:
        """One invocation on `host`: "ok", the exception's type name, or "died"."""
        try:
            self.invoke(host, page, retry_count)
            outcome = "ok"
        except ProcessDied:
            outcome = "died"
        except Exception as failed:  # the runtime logs it; the retry policy decides
            outcome = type(failed).__name__
        self.invocations.append(Invocation(self.app.name, host, [f"{d['id']}:{d['_lsn']}" for d in page],
                                           retry_count, outcome))
        return outcome

    def crashed(self) -> None:
        """The host died: its lease stays owned until it expires; a new host of the app takes over."""
        self.host_number += 1
        self.restart()
        self.clock.advance(LEASE_EXPIRATION_S + 1)

