"""The no-queue shape: a route stores the request and starts the review workflow itself; the
workflow's tasks decide it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from runtime.contracts import Context, HttpError, Request, Response

JSON = {"content-type": "application/json"}


def submit_request(request: Request, ctx: Context) -> Response:
    body = request.json()
    amount = body.get("amount") if isinstance(body, dict) else None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise HttpError(400, "ValidationFailed", "amount must be a positive integer",
                        [{"field": "amount", "message": "a positive integer"}])
    request_id = str(uuid.uuid4())
    ctx.tables["requests"].put({"request_id": request_id, "amount": amount, "status": "SUBMITTED"}, if_absent=True)
    ctx.workflows["review"].start(request_id, {"request": {"request_id": request_id, "amount": amount}})
    return Response(202, {"request_id": request_id, "status": "SUBMITTED"}, JSON)


def get_request(request: Request, ctx: Context) -> Response:
    item = ctx.tables["requests"].get({"request_id": request.path_params.get("request_id", "")})
    if item is None:
        raise HttpError(404, "NotFound", "no such request")
    return Response(200, item, JSON)


def _decide(state: Mapping[str, Any], ctx: Context, status: str) -> dict[str, Any]:
    key = {"request_id": state["request"]["request_id"]}
    return {"status": ctx.tables["requests"].update(key, {"status": status})["status"]}


def approve(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return _decide(state, ctx, "APPROVED")


def escalate(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return _decide(state, ctx, "ESCALATED")
