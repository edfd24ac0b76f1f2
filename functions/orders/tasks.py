"""Tasks of the fulfil-order workflow: the state in, JSON out.

Business failures are `TaskError`s named as the workflow's Catch expects (OutOfStock,
PaymentDeclined); anything else is TaskFailed and may be retried. A task can run more than
once (retries after a timeout), so each status change is a conditional update from the
expected status, and finding the order already in the target status counts as done.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from runtime.contracts import ConditionFailed, Context, TaskError

from . import models
from .models import DECLINED_TOKEN, OUT_OF_STOCK_SKU, Status, WorkflowOrder

logger = logging.getLogger("anycloud.orders")

_ERROR_NAME = re.compile(r"[A-Za-z0-9_.]{1,64}")


def reserve_stock(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    order = _order(state)
    if any(item.sku == OUT_OF_STOCK_SKU for item in order.items):
        raise TaskError("OutOfStock", f"sku {OUT_OF_STOCK_SKU} is not available")
    _transition(ctx, order.order_id, Status.RESERVED, (Status.PENDING,))
    return {"skus": [item.sku for item in order.items]}


def charge_payment(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    order = _order(state)
    secret = ctx.secrets.get("payment-api-key")
    if secret is None or not secret.get().strip():
        raise TaskError("PaymentMisconfigured", "the payment API key is not configured")
    if order.payment_token == DECLINED_TOKEN:
        raise TaskError("PaymentDeclined", "the payment was declined")
    _transition(ctx, order.order_id, Status.PAID, (Status.RESERVED,))
    return {"payment_id": _derived("pay", order.order_id), "amount_cents": order.total}


def release_stock(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    order = _order(state)
    _transition(ctx, order.order_id, Status.RELEASED, (Status.RESERVED,))
    return {"released": [item.sku for item in order.items]}


def ship(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    order = _order(state)
    tracking_id = _derived("trk", order.order_id)
    _transition(ctx, order.order_id, Status.SHIPPED, (Status.PAID,), shipment={"tracking_id": tracking_id})
    return {"tracking_id": tracking_id}


def notify(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Stands in for an email: logs the id and status only (no customer data in logs)."""
    order = _order(state)
    item = ctx.tables["orders"].get({"order_id": order.order_id})
    if item is None:
        raise TaskError("OrderNotFound", "the order does not exist")
    logger.info("customer notified", extra={"order_id": order.order_id, "status": item.get("status")})
    return {"notified": True}


def mark_completed(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    order = _order(state)
    _transition(ctx, order.order_id, Status.COMPLETED, (Status.SHIPPED,))
    return {"status": Status.COMPLETED.value}


def mark_failed(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """FAILED with the caught error's name (state["error"]["error"], as the workflow stores it)."""
    order = _order(state)
    reason = _caught_error(state)
    sources = (Status.PENDING, Status.RESERVED, Status.RELEASED)
    _transition(ctx, order.order_id, Status.FAILED, sources, failure_reason=reason)
    return {"status": Status.FAILED.value, "failure_reason": reason}


# ---------------------------------------------------------------------- helpers


def _order(state: Mapping[str, Any]) -> WorkflowOrder:
    return WorkflowOrder.model_validate(state["order"])


def _transition(ctx: Context, order_id: str, to: Status, sources: Iterable[Status], **changes: Any) -> None:
    """Move the order to `to` from one of `sources`; already in `to` is fine (a re-run)."""
    table = ctx.tables["orders"]
    key = {"order_id": order_id}
    update = {"status": to.value, "updated_at": models.utc_text(models.now()), **changes}
    for source in sources:
        try:
            table.update(key, update, expect={"status": source.value})
        except ConditionFailed:
            continue
        logger.info("order %s", to.value, extra={"order_id": order_id, "from": source.value})
        return
    item = table.get(key)
    if item is None:
        raise TaskError("OrderNotFound", "the order does not exist")
    if item.get("status") == to.value:
        return
    raise TaskError("OrderStateConflict", f"the order is {item.get('status')}, not {' or '.join(s.value for s in sources)}")


def _caught_error(state: Mapping[str, Any]) -> str:
    error = state.get("error")
    name = error.get("error") if isinstance(error, Mapping) else None
    return name if isinstance(name, str) and _ERROR_NAME.fullmatch(name) else "Unknown"


def _derived(prefix: str, order_id: str) -> str:
    """A stable id per order, so a re-run returns what the first run did."""
    return f"{prefix}_{hashlib.sha256(f'{prefix}:{order_id}'.encode()).hexdigest()[:24]}"
