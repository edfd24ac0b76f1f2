"""The example's declaration (app.py): its shape, its handlers, and the secrets Pulumi.yaml
declares for it."""

from __future__ import annotations

from pathlib import Path

import yaml

from app import SERVICE
from components.handlers import check_handlers
from components.settings import KEYS
from components.spec import Access, ServiceSpec

ROOT = Path(__file__).resolve().parents[2]
TASK_FUNCTIONS = ["reserve-stock", "release-stock", "charge-payment", "mark-failed", "ship", "notify", "mark-completed"]


def test_example_service_validates():
    again = ServiceSpec.model_validate(SERVICE.model_dump())
    assert again == SERVICE
    assert {r.key for r in SERVICE.api.routes} == {"POST /orders", "GET /orders/{order_id}", "GET /health"}
    assert [r.key for r in SERVICE.api.routes if r.public] == ["GET /health"]


def test_example_workflow_lists_exactly_its_7_task_functions():
    (fulfil,) = SERVICE.workflows
    assert fulfil.task_functions() == TASK_FUNCTIONS
    declared = {f.name for f in SERVICE.functions}
    triggers = ({r.function for r in SERVICE.api.routes} | {q.consumer for q in SERVICE.queues}
                | {t.stream.consumer for t in SERVICE.tables if t.stream})
    assert declared - triggers == set(TASK_FUNCTIONS)


def test_example_secret_is_read_only_by_the_payment_task():
    readers = [f.name for f in SERVICE.functions if Access.parse("secret:payment-api-key:read") in f.uses]
    assert readers == ["charge-payment"]


def test_every_example_handler_resolves():
    check_handlers(SERVICE)


def test_pulumi_yaml_declares_the_example_secrets_as_secret_and_nothing_else():
    """The schema is what the program reads: the framework's keys and this service's secrets."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == {f"anycloud:{k}" for k in KEYS} | {f"anycloud:{s.config_key}" for s in SERVICE.secrets}
    for secret in SERVICE.secrets:
        assert declared[f"anycloud:{secret.config_key}"].get("secret") is True
