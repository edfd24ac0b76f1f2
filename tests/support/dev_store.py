"""Table declarations and a settable clock for the tests of components/dev/store.py."""

from __future__ import annotations

from components.spec import TableSpec

#: The orders table of the conformance cases: index `by-customer` on customer_id + created_at, TTL.
ORDERS = TableSpec.model_validate({
    "name": "orders",
    "partition_key": {"name": "order_id"},
    "indexes": [{"name": "by-customer", "partition_key": {"name": "customer_id"}, "sort_key": {"name": "created_at"}}],
    "ttl_attribute": "expires_at",
})

#: A table whose own key has a sort key, with an index that has one and an index that has none.
EVENTS = TableSpec.model_validate({
    "name": "events",
    "partition_key": {"name": "stream"},
    "sort_key": {"name": "seq", "type": "number"},
    "indexes": [
        {"name": "by-kind", "partition_key": {"name": "kind"}, "sort_key": {"name": "at"}},
        {"name": "by-owner", "partition_key": {"name": "owner"}},
    ],
})


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now
