"""HTTP routes of the orders service. run_route (runtime/http.py) maps their errors.

create_order writes the order, then enqueues its id: a dual write, made safe to retry by
the Idempotency-Key (the first response is replayed) and by the consumer tolerating
duplicate messages. Everything is validated before the first write, so a bad request
leaves no trace.
"""

from __future__ import annotations

from runtime.contracts import Context, HttpError, Request, Response, idempotent
from runtime.http import parse_body

from . import models
from .models import CreateOrder, Order, is_order_id

JSON = {"content-type": "application/json"}


@idempotent
def create_order(request: Request, ctx: Context) -> Response:
    body = parse_body(request, CreateOrder)
    order = Order.new(body, models.now())
    ctx.tables["orders"].put(order.to_item(), if_absent=True)
    ctx.queues["orders"].send({"order_id": order.order_id})
    headers = {**JSON, "location": f"/orders/{order.order_id}"}
    return Response(202, {"order_id": order.order_id, "status": order.status.value}, headers)


def get_order(request: Request, ctx: Context) -> Response:
    order_id = request.path_params.get("order_id", "")
    # Not a UUID: no such order. A validation error would tell a prober the id format.
    item = ctx.tables["orders"].get({"order_id": order_id}) if is_order_id(order_id) else None
    if item is None:
        raise HttpError(404, "NotFound", "no such order")
    return Response(200, Order.from_item(item).public_view(), JSON)


def health(request: Request, ctx: Context) -> Response:
    """Public: says it is up and nothing else (no version, no environment)."""
    return Response(200, {"status": "ok"}, JSON)
