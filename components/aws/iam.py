"""IAM documents built from explicit actions and ARNs: no wildcard action is ever written here."""

from __future__ import annotations

from typing import Any, Sequence

import pulumi

from policy.identity import UNSCOPED_ACTIONS

#: The only actions that may use Resource "*": they have no resource-level permissions. The
#: policy pack's allow-list is the one source, so renderer and guardrail cannot drift apart.
NO_RESOURCE_LEVEL_ACTIONS = UNSCOPED_ACTIONS


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]] | str,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement; Resource "*" only for actions without resource-level permissions."""
    if resources == "*" or (not isinstance(resources, str) and "*" in resources):
        wide = [a for a in actions if a not in NO_RESOURCE_LEVEL_ACTIONS]
        if wide:
            raise ValueError(f"{sid}: {', '.join(wide)} support resource-level permissions; name the ARNs")
    if any("*" in a for a in actions):
        raise ValueError(f"{sid}: wildcard actions are never granted: {', '.join(actions)}")
    body: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        body["Condition"] = condition
    return body


def document(statements: Sequence[dict[str, Any]]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role(service: str, source_account: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """Trust one AWS service principal; with `source_account`, only on behalf of this account
    (the confused-deputy guard, for services that send aws:SourceAccount)."""
    trust: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document([trust])
