"""The many-routes shape: twelve routes on six functions over one products table; a function
reached by two routes tells them apart by method and path."""

from __future__ import annotations

import uuid

from runtime.contracts import Context, HttpError, Request, Response

JSON = {"content-type": "application/json"}


def _product(ctx: Context, request: Request) -> dict:
    item = ctx.tables["products"].get({"product_id": request.path_params.get("product_id", "")})
    if item is None:
        raise HttpError(404, "NotFound", "no such product")
    return item


def _fields(request: Request) -> dict:
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("category"), str):
        raise HttpError(400, "ValidationFailed", "name and category are required",
                        [{"field": "name", "message": "required"}, {"field": "category", "message": "required"}])
    return {"name": body["name"], "category": body["category"]}


def list_products(request: Request, ctx: Context) -> Response:
    category = request.path_params.get("category") or request.query.get("category")
    if not category:
        raise HttpError(400, "ValidationFailed", "name a category", [{"field": "category", "message": "required"}])
    return Response(200, {"products": ctx.tables["products"].query({"category": category}, index="by-category")}, JSON)


def get_product(request: Request, ctx: Context) -> Response:
    item = _product(ctx, request)
    if request.path.endswith("/summary"):
        item = {"product_id": item["product_id"], "name": item["name"]}
    return Response(200, item, JSON)


def put_product(request: Request, ctx: Context) -> Response:
    """POST /products creates with a new id; PUT /products/{product_id} writes that one."""
    product_id = request.path_params.get("product_id") or str(uuid.uuid4())
    item = {"product_id": product_id, **_fields(request)}
    ctx.tables["products"].put(item)
    return Response(201 if request.method == "POST" else 200, item, JSON)


def change_product(request: Request, ctx: Context) -> Response:
    """PATCH renames, DELETE removes."""
    item = _product(ctx, request)
    key = {"product_id": item["product_id"]}
    if request.method == "DELETE":
        ctx.tables["products"].delete(key)
        return Response(204)
    body = request.json()
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise HttpError(400, "ValidationFailed", "name is required", [{"field": "name", "message": "required"}])
    return Response(200, ctx.tables["products"].update(key, {"name": name}), JSON)


def search(request: Request, ctx: Context) -> Response:
    term = (request.path_params.get("term") or request.query.get("q") or "").lower()
    found = ctx.tables["products"].query({"category": term}, index="by-category") if term else []
    return Response(200, {"products": [{"product_id": p["product_id"], "name": p["name"]} for p in found]}, JSON)


def status(request: Request, ctx: Context) -> Response:
    return Response(200, {"status": "ok"} if request.path == "/health" else {"version": "1"}, JSON)
