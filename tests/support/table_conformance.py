"""What every cloud's table must do exactly as runtime.memory.Table does, checked by one helper
per property so each adapter's tests run the same cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime import memory
from runtime.contracts import ConditionFailed

#: Calls every implementation must refuse with the same ValueError as memory.Table, on an orders
#: table (partition key `order_id`, index `by-customer` on `customer_id` + `created_at`).
BAD_CALLS = [
    lambda t: t.get({}),
    lambda t: t.get({"order_id": "o-1", "extra": 1}),
    lambda t: t.get({"order_id": ""}),
    lambda t: t.get({"order_id": True}),
    lambda t: t.put({"status": "new"}),
    lambda t: t.update({"order_id": "o-1"}, {"order_id": "o-2"}),
    lambda t: t.delete({"order_id": None}),
    lambda t: t.query({"customer_id": "c"}),
    lambda t: t.query({"customer_id": "c"}, index="nope"),
    lambda t: t.query({"customer_id": "c", "created_at": "x"}, index="by-customer"),
    lambda t: t.query({"order_id": "o-1"}, limit=0),
]


def assert_bad_arguments_fail_as_in_memory(table: Any, requests: Callable[[], int] | None = None) -> None:
    """`table` (an orders table) refuses each of BAD_CALLS with memory.Table's message, word for
    word, and is left as it was; with `requests` (the store's request count), sending nothing."""
    reference = memory.Table("order_id", None, {"by-customer": ("customer_id", "created_at")})
    for store in (table, reference):
        store.put({"order_id": "o-1", "status": "new"})
    sent = requests() if requests else 0
    for call in BAD_CALLS:
        outcomes = []
        for store in (table, reference):
            with pytest.raises(ValueError) as err:
                call(store)
            outcomes.append(str(err.value))
        assert outcomes[0] == outcomes[1]
    assert (requests() if requests else 0) == sent
    assert table.get({"order_id": "o-1"}) == {"order_id": "o-1", "status": "new"}


def assert_index_queries_order_by_the_sort_key(table: Any) -> None:
    """On an orders table: a query on `by-customer` is ordered by `created_at` (either way, with
    a limit), and leaves out items without it (as in memory and DynamoDB) and other customers'."""
    for n, created in enumerate(["2024-03-01", "2024-01-15", "2024-02-10", "2024-01-01"]):
        table.put({"order_id": f"o-{n}", "customer_id": "c1", "created_at": created})
    table.put({"order_id": "o-draft", "customer_id": "c1"})
    table.put({"order_id": "o-other", "customer_id": "c2", "created_at": "2024-01-02"})

    def dates(items: list[dict[str, Any]]) -> list[str]:
        return [i["created_at"] for i in items]

    assert dates(table.query({"customer_id": "c1"}, index="by-customer")) == ["2024-01-01", "2024-01-15", "2024-02-10", "2024-03-01"]
    assert dates(table.query({"customer_id": "c1"}, index="by-customer", descending=True)) == ["2024-03-01", "2024-02-10", "2024-01-15", "2024-01-01"]
    newest = table.query({"customer_id": "c1"}, index="by-customer", descending=True, limit=2)
    assert [i["order_id"] for i in newest] == ["o-0", "o-2"]


def assert_expecting_an_absent_attribute(table: Any) -> None:
    """`expect={attr: None}` holds while the attribute is missing, and fails once it is set."""
    table.put({"order_id": "o-1"})
    assert table.update({"order_id": "o-1"}, {"claimed_by": "w1"}, expect={"claimed_by": None})["claimed_by"] == "w1"
    with pytest.raises(ConditionFailed):
        table.update({"order_id": "o-1"}, {"claimed_by": "w2"}, expect={"claimed_by": None})
    assert table.get({"order_id": "o-1"})["claimed_by"] == "w1"


def assert_updating_a_missing_item_fails(table: Any) -> None:
    """An update of an item that does not exist is ConditionFailed, with or without changes,
    and creates nothing."""
    for changes in ({"status": "paid"}, {}):
        with pytest.raises(ConditionFailed):
            table.update({"order_id": "ghost"}, changes)
    assert table.get({"order_id": "ghost"}) is None
