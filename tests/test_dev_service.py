"""The service `anycloud dev` runs (components/dev/service.py), in this process: what each function's
Context holds (only its declared resources, writes refused on tables declared for reading, as its
cloud identity would), the task contract between the engine and the task handlers (a TaskError
is its name, anything else TaskFailed with the exception kept in the history only), the
interface the console reads, and secrets from the environment."""

from __future__ import annotations


import pytest
from runtime.contracts import Message, Request

from components.dev.engine import FAILED
from components.dev.project import Project
from components.dev.service import DevService, RouteInfo
from tests.services import REFERENCE
from tests.support.dev_project import SERVICE_FUNCTIONS, project, service  # noqa: F401 (fixture)

HANG_S = 10




def context(service: DevService, function: str):
    return service._generation.functions[function].resources


def test_each_function_holds_only_its_declared_resources(service):
    for fn in REFERENCE.functions:
        ctx = context(service, fn.name)
        declared = {(a.kind, a.resource) for a in fn.uses}
        held = {("table", n) for n in ctx.tables} | {("queue", n) for n in ctx.queues} | \
            {("workflow", n) for n in ctx.workflows} | {("secret", n) for n in ctx.secrets}
        assert held == declared, fn.name
    assert set(context(service, "charge-payment").secrets) == {"payment-api-key"}
    assert context(service, "health").tables == {}


def test_a_table_declared_for_reading_refuses_writes(service):
    reader = context(service, "get-order").tables["orders"]  # orders.read() only
    writer = context(service, "reserve-stock").tables["orders"]
    writer.put({"order_id": "o-1", "status": "PENDING"})
    assert reader.get({"order_id": "o-1"})["status"] == "PENDING"
    assert reader.query({"order_id": "o-1"}) == [{"order_id": "o-1", "status": "PENDING"}]
    for write in (lambda: reader.put({"order_id": "o-2"}), lambda: reader.update({"order_id": "o-1"}, {"status": "X"}),
                  lambda: reader.delete({"order_id": "o-1"})):
        with pytest.raises(PermissionError, match="function get-order declared table orders read only; declare "
                                                  r"orders.write\(\) in its uses to write it"):
            write()
    assert writer.get({"order_id": "o-1"})["status"] == "PENDING"


def test_the_engine_reaches_tasks_through_the_task_contract(service):
    """A TaskError is caught by name (OutOfStock -> mark-failed); the order FAILED as declared."""
    service.tables["orders"].put({"order_id": "o-9", "status": "PENDING", "customer_id": "c", "total": 5,
                                  "sku": "out-of-stock"})
    assert service.engine.start("fulfil-order", "o-9", {"order": {"order_id": "o-9", "total": 5, "sku": "out-of-stock"}})
    done = service.engine.wait("fulfil-order", "o-9", HANG_S)
    assert done.status == FAILED and done.error == {"error": "OrderFailed",
                                                    "cause": "Payment declined or stock unavailable; stock released"}
    assert service.tables["orders"].get({"order_id": "o-9"})["failure_reason"] == "OutOfStock"
    tasks = [(i.function, i.outcome) for i in service.invocations if i.trigger == "task" and i.request_id == "o-9"]
    assert tasks == [("reserve-stock", "error"), ("mark-failed", "ok")]


def test_a_crashing_task_is_task_failed_with_its_exception_in_the_history_only(service):
    """The reference reserve-stock reads state["order"]["sku"]: a state without it crashes (KeyError)."""
    assert service.engine.start("fulfil-order", "o-crash", {"order": {"order_id": "o-crash"}})
    done = service.engine.wait("fulfil-order", "o-crash", HANG_S)
    assert done.status == FAILED and done.error == {"error": "TaskFailed", "cause": "internal error"}
    failures = [e for e in done.history if e.type == "TaskFailed"]
    assert len(failures) == 4  # the first try and the three declared retries
    assert failures[0].data["exception"] == "_TaskCrashed: KeyError: 'sku'"


