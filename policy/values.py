"""Loosely typed values as stacks write them: numbers as numbers or numeric strings, JSON objects as
strings or mappings, durations as ISO 8601 (Azure: `P14D`, `PT1H`) or seconds with a unit (Google's
protobuf durations: `604800s`, `3.5s`). Each reader answers None for what it cannot read, so a
policy says "is 'x'; required: ..." rather than guessing.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

import isodate

_PROTO_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def number(value: Any) -> float | None:
    """A JSON number or numeric string as a float; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def number_text(value: float) -> str:
    """30 rather than 30.0; 2.5 stays 2.5."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def json_object(value: Any) -> dict[str, Any] | None:
    """A JSON object from a string or a mapping; None when absent or not an object."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def seconds(value: Any) -> float | None:
    """A duration in seconds: '604800s' (protobuf), 'P7D' / 'PT1H' (ISO 8601, the largest
    .NET TimeSpan included), or a bare number of seconds; None when unreadable."""
    if isinstance(value, str):
        match = _PROTO_DURATION.match(value)
        if match:
            return float(match.group(1))
        try:
            parsed = isodate.parse_duration(value.strip())
        except (isodate.ISO8601Error, ValueError, OverflowError):
            return number(value)
        if isinstance(parsed, datetime.timedelta):
            return parsed.total_seconds()
        return parsed.totimedelta(start=datetime.datetime(2000, 1, 1)).total_seconds()
    return number(value)


def duration_text(value: float) -> str:
    """A number of seconds for a message: '3600 s (1 h)', '604800 s (7 d)'."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size and value % size == 0:
            return f"{number_text(value)} s ({number_text(value / size)} {unit})"
    return f"{number_text(value)} s"
