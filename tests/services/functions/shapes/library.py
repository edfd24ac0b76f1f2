"""The two-tables shape: books and loans, each function touching only the tables it declares."""

from __future__ import annotations

import uuid

from runtime.contracts import ConditionFailed, Context, HttpError, Request, Response

JSON = {"content-type": "application/json"}


def _text(body: object, field: str) -> str:
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise HttpError(400, "ValidationFailed", f"{field} is required", [{"field": field, "message": "required"}])
    return value


def add_book(request: Request, ctx: Context) -> Response:
    body = request.json()
    isbn, title = _text(body, "isbn"), _text(body, "title")
    try:
        ctx.tables["books"].put({"isbn": isbn, "title": title}, if_absent=True)
    except ConditionFailed:
        raise HttpError(409, "Conflict", "the book exists") from None
    return Response(201, {"isbn": isbn}, JSON)


def get_book(request: Request, ctx: Context) -> Response:
    item = ctx.tables["books"].get({"isbn": request.path_params.get("isbn", "")})
    if item is None:
        raise HttpError(404, "NotFound", "no such book")
    return Response(200, item, JSON)


def lend_book(request: Request, ctx: Context) -> Response:
    """Reads books (the book must exist), writes loans."""
    body = request.json()
    isbn, reader = _text(body, "isbn"), _text(body, "reader")
    if ctx.tables["books"].get({"isbn": isbn}) is None:
        raise HttpError(404, "NotFound", "no such book")
    loan_id = str(uuid.uuid4())
    ctx.tables["loans"].put({"loan_id": loan_id, "isbn": isbn, "reader": reader}, if_absent=True)
    return Response(201, {"loan_id": loan_id}, JSON)


def list_loans(request: Request, ctx: Context) -> Response:
    loans = ctx.tables["loans"].query({"isbn": request.path_params.get("isbn", "")}, index="by-isbn")
    return Response(200, {"loans": loans}, JSON)
