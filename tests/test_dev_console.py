"""The console page of `anycloud dev` (components/dev/console.py), against a small fake of the
service interface it reads (/_anycloud: DevService's routes, tables, queues, engine, invocations)
with the real workflow engine and the real dev store behind it: every page shows what it
promises, every value is escaped, a re-drive calls the queue and redirects, unknown paths are 404.

Pages are parsed with the standard library's HTML parser, so the assertions are about what a
browser would show (text, links, forms, elements), not about substrings of markup.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from runtime.contracts import TaskError

from components.dev import console
from components.dev.engine import Engine
from components.dev.queues import DeadLetter
from components.dev.service import Invocation, RouteInfo
from components.dev.store import Store
from components.spec import JwtAuth, ServiceSpec, Task
from tests.services import REFERENCE
from tests.support.workflow_scenarios import flow

ROOT = Path(__file__).resolve().parent.parent
EVIL = "<script>alert('pwned')</script>"
#: A bound on waits that only a broken engine reaches (never a timing assertion).
HANG_S = 10
NOW = datetime.now().timestamp()


# ----------------------------------------------------------------------------- the fake


class FakeQueue:
    """DevQueue's interface: depth, dead letters, and re-drive (recorded)."""

    def __init__(self, name: str, consumer: str, depth: int = 0, letters: list[DeadLetter] | None = None):
        self.name, self.consumer, self._depth = name, consumer, depth
        self.letters = list(letters or [])
        self.redriven: list[str] = []
        self.sent: list[Any] = []

    def depth(self) -> int:
        return self._depth

    def send(self, body: Any) -> str:
        self.sent.append(body)
        self._depth += 1
        return f"sent-{len(self.sent)}"

    def dead_letters(self) -> list[DeadLetter]:
        return list(self.letters)

    def redrive(self, message_id: str) -> bool:
        self.redriven.append(message_id)
        found = [d for d in self.letters if d.id == message_id]
        if not found:
            return False
        self.letters.remove(found[0])
        self._depth += 1
        return True


@dataclass
class FakeService:
    spec: ServiceSpec
    engine: Engine
    tables: dict
    queues: dict
    stack: str = "dev"
    started_at: float = 0.0
    routes: list = field(default_factory=list)
    invocations: list = field(default_factory=list)
    streams: dict = field(default_factory=dict)
    #: The stack's reading: `auth` is the JWT non-public routes need (None: open, as on a dev stack).
    loaded: Any = field(default_factory=lambda: SimpleNamespace(auth=None))


SIMPLE = flow("simple", {"work": Task(function="work", result="out")})


class Tasks:
    """The engine's `invoke`: fulfil-order's tasks answer, charge-payment declines for a
    total of 13, `work` waits for `release` (a running execution)."""

    def __init__(self):
        self.release = threading.Event()

    def __call__(self, function: str, state: dict, timeout_s: float | None) -> Any:
        if function == "charge-payment" and state["order"]["total"] == 13:
            raise TaskError("PaymentDeclined", "card declined: <insufficient funds>")
        if function == "work":
            assert self.release.wait(HANG_S)
        return {"by": function}


@pytest.fixture
def service():
    tasks = Tasks()
    engine = Engine([*REFERENCE.workflows, SIMPLE], tasks, time_scale=0)
    spec = REFERENCE.model_copy(update={"workflows": (*REFERENCE.workflows, SIMPLE)})
    store = Store(None)
    tables = {t.name: store.table(t) for t in REFERENCE.tables}
    queues = {"orders": FakeQueue("orders", "process-order", depth=3, letters=[
        DeadLetter("m-1", {"order_id": "nope"}, 5, "OrderNotFound: order nope not found", NOW - 30),
        DeadLetter("m-2", "not json at all", 5, "ValidationError: body", NOW - 10),
    ])}
    routes = [RouteInfo(r.method, r.path, r.function, r.public) for r in REFERENCE.api.routes]
    made = FakeService(spec, engine, tables, queues, routes=routes, started_at=time.time() - 75)
    made.tasks = tasks
    yield made
    tasks.release.set()
    assert engine.stop()
    store.close()


