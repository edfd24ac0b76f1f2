"""`anycloud dev` reloads on a change, through watchfiles, without a restart: an edited handler is
served by the next requests with the stored data still there; an edited declaration adds a
route; a handler or a declaration that no longer loads prints one line and the previous version
keeps serving. The real command, in a tmp copy of the reference service."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.dev_project import HANG_S, SERVICE_FUNCTIONS, DevProcess, project

DECLARATION = '''
from components.spec import ApiSpec, RouteSpec, ServiceSpec
from tests.services.reference import REFERENCE

ROUTES = [("GET", "/health"), ("POST", "/orders"), ("GET", "/orders/{order_id}")]
FUNCTIONS = {"/health": "health", "/orders": "create-order", "/orders/{order_id}": "get-order"}
SERVICE = ServiceSpec(**{**REFERENCE.model_dump(), "api": ApiSpec(routes=[
    RouteSpec(method=m, path=p, function=FUNCTIONS.get(p, "health"), public=True) for m, p in ROUTES])})
'''


def edit_until(path: Path, text: str, done: Callable[[], bool]) -> None:
    """Write `text` to `path` until `done()`: a write made before the watcher was ready is written again."""
    deadline = time.monotonic() + HANG_S
    while True:
        path.write_text(text)
        for _ in range(10):
            if done():
                return
            time.sleep(0.05)
        assert time.monotonic() < deadline, f"{path.name}: the change was never picked up"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A project whose handlers are a copy of the reference service's."""
    shutil.copytree(SERVICE_FUNCTIONS / "reference", tmp_path / "functions" / "reference",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return project(tmp_path)


def test_an_edited_handler_is_served_next_and_the_data_stays(copy):
    api = copy / "functions" / "reference" / "api.py"
    original = api.read_text()
    with DevProcess("--dir", str(copy), "--service", "tests.services:REFERENCE", "--functions", str(copy / "functions"),
                    "--time-scale", "0") as dev:
        _, _, order = dev.request("POST", "/orders", {"customer_id": "c-1", "total": 10, "sku": "s"})
        dev.poll(f"/orders/{order['order_id']}", lambda b: b.get("status") == "COMPLETED")
        edited = original.replace('Response(200, {"status": "ok"}, JSON)', 'Response(200, {"status": "edited"}, JSON)')
        assert edited != original
        edit_until(api, edited, lambda: dev.request("GET", "/health")[2] == {"status": "edited"})
        dev.wait_for(lambda line: line.startswith("reloaded: ") and "api.py" in line)
        status, _, found = dev.request("GET", f"/orders/{order['order_id']}")
        assert status == 200 and found["status"] == "COMPLETED"  # the table kept it
        assert dev.request("POST", "/orders", {"customer_id": "c-2", "total": 10, "sku": "s"})[0] == 202

        # A handler that raises at import: one line naming it, the previous version keeps serving.
        broken = edited + 'raise RuntimeError("half-written")\n'
        api.write_text(broken)
        error = dev.wait_for(lambda line: line.startswith("error: functions."))
        assert error == ("error: functions.create-order.handler: 'reference.api:create_order': RuntimeError: "
                         f"half-written (functions/reference/api.py line {len(broken.splitlines())})")
        dev.wait_for(lambda line: "did not load; still running the previous version" in line)
        assert dev.request("GET", "/health")[2] == {"status": "edited"}

        edit_until(api, original, lambda: dev.request("GET", "/health")[2] == {"status": "ok"})
    assert dev.proc.returncode == 0


def test_an_edited_declaration_is_read_again_and_a_broken_one_keeps_the_running_one(copy):
    module = copy / "devapp.py"
    module.write_text(DECLARATION)
    with DevProcess("--dir", str(copy), "--service", "devapp:SERVICE", "--functions", str(copy / "functions"),
                    "--memory", "--time-scale", "0") as dev:
        assert dev.request("GET", "/status")[0] == 404
        _, _, order = dev.request("POST", "/orders", {"customer_id": "c-1", "total": 10, "sku": "s"})
        with_status = DECLARATION.replace('("GET", "/health"),', '("GET", "/health"), ("GET", "/status"),')
        edit_until(module, with_status, lambda: dev.request("GET", "/status")[0] == 200)
        assert dev.request("GET", "/status")[2] == {"status": "ok"}

        module.write_text(with_status.replace('"/status"', '"/Status Page"'))
        error = dev.wait_for(lambda line: line.startswith("error: --service devapp:SERVICE"))
        assert "the declaration is invalid: RouteSpec.path" in error and "(got '/Status Page')" in error
        dev.wait_for(lambda line: "devapp.py did not load; still running the previous version" in line)
        assert dev.request("GET", "/status")[0] == 200
        assert dev.request("GET", f"/orders/{order['order_id']}")[0] == 200  # the memory store kept it too
