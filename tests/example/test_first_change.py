"""The README's "Your first change", done as a user would: its handler appended to the example's
orders/api.py, its declarations added to the service; the result resolves, renders on every cloud
with no violation, and answers what the README says."""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import SERVICE, orders
from components.export import to_export
from components.handlers import check_handlers
from components.mock_engine import render
from components.program import run
from components.spec import FunctionSpec, RouteSpec, ServiceSpec
from policy.offline import evaluate
from tests.conftest import AZURE_DEV, DEV, GCP_DEV

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FIRST_CHANGE = README.split("## Your first change", 1)[1].split("\n## ", 1)[0]


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", FIRST_CHANGE, flags=re.S)


def changed_service() -> ServiceSpec:
    """SERVICE with the README's list-orders function and route, built from the README's own lines."""
    declared = snippets()[1]
    function_line = next(line for line in declared.splitlines() if line.startswith("FunctionSpec("))
    route_line = next(line for line in declared.splitlines() if line.startswith("RouteSpec("))
    function = eval(function_line.rstrip(","), {"FunctionSpec": FunctionSpec, "orders": orders})  # noqa: S307
    route = eval(route_line.rstrip(","), {"RouteSpec": RouteSpec})  # noqa: S307
    data = SERVICE.model_dump()
    data["functions"] = [*data["functions"], function.model_dump()]
    data["api"]["routes"] = [*data["api"]["routes"], route.model_dump()]
    return ServiceSpec(**data)


@pytest.fixture(scope="module")
def functions_root(tmp_path_factory) -> Path:
    """A copy of functions/ with the README's handler appended to orders/api.py."""
    root = tmp_path_factory.mktemp("first-change") / "functions"
    shutil.copytree(ROOT / "functions", root, ignore=shutil.ignore_patterns("__pycache__"))
    with (root / "orders" / "api.py").open("a") as api:
        api.write("\n\n" + snippets()[0])
    return root


def test_the_change_resolves(functions_root):
    check_handlers(changed_service(), root=functions_root)
    assert "def list_orders" in (functions_root / "orders" / "api.py").read_text()


@pytest.mark.parametrize("config", [DEV, GCP_DEV, AZURE_DEV], ids=["aws", "gcp", "azure"])
def test_the_change_renders_with_no_violation_and_reads_only_orders(config, functions_root):
    service = changed_service()
    rendering = render(lambda: run(service, functions_dir=functions_root), config, ["anycloud:paymentApiKey"])
    report = evaluate(to_export(rendering)["deployment"]["resources"], "dev",
                      config={"publicRoutes": ["GET /health"]})
    assert report.mandatory == []
    assert "list-orders" in rendering.outputs["functions"]


def test_the_new_route_answers_the_customers_orders(functions_root, monkeypatch):
    """The changed orders package, imported from the copy (the example's own modules set aside
    for the test, so nothing mixes the two), answers GET /orders?customer_id=... with that
    customer's orders."""
    from runtime.contracts import Request
    from runtime.http import run_route
    from runtime.memory import MemoryResources

    for name in [m for m in sys.modules if m == "orders" or m.startswith("orders.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(functions_root))
    api = importlib.import_module("orders.api")
    assert Path(api.__file__).is_relative_to(functions_root)
    resources = MemoryResources.from_spec(changed_service())
    now = datetime.now(UTC)
    for customer in ["cust_1", "cust_1", "cust_2"]:
        body = api.models.CreateOrder(customer_id=customer, currency="EUR", payment_token="tok_visa",
                                      items=[{"sku": "blue-mug", "quantity": 1, "unit_price_cents": 100}])
        resources.tables["orders"].put(api.Order.new(body, now).to_item())
    request = Request(method="GET", path="/orders", request_id="req-1", query={"customer_id": "cust_1"})
    response = run_route(api.list_orders, request, resources.context("list-orders"))
    assert response.status == 200, response.body
    assert [o["customer_id"] for o in response.body["orders"]] == ["cust_1", "cust_1"]
