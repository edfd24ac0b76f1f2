"""The portable function runtime: contracts every cloud adapter implements.

Handlers are plain functions over these types; nothing here names a cloud:

    def create_order(request: Request, ctx: Context) -> Response      # an HTTP route
    def process_order(message: Message, ctx: Context) -> None         # a queue consumer (raise to retry)
    def reserve_stock(state: dict, ctx: Context) -> Any               # a workflow task

A task fails with a named error by raising `TaskError("PaymentDeclined", "...")`; any other
exception is `TaskFailed`. Routes fail with `HttpError`; anything unexpected becomes a 500
that says "internal error" and the request id, never the exception text.
"""

from .contracts import (
    ConditionFailed,
    Context,
    HttpError,
    Message,
    Queue,
    Request,
    Response,
    Secret,
    Table,
    TaskError,
    Workflow,
    idempotent,
)

__all__ = [
    "ConditionFailed",
    "Context",
    "HttpError",
    "Message",
    "Queue",
    "Request",
    "Response",
    "Secret",
    "Table",
    "TaskError",
    "Workflow",
    "idempotent",
]
