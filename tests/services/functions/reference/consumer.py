"""The queue's consumer: starts fulfil-order once per order (the order id names the execution)."""

from __future__ import annotations

from runtime.contracts import Context, Message


class OrderNotFound(LookupError):
    """The message names an order the table does not hold: raised, so it is retried, then dead-lettered."""


def process_order(message: Message, ctx: Context) -> None:
    order_id = message.body["order_id"]
    item = ctx.tables["orders"].get({"order_id": order_id})
    if item is None:
        raise OrderNotFound(order_id)
    ctx.workflows["fulfil-order"].start(order_id, {"order": {"order_id": order_id, "total": item["total"],
                                                            "sku": item["sku"]}})
