"""The `Table` contract's argument rules and conditions, once for every implementation.

memory.Table and each cloud's table check keys, updates and queries with these, so a bad
argument is the same `ValueError` everywhere, before any store is touched, and `expect` means
the same thing in memory as in the cloud's conditional write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def key_values(key: Mapping[str, Any], names: Sequence[str], *, exact: bool) -> tuple[Any, ...]:
    """The values of the key attributes `names` in `key`; with `exact`, `key` holds nothing else.

    Key attributes are non-empty strings or numbers, as in every cloud's table service."""
    missing = [k for k in names if k not in key]
    if missing:
        raise ValueError(f"key is missing {', '.join(missing)}")
    if exact and set(key) != set(names):
        raise ValueError(f"a key has exactly the attributes {', '.join(names)}")
    values = tuple(key[k] for k in names)
    for name, value in zip(names, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
            raise ValueError(f"key attribute {name} must be a non-empty string or a number")
    return values


def check_changes(changes: Mapping[str, Any], names: Sequence[str]) -> None:
    """An update can't change key attributes."""
    touched = set(changes) & set(names)
    if touched:
        raise ValueError(f"can't update key attributes: {', '.join(sorted(touched))}")


def matches(item: Mapping[str, Any] | None, expect: Mapping[str, Any] | None) -> bool:
    """`expect` holds when every attribute equals it; None expects the attribute absent (or None).
    No expectation holds for anything; any expectation fails for a missing item."""
    if expect is None:
        return True
    if item is None:
        return False
    return all(item.get(name) == value for name, value in expect.items())


def query_keys(
    key: Mapping[str, Any],
    table_key: Sequence[str | None],
    indexes: Mapping[str, Sequence[str | None]],
    index: str | None,
    limit: int,
) -> tuple[str, str | None]:
    """`(partition, sort or None)` of the table or `index` for a query by `key`, which must hold
    exactly that partition key; `limit` at least 1."""
    if index is None:
        attrs = table_key
    elif index in indexes:
        attrs = indexes[index]
    else:
        raise ValueError(f"no index {index!r}")
    partition = attrs[0]
    sort = attrs[1] if len(attrs) > 1 else None
    if list(key) != [partition]:
        raise ValueError(f"query by exactly the partition key {partition!r}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return partition, sort
