"""The declared service, running on this machine: what `anycloud dev` serves and `anycloud invoke`
calls, and what the console (components/dev/console.py) reads.

Built from the declaration and the stack config as `check` reads them (components/dev/project.py):

- tables in the store (components/dev/store.py): `.anycloud/<stack>.sqlite` under the project,
  or memory;
- queues in this process (components/dev/queues.py), each delivering to its consumer;
- table streams (components/dev/streams.py) delivering each change, logged by the write itself
  in the store, to the stream's consumer;
- workflows on the local engine (components/dev/engine.py), each task call going to the task
  function's handler through runtime/dispatch.py's task contract (DESIGN.md section 5: a
  `TaskError` is its name, anything else TaskFailed), as on GCP and Azure;
- secrets from the environment or the stack file with its passphrase (components/dev/secrets.py).

Each function runs as on a cloud: a runtime/dispatch.py `Instance` built from the wiring the
renderers set (components/wiring.py: handler, triggers, routes, timeout), so routes, idempotency
and consumers mean what they mean deployed, with a `Context` holding only its declared
resources; a table it declared only for reading refuses writes, as its cloud identity would.

A reload (components/dev/reload.py) builds everything anew from the files and swaps it in only
when all of it loaded: the store, the queues' messages and the executions stay; a declaration or
handler that fails keeps the previous one running. Every invocation is one line in the terminal
and one `Invocation` in `invocations` (the newest MAX_INVOCATIONS).
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runtime import memory
from runtime.contracts import Context, Message, Request, TaskError
from runtime.dispatch import Instance, match_route
from runtime.handlers import load_handler

from components import wiring
from components.dev.engine import Engine, Event, LocalWorkflow
from components.dev.project import DevError, Loaded, Project, forget_modules, raised, shown
from components.dev.queues import DevQueue
from components.dev.streams import DevStream
from components.dev.secrets import DevSecrets
from components.dev.store import Store, Table
from components.spec import FunctionSpec, ServiceSpec

#: Invocations kept for the console.
MAX_INVOCATIONS = 500


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    function: str
    public: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Invocation:
    """One run of a function: `request_id` is the request, message or execution id; `outcome`
    "ok", "refused" (a 4xx), "error", "retry" or "dead-letter"."""

    at: float
    function: str
    trigger: str
    outcome: str
    duration_ms: float
    request_id: str
    detail: str = ""

    def line(self) -> str:
        """The terminal's line: time, trigger, function, outcome, duration, id, detail."""
        clock = time.strftime("%H:%M:%S", time.localtime(self.at)) + f".{int(self.at * 1000) % 1000:03d}"
        return (f"{clock}  {self.trigger:<8} {self.function:<18} {self.outcome:<11} {self.duration_ms:8.1f} ms  "
                f"{self.request_id}  {self.detail}").rstrip()


class _ReadOnly:
    """A table a function declared only `read()` on: reads pass, writes fail as the cloud's IAM
    would refuse them (the function's invocation fails)."""

    def __init__(self, table: Table, function: str):
        self._table, self._function = table, function
        self.name = table.name

    def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._table.get(key)

    def query(self, key: Mapping[str, Any], **options: Any) -> list[dict[str, Any]]:
        return self._table.query(key, **options)

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise PermissionError(f"function {self._function} declared table {self.name} read only; declare "
                              f"{self.name}.write() in its uses to write it")

    put = update = delete = _refuse


class _Function(Instance):
    """A function as dispatch.py runs it on a cloud, remembering on each thread the last exception
    its handler raised, so a task's history says what failed (its HTTP answer says only
    "internal error")."""

    def __init__(self, env: Mapping[str, str], resources: Context):
        super().__init__(env, resources)
        self.failure = threading.local()
        handler = self.handler

        @functools.wraps(handler)  # keeps @idempotent
        def recorded(*args: Any) -> Any:
            self.failure.error = None
            try:
                return handler(*args)
            except BaseException as exc:
                self.failure.error = exc
                raise

        self.handler = recorded


@dataclass
class _Generation:
    """What one reading of the files runs: swapped whole on a reload."""

    loaded: Loaded
    tables: dict[str, Table]
    queues: dict[str, DevQueue]
    streams: dict[str, DevStream]
    functions: dict[str, _Function]
    routes: list[RouteInfo]
    secrets: DevSecrets

    def route_keys(self) -> list[str]:
        return [r.key for r in self.routes]


