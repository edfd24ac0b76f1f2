"""The example `orders` service, declared once without naming a cloud.

Orders are accepted over HTTP with one write (the order; the orders table's change stream
queues it: the outbox pattern), and fulfilled by a workflow: reserve stock (with
retries), check the total, charge the payment (a declined payment releases the stock and
fails the order), then ship and notify in parallel and mark the order completed.
"""

from components.spec import (
    ApiSpec,
    Branch,
    Catch,
    Choice,
    Fail,
    FunctionSpec,
    IndexSpec,
    Key,
    Parallel,
    QueueSpec,
    Retry,
    RouteSpec,
    Rule,
    SecretSpec,
    ServiceSpec,
    StreamSpec,
    Succeed,
    TableSpec,
    Task,
    Throttle,
    WorkflowSpec,
)

orders = TableSpec(
    name="orders",
    partition_key=Key(name="order_id"),
    indexes=(IndexSpec(name="by-customer", partition_key=Key(name="customer_id"), sort_key=Key(name="created_at")),),
    ttl_attribute="expires_at",
    stream=StreamSpec(consumer="order-placed", batch_size=10, max_receives=5),
)
idempotency = TableSpec(name="idempotency", partition_key=Key(name="id"), ttl_attribute="expiration")
jobs = QueueSpec(name="orders", consumer="process-order", batch_size=10, max_receives=5, retention_days=4)
payment_key = SecretSpec(name="payment-api-key", config_key="paymentApiKey")

fulfil = WorkflowSpec(
    name="fulfil-order",
    start="reserve-stock",
    steps={
        "reserve-stock": Task(
            function="reserve-stock",
            result="reservation",
            retry=(Retry(errors=("TaskFailed",), attempts=3, interval_s=2, backoff_rate=2.0, max_delay_s=30),),
            catch=(Catch(errors=("OutOfStock",), next="mark-failed"),),
            next="check-total",
        ),
        "check-total": Choice(
            rules=(Rule(path="order.total", op=">", value=0, next="charge-payment"),),
            default="release-invalid",
        ),
        "release-invalid": Task(function="release-stock", next="invalid-order"),
        "invalid-order": Fail(error="InvalidOrder", cause="The order total must be positive"),
        "charge-payment": Task(
            function="charge-payment",
            result="payment",
            retry=(Retry(errors=("TaskFailed",), attempts=2, interval_s=1),),
            catch=(Catch(errors=("PaymentDeclined",), next="release-stock"),),
            next="ship-and-notify",
        ),
        "release-stock": Task(function="release-stock", next="mark-failed"),
        "mark-failed": Task(function="mark-failed", next="order-failed"),
        "order-failed": Fail(error="OrderFailed", cause="Payment declined or stock unavailable; stock released"),
        "ship-and-notify": Parallel(
            branches=(
                Branch(start="ship", steps={"ship": Task(function="ship", result="shipment")}),
                Branch(start="notify", steps={"notify": Task(function="notify")}),
            ),
            result="fulfilment",
            next="mark-completed",
        ),
        "mark-completed": Task(function="mark-completed", next="done"),
        "done": Succeed(),
    },
)


def _task(name: str, handler: str, *uses, timeout_s: int = 10) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"orders.tasks:{handler}", uses=uses, timeout_s=timeout_s)


SERVICE = ServiceSpec(
    name="orders",
    tables=(orders, idempotency),
    queues=(jobs,),
    secrets=(payment_key,),
    workflows=(fulfil,),
    functions=(
        FunctionSpec(
            name="create-order",
            handler="orders.api:create_order",
            memory_mb=512,
            timeout_s=10,
            uses=(orders.write(), idempotency.write()),
        ),
        FunctionSpec(name="order-placed", handler="orders.consumer:order_placed", uses=(jobs.send(),)),
        FunctionSpec(name="get-order", handler="orders.api:get_order", uses=(orders.read(),)),
        FunctionSpec(name="health", handler="orders.api:health", memory_mb=128, timeout_s=3),
        FunctionSpec(
            name="process-order",
            handler="orders.consumer:process_order",
            timeout_s=30,
            uses=(orders.read(), idempotency.write(), fulfil.start_access()),
        ),
        _task("reserve-stock", "reserve_stock", orders.write()),
        _task("charge-payment", "charge_payment", orders.write(), payment_key.read(), timeout_s=20),
        _task("release-stock", "release_stock", orders.write()),
        _task("ship", "ship", orders.write()),
        _task("notify", "notify", orders.read()),
        _task("mark-completed", "mark_completed", orders.write()),
        _task("mark-failed", "mark_failed", orders.write()),
    ),
    api=ApiSpec(
        routes=(
            RouteSpec(method="POST", path="/orders", function="create-order"),
            RouteSpec(method="GET", path="/orders/{order_id}", function="get-order"),
            RouteSpec(method="GET", path="/health", function="health", public=True),
        ),
        throttle=Throttle(rate_limit=50, burst_limit=100),
    ),
)
