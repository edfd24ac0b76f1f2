"""Retry and catch semantics every engine shares, so a workflow means the same everywhere.

Step Functions is the reference: entries are tried in order and the first match wins (so nothing
after an entry listing ``all`` can match), and the n-th retry waits ``interval * rate**n``
seconds, capped by ``max_delay_s``. Workflows and Durable Functions compute their delays here at
compile time; ASL states the same rule natively.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.spec import Catch, Map, Parallel, Retry, Task

#: Error names that are not a task's own: they never count as "mentioned" for TaskFailed.
RESERVED_ERRORS = ("all", "TaskFailed", "Timeout")
#: The longest sleep Workflows takes (`sys.sleep`, one year); every engine caps delays at it.
MAX_SLEEP_S = 31_536_000


def until_all(entries: Sequence[Retry | Catch]) -> Sequence[Retry | Catch]:
    """First match wins, so nothing after an entry listing ``all`` can match."""
    last = next((i for i, e in enumerate(entries) if "all" in e.errors), len(entries) - 1)
    return entries[: last + 1]


def delays(retry: Retry) -> list[int | float]:
    """The sleep before each retry, as Step Functions computes it."""
    out, multiplier = [], 1.0
    for _ in range(retry.attempts):
        delay = min(retry.interval_s * multiplier, retry.max_delay_s or MAX_SLEEP_S, MAX_SLEEP_S)
        out.append(int(delay) if float(delay).is_integer() else delay)
        multiplier *= retry.backoff_rate
    return out


def mentioned(step: Task | Parallel | Map) -> list[str]:
    """The task's own error names in the step's retry and catch lists: ``TaskFailed`` there
    matches any error but these and ``Timeout``, as in Step Functions."""
    return sorted({e for entry in (*step.retry, *step.catch) for e in entry.errors if e not in RESERVED_ERRORS})
