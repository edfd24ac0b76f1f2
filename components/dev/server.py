"""The local HTTP server of `anycloud dev`: every declared route on http://127.0.0.1:<port> with the
deployed semantics, and the console under /_anycloud.

The standard library's ThreadingHTTPServer (a thread per connection, HTTP/1.1 keep-alive): the
dev server serves one developer, and what it must get right is the meaning of a request, which
lives in the runtime, not in the server. A request goes where it goes on a cloud:

- CORS from the stack (`anycloud:allowedOrigins`, else the declaration's `api.cors_origins`), as
  API Gateway's cors_configuration (components/aws/api.py) answers it: a preflight (OPTIONS with
  Access-Control-Request-Method) is answered here, 204, with the allowed methods (the declared
  ones and OPTIONS), headers (Authorization, Content-Type, Idempotency-Key) and a max age of
  600 s; an allowed Origin is echoed on every answer (or ``*`` when `*` is allowed). Without
  origins there is no CORS, and an OPTIONS is a request like any other.
- The route is matched as runtime/dispatch.py matches it; none is 404 with the runtime's error
  body. A route that requires a token (components/dev/auth.py) without one is 401 before the
  function runs, as at a gateway.
- The body: over MAX_REQUEST_BYTES (API Gateway's 10 MB payload quota, the smallest of the
  gateways') is 413 before it is read; a JSON body over the contract's 64 KB is 413 from
  `Request.json()`, as everywhere. A chunked body (no Content-Length) is 411.
- The request id is a fresh UUID, the handler's `request.request_id` and `ctx.request_id`, in
  the `X-Request-Id` answer header and error bodies; `Idempotency-Key` works through the
  runtime's idempotency over the `idempotency` table when it is declared (runtime/dispatch.py).
- Header names reach the handler lower-cased, repeated headers and query parameters joined with
  commas (API Gateway's payload 2.0); the answer is the `Response` encoded as every adapter does.
"""

from __future__ import annotations

import errno
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from runtime.contracts import HttpError, Request, error_response, internal_error

from components.dev import auth
from components.dev.project import DevError
from components.dev.service import DevService

try:
    from components.dev import console
except ModuleNotFoundError as missing:  # the console is a separate module; dev serves the API without it
    if missing.name != "components.dev.console":
        raise
    console = None

HOST = "127.0.0.1"
CONSOLE = "/_anycloud"
#: Largest request body read (bytes): API Gateway HTTP API's payload quota.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
CORS_HEADERS = "authorization, content-type, idempotency-key"
CORS_MAX_AGE_S = 600


