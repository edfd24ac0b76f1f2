"""A catalogue's SDK derivation is skipped only when nothing it reads changed since it passed."""

from __future__ import annotations

import uuid

import pytest

from tests.support.derivations import derived_once


def ran(config, name, sources) -> bool:
    try:
        with derived_once(config, name, sources):
            return True
    except pytest.skip.Exception:
        return False


def test_a_passed_derivation_runs_again_only_when_a_source_changes(pytestconfig, tmp_path):
    source = tmp_path / "catalogue.py"
    source.write_text("TYPES = {}\n")
    name = f"test-{uuid.uuid4()}"
    assert ran(pytestconfig, name, [source]) and not ran(pytestconfig, name, [source])
    source.write_text("TYPES = {'aws:sqs/queue:Queue': ()}\n")
    assert ran(pytestconfig, name, [source])


def test_a_failed_derivation_is_not_remembered(pytestconfig, tmp_path):
    source = tmp_path / "catalogue.py"
    source.write_text("TYPES = {}\n")
    name = f"test-{uuid.uuid4()}"
    with pytest.raises(AssertionError):
        with derived_once(pytestconfig, name, [source]):
            raise AssertionError("stale")
    assert ran(pytestconfig, name, [source])
