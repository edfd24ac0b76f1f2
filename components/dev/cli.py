"""`anycloud dev` and `anycloud invoke`: the declared service on this machine.

Both verbs are subcommands of the `anycloud` parser (components/check.py adds them with
`add_commands`); components/cli.py runs them through `main` here without importing the check,
whose policy pack and Pulumi SDK a local run never needs (and whose garbage-collector setting
suits a short command, not a server). Exit codes: 0, 1 (`invoke`: the function failed), 2 (bad
input: one line naming what to fix, the stored data left as it was).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from components.declaration import PROJECT_DIR, default_project_dir

COMMANDS = ("dev", "invoke")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: The runtime the handlers import (`runtime.contracts`): the framework's own functions/ folder.
RUNTIME_ROOT = PROJECT_DIR / "functions"


def add_commands(sub: Any) -> None:
    """The `dev` and `invoke` subcommands, on the `anycloud` parser's subparsers `sub`."""
    dev = sub.add_parser("dev", help="run the service on this machine: routes, queues, tables, workflows, a console",
                         description="Serve every route on http://127.0.0.1:PORT with the deployed semantics, run the "
                                     "queues' consumers and the workflows in this process, keep the tables in "
                                     ".anycloud/<stack>.sqlite, reload on every change; the console is at /_anycloud.")
    _common(dev)
    dev.add_argument("--port", type=int, default=8080, help="the port on 127.0.0.1 (default 8080; 0: a free one)")
    dev.add_argument("--time-scale", type=float, default=1.0, metavar="SCALE",
                     help="multiply workflow waits, retry delays and queue redelivery delays (default 1: real time; "
                          "0: no waiting)")
    dev.add_argument("--no-reload", action="store_true", help="do not watch the files")
    dev.set_defaults(run=run_dev)
    invoke = sub.add_parser("invoke", help="run one function once, locally, and print its result",
                            description="Run FUNCTION once with the same tables, secrets and config as `anycloud dev`: "
                                        "a route gets a request with the body, a consumer a message, a task the state. "
                                        "Messages it sends and workflows it starts are printed, not run.")
    invoke.add_argument("function", metavar="FUNCTION", help="a declared function")
    given = invoke.add_mutually_exclusive_group()
    given.add_argument("--event", type=Path, metavar="FILE",
                       help='a JSON file: a route\'s request {"method", "path", "query", "headers", "body"}, a '
                            "consumer's message body, a task's state")
    given.add_argument("--body", metavar="JSON", help="the route's JSON body, the message body, or the task's state")
    invoke.add_argument("--path", help="the route's path with its parameters, e.g. /orders/123")
    invoke.add_argument("--trigger", choices=("route", "consumer", "task"),
                        help="how to call a function reached more than one way (default: the first of route, task, consumer)")
    _common(invoke)
    invoke.set_defaults(run=run_invoke)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default dev)")
    parser.add_argument("--memory", action="store_true", help="keep the tables in memory for this run only")
    parser.add_argument("--dir", type=Path, default=default_project_dir(), help="the project directory (holds Pulumi.yaml)")
    parser.add_argument("--service", default="app:SERVICE", help="module:attribute of the declared ServiceSpec")
    parser.add_argument("--functions", type=Path, metavar="DIR",
                        help="the root the handlers' module:function names are relative to (default: <--dir>/functions)")


def main(argv: list[str] | None = None) -> int:
    """`anycloud dev|invoke ...` without the check's imports."""
    parser = argparse.ArgumentParser(prog="anycloud", description="anycloud: run the service locally")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


# --------------------------------------------------------------------------------- dev


def run_dev(args: argparse.Namespace) -> int:
    project = _project(args)
    from components.dev.project import BAD_INPUT
    from components.dev.reload import Reloader
    from components.dev.server import DevServer
    from components.dev.service import DevService
    from components.dev.store import StoreError

    _logging()
    try:
        service = DevService(project, memory_store=args.memory, time_scale=_scale(args.time_scale))
    except (*BAD_INPUT, StoreError) as err:
        return _bad(err)
    try:
        server = DevServer(service, args.port)
    except BAD_INPUT as err:
        service.close()
        return _bad(err)
    reloader = None if args.no_reload else Reloader(service)
    if reloader is not None:
        reloader.start()
    stop = threading.Event()

    def stopping(*_: Any) -> None:
        if stop.is_set():  # asked twice: don't wait for what is still running
            os._exit(130)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stopping)
    threading.Thread(target=server.serve_forever, name="anycloud dev server", daemon=True).start()
    where = "memory (--memory)" if args.memory else str(project.store_path)
    print(f"anycloud dev: {service.spec.name} (stack {project.stack}) on {server.url}  console {server.url}/_anycloud",
          flush=True)
    print(f"  tables in {where}; time scale {args.time_scale:g}; "
          f"{'reloading on changes' if reloader else 'not watching files'}; Ctrl-C stops", flush=True)
    for route in service.routes:
        needs = "public" if route.public else "token" if service.loaded.auth else "open: the stack sets no apiAuth"
        print(f"  {route.method:<6} {route.path:<28} -> {route.function} ({needs})", flush=True)
    stop.wait()
    if reloader is not None:
        reloader.stop()
    server.shutdown()
    server.server_close()
    service.close()
    print("anycloud dev: stopped", flush=True)
    return EXIT_OK


# ------------------------------------------------------------------------------ invoke