def start(service: FakeService, workflow: str, execution_id: str, state: dict, *, wait: bool = True):
    assert service.engine.start(workflow, execution_id, state)
    if wait:
        assert service.engine.wait(workflow, execution_id, HANG_S).status != "RUNNING"


# ---------------------------------------------------------------------------- reading pages


class Parsed(HTMLParser):
    """What a browser would show of a page: its text, links, forms, elements and meta refresh."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[str] = []
        self.icons: list[str] = []
        self.forms: list[dict] = []
        self.refresh: str | None = None
        self.chunks: list[str] = []
        self._hidden = 0
        self.feed(page)
        self.close()
        self.text = " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag in ("style", "title"):
            self._hidden += 1
        if tag == "a":
            self.links.append(attrs["href"])
        if tag == "link":
            self.icons.append(attrs["href"] if attrs.get("rel") == "icon" else f"not an icon: {attrs}")
        if tag == "form":
            self.forms.append(attrs)
        if tag == "meta" and attrs.get("http-equiv") == "refresh":
            self.refresh = attrs["content"]

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.chunks.append(data)


def get(service, path: str, query: dict | None = None, status: int = 200) -> Parsed:
    code, headers, body = console.handle(service, "GET", path, query or {}, {})
    assert code == status, body.decode()
    assert headers["content-type"] == "text/html; charset=utf-8"
    page = Parsed(body.decode())
    assert "script" not in page.tags
    return page


def local(at: float) -> str:
    """The time of day as the console shows a time of today."""
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


# ------------------------------------------------------------------------------ overview


def test_the_overview_shows_the_service_its_routes_queues_tables_workflows_and_invocations(service):
    service.tables["orders"].put({"order_id": "o-1", "customer_id": "c-1", "created_at": "2026-01-01"})
    service.tables["orders"].put({"order_id": "o-2", "customer_id": "c-1", "created_at": "2026-01-02"})
    start(service, "fulfil-order", "ok-1", {"order": {"id": "o-1", "total": 25}})
    start(service, "fulfil-order", "declined-1", {"order": {"id": "o-2", "total": 13}})
    start(service, "simple", "held", {}, wait=False)
    service.invocations = [Invocation(NOW - 5 + i, f"fn-{i}", "route", "ok", 1.5, f"req-{i}", f"GET /x{i} 200")
                           for i in range(12)]
    page = get(service, "/_anycloud")
    text = page.text
    assert f"{REFERENCE.name} on anycloud dev stack dev" in text and re.search(r"up 1 min 1\d s", text)
    for route in REFERENCE.api.routes:
        assert f"{route.method} {route.path} {route.function} {'public' if route.public else 'open'}" in text
    assert "The stack sets no apiAuth: every route is open" in text
    assert "/health" in page.links  # a GET route without parameters opens from the page
    assert "orders process-order 3 2" in text  # depth 3, two dead letters
    assert "orders order_id 2" in text and "idempotency id 0" in text
    assert "fulfil-order 0 1 1 0 2" in text  # running, succeeded, failed, aborted, total
    assert "simple 1 0 0 0 1" in text
    # the ten newest invocations, newest first, and a link to all
    assert "fn-11" in text and "fn-2 " in text and "fn-1 " not in text
    assert text.index("fn-11") < text.index("fn-10") < text.index("fn-2 ")
    assert "/_anycloud/invocations" in page.links and "All 12 recent invocations" in text
    assert {"/_anycloud/queues/orders", "/_anycloud/tables/orders", "/_anycloud/workflows/fulfil-order"} <= set(page.links)
    assert page.refresh == f"{console.REFRESH_S}; url=/_anycloud"


def test_routes_not_public_need_a_token_where_the_stack_sets_auth(service):
    service.loaded = SimpleNamespace(auth=JwtAuth(issuer="https://auth.example.com/", audience=("orders-api",)))
    text = get(service, "/_anycloud").text
    assert "POST /orders create-order token" in text and "GET /health health public" in text
    assert "Routes not public take a bearer token for https://auth.example.com/" in text


def test_the_refresh_pauses_and_resumes(service):
    page = get(service, "/_anycloud", {"refresh": "off"})
    assert page.refresh is None and "auto-refresh paused" in page.text and "/_anycloud" in page.links
    assert "/_anycloud?refresh=off" in get(service, "/_anycloud").links


def test_every_page_is_self_contained_and_forbids_scripts(service):
    """Nothing fetched from the internet (no script, stylesheet or image from elsewhere), and
    the policy refuses anything but the page's own inline style."""
    code, headers, body = console.handle(service, "GET", "/_anycloud", {}, {})
    page = body.decode()
    assert "http://" not in page and "https://" not in page
    parsed = Parsed(page)
    assert {"img", "script", "iframe", "object"}.isdisjoint(parsed.tags)
    assert parsed.icons == ["data:,"]  # no request for /favicon.ico to the service's API
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]


