"""fulfil-order's tasks: each moves the order to its status and returns what the workflow keeps.

The business failures are the TaskErrors the workflow catches: OutOfStock for the sku
"out-of-stock", PaymentDeclined for a total over 100000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.contracts import Context, TaskError

DECLINED_OVER = 100_000


def _set(ctx: Context, state: Mapping[str, Any], status: str, **changes: Any) -> dict[str, Any]:
    order_id = state["order"]["order_id"]
    return ctx.tables["orders"].update({"order_id": order_id}, {"status": status, **changes})


def reserve_stock(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    if state["order"]["sku"] == "out-of-stock":
        raise TaskError("OutOfStock", "the sku is not available")
    _set(ctx, state, "RESERVED")
    return {"sku": state["order"]["sku"]}


def charge_payment(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    if not ctx.secrets["payment-api-key"].get():
        raise TaskError("PaymentMisconfigured", "the payment API key is not set")
    if state["order"]["total"] > DECLINED_OVER:
        raise TaskError("PaymentDeclined", "the payment was declined")
    _set(ctx, state, "PAID")
    return {"amount": state["order"]["total"]}


def release_stock(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    _set(ctx, state, "RELEASED")
    return {"released": state["order"]["sku"]}


def ship(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    tracking_id = f"trk-{state['order']['order_id']}"
    _set(ctx, state, "SHIPPED", tracking_id=tracking_id)
    return {"tracking_id": tracking_id}


def notify(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    item = ctx.tables["orders"].get({"order_id": state["order"]["order_id"]})
    return {"notified": item is not None}


def mark_completed(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return {"status": _set(ctx, state, "COMPLETED")["status"]}


def mark_failed(state: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    reason = (state.get("error") or {}).get("error", "Unknown")
    return {"status": _set(ctx, state, "FAILED", failure_reason=reason)["status"]}
