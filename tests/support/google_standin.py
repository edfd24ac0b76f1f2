"""A local stand-in of a Google REST endpoint, for the official clients (REST transport).

Google ships no emulator for Secret Manager, and Pub/Sub's emulator is a Java download; the
generated clients speak REST as well as gRPC, so tests point the real client at this server
(`client_options={"api_endpoint": standin.url}`, anonymous credentials) and assert on the
requests it received. Answers are given per (method, path without query) by the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    body: Any


class StandIn:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[tuple[str, str], Callable[[Any], tuple[int, Any]]] = {}
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                body = json.loads(raw) if raw else None
                standin.received.append(Received(self.command, path, body))
                answer = standin.answers.get((self.command, path))
                status, payload = answer(body) if answer else (404, {"error": {"code": 404, "message": "no stand-in"}})
                out = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