# ------------------------------------------------------------------------------ queues


def test_the_queue_page_lists_dead_letters_with_a_redrive_form_each(service):
    page = get(service, "/_anycloud/queues/orders")
    text = page.text
    assert "consumer process-order" in text and "depth 3" in text and "dead letters 2" in text and "max receives 5" in text
    # newest first: m-2, then m-1, each with its time, id, receive count, error and body
    assert f"{local(NOW - 10)}" in text and f"{local(NOW - 30)}" in text
    assert text.index("m-2") < text.index("m-1")
    assert "m-1 5 OrderNotFound: order nope not found" in text and '"order_id": "nope"' in text
    assert "not json at all" in text
    assert [(f["method"], f["action"]) for f in page.forms] == [
        ("post", "/_anycloud/queues/orders/redrive/m-2"), ("post", "/_anycloud/queues/orders/redrive/m-1")]
    assert page.refresh == f"{console.REFRESH_S}; url=/_anycloud/queues/orders"


def test_a_long_error_is_folded_after_its_start_and_kept_whole(service):
    error = "ValidationError: " + "x" * 300 + " the end"
    service.queues["orders"].letters = [DeadLetter("m-3", {}, 5, error, NOW)]
    page = get(service, "/_anycloud/queues/orders")
    assert "details" in page.tags and "summary" in page.tags
    assert error[:160] + "… …" + error[160:] in page.text


def test_a_redrive_calls_the_queue_and_redirects_to_its_page_which_says_so(service):
    queue = service.queues["orders"]
    status, headers, body = console.handle(service, "POST", "/_anycloud/queues/orders/redrive/m-1", {}, {})
    assert (status, body) == (303, b"")
    assert queue.redriven == ["m-1"]
    target = urlsplit(headers["location"])
    assert target.path == "/_anycloud/queues/orders" and parse_qs(target.query) == {"redriven": ["m-1"]}
    page = get(service, target.path, parse_qs(target.query))
    assert "Message m-1 is back on the queue" in page.text
    assert [f["action"] for f in page.forms] == ["/_anycloud/queues/orders/redrive/m-2"]
    # the page reloads without the note, so it does not stay forever
    assert page.refresh.endswith("url=/_anycloud/queues/orders")


def test_redriving_an_unknown_message_redirects_and_says_it_is_not_there(service):
    status, headers, _ = console.handle(service, "POST", "/_anycloud/queues/orders/redrive/m-9", {}, {})
    assert status == 303 and service.queues["orders"].redriven == ["m-9"]
    target = urlsplit(headers["location"])
    assert "No dead letter m-9 on this queue" in get(service, target.path, parse_qs(target.query)).text


def test_a_message_id_with_slashes_and_spaces_round_trips_through_the_form(service):
    odd = "a/b c?d%e"
    service.queues["orders"].letters = [DeadLetter(odd, {}, 5, "boom", NOW)]
    (form,) = get(service, "/_anycloud/queues/orders").forms
    status, headers, _ = console.handle(service, "POST", form["action"], {}, {})
    assert status == 303 and service.queues["orders"].redriven == [odd]
    assert parse_qs(urlsplit(headers["location"]).query) == {"redriven": [odd]}


