"""The pack against the adversarial corpus (tests/support/policy_corpus.py says what a case is):
every violator is reported by the policy that owns its promise, and no clean stack is refused."""

from __future__ import annotations

import pytest

from policy import POLICIES
from tests.support.policy_corpus import cases, judge

CASES = list(cases())
NAMES = {p.name for p in POLICIES}


def test_case_names_are_unique_and_name_real_policies():
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.policy for c in CASES if c.policy} <= NAMES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case):
    right, report = judge(case)
    if case.expect == "bad":
        assert right, f"{case.policy} did not report {case.id} ({case.why}); reported: {[v.policy for v in report.mandatory]}"
    else:
        assert right, f"{case.id} was refused: {[(v.policy, v.message) for v in report.mandatory]}"