def test_what_the_console_reads(service):
    assert service.spec == REFERENCE
    assert service.stack == "dev" and service.started_at > 0
    assert service.routes == [RouteInfo("POST", "/orders", "create-order", False),
                              RouteInfo("GET", "/orders/{order_id}", "get-order", False),
                              RouteInfo("GET", "/health", "health", True)]
    assert set(service.tables) == {"orders", "idempotency"} and set(service.queues) == {"orders"}
    route, params = service.match("GET", "/orders/abc")
    assert (route.function, params) == ("get-order", {"order_id": "abc"})
    status, body, _ = service.call_route(route, Request("GET", "/orders/abc", "req-1", params), {})
    assert (status, body["error"]) == (404, "NotFound")
    (last,) = service.invocations
    assert (last.function, last.trigger, last.outcome, last.request_id, last.detail) == (
        "get-order", "route", "refused", "req-1", "GET /orders/abc 404 NotFound")
    assert last.duration_ms >= 0 and service.lines[-1] == last.line()
    assert "route    get-order" in last.line() and "req-1  GET /orders/abc 404 NotFound" in last.line()


def test_invocations_are_bounded(service):
    from components.dev import service as module

    for n in range(module.MAX_INVOCATIONS + 20):
        service.record("health", "invoke", "ok", 0.0, f"r-{n}")
    kept = service.invocations
    assert len(kept) == module.MAX_INVOCATIONS and kept[-1].request_id == f"r-{module.MAX_INVOCATIONS + 19}"


def test_a_consumer_called_once_raises_as_it_did(service):
    with pytest.raises(LookupError):
        service.call_consumer("process-order", Message(id="m-1", body={"order_id": "nope"}))
    assert service.invocations[-1].detail == "OrderNotFound: nope"


def test_a_service_without_the_secret_warns_at_start_and_keeps_serving(tmp_path, monkeypatch):
    monkeypatch.delenv("ANYCLOUD_SECRET_PAYMENT_API_KEY", raising=False)
    lines: list[str] = []
    running = DevService(Project(dir=project(tmp_path), service="tests.services:REFERENCE", functions=SERVICE_FUNCTIONS),
                         memory_store=True, time_scale=0, echo=lines.append)
    try:
        assert lines[0].startswith("warning: secret payment-api-key: ANYCLOUD_SECRET_PAYMENT_API_KEY is not set")
        route, params = running.match("GET", "/health")
        assert running.call_route(route, Request("GET", "/health", "r"), {})[0] == 200
    finally:
        running.close()


def test_a_reload_forgets_the_projects_modules_not_the_libraries_of_a_virtualenv_in_it(tmp_path, monkeypatch):
    """Pulumi makes the project's virtualenv in the project folder (Pulumi.yaml: virtualenv venv):
    its libraries are under the project but were not imported from it, and must never be re-imported."""
    import sys
    import types

    functions = tmp_path / "functions"
    files = {
        "devapp_t": tmp_path / "devapp_t.py",
        "shop_t": tmp_path / "shop_t" / "__init__.py",
        "shop_t.tables": tmp_path / "shop_t" / "tables.py",
        "library_t": tmp_path / "venv" / "lib" / "site-packages" / "library_t" / "__init__.py",
        "orders_t.api": functions / "orders_t" / "api.py",
        "runtime.contracts_t": functions / "runtime" / "contracts_t.py",
        "components.spec_t": tmp_path / "components" / "spec_t.py",
    }
    for name, file in files.items():
        made = types.ModuleType(name)
        made.__file__ = str(file)
        monkeypatch.setitem(sys.modules, name, made)
    found = Project(dir=tmp_path, service="devapp_t:SERVICE", functions=functions)
    assert {"devapp_t", "shop_t", "shop_t.tables"} <= set(found.declaration_modules())
    assert not {"library_t", "orders_t.api", "runtime.contracts_t", "components.spec_t"} & set(found.declaration_modules())
    assert "orders_t.api" in found.handler_modules()
    assert not {"runtime.contracts_t", "library_t", "devapp_t", "shop_t"} & set(found.handler_modules())
