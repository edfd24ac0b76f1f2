"""IAM documents built from explicit actions and ARNs: no wildcard action is ever written here."""

from __future__ import annotations

from typing import Any, Sequence

import pulumi

from policy.aws_actions import UNSCOPED_BY_DEFAULT

#: What the policy pack allows on Resource "*" by default (aws-iam-scoped-resources).
_UNSCOPED = {a.lower() for a in UNSCOPED_BY_DEFAULT}


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]] | str,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement; Resource "*" only for the unscoped actions the policy pack allows there."""
    if resources == "*" or (not isinstance(resources, str) and "*" in resources):
        # The policy pack's list is the one source, so renderer and guardrail agree.
        wide = [a for a in actions if a.lower() not in _UNSCOPED]
        if wide:
            raise ValueError(f"{sid}: {', '.join(wide)} are not unscoped actions the policy pack allows on '*'; name the ARNs")
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
