"""A local stand-in of a Flex Consumption app's SCM site: one deploy and the deployment record.

Azure ships no emulator for it, so the package deployment (components/azure/deploy.py) is pointed
at this server (`scm_host=endpoint.host`, plain http because it is 127.0.0.1) and the tests assert
on the requests it received. Each test scripts the answers: `publishes` ((status, body) pairs)
for the POSTs to /api/publish and `records` (deployment records, None for a 404) for the GETs of
/api/deployments/<id>, each taken in order, the last one repeating.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.local_http import LocalServer

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
        self._server = LocalServer(self._answer)
        self.host = self._server.address

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        url = urlsplit(path)
        self.received.append(Received(method, url.path, parse_qs(url.query), headers, body))
        if method == "POST" and url.path == "/api/publish":
            return self._next(self.publishes)
        if method == "GET" and url.path.startswith("/api/deployments/"):
            record = self._next(self.records)
            return (404, "not found") if record is None else (200, json.dumps(record))
        return 404, "no stand-in"

    @staticmethod
    def _next(script: list) -> Any:
        return script.pop(0) if len(script) > 1 else script[0]

    def of(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path == path]

    def close(self) -> None:
        self._server.close()