class DevService:
    """The service on this machine (see the module docstring). `deliver=False` (`anycloud invoke`):
    nothing runs but the function called; what it sends or starts is recorded in `outbox`."""

    def __init__(self, project: Project, *, memory_store: bool = False, time_scale: float = 1.0, deliver: bool = True,
                 echo: Callable[[str], None] | None = None):
        self.project = project
        self.stack = project.stack
        self.started_at = time.time()
        self.time_scale = time_scale
        self.deliver = deliver
        self.echo = echo or (lambda line: print(line, flush=True))
        self._invocations: deque[Invocation] = deque(maxlen=MAX_INVOCATIONS)
        self._lock = threading.Lock()
        loaded = project.load()
        for fn in loaded.spec.functions:  # before the store is opened: a handler that fails leaves the file untouched
            with self._handler_errors(fn):
                load_handler(fn.handler)
        self.engine = Engine([], self._run_task, time_scale=time_scale, listener=self._workflow_event)
        self.store = Store(None if memory_store else project.store_path)
        self.tables: dict[str, Table] = {}
        self.queues: dict[str, DevQueue] = {}
        self.streams: dict[str, DevStream] = {}
        self.outbox = memory.MemoryResources()
        try:
            self._commit(self._build(loaded))
        except BaseException:
            self.close()
            raise
        for line in self._generation.secrets.missing(self.spec.secrets):
            self.echo(f"warning: {line}")

    # -------------------------------------------------------------- what the console reads

    @property
    def spec(self) -> ServiceSpec:
        return self._generation.loaded.spec

    @property
    def loaded(self) -> Loaded:
        return self._generation.loaded

    @property
    def routes(self) -> list[RouteInfo]:
        return list(self._generation.routes)

    @property
    def invocations(self) -> Sequence[Invocation]:
        with self._lock:
            return tuple(self._invocations)

    # ---------------------------------------------------------------------------- calling

    def match(self, method: str, path: str) -> tuple[RouteInfo, dict[str, str]] | None:
        """The declared route `method path` reaches, with its path parameters."""
        generation = self._generation
        found = match_route(generation.route_keys(), method, path)
        if found is None:
            return None
        key, params = found
        return next(r for r in generation.routes if r.key == key), params

    def call_route(self, route: RouteInfo, request: Request, caller: Mapping[str, Any],
                   trigger: str = "route") -> tuple[int, Any, dict[str, str]]:
        """Run the route's function on `request` (`caller`: the claims behind the route's auth)."""
        began = time.perf_counter()
        status, body, headers = self._function(route.function).route(request, caller)
        outcome = "ok" if status < 400 else "refused" if status < 500 else "error"
        error = f" {body['error']}" if status >= 400 and isinstance(body, dict) and body.get("error") else ""
        self.record(route.function, trigger, outcome, began, request.request_id,
                    f"{request.method} {request.path} {status}{error}")
        return status, body, headers

    def call_consumer(self, function: str, message: Message, trigger: str = "invoke") -> None:
        """Run the consumer once on `message` (`anycloud invoke`); raises as the consumer did."""
        began = time.perf_counter()
        try:
            self._function(function).message(message, message.id)
        except Exception as exc:
            self.record(function, trigger, "error", began, message.id, f"{type(exc).__name__}: {exc}")
            raise
        self.record(function, trigger, "ok", began, message.id, "message")

    def call_task(self, function: str, state: Any, trace: str | None = None, trigger: str = "invoke") -> tuple[int, Any]:
        """Run the task once on `state`: (200, result), (422, {error, message}) or (500, {...})."""
        trace = trace or str(uuid.uuid4())
        began = time.perf_counter()
        status, body, _ = self._function(function).task(json.dumps(state).encode(), trace)
        if trigger != "task":  # the engine's own calls are recorded from its history
            outcome = "ok" if status == 200 else "error"
            self.record(function, trigger, outcome, began, trace, "" if status == 200 else _task_detail(status, body))
        return status, body

    def record(self, function: str, trigger: str, outcome: str, began: float, request_id: str, detail: str = "") -> Invocation:
        """Keep and print one invocation that started at `began` (perf_counter)."""
        invocation = Invocation(time.time(), function, trigger, outcome, (time.perf_counter() - began) * 1000, request_id, detail)
        self._keep(invocation)
        return invocation

    def _keep(self, invocation: Invocation) -> None:
        with self._lock:
            self._invocations.append(invocation)
        self.echo(invocation.line())

    def _function(self, name: str) -> _Function:
        functions = self._generation.functions
        if name not in functions:
            raise DevError(f"no function {name!r}; declared: {', '.join(sorted(functions))}")
        return functions[name]

    # ------------------------------------------------------------------------- reloading

    def reload(self, *, declaration: bool) -> None:
        """Re-import the handlers (and with `declaration`, re-read the declaration and the stack);
        the new service replaces the running one only when all of it loaded, else the error
        (one line) is raised and the running one stays."""
        forget_modules(self.project.handler_modules())
        loaded = self.project.load(fresh=True) if declaration else self._generation.loaded
        self._commit(self._build(loaded))
        for line in self._generation.secrets.missing(self.spec.secrets):
            self.echo(f"warning: {line}")

    def _build(self, loaded: Loaded) -> _Generation:
        """Everything one reading runs, with nothing of the running service changed yet."""
        spec = loaded.spec
        tables = {t.name: self.store.table(t) for t in spec.tables}
        queues = {}
        for q in spec.queues:
            queues[q.name] = self.queues.get(q.name) or DevQueue(q, self._consumer(q.consumer), report=self._delivered(q.name),
                                                                  time_scale=self.time_scale)
        source = DevSecrets(loaded.stack)
        secrets = source.values(spec.secrets)
        functions = {}
        for fn in spec.functions:
            context = self._context(fn, tables, queues, secrets)
            env = {**wiring.environment(spec, fn, loaded.settings.environment, lambda kind, name: name),
                   **wiring.reached(spec, fn)}
            functions[fn.name] = self._instance(fn, {k: str(v) for k, v in env.items()}, context)
        routes = [RouteInfo(r.method, r.path, r.function, r.public) for r in spec.api.routes] if spec.api else []
        streams = {t.name: self.streams.get(t.name) or DevStream(t, self.store, self._consumer(t.stream.consumer),
                                                                 report=self._streamed(t.name), time_scale=self.time_scale)
                   for t in spec.tables if t.stream}
        return _Generation(loaded, tables, queues, streams, functions, routes, source)

    def _commit(self, generation: _Generation) -> None:
        """Make `generation` the running service: queues updated, started or stopped; workflows reloaded."""
        tables, queues = generation.tables, generation.queues
        spec = generation.loaded.spec
        for name, queue in queues.items():
            declared = spec.queue(name)
            if name in self.queues:
                queue.update(declared, self._consumer(declared.consumer))
            elif self.deliver:
                queue.start()
        for name in set(self.queues) - set(queues):
            self.queues[name].stop()
            self.echo(f"queue {name} is no longer declared: its consumer stopped, its messages are dropped")
        for name, stream in generation.streams.items():
            if name in self.streams:
                stream.update(spec.table(name), self._consumer(spec.table(name).stream.consumer))
            elif self.deliver:
                stream.start()
        for name in set(self.streams) - set(generation.streams):
            self.streams[name].stop()
            self.echo(f"table {name} declares no stream any more: its delivery stopped; the changes logged stay "
                      "in the store")
        self.tables, self.queues, self.streams = tables, queues, generation.streams
        self.engine.reload(spec.workflows)
        self._generation = generation

    def _context(self, fn: FunctionSpec, tables: Mapping[str, Table], queues: Mapping[str, DevQueue],
                 secrets: Mapping[str, Any]) -> Context:
        """Only `fn`'s declared resources; read-only tables refuse writes."""
        writes = {a.resource for a in fn.uses if a.kind == "table" and a.verb == "write"}
        declared = {(a.kind, a.resource) for a in fn.uses}
        pick = lambda kind: [name for k, name in declared if k == kind]  # noqa: E731
        return Context(
            tables={n: tables[n] if n in writes else _ReadOnly(tables[n], fn.name) for n in pick("table")},
            queues={n: queues[n] if self.deliver else self.outbox.queues.setdefault(n, memory.Queue(n)) for n in pick("queue")},
            workflows={n: LocalWorkflow(self.engine, n) if self.deliver else self.outbox.workflows.setdefault(n, memory.Workflow(n))
                       for n in pick("workflow")},
            secrets={n: secrets[n] for n in pick("secret")},
        )

    def _instance(self, fn: FunctionSpec, env: dict[str, str], context: Context) -> _Function:
        with self._handler_errors(fn):
            return _Function(env, context)

    @contextmanager
    def _handler_errors(self, fn: FunctionSpec) -> Iterator[None]:
        """One line naming the function's handler when it can't be imported or run."""
        where = f"functions.{fn.name}.handler: {fn.handler!r}"
        root = self.project.functions_dir.parent
        try:
            yield
        except SyntaxError as err:
            raise DevError(f"{where}: {shown(err.filename, root)} line {err.lineno}: {err.msg}; allowed: valid "
                           "Python") from None
        except Exception as err:  # the handler's module failed at import, or the handler can't run
            raise DevError(f"{where}: {raised(err, root)}") from None

    # ---------------------------------------------------------------- queues and workflows

    def _consumer(self, function: str) -> Callable[[Message], None]:
        return lambda message: self._function(function).message(message, message.id)

    def _delivered(self, queue: str) -> Callable[[Message, str, float, str], None]:
        return self._reporter("queues", queue, "consumer", f"queue {queue} receive")

    def _streamed(self, table: str) -> Callable[[Message, str, float, str], None]:
        return self._reporter("streams", table, "changes", f"table {table} change receive")

    def _reporter(self, kind: str, name: str, trigger: str, what: str) -> Callable[[Message, str, float, str], None]:
        """One invocation line per delivery of a queue's message or a table's change; the source is
        looked up when it reports (`kind`: "queues" or "streams"), as a reload replaces them."""
        def report(message: Message, outcome: str, duration_ms: float, error: str) -> None:
            sources = getattr(self, kind)
            consumer = sources[name].consumer if name in sources else "?"
            detail = f"{what} {message.receive_count}" + (f": {error}" if error else "")
            self._keep(Invocation(time.time(), consumer, trigger, outcome, duration_ms, message.id, detail))
        return report

    def _run_task(self, function: str, state: dict, timeout_s: float | None) -> Any:
        """The engine's task call: the task contract's answer as the engine takes it."""
        status, body = self.call_task(function, state, trigger="task")
        if status == 200:
            return body
        if status == 422 and isinstance(body, dict):
            raise TaskError(str(body.get("error")), str(body.get("message", "")))
        error = getattr(self._function(function).failure, "error", None)
        raise _TaskCrashed(f"{type(error).__name__}: {error}" if error is not None else "the task answered "
                           f"{status} {json.dumps(body)}")

    def _workflow_event(self, workflow: str, execution_id: str, event: Event) -> None:
        if event.type in ("TaskSucceeded", "TaskFailed"):
            data = event.data
            ok = event.type == "TaskSucceeded"
            detail = f"{workflow} step {event.step}"
            if not ok:
                detail += f": {data.get('error')}" + (f" ({data['exception']})" if data.get("exception") else
                                                       f" {data.get('cause')}" if data.get("cause") else "")
            self._keep(Invocation(event.at, str(data.get("function")), "task", "ok" if ok else "error",
                                  float(data.get("duration_s", 0.0)) * 1000, execution_id, detail))
        elif event.type in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted"):
            status = event.type.removeprefix("Execution").upper()
            error = f" {event.data.get('error')}: {event.data.get('cause')}" if event.type == "ExecutionFailed" else ""
            self.echo(f"workflow {workflow} {execution_id} {status}{error}")

    # ---------------------------------------------------------------------------- closing

    def close(self) -> None:
        for queue in self.queues.values():
            queue.stop()
        for stream in self.streams.values():
            stream.stop()
        self.engine.stop()
        self.store.close()


class _TaskCrashed(RuntimeError):
    """A task that failed without a TaskError: TaskFailed in the workflow, this text in its history."""


def _task_detail(status: int, body: Any) -> str:
    if isinstance(body, dict) and body.get("error"):
        return f"{body['error']}: {body.get('message', '')}".rstrip(": ")
    return f"status {status}"