def run_invoke(args: argparse.Namespace) -> int:
    project = _project(args)
    from components.dev.project import BAD_INPUT, DevError
    from components.dev.service import DevService
    from components.dev.store import StoreError

    _logging()
    try:
        event = _event(args)
        service = DevService(project, memory_store=args.memory, time_scale=0, deliver=False,
                             echo=lambda line: print(line, file=sys.stderr, flush=True))
    except (*BAD_INPUT, StoreError) as err:
        return _bad(err)
    try:
        return _invoke(service, args, event)
    except DevError as err:
        return _bad(err)
    finally:
        service.close()


def _invoke(service: Any, args: argparse.Namespace, event: Any) -> int:
    from runtime.contracts import Message

    from components import wiring
    from components.dev.project import DevError

    names = [f.name for f in service.spec.functions]
    if args.function not in names:
        raise DevError(f"FUNCTION {args.function!r}: not declared; allowed: {', '.join(names)}")
    kinds, _ = wiring.triggers(service.spec, args.function)
    trigger = args.trigger or (kinds[0] if kinds else None)
    if trigger not in kinds:
        raise DevError(f"--trigger {trigger}: {args.function} is not reached that way; allowed: {', '.join(kinds)}")
    if trigger == "route":
        request = _request(service, args, event)
        route, params = service.match(request.method, request.path) or (None, None)
        if route is None or route.function != args.function:
            raise DevError(f"--path {request.path}: no route of {args.function} matches {request.method} {request.path}")
        status, body, headers = service.call_route(route, dataclasses.replace(request, path_params=params), {},
                                                   trigger="invoke")
        _print({"status": status, "headers": headers, "body": body})
        failed = status >= 400
    elif trigger == "consumer":
        try:
            service.call_consumer(args.function, Message(id=str(uuid.uuid4()), body=event))
        except Exception as exc:  # the consumer failed: on a cloud the message would be retried
            print(f"{args.function} raised {type(exc).__name__}: {exc} (deployed, the message would be delivered again)",
                  file=sys.stderr)
            failed = True
        else:
            _print({"acknowledged": True})
            failed = False
    else:
        status, body = service.call_task(args.function, event)
        _print(body)
        failed = status != 200
    for name, queue in service.outbox.queues.items():
        for sent in queue.sent:
            print(f"sent to queue {name} (not delivered by invoke): {json.dumps(sent.body)}", file=sys.stderr)
    for name, workflow in service.outbox.workflows.items():
        for execution_id, state in workflow.executions.items():
            print(f"started {name} {execution_id} (not run by invoke): {json.dumps(state)}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _event(args: argparse.Namespace) -> Any:
    from components.dev.project import DevError

    if args.event is not None:
        try:
            text, what = args.event.read_text(), f"--event {args.event}"
        except OSError as err:
            raise DevError(f"--event {args.event}: can't be read ({err.strerror})") from None
    elif args.body is not None:
        text, what = args.body, "--body"
    else:
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        raise DevError(f"{what}: not JSON ({err})") from None


def _request(service: Any, args: argparse.Namespace, event: Any) -> Any:
    """The route's Request: from an --event request object, or the function's route with --body."""
    from runtime.contracts import Request

    from components.dev.project import DevError

    routes = [r for r in service.routes if r.function == args.function]
    if args.event is not None:
        if not isinstance(event, dict):
            raise DevError(f"--event {args.event}: a route's event is an object "
                           '{"method", "path", "query", "headers", "body"}')
        method, path = str(event.get("method", routes[0].method)).upper(), str(event.get("path", args.path or ""))
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        query = {str(k): str(v) for k, v in (event.get("query") or {}).items()}
        body = event.get("body")
    else:
        method, path, headers, query, body = routes[0].method, args.path or "", {}, {}, event
    if not path:
        path = routes[0].path
        if "{" in path:
            raise DevError(f"--path: {routes[0].key} has path parameters; give the path, e.g. "
                           f"--path {path.replace('{', '').replace('}', '')}")
    data = b"" if body is None else body.encode() if isinstance(body, str) and args.event is not None else json.dumps(body).encode()
    if data:
        headers.setdefault("content-type", "application/json")
    return Request(method=method, path=path, request_id=str(uuid.uuid4()), query=query, headers=headers, body=data)


# ----------------------------------------------------------------------------- shared


def _project(args: argparse.Namespace) -> Any:
    """The project, with the handlers' folder and the runtime importable (before anything imports them)."""
    from components.dev.project import Project

    project = Project(dir=args.dir, stack=args.stack, service=args.service, functions=args.functions)
    for root in (RUNTIME_ROOT, project.functions_dir):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    return project


def _scale(value: float) -> float:
    from components.dev.project import DevError

    if not value >= 0:
        raise DevError(f"--time-scale {value:g}: not allowed; allowed: a number of 0 or more (1: real time, 0: no waiting)")
    return value


def _bad(err: BaseException) -> int:
    print(f"error: {err}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True), flush=True)


class _Formatter(logging.Formatter):
    """A handler's log record on one line: level, logger, message, then its extra fields as key=value."""

    SKIP = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in self.SKIP)
        line = f"  {record.levelname.lower()} {record.name}: {record.getMessage()}" + (f"  {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _logging() -> None:
    """The handlers' and the runtime's logs on stderr, tracebacks included (the dev's own lines are on stdout)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    # The runtime's own notes on each request ("request refused") repeat the invocation line.
    handler.addFilter(lambda record: record.name != "anycloud" or record.levelno >= logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # watchfiles notes each change at info; the `reloaded: FILE` line already says it.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
