"""order-placed: queue each new order's fulfilment, from the orders table's change stream.
process-order: start fulfil-order for each queued order, at least once.

order-placed sees every write of an order (the state after it, at least once): it queues the
orders still PENDING and ignores the rest, so a redelivered or folded change queues at most a
duplicate, which process-order absorbs.

Delivery is at least once, so the workflow's execution id is the order id: a duplicate
message finds the execution started (Workflow.start returns False) and is acknowledged.
A malformed message or an unknown order raises, so it is retried and then dead-lettered.
"""

from __future__ import annotations

import logging

from runtime.contracts import Context, Message

from .models import Order, OrderMessage, Status

logger = logging.getLogger("anycloud.orders")


class OrderNotFound(LookupError):
    """The message names an order the table does not hold (yet): retry, then dead-letter."""


def order_placed(message: Message, ctx: Context) -> None:
    item = message.body["item"]
    if item is not None and item.get("status") == Status.PENDING:
        ctx.queues["orders"].send({"order_id": item["order_id"]})


def process_order(message: Message, ctx: Context) -> None:
    order_id = OrderMessage.model_validate(message.body).order_id
    item = ctx.tables["orders"].get({"order_id": order_id})
    if item is None:
        raise OrderNotFound(f"order {order_id} not found")
    order = Order.from_item(item)
    started = ctx.workflows["fulfil-order"].start(order_id, {"order": order.workflow_order()})
    logger.info("fulfilment %s", "started" if started else "already started", extra={"order_id": order_id})
