"""The console of `anycloud dev` (`/_anycloud`): what the local service holds and did, for a person
with a browser. The dev server hands it every request under the prefix:
``handle(service, method, path, query, form) -> (status, headers, body)``.

Pages: the overview (the service, its routes, queues, tables, workflows, recent invocations), a
queue (its dead letters, each with a re-drive button: a POST form), a form to send a queue a
message (to poke a consumer, or make a poison message), a table (its items, newest first or by
key, paged), a workflow (its executions) and an execution (input, output or error, the engine's
history), the invocations; anything else is a 404 page. The two actions, re-drive and send,
answer 303 back to the queue's page, so reloading it never does them twice.

Plain HTML rendered here, with no script and nothing fetched from anywhere (the CSS is inline;
the Content-Security-Policy forbids every other source), so it works offline. Every value that
comes from the service (items, message bodies, errors, ids) goes through `html.escape`: the
page shows a stored ``<script>``, never runs it. Pages that change reload themselves every
REFRESH_S seconds with ``<meta http-equiv="refresh">`` (a link pauses it). Times are the
machine's local time: the browser and the server are the developer's one machine.

It reads the service only through what components/dev/service.py gives the console (``spec,
stack, started_at, routes, loaded.auth, tables, queues, streams, engine, invocations``; a queue's
``depth, dead_letters, redrive, send``) and imports no cloud SDK.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

from components.dev.engine import ABORTED, FAILED, RUNNING, SUCCEEDED, Execution

__all__ = ["PREFIX", "REFRESH_S", "handle"]

PREFIX = "/_anycloud"
#: Seconds between reloads of a page that changes (the overview, a queue, a workflow, a running
#: execution, the invocations).
REFRESH_S = 2
#: Rows per page: items are tall, executions and invocations one line each.
TABLE_ROWS, LIST_ROWS = 25, 50
#: Invocations on the overview.
RECENT = 10
#: A JSON value longer than this is folded into a <details> showing its start.
FOLD_AT = 120

_STATUS_CLASS = {RUNNING: "run", SUCCEEDED: "ok", FAILED: "bad", ABORTED: "muted"}
_OUTCOME_CLASS = {"ok": "ok", "error": "bad", "dead-letter": "bad", "retry": "warn"}
_EVENT_CLASS = {
    "ExecutionStarted": "run", "TaskScheduled": "run",
    "ExecutionSucceeded": "ok", "TaskSucceeded": "ok",
    "ExecutionFailed": "bad", "TaskFailed": "bad", "StepFailed": "bad",
    "RetryScheduled": "warn", "Caught": "warn", "ExecutionAborted": "muted",
}
# No script, no frame, no source but this page itself: a value that slipped past escaping
# still could not run, and nothing is fetched from the internet. The icon is an empty data: URL,
# so the browser does not ask the service's API for /favicon.ico on every page.
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'")
_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": _CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}

_CSS = """
:root{--fg:#1f2328;--dim:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--link:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
header{display:flex;gap:1.2em;align-items:baseline;flex-wrap:wrap;padding:.7em 1.5em;background:#24292f;color:#fff}
header a{color:#fff;text-decoration:none}header a:hover{text-decoration:underline}
header .brand{font-weight:700;font-size:1.1em}header .where{color:#c9d1d9}
header nav{display:flex;gap:1em}header .refresh{margin-left:auto;color:#c9d1d9;font-size:.9em}
header .refresh a{color:#c9d1d9;text-decoration:underline}
main{padding:1em 1.5em 2em;max-width:1400px}
h1{font-size:1.5em;margin:.3em 0 .2em}h2{font-size:1.15em;margin:0 0 .5em}
.crumbs{color:var(--dim);font-size:.9em}.crumbs a{color:var(--link)}
a{color:var(--link)}
.facts{display:flex;flex-wrap:wrap;gap:.4em 1.8em;margin:.6em 0 1em;color:var(--dim)}.facts b{color:var(--fg)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1.2em}
section{border:1px solid var(--line);border-radius:8px;padding:1em;margin:0 0 1.2em;background:#fff;min-width:0}
.grid{margin-bottom:1.2em}.grid section{margin:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.35em .6em;border-bottom:1px solid var(--line)}
th{background:var(--bg);font-weight:600;font-size:.9em;color:var(--dim)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nowrap,th.nowrap{white-space:nowrap}td.wide{min-width:24em;max-width:48em}
tr:hover td{background:#fafbfc}
code,pre,.mono{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:0;white-space:pre-wrap;word-break:break-word;background:var(--bg);padding:.5em .6em;border-radius:6px;max-height:28em;overflow:auto}
td pre{max-height:14em}
details summary{cursor:pointer;color:var(--dim)}
.attr{word-break:break-word}.attr .k{color:var(--dim)}
.badge{display:inline-block;padding:.05em .55em;border-radius:1em;font-size:.85em;font-weight:600;white-space:nowrap}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}.run{background:#ddf4ff;color:#0550ae}
.warn{background:#fff8c5;color:#7d4e00}.muted{background:#eaeef2;color:#424a53}
.zero{color:var(--dim)}
.note{padding:.6em .9em;border-radius:6px;margin:.6em 0 1em}
.empty{color:var(--dim);font-style:italic}
.pager{display:flex;gap:1em;align-items:center;margin-top:.8em;color:var(--dim)}
.choice a,.choice b{margin-right:.8em}
button{font:inherit;font-size:.9em;padding:.2em .8em;border:1px solid #1f883d;border-radius:6px;background:#1f883d;color:#fff;cursor:pointer;white-space:nowrap}
button:hover{background:#1a7f37}
textarea{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;width:100%;max-width:60em;padding:.5em;border:1px solid var(--line);border-radius:6px}
label{font-weight:600}
footer{padding:1em 1.5em;color:var(--dim);font-size:.85em;border-top:1px solid var(--line)}
"""


class _Problem(Exception):
    """A request the console answers with an error page: 404 for an unknown path or name, 400
    for a bad parameter, 405 for a method the path does not take."""

    def __init__(self, status: int, title: str, message: str, allow: Sequence[str] = ()):
        super().__init__(message)
        self.status, self.title, self.message, self.allow = status, title, message, tuple(allow)


@dataclass(frozen=True)
class _Redirect:
    """An action's answer: 303 to `location`, so the browser then GETs it."""

    location: str


@dataclass
class _Page:
    """A page's parts: its body, the trail back to the overview, and the URL it reloads itself
    from (None: it does not change)."""

    title: str
    body: str
    crumbs: Sequence[tuple[str, str]] = ()
    refresh: str | None = None


# --------------------------------------------------------------------------- entry point


def handle(service: Any, method: str, path: str, query: Mapping[str, Any] | None,
           form: Mapping[str, Any] | None) -> tuple[int, dict[str, str], bytes]:
    """Answer one request under /_anycloud: (status, headers, body). `path` is the request's
    path (percent-encoded as sent), `query` and `form` its decoded parameters (a value or a
    list of values per name). Pages answer GET (and HEAD); the two actions answer POST with a
    303 to the queue's page: ``/_anycloud/queues/<queue>/redrive/<message id>`` re-drives
    that dead letter, ``/_anycloud/queues/<queue>/send`` sends the form's ``body`` (JSON)."""
    method = method.upper()
    headers = dict(_HEADERS)
    try:
        views, args = _route(path)
        if method not in views:
            allowed = list(views)
            raise _Problem(405, "Method not allowed", f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}",
                           allowed)
        answer = views[method](service, *args, (form if method == "POST" else query) or {})
        if isinstance(answer, _Redirect):
            return 303, {"location": answer.location, "cache-control": "no-store",
                         "content-type": "text/plain; charset=utf-8"}, b""
        page, status = answer if isinstance(answer, tuple) else (answer, 200)
    except _Problem as problem:
        page, status = _problem_page(problem), problem.status
        if problem.allow:
            headers["allow"] = ", ".join(problem.allow)
    body = b"" if method == "HEAD" else _document(service, page, query or {}).encode()
    return status, headers, body


def _page(view: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    return {"GET": view, "HEAD": view}


def _route(path: str) -> tuple[dict[str, Callable[..., Any]], tuple[str, ...]]:
    """The views of `path` by method, and their arguments (names and ids decoded)."""
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        raise _Problem(404, "Not found", f"{path} is not a console page; the console is at {PREFIX}")
    rest = path[len(PREFIX):].lstrip("/")
    parts = rest.split("/") if rest else []
    if parts and parts[-1] == "" and len(parts) <= 4:
        parts.pop()  # /_anycloud/queues/orders/ is /_anycloud/queues/orders
    match parts:
        case []:
            return _page(_overview), ()
        case ["invocations"]:
            return _page(_invocations), ()
        case ["queues", queue]:
            return _page(_queue), (unquote(queue),)
        case ["queues", queue, "send"]:
            return {**_page(_send_page), "POST": _send}, (unquote(queue),)
        case ["queues", queue, "redrive", *message] if any(message):
            return {"POST": _redrive}, (unquote(queue), unquote("/".join(message)))
        case ["tables", table]:
            return _page(_table), (unquote(table),)
        case ["tables", table, "redrive", seq] if seq.isdigit():
            return {"POST": _redrive_change}, (unquote(table), int(seq))
        case ["workflows", workflow]:
            return _page(_workflow), (unquote(workflow),)
        case ["workflows", workflow, "executions", *execution] if any(execution):
            return _page(_execution), (unquote(workflow), unquote("/".join(execution)))
    raise _Problem(404, "Not found", f"{path} is not a console page")


# --------------------------------------------------------------------------------- pages


def _overview(service: Any, query: Mapping[str, Any]) -> _Page:
    spec = service.spec
    invocations = list(service.invocations)
    facts = _facts([
        ("stack", _e(service.stack)),
        ("started", _when(service.started_at)), ("up", _e(_duration(time.time() - service.started_at))),
        ("invocations", _e(len(invocations))),
    ])
    # What the dev server asks of a caller: a token only where the stack (or declaration) sets
    # the JWT auth, as deployed; a dev stack usually sets none, so its routes are open.
    auth = service.loaded.auth
    guarded = _badge("token", "muted") if auth is not None else _badge("open", "muted")
    auth_note = (f"<p class=zero>Routes not public take a bearer token for {_e(auth.issuer)}; anycloud dev "
                 "takes the claims you choose.</p>" if auth is not None else
                 "<p class=zero>The stack sets no apiAuth: every route is open, as deployed on this stack.</p>")
    routes = _grid_table(
        ["Method", "Path", "Function", "Access"],
        [[f"<code>{_e(r.method)}</code>", _route_path(r), _function_link(r.function),
          _badge("public", "warn") if r.public else guarded] for r in service.routes],
        "No routes declared.") + (auth_note if service.routes else "")
    queues = _grid_table(
        ["Queue", "Consumer", ("Depth", "num"), ("Dead letters", "num")],
        [[_link(_queue_url(name), name), _function_link(queue.consumer), _count(queue.depth()),
          _count(len(queue.dead_letters()), "bad")] for name, queue in service.queues.items()],
        "No queues declared.")
    tables = _grid_table(
        ["Table", "Key", ("Items", "num"), "Stream to", ("Dead changes", "num")],
        [[_link(_table_url(name), name), _e(" + ".join(_key_names(spec, name))), _count(len(table.items())),
          *((_function_link(stream.consumer), _count(len(stream.dead_letters()), "bad"))
            if (stream := service.streams.get(name)) else ("<span class=zero>—</span>", ""))]
         for name, table in service.tables.items()],
        "No tables declared.")
    statuses = (RUNNING, SUCCEEDED, FAILED, ABORTED)
    workflow_rows = []
    for workflow in spec.workflows:
        counts = _by_status(service.engine.executions(workflow.name))
        workflow_rows.append([_link(_workflow_url(workflow.name), workflow.name),
                              *(_count(counts.get(s, 0), _STATUS_CLASS[s]) for s in statuses),
                              _count(sum(counts.values()))])
    workflows = _grid_table(["Workflow", *((s.title(), "num") for s in statuses), ("Total", "num")], workflow_rows,
                            "No workflows declared.")
    recent = _invocation_table(service, invocations[::-1][:RECENT])
    more = f'<p><a href="{PREFIX}/invocations">All {len(invocations)} recent invocations</a></p>' if invocations else ""
    body = (f"<h1>{_e(spec.name)} <span class=crumbs>on anycloud dev</span></h1>{facts}"
            f'<div class=grid><section><h2>Routes</h2>{routes}</section>'
            f"<section><h2>Queues</h2>{queues}</section>"
            f"<section><h2>Tables</h2>{tables}</section>"
            f"<section><h2>Workflows</h2>{workflows}</section></div>"
            f"<section><h2>Recent invocations</h2>{recent}{more}</section>")
    return _Page("Overview", body, refresh=PREFIX)


def _queue(service: Any, name: str, query: Mapping[str, Any]) -> _Page:
    queue = _lookup(service.queues, name, "queue")
    declared = next((q for q in service.spec.queues if q.name == name), None)
    letters = sorted(queue.dead_letters(), key=lambda d: d.at, reverse=True)
    notes = ""
    if (done := _param(query, "redriven")) is not None:
        notes = f"<p class='note ok'>Message <code>{_e(done)}</code> is back on the queue, its receive count reset.</p>"
    elif (gone := _param(query, "gone")) is not None:
        notes = (f"<p class='note warn'>No dead letter <code>{_e(gone)}</code> on this queue: "
                 "it was re-driven already, or never was one.</p>")
    elif (sent := _param(query, "sent")) is not None:
        notes = f"<p class='note ok'>Sent message <code>{_e(sent)}</code> to the consumer.</p>"
    facts = [("consumer", _function_link(queue.consumer)), ("depth", _e(queue.depth())),
             ("dead letters", _e(len(letters)))]
    if declared is not None:
        facts += [("batch size", _e(declared.batch_size)), ("max receives", _e(declared.max_receives))]
    rows = [[_when(d.at), f"<code>{_e(d.id)}</code>", _count(d.receive_count), _fold(d.error), _body(d.body),
             _redrive_button(name, d.id)] for d in letters]
    after = f" after {declared.max_receives} failed deliveries" if declared is not None else ""
    dead = _grid_table([("Dead-lettered", "nowrap"), ("Message", "nowrap"), ("Receives", "num"), "Last error",
                        ("Body", "wide"), ("", "nowrap")], rows,
                       f"No dead letters. A message lands here{after}; re-driving puts it back on the queue.")
    body = (f"<h1>Queue {_e(name)}</h1>{_facts(facts)}{notes}"
            f"<p>{_link(_queue_url(name) + '/send', 'Send a message…')}</p>"
            f"<section><h2>Dead letters</h2>{dead}</section>")
    return _Page(f"Queue {name}", body, [("Overview", PREFIX)], refresh=_queue_url(name))


def _send_page(service: Any, name: str, query: Mapping[str, Any], text: str = "", problem: str = "") -> _Page:
    """A form of its own, not on the queue's page: that page reloads itself, which would lose
    what the developer is typing."""
    queue = _lookup(service.queues, name, "queue")
    note = f"<p class='note bad'>{_e(problem)}</p>" if problem else ""
    body = (f"<h1>Send a message to {_e(name)}</h1>"
            f"<p>The consumer {_function_link(queue.consumer)} gets it as the message body, as from a deployed "
            f"queue: delivered at least once, retried when the consumer raises, then dead-lettered.</p>{note}"
            f'<form method=post action="{_e(_queue_url(name))}/send">'
            f'<p><label for=body>Body (JSON)</label><br><textarea id=body name=body rows=8 cols=80 required>'
            f"{_e(text)}</textarea></p><p><button type=submit>Send</button></p></form>")
    return _Page(f"Send to {name}", body, [("Overview", PREFIX), (f"Queue {name}", _queue_url(name))])


def _send(service: Any, name: str, form: Mapping[str, Any]) -> _Redirect | tuple[_Page, int]:
    """Send the form's JSON body on the queue, then back to the queue's page (303); a body that
    is not JSON is the form again, with the parser's reason and the text kept."""
    queue = _lookup(service.queues, name, "queue")
    text = _param(form, "body") or ""
    try:
        body = json.loads(text)
    except ValueError as err:
        problem = f"body: not JSON ({err}); write the message as JSON, e.g. {{\"order_id\": \"...\"}}"
        return _send_page(service, name, {}, text, problem), 400
    return _Redirect(f"{_queue_url(name)}?{urlencode({'sent': queue.send(body)})}")


def _redrive(service: Any, name: str, message_id: str, form: Mapping[str, Any]) -> _Redirect:
    """Put a dead letter back on its queue, then send the browser to the queue's page (303: a
    reload there is a GET, never a second re-drive), which says whether it was there."""
    queue = _lookup(service.queues, name, "queue")
    outcome = "redriven" if queue.redrive(message_id) else "gone"
    return _Redirect(f"{_queue_url(name)}?{urlencode({outcome: message_id})}")


def _table(service: Any, name: str, query: Mapping[str, Any]) -> _Page:
    table = _lookup(service.tables, name, "table")
    declared = next((t for t in service.spec.tables if t.name == name), None)
    keys = _key_names(service.spec, name)
    order = _param(query, "order") or "newest"
    if order not in ("newest", "key"):
        raise _Problem(400, "Bad request", f"order: {order!r} is not allowed; use newest or key")
    items = table.items()
    if order == "newest":
        items.reverse()
    else:
        items.sort(key=lambda item: tuple(_sortable(item.get(k)) for k in keys))
    ttl = declared.ttl_attribute if declared is not None else None
    url = _table_url(name)
    shown, pager = _paged(items, _page_number(query), TABLE_ROWS, url, {"order": order})
    rows = [[*(_value(item.get(k)) if k in item else "<span class=zero>—</span>" for k in keys),
             _attributes(item, keys, ttl)] for item in shown]
    choice = " ".join(f"<b>{label}</b>" if order == value else _link(f"{url}?order={value}", label)
                      for value, label in (("newest", "newest first"), ("key", "by key")))
    facts = [("key", _e(" + ".join(keys) or "?")), ("items", _e(len(items)))]
    if declared is not None and declared.indexes:
        facts.append(("indexes", _e(", ".join(i.name for i in declared.indexes))))
    if ttl:
        facts.append(("expires by", f"<code>{_e(ttl)}</code>"))
    listing = _grid_table([*keys, "Attributes"], rows, "No items.")
    changes = ""
    if (stream := service.streams.get(name)) is not None:
        facts += [("stream to", _function_link(stream.consumer)), ("changes waiting", _e(stream.depth()))]
        changes = _dead_changes(name, stream, query)
    body = (f"<h1>Table {_e(name)}</h1>{_facts(facts)}{changes}"
            f"<section><h2>Items</h2><p class=choice>Order: {choice}</p>{listing}{pager}</section>")
    return _Page(f"Table {name}", body, [("Overview", PREFIX)])


def _dead_changes(name: str, stream: Any, query: Mapping[str, Any]) -> str:
    """The stream's dead-lettered changes, newest first, each with a re-drive button."""
    notes = ""
    if (done := _param(query, "redriven")) is not None:
        notes = f"<p class='note ok'>Change <code>{_e(done)}</code> is back in the stream, its receive count reset.</p>"
    elif (gone := _param(query, "gone")) is not None:
        notes = f"<p class='note warn'>No dead change <code>{_e(gone)}</code>: it was re-driven already, or never was one.</p>"
    letters = sorted(stream.dead_letters(), key=lambda d: d.seq, reverse=True)
    action = lambda seq: f"{_table_url(name)}/redrive/{seq}"  # noqa: E731
    rows = [[_when(d.at), f"<code>{_e(d.id)}</code>", _count(d.receive_count), _fold(d.error), _body(d.body),
             f'<form method=post action="{_e(action(d.seq))}"><button type=submit>Re-drive</button></form>']
            for d in letters]
    dead = _grid_table([("Written", "nowrap"), ("Change", "nowrap"), ("Receives", "num"), "Last error", ("Body", "wide"),
                        ("", "nowrap")], rows,
                       f"No dead changes. A change lands here after {stream.spec.stream.max_receives} failed deliveries "
                       "to the stream's consumer; re-driving delivers it again.")
    return f"{notes}<section><h2>Dead changes</h2>{dead}</section>"


def _redrive_change(service: Any, name: str, seq: int, form: Mapping[str, Any]) -> _Redirect:
    """Deliver a dead-lettered change again, then back to the table's page (303)."""
    stream = _lookup(service.streams, name, "table stream")
    outcome = "redriven" if stream.redrive(seq) else "gone"
    return _Redirect(f"{_table_url(name)}?{urlencode({outcome: f'{name}:{seq}'})}")


def _workflow(service: Any, name: str, query: Mapping[str, Any]) -> _Page:
    spec = _lookup({w.name: w for w in service.spec.workflows}, name, "workflow")
    executions = service.engine.executions(name)[::-1]
    counts = _by_status(executions)
    url, page = _workflow_url(name), _page_number(query)
    shown, pager = _paged(executions, page, LIST_ROWS, url)
    rows = [[_link(_execution_url(name, x.id), x.id, code=True), _status(x.status), _when(x.started),
             _when(x.ended) if x.ended is not None else "", _e(_duration(_elapsed(x))),
             _e(x.error.get("error", "")) if x.error else ""] for x in shown]
    facts = [("start", f"<code>{_e(spec.start)}</code>"), ("steps", _e(len(spec.all_steps()))),
             ("executions", _e(len(executions))),
             *((status.lower(), _e(counts[status])) for status in (RUNNING, SUCCEEDED, FAILED, ABORTED) if counts.get(status))]
    listing = _grid_table([("Execution", "nowrap"), "Status", ("Started", "nowrap"), ("Ended", "nowrap"),
                           ("Duration", "num"), "Error"], rows,
                          "No executions yet.")
    body = f"<h1>Workflow {_e(name)}</h1>{_facts(facts)}<section><h2>Executions</h2>{listing}{pager}</section>"
    refresh = url if page == 1 else f"{url}?page={page}"
    return _Page(f"Workflow {name}", body, [("Overview", PREFIX)], refresh=refresh)


def _execution(service: Any, name: str, execution_id: str, query: Mapping[str, Any]) -> _Page:
    _lookup({w.name: w for w in service.spec.workflows}, name, "workflow")
    execution: Execution | None = service.engine.get(name, execution_id)
    if execution is None:
        raise _Problem(404, "Not found", f"workflow {name} has no execution {execution_id!r}")
    facts = _facts([("status", _status(execution.status)), ("started", _when(execution.started)),
                    ("ended", _when(execution.ended) if execution.ended is not None else "not yet"),
                    ("duration", _e(_duration(_elapsed(execution)))), ("events", _e(len(execution.history)))])
    if execution.error is not None:
        result = (f"<section><h2>Error</h2><p>{_badge(execution.error.get('error', '?'), 'bad')} "
                  f"{_e(execution.error.get('cause', ''))}</p></section>")
    elif execution.output is not None:
        result = f"<section><h2>Output</h2>{_json_block(execution.output)}</section>"
    else:
        result = ""
    body = (f"<h1>Execution <code>{_e(execution.id)}</code></h1>{facts}"
            f"<div class=grid><section><h2>Input</h2>{_json_block(execution.input)}</section>{result}</div>"
            f"<section><h2>History</h2>{_history(execution)}</section>")
    refresh = _execution_url(name, execution.id) if execution.status == RUNNING else None
    return _Page(f"Execution {execution.id}", body, [("Overview", PREFIX), (f"Workflow {name}", _workflow_url(name))], refresh)


def _invocations(service: Any, query: Mapping[str, Any]) -> _Page:
    invocations = list(service.invocations)[::-1]
    function = _param(query, "function")
    keep = {"function": function} if function else {}
    if function:
        invocations = [i for i in invocations if i.function == function]
    url = f"{PREFIX}/invocations"
    shown, pager = _paged(invocations, _page_number(query), LIST_ROWS, url, keep)
    title = f"Invocations of {function}" if function else "Invocations"
    facts = [("shown", _e(len(invocations))), ("order", "newest first")]
    if function:
        facts.append(("function", f"<code>{_e(function)}</code> ({_link(url, 'all functions')})"))
    body = (f"<h1>{_e(title)}</h1>{_facts(facts)}"
            f"<section>{_invocation_table(service, shown)}{pager}</section>")
    return _Page(title, body, refresh=f"{url}?{urlencode(keep)}" if keep else url)


def _problem_page(problem: _Problem) -> _Page:
    body = (f"<h1>{problem.status} {_e(problem.title)}</h1><p>{_e(problem.message)}</p>"
            f'<p><a href="{PREFIX}">Back to the overview</a></p>')
    return _Page(f"{problem.status} {problem.title}", body)


# ------------------------------------------------------------------------------- pieces


def _document(service: Any, page: _Page, query: Mapping[str, Any]) -> str:
    """The whole HTML document around a page: header with navigation, the reload, the footer."""
    paused = _param(query, "refresh") == "off"
    meta, switch = "", ""
    if page.refresh is not None:
        glue = "&" if "?" in page.refresh else "?"
        if paused:
            switch = f'auto-refresh paused · <a href="{_e(page.refresh)}">resume</a>'
        else:
            meta = f'<meta http-equiv="refresh" content="{REFRESH_S}; url={_e(page.refresh)}">'
            switch = f'refreshes every {REFRESH_S} s · <a href="{_e(page.refresh + glue)}refresh=off">pause</a>'
    crumbs = "".join(f'<a href="{_e(url)}">{_e(label)}</a> / ' for label, url in page.crumbs)
    trail = f"<div class=crumbs>{crumbs}</div>" if crumbs else ""
    offset = _zone()
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1"><link rel=icon href="data:,">'
            f"{meta}<title>{_e(page.title)} · {_e(service.spec.name)} · anycloud dev</title>"
            f"<style>{_CSS}</style></head><body>"
            f'<header><a class=brand href="{PREFIX}">anycloud dev</a>'
            f"<span class=where>{_e(service.spec.name)} · stack {_e(service.stack)}</span>"
            f'<nav><a href="{PREFIX}">Overview</a><a href="{PREFIX}/invocations">Invocations</a></nav>'
            f"<span class=refresh>{switch}</span></header>"
            f"<main>{trail}{page.body}</main>"
            f"<footer>Times are this machine's local time ({_e(offset)}).</footer></body></html>")


def _history(execution: Execution) -> str:
    """The engine's events in order: when (and how long after the start), where, what, data."""
    branches = any(event.branch for event in execution.history)
    rows = []
    for event in execution.history:
        rows.append([
            f"{_when(event.at)} <span class=zero>+{_e(_duration(event.at - execution.started))}</span>",
            *([f"<code>{_e(event.branch)}</code>"] if branches else []),
            f"<code>{_e(event.step)}</code>" if event.step else "",
            _badge(event.type, _EVENT_CLASS.get(event.type, "")),
            _event_details(event.data),
        ])
    return _grid_table(["At", *(["Branch"] if branches else []), "Step", "Event", "Details"], rows, "No events yet.")


def _invocation_table(service: Any, invocations: Iterable[Any]) -> str:
    """Invocations as rows; a task's execution id links to its execution when exactly one
    workflow calls that function."""
    callers: dict[str, list[str]] = {}
    for workflow in service.spec.workflows:
        for function in workflow.task_functions():
            callers.setdefault(function, []).append(workflow.name)
    rows = []
    for i in invocations:
        request = f"<code>{_e(i.request_id)}</code>"
        if i.trigger == "task" and len(callers.get(i.function, ())) == 1:
            request = _link(_execution_url(callers[i.function][0], i.request_id), i.request_id, code=True)
        rows.append([_when(i.at), _function_link(i.function), _e(i.trigger),
                     _badge(i.outcome, _OUTCOME_CLASS.get(i.outcome, "muted")),
                     _e(_duration(i.duration_ms / 1000)), request, _fold(i.detail)])
    return _grid_table([("At", "nowrap"), ("Function", "nowrap"), "Trigger", "Outcome", ("Duration", "num"),
                        ("Request, message or execution", "nowrap"), "Detail"], rows, "No invocations yet.")


def _grid_table(headers: Sequence[str | tuple[str, str]], rows: Sequence[Sequence[str]], empty: str) -> str:
    """A table of cells that are already HTML; a header given as (label, class) sets its column's
    class: "num" right-aligned, "nowrap" on one line, "wide" given room (a message body)."""
    if not rows:
        return f"<p class=empty>{_e(empty)}</p>"
    classes = [h[1] if isinstance(h, tuple) else "" for h in headers]
    head = "".join(f"<th class={c}>{_e(h[0])}</th>" if c else f"<th>{_e(h)}</th>" for h, c in zip(headers, classes))
    body = "".join("<tr>" + "".join(f"<td class={c}>{cell}</td>" if c else f"<td>{cell}</td>"
                                    for cell, c in zip(row, classes)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _paged(rows: Sequence[Any], page: int, size: int, url: str, keep: Mapping[str, str] | None = None) -> tuple[Sequence[Any], str]:
    """The rows of page `page` (past the end: the last page) and the links to its neighbours."""
    pages = max(1, math.ceil(len(rows) / size))
    page = min(page, pages)
    if pages == 1:
        return rows, ""

    def to(n: int, label: str) -> str:
        return f'<a href="{_e(url)}?{_e(urlencode({**(keep or {}), "page": n}))}">{label}</a>'

    parts = [to(1, "« first") if page > 2 else "", to(page - 1, "‹ previous") if page > 1 else "",
             f"page {page} of {pages} ({len(rows)} in all)", to(page + 1, "next ›") if page < pages else "",
             to(pages, "last »") if page < pages - 1 else ""]
    return rows[(page - 1) * size:page * size], "<div class=pager>" + "".join(p for p in parts if p) + "</div>"


def _attributes(values: Mapping[str, Any], skip: Sequence[str] = (), ttl: str | None = None) -> str:
    """`name value` lines; the TTL attribute also as the local time it expires."""
    lines = []
    for name, value in values.items():
        if name in skip:
            continue
        extra = ""
        if name == ttl and _is_number(value):
            extra = f" <span class=zero>(expires {_when(value)})</span>"
        lines.append(f"<div class=attr><span class=k>{_e(name)}</span> {_value(value)}{extra}</div>")
    return "".join(lines) or "<span class=zero>—</span>"


def _event_details(data: Mapping[str, Any]) -> str:
    """An event's data as `name value` lines: what is unset (a task without a timeout) left
    out, seconds (``duration_s``, ``timeout_s``, a retry's ``seconds``) as a duration."""
    lines = []
    for name, value in data.items():
        if value is None:
            continue
        seconds = (name.endswith("_s") or name == "seconds") and _is_number(value)
        shown = _e(_duration(value)) if seconds else _value(value)
        lines.append(f"<div class=attr><span class=k>{_e(name)}</span> {shown}</div>")
    return "".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fold(text: str, limit: int = 160) -> str:
    """Text a person reads; a long one (a validation error's whole report) folded after `limit`."""
    if len(text) <= limit:
        return _e(text)
    return f"<details><summary>{_e(text[:limit])}…</summary>…{_e(text[limit:])}</details>"


def _value(value: Any) -> str:
    """A JSON value on one line; a long one folded, its start as the summary."""
    text = _dumps(value, None)
    if len(text) <= FOLD_AT:
        return f"<code>{_e(text)}</code>"
    return f"<details><summary><code>{_e(text[:60])}…</code></summary>{_json_block(value)}</details>"


def _body(value: Any) -> str:
    """A message body: text as it is, anything else as indented JSON."""
    return f"<pre>{_e(value if isinstance(value, str) else _dumps(value, 2))}</pre>"


def _json_block(value: Any) -> str:
    return f"<pre>{_e(_dumps(value, 2))}</pre>"


def _dumps(value: Any, indent: int | None) -> str:
    """JSON as a person reads it (non-ASCII kept); what is not JSON as its repr."""
    return json.dumps(value, indent=indent, ensure_ascii=False, default=repr,
                      separators=None if indent else (", ", ": "))


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return "<div class=facts>" + "".join(f"<span>{_e(k)} <b>{v}</b></span>" for k, v in pairs) + "</div>"


def _redrive_button(queue: str, message_id: str) -> str:
    action = f"{_queue_url(queue)}/redrive/{quote(message_id, safe='')}"
    return (f'<form method=post action="{_e(action)}">'
            f'<button type=submit title="Put message {_e(message_id)} back on the queue">Re-drive</button></form>')


def _route_path(route: Any) -> str:
    """A GET route without path parameters is a link: the developer can open it here."""
    if route.method == "GET" and "{" not in route.path:
        return _link(route.path, route.path, code=True)
    return f"<code>{_e(route.path)}</code>"


def _function_link(function: str) -> str:
    return _link(f"{PREFIX}/invocations?{urlencode({'function': function})}", function, code=True)


def _link(url: str, label: Any, *, code: bool = False) -> str:
    text = f"<code>{_e(label)}</code>" if code else _e(label)
    return f'<a href="{_e(url)}">{text}</a>'


def _badge(text: Any, kind: str) -> str:
    return f"<span class='badge {kind}'>{_e(text)}</span>"


def _status(status: str) -> str:
    return _badge(status, _STATUS_CLASS.get(status, "muted"))


def _count(n: int, kind: str = "") -> str:
    """A number; a non-zero one in `kind`'s colour, zero dimmed."""
    if not n:
        return "<span class=zero>0</span>"
    return _badge(n, kind) if kind else _e(n)


def _when(at: float) -> str:
    """Local time: the time of day (milliseconds) today, the date and time before today; the
    full ISO time with its offset in the tooltip."""
    moment = datetime.fromtimestamp(at).astimezone()
    today = moment.date() == datetime.now().astimezone().date()
    shown = moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" if today else moment.strftime("%Y-%m-%d %H:%M:%S")
    full = moment.isoformat(timespec="milliseconds")
    return f'<time datetime="{full}" title="{full}">{shown}</time>'


def _zone() -> str:
    """This machine's time zone: ``CET, UTC+01:00``, or ``UTC+00:00`` alone when it has no other name."""
    now = datetime.now().astimezone()
    raw = now.strftime("%z")
    offset = f"UTC{raw[:3]}:{raw[3:5]}"
    name = now.tzname() or ""
    return offset if not name or name.startswith(("UTC", "GMT", "+", "-")) else f"{name}, {offset}"


def _duration(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _elapsed(execution: Execution) -> float:
    return (execution.ended if execution.ended is not None else time.time()) - execution.started


def _by_status(executions: Iterable[Execution]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for execution in executions:
        counts[execution.status] = counts.get(execution.status, 0) + 1
    return counts


def _key_names(spec: Any, table: str) -> list[str]:
    declared = next((t for t in spec.tables if t.name == table), None)
    if declared is None:
        return []
    return [declared.partition_key.name, *([declared.sort_key.name] if declared.sort_key else [])]


def _sortable(value: Any) -> tuple[int, Any]:
    """A key value's place in "by key" order: numbers, then text, then anything else, so a
    table with mixed key types still sorts."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, _dumps(value, None))


def _lookup(found: Mapping[str, Any], name: str, kind: str) -> Any:
    if name not in found:
        raise _Problem(404, "Not found", f"no {kind} {name!r} in this service; declared: {', '.join(found) or 'none'}")
    return found[name]


def _param(params: Mapping[str, Any], name: str) -> str | None:
    """One parameter's value, whether the server parsed values as strings or lists."""
    value = params.get(name)
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _page_number(query: Mapping[str, Any]) -> int:
    text = _param(query, "page") or "1"
    if not text.isdigit() or int(text) < 1:
        raise _Problem(400, "Bad request", f"page: {text!r} is not allowed; use a whole number from 1")
    return int(text)


def _queue_url(name: str) -> str:
    return f"{PREFIX}/queues/{quote(name, safe='')}"


def _table_url(name: str) -> str:
    return f"{PREFIX}/tables/{quote(name, safe='')}"


def _workflow_url(name: str) -> str:
    return f"{PREFIX}/workflows/{quote(name, safe='')}"


def _execution_url(workflow: str, execution_id: str) -> str:
    return f"{_workflow_url(workflow)}/executions/{quote(execution_id, safe='')}"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