def test_a_redrive_takes_only_post_and_pages_take_no_post(service):
    status, headers, _ = console.handle(service, "GET", "/_anycloud/queues/orders/redrive/m-1", {}, {})
    assert status == 405 and headers["allow"] == "POST"
    status, headers, _ = console.handle(service, "POST", "/_anycloud/queues/orders", {}, {})
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert service.queues["orders"].redriven == []


def test_a_message_is_sent_from_a_form_of_its_own_and_the_queue_page_says_so(service):
    queue = service.queues["orders"]
    assert "/_anycloud/queues/orders/send" in get(service, "/_anycloud/queues/orders").links
    form_page = get(service, "/_anycloud/queues/orders/send")
    assert form_page.refresh is None  # it must not reload under someone typing
    assert [(f["method"], f["action"]) for f in form_page.forms] == [("post", "/_anycloud/queues/orders/send")]
    assert "textarea" in form_page.tags and "process-order gets it as the message body" in form_page.text
    status, headers, _ = console.handle(service, "POST", "/_anycloud/queues/orders/send", {},
                                        {"body": ['{"order_id": "nope", "n": [1, 2]}']})
    assert status == 303 and queue.sent == [{"order_id": "nope", "n": [1, 2]}]
    target = urlsplit(headers["location"])
    assert target.path == "/_anycloud/queues/orders" and parse_qs(target.query) == {"sent": ["sent-1"]}
    assert "Sent message sent-1 to the consumer" in get(service, target.path, parse_qs(target.query)).text


def test_a_body_that_is_not_json_is_the_form_again_with_the_reason_and_the_text(service):
    code, _, body = console.handle(service, "POST", "/_anycloud/queues/orders/send", {}, {"body": "{order_id: " + EVIL})
    page = Parsed(body.decode())
    assert code == 400 and service.queues["orders"].sent == []
    assert "body: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))" in page.text
    assert "{order_id: " + EVIL in page.text and "script" not in page.tags and EVIL not in body.decode()
    code, _, body = console.handle(service, "POST", "/_anycloud/queues/orders/send", {}, {})
    assert code == 400 and "body: not JSON (Expecting value" in Parsed(body.decode()).text


def test_a_queue_without_dead_letters_says_what_lands_there(service):
    service.queues["orders"].letters = []
    page = get(service, "/_anycloud/queues/orders")
    assert "No dead letters. A message lands here after 5 failed deliveries" in page.text and not page.forms


# ------------------------------------------------------------------------------ tables


def test_the_table_page_shows_items_newest_first_or_by_key_with_the_ttl_as_a_time(service):
    orders = service.tables["orders"]
    for order_id in ("o-b", "o-c", "o-a"):
        orders.put({"order_id": order_id, "customer_id": "c-1", "status": "PENDING", "expires_at": NOW + 3600})
    page = get(service, "/_anycloud/tables/orders")
    text = page.text
    assert "key order_id" in text and "items 3" in text and "indexes by-customer" in text and "expires by expires_at" in text
    assert text.index('"o-a"') < text.index('"o-c"') < text.index('"o-b"')  # newest first
    assert 'status "PENDING"' in text and f"(expires {local(NOW + 3600)}" in text
    assert page.refresh is None  # browsing does not reload under the reader
    text = get(service, "/_anycloud/tables/orders", {"order": ["key"]}).text
    assert text.index('"o-a"') < text.index('"o-b"') < text.index('"o-c"')


