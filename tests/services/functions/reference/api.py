"""Routes: create writes the order and queues its id, get reads it back, health answers."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from runtime.contracts import Context, HttpError, Request, Response, idempotent
from runtime.http import parse_body

JSON = {"content-type": "application/json"}


class NewOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    customer_id: str = Field(min_length=1, max_length=64)
    total: int
    sku: str = Field(min_length=1, max_length=64)


@idempotent
def create_order(request: Request, ctx: Context) -> Response:
    new = parse_body(request, NewOrder)
    order_id = str(uuid.uuid4())
    ctx.tables["orders"].put({"order_id": order_id, "status": "PENDING", **new.model_dump()}, if_absent=True)
    ctx.queues["orders"].send({"order_id": order_id})
    return Response(202, {"order_id": order_id, "status": "PENDING"}, {**JSON, "location": f"/orders/{order_id}"})


def get_order(request: Request, ctx: Context) -> Response:
    item = ctx.tables["orders"].get({"order_id": request.path_params.get("order_id", "")})
    if item is None:
        raise HttpError(404, "NotFound", "no such order")
    return Response(200, item, JSON)


def health(request: Request, ctx: Context) -> Response:
    return Response(200, {"status": "ok"}, JSON)