class DevServer(ThreadingHTTPServer):
    """Serves `service` on 127.0.0.1:`port` (0: a free port, see `.port`)."""

    daemon_threads = True

    def __init__(self, service: DevService, port: int):
        self.service = service
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise DevError(f"--port {port}: {HOST}:{port} is in use (another anycloud dev?); stop what holds it or "
                               "pass another --port") from None
            raise DevError(f"--port {port}: can't listen on {HOST}:{port} ({err.strerror}); pass another --port") from None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "anycloud-dev"
    disable_nagle_algorithm = True  # an answer is two writes (head, body): no delayed-ACK stall between them
    timeout = 300  # an idle keep-alive connection is closed after this
    server: DevServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: each invocation is logged by the service, one line."""

    # ------------------------------------------------------------------------ a request

    def _handle(self) -> None:
        began = time.perf_counter()
        request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        path = url.path or "/"
        headers = self._headers()
        body = self._body(request_id)
        if body is None:
            return
        if path == CONSOLE or path.startswith(CONSOLE + "/"):
            return self._console(path, url.query, headers, body)
        service = self.server.service
        origin = self._allowed_origin(headers.get("origin"))
        if self.command == "OPTIONS" and service.loaded.origins and "access-control-request-method" in headers:
            return self._send(204, None, self._preflight(origin))
        cors = {"access-control-allow-origin": origin, "vary": "origin"} if origin else {}
        found = service.match(self.command, unquote(path))
        if found is None:
            service.echo(f"no route: {self.command} {path} 404")
            return self._send(404, {"error": "NotFound", "message": "no such route", "request_id": request_id},
                              {"content-type": "application/json", "x-request-id": request_id, **cors})
        route, params = found
        caller: dict[str, Any] = {}
        required = service.loaded.auth
        if required is not None and not route.public:
            try:
                caller = auth.claims(headers, required)
            except HttpError as err:
                service.record(route.function, "route", "refused", began, request_id,
                               f"{self.command} {path} 401 {err.message.split(';')[0]}")
                answer = error_response(err, request_id)
                return self._send(401, answer.body, {**answer.headers, "www-authenticate": "Bearer",
                                                     "x-request-id": request_id, **cors})
        request = Request(method=self.command, path=path, request_id=request_id, path_params=params,
                          query=_query(url.query), headers=headers, body=body)
        try:
            status, payload, answer_headers = service.call_route(route, request, caller)
        except Exception as exc:  # not the handler's failure (run_route maps those): the dev server's own
            service.echo(f"error: {route.function}: {type(exc).__name__}: {exc}")
            answer = internal_error(request_id)
            status, payload, answer_headers = answer.status, answer.body, {**answer.headers, "x-request-id": request_id}
        self._send(status, payload, {**answer_headers, **cors})

    def _headers(self) -> dict[str, str]:
        joined: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            joined[name] = f"{joined[name]},{value}" if name in joined else value
        return joined

    def _body(self, request_id: str) -> bytes | None:
        """The request body; None when the request was answered already (411, 413)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self.close_connection = True
            self._send(411, {"error": "LengthRequired", "message": "send the body with a Content-Length",
                             "request_id": request_id}, {"content-type": "application/json", "x-request-id": request_id})
            return None
        length = self.headers.get("content-length", "0")
        size = int(length) if length.isdigit() else -1
        if size < 0 or size > MAX_REQUEST_BYTES:
            self.close_connection = True  # the body is not read: the connection can't carry another request
            err = HttpError(413, "PayloadTooLarge", f"the body is larger than {MAX_REQUEST_BYTES} bytes") if size > 0 \
                else HttpError(400, "BadRequest", "the Content-Length header is not a number")
            answer = error_response(err, request_id)
            self._send(answer.status, answer.body, {**answer.headers, "x-request-id": request_id})
            return None
        return self.rfile.read(size) if size else b""

    # --------------------------------------------------------------------------- answers

    def _allowed_origin(self, origin: str | None) -> str | None:
        origins = self.server.service.loaded.origins
        if not origin or not origins:
            return None
        if origin in origins:
            return origin
        return "*" if "*" in origins else None

    def _preflight(self, origin: str | None) -> dict[str, str]:
        if origin is None:
            return {}
        methods = sorted({r.method for r in self.server.service.routes} | {"OPTIONS"})
        return {"access-control-allow-origin": origin, "access-control-allow-methods": ", ".join(methods),
                "access-control-allow-headers": CORS_HEADERS, "access-control-max-age": str(CORS_MAX_AGE_S),
                "vary": "origin"}

    def _console(self, path: str, query: str, headers: dict[str, str], body: bytes) -> None:
        if console is None:
            return self._send(404, {"error": "NotFound", "message": "the console is not installed"},
                              {"content-type": "application/json"})
        if self.command == "POST" and not _same_site(headers):
            return self._write(403, {"content-type": "text/plain; charset=utf-8"},
                               b"the console's actions are taken from its own pages only\n")
        form = _params(body.decode("utf-8", "replace")) if headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded") else {}
        try:
            status, answer_headers, page = console.handle(self.server.service, self.command, path, _params(query), form)
        except Exception as exc:  # a console defect must not drop the connection without an answer
            self.server.service.echo(f"error: the console failed on {self.command} {path}: {type(exc).__name__}: {exc}")
            status, answer_headers = 500, {"content-type": "text/plain; charset=utf-8"}
            page = b"the console failed; see the terminal\n"
        self._write(status, answer_headers, page)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = b"" if payload is None else json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        self._write(status, headers, data)

    def _write(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)


def _params(text: str) -> dict[str, Any]:
    """Form or query parameters: one value, or a list of the values when a name repeats."""
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text, keep_blank_values=True).items()}


def _query(text: str) -> dict[str, str]:
    """Query parameters as API Gateway's payload 2.0 gives them: repeated names joined with commas."""
    return {k: ",".join(v) for k, v in parse_qs(text, keep_blank_values=True).items()}


def _same_site(headers: dict[str, str]) -> bool:
    """A console action (re-drive, send) comes from the console's own page: another website open in
    the developer's browser could otherwise POST to 127.0.0.1 (a cross-site request forgery).
    Browsers send `Sec-Fetch-Site`, and `Origin` on POSTs; a request with neither (curl, tests) is
    not a browser's cross-site request."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")