def test_a_table_stream_shows_its_consumer_and_dead_changes_which_redrive(service):
    from components.dev.streams import DevStream
    from components.spec import StreamSpec

    spec = next(t for t in REFERENCE.tables if t.name == "orders")
    spec = spec.model_copy(update={"stream": StreamSpec(consumer="process-order", max_receives=2)})
    store = Store(None)
    orders = store.table(spec)
    stream = DevStream(spec, store, lambda m: (_ for _ in ()).throw(LookupError("no such customer")), time_scale=0)
    service.tables["orders"], service.streams["orders"] = orders, stream
    orders.put({"order_id": "o-1", "customer_id": "c-1", "status": "PENDING"})
    stream._deliver_batch()
    stream._deliver_batch()  # the second failed delivery: a dead change
    text = get(service, "/_anycloud").text
    assert "Stream to Dead changes" in text and "process-order 1" in text
    page = get(service, "/_anycloud/tables/orders")
    assert "stream to process-order" in page.text and "changes waiting 0" in page.text
    assert "orders:1 2 LookupError: no such customer" in page.text and '"order_id": "o-1"' in page.text
    assert [(f["method"], f["action"]) for f in page.forms] == [("post", "/_anycloud/tables/orders/redrive/1")]
    status, headers, _ = console.handle(service, "POST", "/_anycloud/tables/orders/redrive/1", {}, {})
    assert (status, headers["location"]) == (303, "/_anycloud/tables/orders?redriven=orders%3A1")
    assert stream.depth() == 1 and stream.dead_letters() == []
    status, headers, _ = console.handle(service, "POST", "/_anycloud/tables/orders/redrive/1", {}, {})
    assert "Change orders:1 is back" not in get(service, "/_anycloud/tables/orders", {"gone": ["orders:1"]}).text
    assert headers["location"] == "/_anycloud/tables/orders?gone=orders%3A1"
    store.close()


def test_the_table_page_is_paged(service):
    orders = service.tables["orders"]
    for i in range(console.TABLE_ROWS + 5):
        orders.put({"order_id": f"o-{i:03d}"})
    first = get(service, "/_anycloud/tables/orders", {"order": "key"})
    assert '"o-000"' in first.text and f'"o-{console.TABLE_ROWS - 1:03d}"' in first.text
    assert f'"o-{console.TABLE_ROWS:03d}"' not in first.text and "page 1 of 2 (30 in all)" in first.text
    assert "/_anycloud/tables/orders?order=key&page=2" in first.links
    second = get(service, "/_anycloud/tables/orders", {"order": "key", "page": "2"})
    assert f'"o-{console.TABLE_ROWS:03d}"' in second.text and '"o-000"' not in second.text
    # past the end: the last page
    assert get(service, "/_anycloud/tables/orders", {"order": "key", "page": "9"}).text == second.text


@pytest.mark.parametrize("query, message", [
    ({"order": "sideways"}, "order: 'sideways' is not allowed; use newest or key"),
    ({"page": "0"}, "page: '0' is not allowed; use a whole number from 1"),
    ({"page": "two"}, "page: 'two' is not allowed; use a whole number from 1"),
])
def test_a_bad_table_parameter_is_a_400_naming_it(service, query, message):
    assert message in get(service, "/_anycloud/tables/orders", query, status=400).text


def test_an_empty_table_says_so(service):
    assert "No items." in get(service, "/_anycloud/tables/idempotency").text


# ---------------------------------------------------------------------------- workflows


def test_the_workflow_page_lists_executions_newest_first_with_their_status(service):
    start(service, "fulfil-order", "first", {"order": {"id": "o-1", "total": 25}})
    start(service, "fulfil-order", "second", {"order": {"id": "o-2", "total": 13}})
    page = get(service, "/_anycloud/workflows/fulfil-order")
    text = page.text
    assert "executions 2" in text and "succeeded 1" in text and "failed 1" in text
    assert text.index("second FAILED") < text.index("first SUCCEEDED")
    assert "OrderFailed" in text
    for execution in service.engine.executions("fulfil-order"):
        assert f"{local(execution.started)}" in text and f"{local(execution.ended)}" in text
    assert {"/_anycloud/workflows/fulfil-order/executions/first",
            "/_anycloud/workflows/fulfil-order/executions/second"} <= set(page.links)
    assert page.refresh.endswith("url=/_anycloud/workflows/fulfil-order")


