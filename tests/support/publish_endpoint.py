"""A local stand-in of a Flex Consumption app's SCM site: one deploy and the deployment record.

Azure ships no emulator for it, so the package deployment (components/azure/deploy.py) is pointed
at this server (`scm_host=endpoint.host`, plain http because it is 127.0.0.1) and the tests assert
on the requests it received. Each test scripts the answers: `publishes` ((status, body) pairs)
for the POSTs to /api/publish and `records` (deployment records, None for a 404) for the GETs of
/api/deployments/<id>, each taken in order, the last one repeating.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEPLOYMENT_ID = "dep-1"
#: An accepted publish: 202 and the deployment id as a JSON string (the body the az CLI logs as the id).
ACCEPTED = (202, json.dumps(DEPLOYMENT_ID))
SUCCEEDED = {"id": DEPLOYMENT_ID, "status": 4, "status_text": "", "complete": True}


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class PublishEndpoint:
    def __init__(self, publishes: list[tuple[int, str]] = (ACCEPTED,),
                 records: list[dict[str, Any] | None] = (SUCCEEDED,)) -> None:
        self.publishes = list(publishes)
        self.records = list(records)
        self.received: list[Received] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                url = urlsplit(self.path)
                endpoint.received.append(Received(self.command, url.path, parse_qs(url.query),
                                                  dict(self.headers.items()), self.rfile.read(length)))
                if self.command == "POST" and url.path == "/api/publish":
                    status, text = endpoint._next(endpoint.publishes)
                elif self.command == "GET" and url.path.startswith("/api/deployments/"):
                    record = endpoint._next(endpoint.records)
                    status, text = (404, "not found") if record is None else (200, json.dumps(record))
                else:
                    status, text = 404, "no stand-in"
                out = text.encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval: close() waits for the serving loop to notice, once per test.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    @staticmethod
    def _next(script: list) -> Any:
        return script.pop(0) if len(script) > 1 else script[0]

    def of(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
