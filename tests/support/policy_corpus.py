"""The adversarial policy corpus: stacks written the way a colleague who never read the pack would
write them, each with the verdict a reviewer expects.

A corpus file (tests/policy_corpus/<mechanism>.yaml) is a list of cases:

    - case: sns-topic-policy-open-through-a-list        # unique in the corpus
      expect: bad                                        # bad: a violator; ok: a clean stack
      policy: aws-resource-policies-not-public           # bad only: the policy that must report it
      environment: prod                                  # optional, default prod
      why: one line on what the case means, with its documentation source
      resources:
        - type: aws:sns/topicPolicy:TopicPolicy          # the provider's type token
          name: p                                         # the URN's name; unique in the case
          inputs: {arn: ..., policy: ...}                # camelCase, as an export holds them
          outputs: {arn: ..., url: ...}                   # optional: what the provider computes
          protect: false                                  # optional
          dependsOn: [other-name]                         # optional

A bad case is caught when its policy reports a mandatory violation; an ok case is wrongly refused
when any policy reports one. `benchmarks/policy_corpus.py` prints the figures per mechanism.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policy.offline import Report, evaluate

CORPUS = Path(__file__).resolve().parent.parent / "policy_corpus"
PROJECT = "corpus"


@dataclass(frozen=True)
class Case:
    mechanism: str
    name: str
    expect: str
    policy: str | None
    environment: str
    why: str
    resources: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.mechanism}/{self.name}"


def _urn(environment: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{environment}::{PROJECT}::{type_}::{name}"


def export_resources(case: Case) -> list[dict[str, Any]]:
    """The case's resources in `pulumi stack export` shape (outputs: the inputs and what the case adds)."""
    urns = {r["name"]: _urn(case.environment, r["type"], r["name"]) for r in case.resources}
    out = []
    for r in case.resources:
        inputs = r.get("inputs") or {}
        out.append({
            "urn": urns[r["name"]],
            "custom": True,
            "type": r["type"],
            "inputs": inputs,
            "outputs": {**inputs, **(r.get("outputs") or {})},
            "protect": bool(r.get("protect", False)),
            "dependencies": [urns[d] for d in r.get("dependsOn", [])],
            "propertyDependencies": {},
        })
    return out


def _case(mechanism: str, raw: Mapping[str, Any]) -> Case:
    expect = raw["expect"]
    if expect not in ("ok", "bad"):
        raise ValueError(f"{mechanism}/{raw.get('case')}: expect {expect!r} is not allowed; allowed: ok, bad")
    if expect == "bad" and not raw.get("policy"):
        raise ValueError(f"{mechanism}/{raw['case']}: a bad case names the policy that must report it")
    names = [r["name"] for r in raw["resources"]]
    if len(names) != len(set(names)):
        raise ValueError(f"{mechanism}/{raw['case']}: resource names repeat: {names}")
    return Case(mechanism, raw["case"], expect, raw.get("policy"), raw.get("environment", "prod"),
                raw.get("why", ""), list(raw["resources"]))


def cases(corpus: Path = CORPUS) -> Iterator[Case]:
    for path in sorted(corpus.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            yield _case(path.stem, raw)


def judge(case: Case) -> tuple[bool, Report]:
    """(True when the pack gives the expected verdict, the report)."""
    report = evaluate(export_resources(case), case.environment)
    if case.expect == "bad":
        return any(v.policy == case.policy for v in report.mandatory), report
    return report.mandatory == [], report