def test_an_execution_page_shows_input_output_and_the_engines_history(service):
    start(service, "fulfil-order", "o-1", {"order": {"id": "o-1", "total": 25}})
    execution = service.engine.get("fulfil-order", "o-1")
    page = get(service, "/_anycloud/workflows/fulfil-order/executions/o-1")
    text = page.text
    assert "Execution o-1" in text and "status SUCCEEDED" in text
    assert '"total": 25' in text.split("Input", 1)[1]
    assert '"by": "ship"' in text.split("Output", 1)[1]  # the parallel step's result in the output
    history = text.split("History", 1)[1]
    # every event the engine recorded, in order (a ValueError here names the one missing)
    cursor = 0
    for event in execution.history:
        cursor = history.index(f"{event.step or ''} {event.type}".strip(), cursor)
    assert len(execution.history) > 20
    assert "reserve-stock" in history and "TaskScheduled" in history and "function \"reserve-stock\"" in history
    assert "ship-and-notify[0]" in history and "ship-and-notify[1]" in history  # the branch column
    assert page.refresh is None  # it ended: nothing changes any more


def test_a_failed_execution_shows_its_error_and_cause(service):
    start(service, "fulfil-order", "o-2", {"order": {"id": "o-2", "total": 13}})
    text = get(service, "/_anycloud/workflows/fulfil-order/executions/o-2").text
    assert "status FAILED" in text
    assert "Error OrderFailed Payment declined or stock unavailable; stock released" in text
    history = text.split("History", 1)[1]
    assert "TaskFailed" in history and '"PaymentDeclined"' in history and "card declined: <insufficient funds>" in history
    assert "Caught" in history


def test_a_running_execution_reloads_itself_until_it_ends(service):
    start(service, "simple", "held/1", {"n": 1}, wait=False)
    page = get(service, "/_anycloud/workflows/simple/executions/held%2F1")
    assert "status RUNNING" in page.text and "ended not yet" in page.text
    assert page.refresh.endswith("url=/_anycloud/workflows/simple/executions/held%2F1")
    service.tasks.release.set()
    assert service.engine.wait("simple", "held/1", HANG_S).status == "SUCCEEDED"
    page = get(service, "/_anycloud/workflows/simple/executions/held%2F1")
    assert "status SUCCEEDED" in page.text and page.refresh is None


# --------------------------------------------------------------------------- invocations


def test_the_invocations_page_lists_newest_first_filters_by_function_and_links_task_executions(service):
    service.invocations = [
        Invocation(NOW - 3, "create-order", "route", "ok", 2.25, "req-1", "POST /orders 202"),
        Invocation(NOW - 2, "process-order", "consumer", "retry", 500, "msg-1", "OrderNotFound"),
        Invocation(NOW - 1, "charge-payment", "task", "error", 1500, "o-7", "TaskError PaymentDeclined"),
    ]
    page = get(service, "/_anycloud/invocations")
    text = page.text
    assert text.index("charge-payment") < text.index("process-order") < text.index("create-order")
    assert f"{local(NOW - 3)}" in text and "create-order route ok 2.2 ms req-1 POST /orders 202" in text
    assert "process-order consumer retry 500 ms msg-1 OrderNotFound" in text
    assert "charge-payment task error 1.50 s o-7 TaskError PaymentDeclined" in text
    assert "/_anycloud/workflows/fulfil-order/executions/o-7" in page.links
    only = get(service, "/_anycloud/invocations", {"function": ["process-order"]})
    assert "msg-1" in only.text and "req-1" not in only.text and "o-7" not in only.text
    assert only.refresh.endswith("url=/_anycloud/invocations?function=process-order")


def test_invocations_are_paged(service):
    service.invocations = [Invocation(NOW, "health", "route", "ok", 0.1, f"req-{i:03d}") for i in range(console.LIST_ROWS + 1)]
    first = get(service, "/_anycloud/invocations")
    assert f"req-{console.LIST_ROWS:03d}" in first.text and "req-000" not in first.text
    assert "req-000" in get(service, "/_anycloud/invocations", {"page": "2"}).text


# ------------------------------------------------------------------------------ escaping


