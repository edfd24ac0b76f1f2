"""The orders domain: what a client may send, what is stored, and what a client may see.

Request models are strict and refuse unknown fields: a client can't set the id, the status
or the total (computed here), and "1" is not a quantity. Stored orders are read back leniently
(a store may return numbers as Decimal) but must still have exactly the stored shape.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_serializer,
)

RETENTION = timedelta(days=365)
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
DECLINED_TOKEN = "tok_chargeDeclined"  # documented test token: charge-payment declines it
OUT_OF_STOCK_SKU = "out-of-stock"  # documented test SKU: reserve-stock raises OutOfStock


class Status(StrEnum):
    PENDING = "PENDING"
    RESERVED = "RESERVED"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    RELEASED = "RELEASED"
    FAILED = "FAILED"


def _no_card_number(token: str) -> str:
    """PCI: a token is made by the payment provider. 13+ digits in a row (ignoring separators)
    look like a card number, which must never reach our logs or tables."""
    if re.search(r"\d{13,}", re.sub(r"[\s_-]", "", token)):
        raise ValueError("looks like a card number; tokenise the card with the payment provider")
    return token


Currency = Literal["EUR", "USD", "GBP"]
CustomerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Sku = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,64}$")]
PaymentToken = Annotated[str, StringConstraints(pattern=r"^tok_[A-Za-z0-9_-]{1,124}$"), AfterValidator(_no_card_number)]
OrderId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


def now() -> datetime:
    """The clock for orders (tests may replace it): always timezone-aware, never utcnow()."""
    return datetime.now(UTC)


#: The namespace of order ids derived from an Idempotency-Key (uuid5; any fixed UUID serves).
ORDER_IDS = uuid.UUID("5b0c8a7e-3f1d-4c49-9a55-0d6f3e2b7c11")


def order_id_for(idempotency_key: str | None, body: bytes, caller: str = "") -> str | None:
    """The order id a request with an Idempotency-Key always gets: a retry after a crash between
    the order's write and the stored response writes the same id again and finds it there, so
    one request makes one order. The verified caller and the body are part of it, as they are of
    the idempotency record's scope: another caller, or another order under the same key, gets
    another id (never someone else's order). No key: None (a fresh id; a retry may make a second
    order)."""
    if not idempotency_key:
        return None
    return str(uuid.uuid5(ORDER_IDS, f"{caller}\n{idempotency_key}\n{hashlib.sha256(body).hexdigest()}"))


def is_order_id(value: str) -> bool:
    """A canonical lowercase UUID, the only form the service generates."""
    return re.fullmatch(UUID_PATTERN, value) is not None


def utc_text(moment: datetime) -> str:
    """Fixed-width ISO 8601 UTC, so timestamps sort as text (the by-customer index relies on it)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LineItem(_Strict):
    sku: Sku
    quantity: int = Field(ge=1, le=100)
    unit_price_cents: int = Field(ge=1, le=1_000_000)


class CreateOrder(_Strict):
    """The POST /orders body."""

    customer_id: CustomerId
    items: list[LineItem] = Field(min_length=1, max_length=50)
    currency: Currency
    payment_token: PaymentToken


class OrderMessage(_Strict):
    """The `orders` queue message: only the id; the consumer reads the order itself."""

    order_id: OrderId


class Shipment(_Strict):
    tracking_id: str


class WorkflowOrder(_Strict):
    """state["order"] in the fulfil-order workflow (the Choice step reads `total`)."""

    order_id: OrderId
    customer_id: CustomerId
    total: int
    currency: Currency
    payment_token: PaymentToken
    items: list[LineItem]


class StoredOrderInvalid(RuntimeError):
    """A stored item is not an order: a server fault (500), never the client's (400)."""


class Order(BaseModel):
    """An item of the `orders` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: OrderId
    customer_id: CustomerId
    items: list[LineItem]
    total_cents: int
    currency: Currency
    payment_token: PaymentToken
    status: Status
    created_at: AwareDatetime
    updated_at: AwareDatetime
    expires_at: int
    failure_reason: str | None = None
    shipment: Shipment | None = None

    @field_serializer("created_at", "updated_at")
    def _iso(self, moment: datetime) -> str:
        return utc_text(moment)

    @classmethod
    def new(cls, request: CreateOrder, now: datetime, order_id: str | None = None) -> Order:
        """A PENDING order: id given (`order_id_for`) or generated, total computed here, kept for RETENTION."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return cls(
            order_id=order_id or str(uuid.uuid4()),
            customer_id=request.customer_id,
            items=list(request.items),
            total_cents=sum(i.quantity * i.unit_price_cents for i in request.items),
            currency=request.currency,
            payment_token=request.payment_token,
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            expires_at=int((now + RETENTION).timestamp()),
        )

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Order:
        try:
            return cls.model_validate(item, strict=False)
        except ValidationError as err:
            # Field names only: the error's own text would carry stored values into logs.
            fields = sorted({".".join(map(str, e["loc"])) for e in err.errors()})
            raise StoredOrderInvalid(f"stored order is invalid: {', '.join(fields)}") from None

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def public_view(self) -> dict[str, Any]:
        """What GET /orders/{id} returns: never the payment token or the retention timestamp."""
        return self.model_dump(mode="json", exclude={"payment_token", "expires_at"}, exclude_none=True)

    def workflow_order(self) -> dict[str, Any]:
        """state["order"] for fulfil-order."""
        return WorkflowOrder(
            order_id=self.order_id,
            customer_id=self.customer_id,
            total=self.total_cents,
            currency=self.currency,
            payment_token=self.payment_token,
            items=self.items,
        ).model_dump(mode="json")
