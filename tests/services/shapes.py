"""Test services shaped the ways a team's service differs from the reference one: no workflow,
no queue, two tables, many routes. Each renders on every cloud with the whole policy pack clear
(tests/test_services.py); their handlers are under tests/services/functions/shapes/."""

from __future__ import annotations

from components.spec import (
    ApiSpec,
    Choice,
    FunctionSpec,
    IndexSpec,
    Key,
    QueueSpec,
    Retry,
    RouteSpec,
    Rule,
    ServiceSpec,
    Succeed,
    TableSpec,
    Task,
    WorkflowSpec,
)


def _fn(name: str, handler: str, *uses, **fields) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"shapes.{handler}", uses=uses, **fields)


def _route(key: str, function: str, public: bool = False) -> RouteSpec:
    method, path = key.split(" ")
    return RouteSpec(method=method, path=path, function=function, public=public)


# ------------------------------------------------------------- no workflow: routes and a queue

notes = TableSpec(name="notes", partition_key=Key(name="note_id"))
indexing = QueueSpec(name="indexing", consumer="index-note")

NO_WORKFLOW = ServiceSpec(
    name="notes",
    tables=(notes,),
    queues=(indexing,),
    functions=(
        _fn("create-note", "notes:create_note", notes.write(), indexing.send()),
        _fn("get-note", "notes:get_note", notes.read()),
        _fn("index-note", "notes:index_note", notes.write(), timeout_s=30),
    ),
    api=ApiSpec(routes=(_route("POST /notes", "create-note"), _route("GET /notes/{note_id}", "get-note"))),
)

# ------------------------------------------------- no queue: a route starts the workflow itself

approval_requests = TableSpec(name="requests", partition_key=Key(name="request_id"))
review = WorkflowSpec(
    name="review",
    start="check-amount",
    steps={
        "check-amount": Choice(rules=(Rule(path="request.amount", op=">", value=1000, next="escalate"),),
                               default="approve"),
        "approve": Task(function="approve", result="decision", next="done"),
        "escalate": Task(function="escalate", result="decision", next="done",
                         retry=(Retry(errors=("TaskFailed",), attempts=2, interval_s=1),)),
        "done": Succeed(),
    },
)

NO_QUEUE = ServiceSpec(
    name="approvals",
    tables=(approval_requests,),
    workflows=(review,),
    functions=(
        _fn("submit-request", "approvals:submit_request", approval_requests.write(), review.start_access()),
        _fn("get-request", "approvals:get_request", approval_requests.read()),
        _fn("approve", "approvals:approve", approval_requests.write()),
        _fn("escalate", "approvals:escalate", approval_requests.write()),
    ),
    api=ApiSpec(routes=(_route("POST /requests", "submit-request"), _route("GET /requests/{request_id}", "get-request"))),
)

# ------------------------------------------------- two tables: each function its own tables

books = TableSpec(name="books", partition_key=Key(name="isbn"))
loans = TableSpec(name="loans", partition_key=Key(name="loan_id"),
                  indexes=(IndexSpec(name="by-isbn", partition_key=Key(name="isbn")),))

TWO_TABLES = ServiceSpec(
    name="library",
    tables=(books, loans),
    functions=(
        _fn("add-book", "library:add_book", books.write()),
        _fn("get-book", "library:get_book", books.read()),
        _fn("lend-book", "library:lend_book", books.read(), loans.write()),
        _fn("list-loans", "library:list_loans", loans.read()),
    ),
    api=ApiSpec(routes=(
        _route("POST /books", "add-book"),
        _route("GET /books/{isbn}", "get-book", public=True),
        _route("POST /loans", "lend-book"),
        _route("GET /books/{isbn}/loans", "list-loans"),
    )),
)

# ------------------------------------------------- many routes: twelve on six functions

products = TableSpec(name="products", partition_key=Key(name="product_id"),
                     indexes=(IndexSpec(name="by-category", partition_key=Key(name="category")),))

MANY_ROUTES = ServiceSpec(
    name="catalogue",
    tables=(products,),
    functions=(
        _fn("list-products", "catalogue:list_products", products.read()),
        _fn("get-product", "catalogue:get_product", products.read()),
        _fn("put-product", "catalogue:put_product", products.write()),
        _fn("change-product", "catalogue:change_product", products.write()),
        _fn("search", "catalogue:search", products.read()),
        _fn("status", "catalogue:status", memory_mb=128, timeout_s=3),
    ),
    api=ApiSpec(routes=(
        _route("GET /products", "list-products"),
        _route("GET /categories/{category}/products", "list-products"),
        _route("GET /products/{product_id}", "get-product"),
        _route("GET /products/{product_id}/summary", "get-product"),
        _route("POST /products", "put-product"),
        _route("PUT /products/{product_id}", "put-product"),
        _route("PATCH /products/{product_id}", "change-product"),
        _route("DELETE /products/{product_id}", "change-product"),
        _route("GET /search", "search", public=True),
        _route("GET /search/{term}", "search", public=True),
        _route("GET /health", "status", public=True),
        _route("GET /version", "status", public=True),
    )),
)