def test_every_value_from_the_service_is_shown_not_run(service):
    service.tables["orders"].put({"order_id": EVIL, "note": EVIL})
    service.queues["orders"].letters = [DeadLetter(EVIL, {"html": EVIL}, 5, EVIL, NOW)]
    service.invocations = [Invocation(NOW, "create-order", "route", "error", 1, EVIL, EVIL)]
    start(service, "simple", EVIL, {"x": EVIL}, wait=False)
    service.tasks.release.set()
    service.engine.wait("simple", EVIL, HANG_S)
    for path, query in [("/_anycloud", {}), ("/_anycloud/queues/orders", {}), ("/_anycloud/tables/orders", {}),
                        ("/_anycloud/invocations", {}), ("/_anycloud/workflows/simple", {}),
                        ("/_anycloud/workflows/simple/executions/" + quote(EVIL, safe=""), {}),
                        ("/_anycloud/queues/orders", {"redriven": EVIL}), ("/_anycloud/queues/orders", {"gone": EVIL}),
                        ("/_anycloud/invocations", {"function": EVIL}), ("/_anycloud/tables/orders", {"order": EVIL})]:
        _, _, body = console.handle(service, "GET", path, query, {})
        page = Parsed(body.decode())
        assert "script" not in page.tags and EVIL not in body.decode(), (path, query)
        assert EVIL in page.text, (path, query)
    # the form's action carries the id percent-encoded, and posting it re-drives that id
    (form,) = get(service, "/_anycloud/queues/orders").forms
    assert console.handle(service, "POST", form["action"], {}, {})[0] == 303
    assert service.queues["orders"].redriven == [EVIL]


# ------------------------------------------------------------------------------ 404 and co


@pytest.mark.parametrize("path, message", [
    ("/_anycloud/nowhere", "/_anycloud/nowhere is not a console page"),
    ("/_anycloud/queues/orders/extra", "is not a console page"),
    ("/_anycloudy", "is not a console page; the console is at /_anycloud"),
    ("/_anycloud/queues/jobs", "no queue 'jobs' in this service; declared: orders"),
    ("/_anycloud/queues/jobs/send", "no queue 'jobs' in this service; declared: orders"),
    ("/_anycloud/tables/people", "no table 'people' in this service; declared: orders, idempotency"),
    ("/_anycloud/workflows/refund", "no workflow 'refund' in this service; declared: fulfil-order, simple"),
    ("/_anycloud/workflows/fulfil-order/executions/e-404", "workflow fulfil-order has no execution 'e-404'"),
])
def test_unknown_paths_and_names_are_a_404_page(service, path, message):
    page = get(service, path, status=404)
    assert "404 Not found" in page.text and message in page.text and "/_anycloud" in page.links


def test_redriving_on_an_unknown_queue_is_a_404(service):
    status, _, body = console.handle(service, "POST", "/_anycloud/queues/jobs/redrive/m-1", {}, {})
    assert status == 404 and "no queue 'jobs'" in Parsed(body.decode()).text
    assert service.queues["orders"].redriven == []


def test_head_answers_the_headers_without_a_body(service):
    status, headers, body = console.handle(service, "HEAD", "/_anycloud/tables/orders", {}, {})
    assert (status, body) == (200, b"") and headers["content-type"].startswith("text/html")


def test_times_are_local_with_the_offset_named(service):
    page = get(service, "/_anycloud/queues/orders")
    raw = datetime.now().astimezone().strftime("%z")
    offset = f"UTC{raw[:3]}:{raw[3:]}"
    assert f"Times are this machine's local time" in page.text and offset in page.text
    # a time before today shows its date
    service.queues["orders"].letters = [DeadLetter("old", {}, 5, "x", NOW - 3 * 86400)]
    assert datetime.fromtimestamp(NOW - 3 * 86400).strftime("%Y-%m-%d %H:%M:%S") in get(service, "/_anycloud/queues/orders").text


def test_importing_the_console_loads_no_cloud_sdk():
    code = (
        "import sys; sys.path.insert(0, 'functions'); before = set(sys.modules)\n"
        "import components.dev.console\n"
        "loaded = set(sys.modules) - before\n"
        "bad = sorted(m for m in loaded if m.split('.')[0] in ('boto3', 'botocore', 'google', 'azure', 'pulumi')"
        " or m.startswith('pulumi_'))\n"
        "print(len(loaded), bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) > 0 and " ".join(out[1:]) == "[]"
