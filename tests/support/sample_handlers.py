"""Small portable handlers for the AWS adapter's tests (not the orders service).

Each records its calls in `CALLS` so tests can count how often the adapter really ran it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from runtime.contracts import Context, HttpError, Message, Request, Response, TaskError, idempotent

CALLS: Counter[str] = Counter()


def echo(request: Request, ctx: Context) -> Response:
    CALLS["echo"] += 1
    return Response(
        200,
        {
            "method": request.method,
            "path": request.path,
            "request_id": request.request_id,
            "ctx_request_id": ctx.request_id,
            "params": dict(request.path_params),
            "query": dict(request.query),
            "headers": dict(request.headers),
            "body": request.body.decode("latin-1"),
            "tables": sorted(ctx.tables),
        },
        {"X-Custom": "yes"},
    )


def refuse(request: Request, ctx: Context) -> Response:
    raise HttpError(404, "NotFound", "no such thing")


def crash(request: Request, ctx: Context) -> Response:
    raise RuntimeError("secret internal detail")


@idempotent
def create(request: Request, ctx: Context) -> Response:
    """Writes one item per call: replays must not call it again."""
    CALLS["create"] += 1
    body = request.json()
    if not isinstance(body, dict) or "name" not in body:
        raise HttpError(400, "Invalid", "name is required")
    item_id = f"item-{CALLS['create']}"
    ctx.tables["items"].put({"id": item_id, "name": body["name"]}, if_absent=True)
    return Response(201, {"id": item_id}, {"location": f"/items/{item_id}"})


def consume(message: Message, ctx: Context) -> None:
    """Fails for `{"fail": true}`; otherwise records the message in the items table."""
    CALLS["consume"] += 1
    if message.body.get("fail"):
        raise RuntimeError("cannot process")
    ctx.tables["items"].put({"id": message.body["id"], "receive_count": message.receive_count, "message_id": message.id})


def task(state: dict, ctx: Context) -> Any:
    CALLS["task"] += 1
    if state.get("raise") == "business":
        raise TaskError("PaymentDeclined", "card declined")
    if state.get("raise") == "bug":
        raise KeyError("missing")
    return {"seen": state.get("n"), "request_id": ctx.request_id}
