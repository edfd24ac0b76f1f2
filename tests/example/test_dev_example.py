"""The README's local loop on the example (app.py, functions/orders): `anycloud dev` at time scale 0,
POST /orders, then GET /orders/{id} until the order is COMPLETED; the store in the project's
.anycloud/ folder, ignored by git. The framework's own tests of `anycloud dev` run the reference
service (tests/test_dev_*.py)."""

from __future__ import annotations

import shutil

from tests.support.dev_project import ROOT, DevProcess

EXAMPLE_ORDER = {"customer_id": "c-1", "items": [{"sku": "mug", "quantity": 2, "unit_price_cents": 1250}],
                 "currency": "EUR", "payment_token": "tok_visa"}


def test_the_example_order_reaches_completed(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    with DevProcess("--dir", str(tmp_path), "--service", "app:SERVICE", "--functions", str(ROOT / "functions"),
                    "--time-scale", "0") as dev:
        status, _, body = dev.request("POST", "/orders", EXAMPLE_ORDER)
        assert status == 202
        done = dev.poll(f"/orders/{body['order_id']}", lambda b: b.get("status") in ("COMPLETED", "FAILED"))
        assert done["status"] == "COMPLETED" and done["total_cents"] == 2500 and "payment_token" not in done
    assert dev.proc.returncode == 0
    assert (tmp_path / ".anycloud" / "dev.sqlite").is_file()
    assert (tmp_path / ".anycloud" / ".gitignore").read_text().strip().endswith("*")
