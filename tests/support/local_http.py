"""A local HTTP server for the stand-ins of cloud endpoints that have no emulator: it reads each
request, asks the stand-in for the answer and writes it as JSON, on 127.0.0.1 and a free port."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (method, path with query, headers, body) -> (status, body text)
Answer = Callable[[str, str, dict[str, str], bytes], tuple[int, str]]


class LocalServer:
    #: How often the serve loop looks for close(): close() waits up to this long (the standard
    #: library's 0.5 s would add half a second to every test that closes a server).
    POLL_S = 0.01

    def __init__(self, answer: Answer) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                status, text = answer(self.command, self.path, dict(self.headers.items()), body)
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
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": self.POLL_S},
                         daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
