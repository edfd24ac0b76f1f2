"""HTTP routes of the orders service. run_route (runtime/http.py) maps their errors.

create_order makes one write, the order itself (the outbox pattern): what must follow, the
queued fulfilment, is sent by `order-placed` from the orders table's change stream, so an order
that is stored is processed even if this process dies right after the write. A 202 means it
will be. With an Idempotency-Key, the order id is derived from the verified caller, the key and
the body: a retry
after a crash writes the same id, finds the order and answers as the first time (the stored
response is replayed when the first run got to store it). Everything is validated before the
write, so a bad request leaves no trace.
"""

from __future__ import annotations

from runtime.contracts import ConditionFailed, Context, HttpError, Request, Response, idempotent
from runtime.http import IDEMPOTENCY_HEADER, parse_body

from . import models
from .models import CreateOrder, Order, is_order_id

JSON = {"content-type": "application/json"}


@idempotent
def create_order(request: Request, ctx: Context) -> Response:
    body = parse_body(request, CreateOrder)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    order = Order.new(body, models.now(), models.order_id_for(key, request.body, request.caller))
    try:
        ctx.tables["orders"].put(order.to_item(), if_absent=True)
    except ConditionFailed:  # this request was accepted before: answer with the order it made
        order = Order.from_item(ctx.tables["orders"].get({"order_id": order.order_id}))
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
