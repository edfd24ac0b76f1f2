"""The orders requests every cloud's end-to-end test sends: a valid order, and bodies the API
must refuse with a 4xx that leaves no trace."""

from __future__ import annotations

import json
import uuid

from runtime.contracts import MAX_BODY_BYTES

JSON = {"content-type": "application/json"}
ORDER = {
    "customer_id": "cust-1",
    "items": [{"sku": "widget-1", "quantity": 2, "unit_price_cents": 1250}, {"sku": "gadget", "quantity": 1, "unit_price_cents": 999}],
    "currency": "EUR",
    "payment_token": "tok_visa",
}
#: What GET /orders/{id} shows a client (nothing internal).
PUBLIC_FIELDS = {"order_id", "customer_id", "items", "total_cents", "currency", "status", "created_at", "updated_at"}
#: name -> (body, headers, status)
INVALID = {
    "malformed json": ('{"customer_id": "c-1",', JSON, 400),
    "not json at all": (b"\xff\xfe\x00", JSON, 400),
    "empty body": ("", JSON, 400),
    "a json array": ([ORDER], JSON, 400),
    "wrong content type": (json.dumps(ORDER), {"content-type": "text/plain"}, 415),
    "no content type": (json.dumps(ORDER), {}, 415),
    "too large": (json.dumps({**ORDER, "pad": "x" * MAX_BODY_BYTES}), JSON, 413),
    "missing fields": ({"customer_id": "c-1"}, JSON, 400),
    "wrong types": ({**ORDER, "items": [{"sku": "widget-1", "quantity": "2", "unit_price_cents": 1250}]}, JSON, 400),
    "quantity out of range": ({**ORDER, "items": [{"sku": "widget-1", "quantity": 0, "unit_price_cents": 1250}]}, JSON, 400),
    "no items": ({**ORDER, "items": []}, JSON, 400),
    "client total": ({**ORDER, "total_cents": 1}, JSON, 400),
    "client order id": ({**ORDER, "order_id": str(uuid.uuid4())}, JSON, 400),
    "client status": ({**ORDER, "status": "COMPLETED"}, JSON, 400),
    "raw card number": ({**ORDER, "payment_token": "4111111111111111"}, JSON, 400),
    "unknown currency": ({**ORDER, "currency": "BTC"}, JSON, 400),
    "bad customer id": ({**ORDER, "customer_id": "c 1; drop table"}, JSON, 400),
    "deeply nested": ("[" * 20_000 + "]" * 20_000, JSON, 400),
    "bad idempotency key": (ORDER, {**JSON, "idempotency-key": "k" * 129}, 400),
}
INVALID_WITH_A_KEY = ({**ORDER, "items": []}, {**JSON, "idempotency-key": "key-1"}, 400)
