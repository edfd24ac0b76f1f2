"""`anycloud invoke` and the bad input of `anycloud dev` and `invoke`, as a user runs them.

invoke runs one function once in the local environment (the stack's store, secrets, config): a
route gets a Request built from the body, a consumer a Message, a task the state; what the
function sends or starts is printed, not run. Bad input is one line naming what to fix, exit 2,
with the stored data left byte for byte."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.support.dev_project import DEV_STACK, SERVICE_FUNCTIONS, project, reference_args, run

ORDER = {"customer_id": "c-1", "total": 25, "sku": "sku-1"}


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return project(tmp_path)


def invoke(directory: Path, *argv: str, **options) -> tuple[int, object, str]:
    done = run("invoke", *argv, *reference_args(directory), **options)
    out = done.stdout.strip()
    return done.returncode, json.loads(out) if out.startswith(("{", "[")) else out, done.stderr


# ------------------------------------------------------------------------------ invoke


def test_invoke_a_route_with_a_body_then_read_it_back_from_the_store(directory):
    code, answer, log = invoke(directory, "create-order", "--body", json.dumps(ORDER))
    assert code == 0 and answer["status"] == 202 and answer["body"]["status"] == "PENDING"
    order_id = answer["body"]["order_id"]
    assert f'sent to queue orders (not delivered by invoke): {{"order_id": "{order_id}"}}' in log
    assert "invoke   create-order       ok" in log
    code, answer, _ = invoke(directory, "get-order", "--path", f"/orders/{order_id}")
    assert code == 0 and answer["status"] == 200 and answer["body"] == {"order_id": order_id, "status": "PENDING", **ORDER}
    code, answer, _ = invoke(directory, "get-order", "--path", "/orders/nope")
    assert code == 1 and answer["status"] == 404 and answer["body"]["error"] == "NotFound"


def test_invoke_a_route_with_an_event_file(directory, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"method": "POST", "path": "/orders", "headers": {"Idempotency-Key": "k"},
                                 "body": json.dumps({"customer_id": "c-1"})}))
    code, answer, _ = invoke(directory, "create-order", "--event", str(event))
    assert code == 1 and answer["status"] == 400 and answer["body"]["error"] == "ValidationFailed"


def test_invoke_a_consumer_and_a_task(directory):
    _, created, _ = invoke(directory, "create-order", "--body", json.dumps(ORDER))
    order_id = created["body"]["order_id"]
    code, answer, log = invoke(directory, "process-order", "--body", json.dumps({"order_id": order_id}))
    assert code == 0 and answer == {"acknowledged": True}
    assert f"started fulfil-order {order_id} (not run by invoke)" in log
    code, answer, log = invoke(directory, "process-order", "--body", json.dumps({"order_id": "missing"}))
    assert code == 1 and "process-order raised OrderNotFound: missing" in log
    state = {"order": {"order_id": order_id, "total": 25, "sku": "sku-1"}}
    code, answer, _ = invoke(directory, "reserve-stock", "--body", json.dumps(state))
    assert code == 0 and answer == {"sku": "sku-1"}
    code, answer, _ = invoke(directory, "get-order", "--path", f"/orders/{order_id}")
    assert answer["body"]["status"] == "RESERVED"  # the task wrote the stack's store
    code, answer, _ = invoke(directory, "reserve-stock", "--body", json.dumps({"order": {**state["order"], "sku": "out-of-stock"}}))
    assert code == 1 and answer == {"error": "OutOfStock", "message": "the sku is not available"}
    code, answer, log = invoke(directory, "charge-payment", "--body", json.dumps(state),
                               env={"ANYCLOUD_SECRET_PAYMENT_API_KEY": ""})
    assert code == 1 and answer == {"error": "TaskFailed", "message": "internal error"}
    assert "MissingSecret: secret payment-api-key: ANYCLOUD_SECRET_PAYMENT_API_KEY is not set" in log


@pytest.mark.parametrize("argv, line", [
    (["nope"], "error: FUNCTION 'nope': not declared; allowed: create-order, get-order, health,"),
    (["get-order"], "error: --path: GET /orders/{order_id} has path parameters; give the path, e.g. --path /orders/order_id"),
    (["health", "--trigger", "task"], "error: --trigger task: health is not reached that way; allowed: route"),
    (["health", "--body", "{"], "error: --body: not JSON"),
    (["health", "--event", "/nonexistent/event.json"], "error: --event /nonexistent/event.json: can't be read"),
])
def test_invoke_bad_input_is_one_line(directory, argv, line):
    code, out, log = invoke(directory, *argv)
    assert code == 2 and out == "" and log.startswith(line) and log.count("\n") == 1


# --------------------------------------------------------------------------- bad input


def start(directory: Path, *argv: str, **options) -> tuple[int, str]:
    """`anycloud dev` that must stop at once: (exit code, stderr)."""
    done = run("dev", "--port", "0", *argv, **options)
    return done.returncode, done.stderr


def one_line(text: str) -> str:
    assert text.count("\n") == 1 and text.endswith("\n"), text
    return text.strip()


def test_a_malformed_declaration(tmp_path):
    directory = project(tmp_path)
    (directory / "broken.py").write_text("from components.spec import ServiceSpec\nSERVICE = ServiceSpec(name='Bad Name', functions=[])\n")
    code, err = start(directory, "--dir", str(directory), "--service", "broken:SERVICE")
    assert code == 2 and one_line(err).startswith("error: --service broken:SERVICE: the declaration is invalid: ")
    (directory / "typo.py").write_text("SERVICE = (\n")
    code, err = start(directory, "--dir", str(directory), "--service", "typo:SERVICE")
    assert code == 2 and one_line(err).startswith("error: --service typo:SERVICE: typo.py line 1: ")
    code, err = start(directory, "--dir", str(directory), "--service", "nowhere:SERVICE")
    assert code == 2 and one_line(err).startswith("error: --service nowhere:SERVICE: no module nowhere")
    (directory / "raising.py").write_text("import json\nSERVICE = json.loads('{')\n")
    code, err = start(directory, "--dir", str(directory), "--service", "raising:SERVICE")
    assert code == 2 and one_line(err).startswith("error: --service raising:SERVICE: importing raising raised "
                                                  "JSONDecodeError: Expecting property name")
    assert "(raising.py line 2)" in err


def test_stack_config_is_checked_as_check_checks_it(tmp_path):
    directory = project(tmp_path, {**DEV_STACK, "anycloud:enviroment": "dev"})
    code, err = start(directory, *reference_args(directory))
    assert code == 2 and one_line(err) == ("error: anycloud:enviroment: unknown anycloud config key; did you mean "
                                           "anycloud:environment? (pulumi config rm anycloud:enviroment)")
    directory = project(tmp_path, {**DEV_STACK, "anycloud:allowedOrigins": ["http://example.com"]})
    code, err = start(directory, *reference_args(directory))
    assert code == 2 and one_line(err).startswith("error: anycloud:allowedOrigins: 'http://example.com' is not allowed")
    code, err = start(directory, *reference_args(directory), "--stack", "staging")
    assert code == 2 and one_line(err).startswith("error: --stack staging: no Pulumi.staging.yaml in ")


def test_a_port_in_use(directory):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run("dev", "--port", str(port), "--memory", *reference_args(directory))
    assert done.returncode == 2
    assert one_line(done.stderr) == (f"error: --port {port}: 127.0.0.1:{port} is in use (another anycloud dev?); stop "
                                     "what holds it or pass another --port")


def test_a_corrupt_store_file_is_named_and_left_as_it_was(directory):
    store = directory / ".anycloud" / "dev.sqlite"
    store.parent.mkdir()
    store.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    code, err = start(directory, *reference_args(directory))
    assert code == 2 and one_line(err).startswith(f"error: {store} is a damaged SQLite file")
    assert "or pass --memory" in err and store.read_bytes() == b"SQLite format 3\x00" + b"\x07" * 4000
    code, answer, _ = invoke(directory, "health", "--memory")  # the way out it names
    assert code == 0 and answer["body"] == {"status": "ok"}


def test_a_handler_that_raises_at_import_and_the_store_is_untouched(directory):
    functions = directory / "functions"
    (functions / "reference").mkdir(parents=True)
    for source in (SERVICE_FUNCTIONS / "reference").glob("*.py"):
        (functions / "reference" / source.name).write_text(source.read_text())
    code, out, _ = invoke(directory, "create-order", "--body", json.dumps(ORDER))  # data in the stack's store
    store = directory / ".anycloud" / "dev.sqlite"
    before = store.read_bytes()
    tasks = functions / "reference" / "tasks.py"
    tasks.write_text(tasks.read_text() + "\n1 / 0\n")
    code, err = start(directory, "--dir", str(directory), "--service", "tests.services:REFERENCE", "--functions",
                      str(functions))
    lines = len(tasks.read_text().splitlines())
    assert code == 2 and one_line(err) == ("error: functions.reserve-stock.handler: 'reference.tasks:reserve_stock': "
                                           f"ZeroDivisionError: division by zero (functions/reference/tasks.py line {lines})")
    assert store.read_bytes() == before


def test_a_negative_time_scale(directory):
    code, err = start(directory, *reference_args(directory), "--memory", "--time-scale", "-1")
    assert code == 2 and one_line(err) == ("error: --time-scale -1: not allowed; allowed: a number of 0 or more (1: "
                                           "real time, 0: no waiting)")
