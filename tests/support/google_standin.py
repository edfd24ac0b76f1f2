"""A local stand-in of a Google REST endpoint, for the official clients (REST transport).

Google ships no emulator for Secret Manager, and Pub/Sub's emulator is a Java download; the
generated clients speak REST as well as gRPC, so tests point the real client at this server
(`client_options={"api_endpoint": standin.url}`, anonymous credentials) and assert on the
requests it received. Answers are given per (method, path without query) by the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.local_http import LocalServer


@dataclass
class Received:
    method: str
    path: str
    body: Any
    refused: bool = False  # answered with an injected refusal (`refuse`)


class StandIn:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[tuple[str, str], Callable[[Any], tuple[int, Any]]] = {}
        #: [path suffix, times left, status]: the next requests to such a path are refused (`refuse`).
        self.refusals: list[list] = []
        self._server = LocalServer(self._answer)
        self.url = f"http://{self._server.address}"

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, str]:
        path = path.split("?", 1)[0]
        body = json.loads(raw) if raw else None
        self.received.append(Received(method, path, body))
        refusal = next((r for r in self.refusals if path.endswith(r[0]) and r[1] > 0), None)
        if refusal is not None:
            refusal[1] -= 1
            self.received[-1].refused = True
            return refusal[2], json.dumps({"error": {"code": refusal[2], "message": "refused by the test"}})
        answer = self.answers.get((method, path))
        status, payload = answer(body) if answer else (404, {"error": {"code": 404, "message": "no stand-in"}})
        return status, json.dumps(payload)

    def refuse(self, path_suffix: str, times: int, status: int) -> None:
        """Answer the next `times` requests whose path ends with `path_suffix` with `status` and
        Google's error body (a service refusing for a while: IAM not yet propagated, an outage)."""
        self.refusals.append([path_suffix, times, status])

    def close(self) -> None:
        self._server.close()
