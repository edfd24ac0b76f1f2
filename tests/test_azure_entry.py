"""The Azure entry: what each rendered app registers, and what its triggers do with what Azure
delivers (API Management's forwarded request, queue messages, the orchestrator's task calls,
workflow start messages), on the real azure-functions types and on Azurite."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import azure.functions as func
import pytest

from components.azure.deploy import build_zip
from components.packaging import cloud_archive
from runtime import memory
from runtime.azure import entry
from runtime.azure.messaging import Clients
from runtime.contracts import Context
from tests.conftest import SERVICE_FUNCTIONS
from tests.support import sample_handlers
from tests.support.azure_callers import caller_settings, entra, http_app  # noqa: F401 (fixtures)
from tests.support.azure_stack import run_async
from tests.support.azurite import Azurite, azurite  # noqa: F401 (fixture)

PROBE = """
import json, function_app
print(json.dumps({f.get_function_name(): sorted(b.type for b in f.get_bindings())
                  for f in function_app.app.get_functions()}))
"""


def app_settings(rendering, app: str) -> dict[str, str]:
    (resource,) = [r for r in rendering.of_type("azure-native:web:WebApp") if r.name == app]
    return {s["name"]: s["value"] for s in resource.inputs["siteConfig"]["appSettings"]}


def test_every_rendered_app_imports_in_a_fresh_process_and_registers_its_trigger_only(azure_dev, tmp_path):
    zipfile.ZipFile(io.BytesIO(build_zip(cloud_archive("azure")))).extractall(tmp_path)
    apps = [r.name for r in azure_dev.of_type("azure-native:web:WebApp")]

    def probe(app: str) -> dict:
        # nothing else of this machine's but the test services' handlers (a team's are in the package itself)
        env = {**app_settings(azure_dev, app), "PATH": os.environ["PATH"], "PYTHONPATH": str(SERVICE_FUNCTIONS)}
        done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    with ThreadPoolExecutor(4) as pool:
        registered = dict(zip(apps, pool.map(probe, apps)))
    expected_kinds = {"route": {"http": ["http", "httpTrigger"]}, "task": {"http": ["http", "httpTrigger"]},
                      "consumer": {"consume": ["queueTrigger"]},
                      "orchestrator": {"orchestrator": ["orchestrationTrigger"],
                                       "start": ["durableClient", "queueTrigger"]}}
    for app, functions in registered.items():
        (kind,) = set(app_settings(azure_dev, app)["ANYCLOUD_TRIGGERS"].split(","))
        assert functions == expected_kinds[kind], app


# ------------------------------------------------------------------ routes and tasks


def token(claims: dict) -> str:
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")  # noqa: E731
    return f"Bearer {encode({'alg': 'RS256'})}.{encode(claims)}.signature"


def test_a_route_gets_its_path_parameters_request_id_and_the_validated_caller(http_app):
    call, _ = http_app("echo", "route", "GET /things/{thing_id}")
    status, body, headers = call("GET", "things/42", headers={"X-Request-Id": "req-1", "X-Custom": "yes"},
                                 params={"verbose": "1"})
    assert status == 200 and body["params"] == {"thing_id": "42"} and body["query"] == {"verbose": "1"}
    assert body["request_id"] == body["ctx_request_id"] == headers["x-request-id"] == "req-1"
    assert call("GET", "elsewhere")[0] == 404
    assert call("POST", "task", b"{}")[0] == 404  # a route app is no task


def test_idempotent_routes_are_scoped_to_the_caller_api_management_validated(http_app):
    call, context = http_app("create", "route", "POST /items")
    sample_handlers.CALLS.clear()
    alice = {"X-Anycloud-User-Token": token({"sub": "alice"}), "Idempotency-Key": "k-1",
             "Content-Type": "application/json"}
    first = call("POST", "items", b'{"name": "a"}', alice)
    assert first[0] == 201 and call("POST", "items", b'{"name": "a"}', alice)[:2] == first[:2]
    bob = {**alice, "X-Anycloud-User-Token": token({"sub": "bob"})}
    assert call("POST", "items", b'{"name": "a"}', bob)[0] == 201
    assert sample_handlers.CALLS["create"] == 2


def test_route_errors_never_show_internals(http_app):
    call, _ = http_app("crash", "route", "GET /crash")
    assert call("GET", "crash", headers={"X-Request-Id": "r"})[:2] == (
        500, {"error": "InternalError", "message": "internal error", "request_id": "r"})


@pytest.mark.parametrize("state, expected", [
    ({"n": 1}, (200, {"seen": 1, "request_id": "req-7"})),
    ({"raise": "business"}, (422, {"error": "PaymentDeclined", "message": "card declined"})),
    ({"raise": "bug"}, (500, {"error": "TaskFailed", "message": "internal error"})),
])
def test_a_task_answers_the_orchestrator_by_the_http_contract(http_app, state, expected):
    call, _ = http_app("task", "task")
    assert call("POST", "task", json.dumps(state).encode(), {"X-Request-Id": "req-7"})[:2] == expected
    assert call("POST", "task", b"not json")[:2] == (400, {"error": "TaskFailed", "message": "the state is not JSON"})
    assert call("GET", "task")[0] == 404


# ------------------------------------------------------------------ queue consumers


@pytest.fixture
def consumer(azurite: Azurite):  # noqa: F811
    """A consumer instance on an Azurite queue and its poison queue."""
    queue = f"q-{uuid.uuid4().hex[:10]}"
    poison = azurite.queue(f"{queue}-poison")
    env = {"ANYCLOUD_FUNCTION": "consume", "ANYCLOUD_HANDLER": "tests.support.sample_handlers:consume",
           "ANYCLOUD_TRIGGERS": "consumer", "ANYCLOUD_TRIGGER_QUEUE": queue,
           "ANYCLOUD_TRIGGER__queueServiceUri": f"http://{azurite.address}/devstoreaccount1/"}
    items = memory.Table("id")
    context = Context(tables={"items": items, "idempotency": memory.Table("id")}, queues={}, workflows={},
                      secrets={})
    return SimpleNamespace(instance=entry.Instance(env, clients=Clients(azurite.credential), context=context),
                           items=items, poison=poison)


def poisoned(queue) -> list[str]:
    return [base64.b64decode(m.content).decode() for m in queue.receive_messages(max_messages=32)]


def test_a_message_is_processed_once_and_a_failure_raises_for_the_host_to_retry(consumer):
    consumer.instance.consume("m-1", b'{"id": "a"}', 1)
    consumer.instance.consume("m-1", b'{"id": "a"}', 2)  # redelivered after a lost completion
    assert consumer.items.get({"id": "a"}) == {"id": "a", "receive_count": 1, "message_id": "m-1"}
    with pytest.raises(RuntimeError, match="cannot process"):
        consumer.instance.consume("m-2", b'{"fail": true}', 3)
    assert poisoned(consumer.poison) == []


def test_a_message_that_is_not_json_goes_to_the_poison_queue_at_once(consumer):
    consumer.instance.consume("m-3", b"not json {", 1)
    assert poisoned(consumer.poison) == ["not json {"]


# ------------------------------------------------------------------ workflow starts


class FakeDurableClient:
    """The two calls the starter makes, answered as the Durable extension would."""

    def __init__(self, existing: dict[str, str]):
        self.existing = existing
        self.started: list[tuple] = []

    async def get_status(self, instance_id):
        return SimpleNamespace(runtime_status=self.existing.get(instance_id))

    async def start_new(self, name, instance_id, client_input):
        self.started.append((name, instance_id, client_input))
        self.existing[instance_id] = "Pending"
        return instance_id


@pytest.fixture
def starter(azurite: Azurite):  # noqa: F811
    queue = f"start-{uuid.uuid4().hex[:10]}"
    poison = azurite.queue(f"{queue}-poison")
    env = {"ANYCLOUD_TRIGGERS": "orchestrator", "ANYCLOUD_DEFINITION": json.dumps({"workflow": "w", "start": "s"}),
           "ANYCLOUD_TRIGGER_QUEUE": queue, "ANYCLOUD_TRIGGER__queueServiceUri": f"http://{azurite.address}/devstoreaccount1"}
    return SimpleNamespace(starter=entry.Starter(env, Clients(azurite.credential)), poison=poison)


def test_a_start_message_starts_one_orchestration_per_id_whatever_its_state(starter):
    client = FakeDurableClient({"done-1": "Completed", "failed-1": "Failed"})
    start = lambda text: run_async(starter.starter.start("m", text, client))  # noqa: E731
    assert start(b'{"instance_id": "o-1", "input": {"a": 1}}') == "o-1"
    assert start(b'{"instance_id": "o-1", "input": {"a": 1}}') is None  # the redelivery
    assert start(b'{"instance_id": "done-1", "input": {}}') is None
    assert start(b'{"instance_id": "failed-1", "input": {}}') is None
    assert client.started == [("orchestrator", "o-1", {"definition": {"workflow": "w", "start": "s"}, "input": {"a": 1}})]
    assert poisoned(starter.poison) == []


@pytest.mark.parametrize("text", [b"not json", b'{"input": {}}', b'{"instance_id": "a/b", "input": {}}',
                                  b'{"instance_id": "x", "input": [1]}'])
def test_an_unreadable_start_message_goes_to_the_poison_queue(starter, text):
    client = FakeDurableClient({})
    assert run_async(starter.starter.start("m", text, client)) is None
    assert client.started == [] and poisoned(starter.poison) == [text.decode()]


def test_an_app_without_its_definition_or_handler_fails_at_start_not_at_first_call():
    with pytest.raises(RuntimeError, match="ANYCLOUD_DEFINITION is not set"):
        entry.Starter({"ANYCLOUD_TRIGGER_QUEUE": "q", "ANYCLOUD_TRIGGER__queueServiceUri": "https://a"})
    with pytest.raises(RuntimeError, match="ANYCLOUD_HANDLER is not set"):
        entry.Instance({"ANYCLOUD_TRIGGERS": "route"}, context=Context(tables={}, queues={}, workflows={}, secrets={}))


def test_an_unfinished_idempotency_record_is_held_for_the_functions_timeout_only(entra):  # noqa: F811
    """A record left "in progress" by a crashed invocation stops blocking retries once no live
    invocation could still be running: the rendered timeout and a margin (600 s when unknown)."""
    context = Context(tables={"idempotency": memory.Table("id")}, queues={}, workflows={}, secrets={})
    env = {"ANYCLOUD_HANDLER": "tests.support.sample_handlers:consume", "ANYCLOUD_TRIGGERS": "route",
           **caller_settings(entra)}
    assert entry.Instance({**env, "ANYCLOUD_TIMEOUT_S": "30"}, context=context).in_progress_s == 40
    assert entry.Instance(env, context=context).in_progress_s == 600


def test_an_unresolved_key_vault_reference_fails_the_read_with_a_logged_configuration_error(caplog):
    """App Service leaves `@Microsoft.KeyVault(...)` in the setting when it cannot resolve it: the
    text must never be used as the secret."""
    from runtime.azure.entry import UNRESOLVED_SECRET, SecretUnavailable, build_context

    reference = "@Microsoft.KeyVault(SecretUri=https://orders-secrets.vault.azure.net/secrets/payment-api-key/)"
    context = build_context({"ANYCLOUD_SECRET_PAYMENT_API_KEY": reference, "ANYCLOUD_SECRET_OTHER": "plain"}, clients=None)
    with caplog.at_level("ERROR", logger="anycloud"), pytest.raises(SecretUnavailable) as raised:
        context.secrets["payment-api-key"].get()
    assert UNRESOLVED_SECRET in str(raised.value) and reference not in str(raised.value)
    assert [r.getMessage() for r in caplog.records if UNRESOLVED_SECRET in r.getMessage()]
    assert context.secrets["other"].get() == "plain"
