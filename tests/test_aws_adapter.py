"""The AWS adapter (functions/runtime/aws/): events in, contracts out, resources over moto.

The handlers here are small test handlers (tests/support/sample_handlers.py); the orders
service runs end to end in tests/example/test_e2e_aws.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from components.packaging import runtime_files
from runtime.aws import entry
from runtime.aws.events import HTTP, SQS, TASK, http_response, kind_of, request_from
from runtime.aws.resources import Clients, DynamoTable, SecretsManagerSecret, build_context
from runtime.contracts import ConditionFailed, HttpError, MAX_BODY_BYTES, Response
from tests.conftest import SERVICE_FUNCTIONS
from tests.support import sample_handlers
from tests.support.inprocess_lambda import LambdaContext
from tests.support.lambda_events import http_event, sqs_event, sqs_record

ROOT = Path(__file__).resolve().parent.parent
LAMBDA = "aws:lambda/function:Function"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:jobs"
KEYS = json.dumps({"key": ["id"], "indexes": {}})
ITEM_KEYS = json.dumps({"key": ["pk", "sk"], "indexes": {"by-owner": ["owner", "created"]}})


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    """What the Lambda runtime provides (credentials, region); tracing off outside Lambda."""
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }.items():
        monkeypatch.setenv(var, value)
    sample_handlers.CALLS.clear()
    entry.reset()
    yield
    entry.reset()


def _table(client, name: str, key: list[tuple[str, str]], indexes: dict | None = None) -> None:
    attrs = {a for a, _ in key} | {a for keys in (indexes or {}).values() for a in keys}
    args = {
        "TableName": name,
        "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in key],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        args["GlobalSecondaryIndexes"] = [
            {
                "IndexName": n,
                "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in zip(keys, ("HASH", "RANGE"))],
                "Projection": {"ProjectionType": "ALL"},
            }
            for n, keys in indexes.items()
        ]
    client.create_table(**args)


@pytest.fixture
def aws():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        ddb = boto3.client("dynamodb")
        _table(ddb, "items", [("id", "HASH")])
        _table(ddb, "idem", [("id", "HASH")])
        _table(ddb, "things", [("pk", "HASH"), ("sk", "RANGE")], {"by-owner": ["owner", "created"]})
        yield ddb


def env_for(handler: str, **extra: str) -> dict[str, str]:
    return {
        "ANYCLOUD_SERVICE": "svc",
        "ANYCLOUD_FUNCTION": handler,
        "ANYCLOUD_ENVIRONMENT": "test",
        "ANYCLOUD_HANDLER": f"tests.support.sample_handlers:{handler}",
        "POWERTOOLS_SERVICE_NAME": "svc",
        "POWERTOOLS_METRICS_NAMESPACE": "anycloud/svc",
        "ANYCLOUD_TABLE_ITEMS": "items",
        "ANYCLOUD_KEYS_ITEMS": KEYS,
        **extra,
    }


IDEM = {"ANYCLOUD_TABLE_IDEMPOTENCY": "idem", "ANYCLOUD_KEYS_IDEMPOTENCY": KEYS}


def invoke(env: dict[str, str], event, name: str = "fn"):
    context = LambdaContext(function_name=name, invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{name}")
    return entry.instance(env).handle(event, context)


def body(response: dict) -> dict:
    return json.loads(response["body"])


# --------------------------------------------------------------------------- event shapes


def test_event_shapes():
    assert kind_of(http_event("GET", "/health")) == HTTP
    assert kind_of(sqs_event([sqs_record("{}", queue_arn=QUEUE_ARN)])) == SQS
    assert kind_of({"order": {"order_id": "x"}}) == TASK
    assert kind_of({"Records": [{"eventSource": "aws:sns"}]}) == TASK
    assert kind_of({"Records": []}) == TASK
    assert kind_of([1, 2]) == TASK and kind_of(None) == TASK


def test_request_from_http_api_event():
    event = http_event(
        "post",
        "/orders/o-1",
        b"\x00\xffbinary",
        headers={"Content-Type": "application/json", "X-Mixed-Case": "v"},
        path_params={"order_id": "o-1"},
        query={"page": "2"},
        request_id="req-1",
        base64_body=True,
    )
    request = request_from(event)
    assert request.method == "POST" and request.path == "/orders/o-1" and request.request_id == "req-1"
    assert request.body == b"\x00\xffbinary"
    assert request.headers["content-type"] == "application/json" and request.headers["x-mixed-case"] == "v"
    assert dict(request.path_params) == {"order_id": "o-1"} and dict(request.query) == {"page": "2"}
    assert request_from(http_event("GET", "/health")).body == b""
    assert request_from(http_event("POST", "/x", "héllo")).body == "héllo".encode()


def test_undecodable_base64_body_is_400():
    event = http_event("POST", "/x")
    event.update(body="%%% not base64", isBase64Encoded=True)
    with pytest.raises(HttpError) as caught:
        request_from(event)
    assert caught.value.status == 400


def test_http_response_shape():
    out = http_response(Response(202, {"b": 1, "a": 2}, {"Location": "/orders/1"}), "req-9")
    assert out == {
        "statusCode": 202,
        "headers": {"location": "/orders/1", "content-type": "application/json", "x-request-id": "req-9"},
        "body": '{"a":2,"b":1}',
        "isBase64Encoded": False,
    }
    assert http_response(Response(204))["body"] == ""


# ---------------------------------------------------------------------------------- routes


def test_route_gets_request_and_context(aws):
    event = http_event("GET", "/things/t1", headers={"X-Trace": "abc"}, path_params={"id": "t1"}, request_id="req-42")
    out = invoke(env_for("echo"), event)
    assert out["statusCode"] == 200
    assert out["headers"]["x-custom"] == "yes" and out["headers"]["x-request-id"] == "req-42"
    seen = body(out)
    assert seen["request_id"] == seen["ctx_request_id"] == "req-42"
    assert seen["params"] == {"id": "t1"} and seen["headers"]["x-trace"] == "abc"
    assert seen["tables"] == ["items"]


def test_route_errors_are_json_and_hide_internal_text(aws):
    refused = invoke(env_for("refuse"), http_event("GET", "/x", request_id="req-1"))
    assert refused["statusCode"] == 404
    assert body(refused) == {"error": "NotFound", "message": "no such thing", "request_id": "req-1"}
    crashed = invoke(env_for("crash"), http_event("GET", "/x", request_id="req-2"))
    assert crashed["statusCode"] == 500
    assert body(crashed) == {"error": "InternalError", "message": "internal error", "request_id": "req-2"}
    assert "secret" not in crashed["body"]


def test_idempotent_route_replays_first_response_and_refuses_another_body(aws):
    env = env_for("create", **IDEM)
    headers = {"content-type": "application/json", "idempotency-key": "key-1"}
    first = invoke(env, http_event("POST", "/items", {"name": "a"}, headers=headers))
    again = invoke(env, http_event("POST", "/items", {"name": "a"}, headers=headers))
    assert first["statusCode"] == again["statusCode"] == 201
    assert first["body"] == again["body"] and again["headers"]["location"] == first["headers"]["location"]
    assert sample_handlers.CALLS["create"] == 1
    assert len(aws.scan(TableName="items")["Items"]) == 1

    other = invoke(env, http_event("POST", "/items", {"name": "b"}, headers=headers))
    assert other["statusCode"] == 409 and body(other)["error"] == "IdempotencyKeyReused"
    assert sample_handlers.CALLS["create"] == 1

    # Another key, or no key, runs the handler again.
    invoke(env, http_event("POST", "/items", {"name": "a"}, headers={**headers, "idempotency-key": "key-2"}))
    invoke(env, http_event("POST", "/items", {"name": "a"}, headers={"content-type": "application/json"}))
    assert sample_handlers.CALLS["create"] == 3

    # Powertools' record: key attribute `id` scoped to the function, TTL attribute `expiration`.
    records = aws.scan(TableName="idem")["Items"]
    assert len(records) == 2
    assert all(r["id"]["S"].startswith("create.route#") and "expiration" in r for r in records)


def test_idempotency_key_is_scoped_to_the_caller(aws):
    env = env_for("create", **IDEM)
    headers = {"content-type": "application/json", "idempotency-key": "shared"}
    alice = invoke(env, http_event("POST", "/items", {"name": "a"}, headers=headers, sub="alice"))
    bob = invoke(env, http_event("POST", "/items", {"name": "a"}, headers=headers, sub="bob"))
    assert body(alice) != body(bob) and sample_handlers.CALLS["create"] == 2


def test_a_refused_request_stores_nothing_so_a_corrected_retry_runs(aws):
    env = env_for("create", **IDEM)
    headers = {"content-type": "application/json", "idempotency-key": "key-1"}
    bad = invoke(env, http_event("POST", "/items", {"nope": 1}, headers=headers))
    assert bad["statusCode"] == 400
    assert aws.scan(TableName="idem")["Items"] == []
    good = invoke(env, http_event("POST", "/items", {"name": "a"}, headers=headers))
    assert good["statusCode"] == 201


@pytest.mark.parametrize(
    ("body_", "headers", "status"),
    [
        ("{not json", {"content-type": "application/json"}, 400),
        ('{"name": "a"}', {"content-type": "text/plain"}, 415),
        ('{"name": "a"}', {}, 415),
        ("x" * (MAX_BODY_BYTES + 1), {"content-type": "application/json"}, 413),
        ('{"name": "a"}', {"content-type": "application/json", "idempotency-key": "\u00e9" * 3}, 400),
        ('{"name": "a"}', {"content-type": "application/json", "idempotency-key": "k" * 129}, 400),
    ],
    ids=["malformed", "wrong-type", "no-type", "too-large", "non-ascii-key", "long-key"],
)
def test_bad_requests_are_4xx_and_leave_no_trace(aws, body_, headers, status):
    out = invoke(env_for("create", **IDEM), http_event("POST", "/items", body_, headers=headers))
    assert out["statusCode"] == status
    assert set(body(out)) >= {"error", "message", "request_id"}
    assert aws.scan(TableName="items")["Items"] == [] and aws.scan(TableName="idem")["Items"] == []


def test_an_idempotent_handler_needs_the_idempotency_table(aws):
    with pytest.raises(RuntimeError, match="idempotency"):
        entry.instance(env_for("create"))


# ------------------------------------------------------------------------------- consumers


def test_consumer_reports_only_the_failed_records(aws):
    good = sqs_record(json.dumps({"id": "m-1"}), queue_arn=QUEUE_ARN, message_id="good", receive_count=3)
    poison = sqs_record("not json {", queue_arn=QUEUE_ARN, message_id="poison")
    failing = sqs_record(json.dumps({"id": "m-2", "fail": True}), queue_arn=QUEUE_ARN, message_id="failing")
    out = invoke(env_for("consume"), sqs_event([good, poison, failing]))
    assert out == {"batchItemFailures": [{"itemIdentifier": "poison"}, {"itemIdentifier": "failing"}]}
    (item,) = aws.scan(TableName="items")["Items"]
    assert item["id"]["S"] == "m-1" and item["receive_count"]["N"] == "3" and item["message_id"]["S"] == "good"
    # A batch where everything fails is still a partial-batch answer, not a function error.
    assert invoke(env_for("consume"), sqs_event([poison])) == {"batchItemFailures": [{"itemIdentifier": "poison"}]}


def test_idempotent_consumer_processes_a_body_once(aws):
    env = env_for("consume", **IDEM)
    first = sqs_record(json.dumps({"id": "m-1"}), queue_arn=QUEUE_ARN, message_id="a")
    duplicate = sqs_record(json.dumps({"id": "m-1"}), queue_arn=QUEUE_ARN, message_id="b")
    assert invoke(env, sqs_event([first])) == {"batchItemFailures": []}
    assert invoke(env, sqs_event([duplicate])) == {"batchItemFailures": []}
    assert sample_handlers.CALLS["consume"] == 1
    # A failure stores nothing: the redelivery runs the consumer again.
    failing = sqs_record(json.dumps({"id": "m-2", "fail": True}), queue_arn=QUEUE_ARN, message_id="c")
    assert invoke(env, sqs_event([failing]))["batchItemFailures"] == [{"itemIdentifier": "c"}]
    assert invoke(env, sqs_event([failing]))["batchItemFailures"] == [{"itemIdentifier": "c"}]
    assert sample_handlers.CALLS["consume"] == 3
    records = aws.scan(TableName="idem")["Items"]
    assert [r["id"]["S"].split("#")[0] for r in records] == ["consume.consumer"]


# ----------------------------------------------------------------------------------- tasks


def test_task_returns_its_json(aws):
    out = invoke(env_for("task"), {"n": 7})
    assert out["seen"] == 7 and out["request_id"]  # the Lambda request id


def test_task_error_becomes_an_exception_named_after_the_error(aws):
    with pytest.raises(Exception) as caught:
        invoke(env_for("task"), {"raise": "business"})
    assert type(caught.value).__name__ == "PaymentDeclined"
    assert str(caught.value) == "card declined"
    assert entry.task_exception("PaymentDeclined") is type(caught.value)


def test_other_task_failures_propagate_unchanged(aws):
    with pytest.raises(KeyError):
        invoke(env_for("task"), {"raise": "bug"})


def test_step_functions_catch_sees_the_error_name(aws):
    """Through moto's Lambda invoke path, as the state machine calls a task."""
    from tests.support.inprocess_lambda import run_lambdas_inprocess

    env = env_for("task")
    with run_lambdas_inprocess({"task-fn": lambda event, context: entry.instance(env).handle(event, context)}):
        client = boto3.client("lambda")
        out = client.invoke(FunctionName="task-fn", Payload=json.dumps({"raise": "business"}).encode())
        assert out["FunctionError"] == "Unhandled"
        error = json.loads(out["Payload"].read())
        assert error["errorType"] == "PaymentDeclined" and error["errorMessage"] == "card declined"


# ------------------------------------------------------------------------------- resources


def test_table_operations(aws):
    clients = Clients()
    table = DynamoTable(clients, "things", ["pk", "sk"], {"by-owner": ["owner", "created"]})
    key = {"pk": "a", "sk": "1"}
    table.put({**key, "owner": "o", "created": "2026-01-01", "n": 3, "price": 1.5, "nested": {"x": [1, 2.5]}, "none": None})
    assert table.get(key) == {**key, "owner": "o", "created": "2026-01-01", "n": 3, "price": 1.5, "nested": {"x": [1, 2.5]}, "none": None}
    assert isinstance(table.get(key)["n"], int)
    with pytest.raises(ConditionFailed):
        table.put({**key, "owner": "other"}, if_absent=True)
    assert table.update(key, {"status": "PAID"}, expect={"owner": "o"})["status"] == "PAID"
    with pytest.raises(ConditionFailed):
        table.update(key, {"status": "X"}, expect={"owner": "nobody"})
    with pytest.raises(ConditionFailed):
        table.update({"pk": "missing", "sk": "1"}, {"status": "X"})
    assert table.update(key, {}, expect={"status": "PAID"})["status"] == "PAID"
    assert table.update(key, {"gone": 1}, expect={"absent": None})["gone"] == 1
    with pytest.raises(ValueError):
        table.update(key, {"pk": "b"})
    # The Table contract's key rules (runtime/tables.py), checked before DynamoDB is called.
    for bad in ({"pk": "a"}, {"pk": "a", "sk": ""}, {**key, "extra": 1}, {"pk": True, "sk": "1"}):
        with pytest.raises(ValueError):
            table.get(bad)

    table.put({"pk": "b", "sk": "1", "owner": "o", "created": "2026-02-01"})
    table.put({"pk": "c", "sk": "1", "owner": "p", "created": "2026-03-01"})
    assert [i["pk"] for i in table.query({"owner": "o"}, index="by-owner")] == ["a", "b"]
    assert [i["pk"] for i in table.query({"owner": "o"}, index="by-owner", descending=True, limit=1)] == ["b"]
    assert [i["sk"] for i in table.query({"pk": "a"})] == ["1"]
    with pytest.raises(ValueError):
        table.query({"customer": "o"}, index="by-owner")
    with pytest.raises(ValueError):
        table.query({"owner": "o"}, index="nope")

    with pytest.raises(ConditionFailed):
        table.delete(key, expect={"status": "NEW"})
    table.delete(key, expect={"status": "PAID"})
    assert table.get(key) is None
    table.delete(key)  # absent, no expectation: fine
    with pytest.raises(ConditionFailed):
        table.delete(key, expect={})
    assert clients.created == ["dynamodb"]


def test_queue_workflow_and_secret(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="flow", definition=json.dumps({"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/flow",
    )["stateMachineArn"]
    sm = boto3.client("secretsmanager")
    secret = sm.create_secret(Name="svc/key", SecretString="s3cret")["ARN"]
    env = {
        "ANYCLOUD_QUEUE_JOBS": url,
        "ANYCLOUD_WORKFLOW_FULFIL_ORDER": machine,
        "ANYCLOUD_SECRET_PAYMENT_API_KEY": secret,
        "ANYCLOUD_SERVICE": "svc",  # not a resource
        "ANYCLOUD_KEYS_ORDERS": KEYS,  # not a resource either
    }
    clients = Clients()
    ctx = build_context(env, clients)
    assert (list(ctx.tables), list(ctx.queues), list(ctx.workflows), list(ctx.secrets)) == ([], ["jobs"], ["fulfil-order"], ["payment-api-key"])
    assert clients.created == []  # nothing is created before it is used

    message_id = ctx.queues["jobs"].send({"order_id": "o-1"})
    with pytest.raises(ValueError):
        ctx.queues["jobs"].send({}, delay_s=901)
    (received,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert received["MessageId"] == message_id and json.loads(received["Body"]) == {"order_id": "o-1"}

    assert ctx.workflows["fulfil-order"].start("o-1", {"order": {"order_id": "o-1"}}) is True
    # The name is taken: ExecutionAlreadyExists (Step Functions accepts the very same input
    # again while the first run is still going, without a second run).
    assert ctx.workflows["fulfil-order"].start("o-1", {"order": {"order_id": "o-1", "again": True}}) is False
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == "o-1"
    with pytest.raises(ValueError):
        ctx.workflows["fulfil-order"].start("x" * 81, {})

    assert ctx.secrets["payment-api-key"].get() == "s3cret"
    assert clients.created == ["secretsmanager", "sqs", "stepfunctions"]


def test_secret_is_cached_for_its_ttl():
    now = [0.0]
    reads = []

    class FakeClient:
        def get_secret_value(self, SecretId):
            reads.append(SecretId)
            return {"SecretString": f"v{len(reads)}"}

    clients = Clients()
    clients._clients["secretsmanager"] = FakeClient()
    secret = SecretsManagerSecret(clients, "arn:secret", ttl_s=300, clock=lambda: now[0])
    assert secret.get() == "v1"
    now[0] = 299
    assert secret.get() == "v1"
    now[0] = 300
    assert secret.get() == "v2" and len(reads) == 2


def test_a_function_builds_clients_only_for_what_it_declared(aws):
    instance = entry.instance(env_for("task"))
    invoke(env_for("task"), {"n": 1})
    assert instance.clients.created == []  # the task used no resource
    instance.warm()
    assert instance.clients.created == ["dynamodb"]  # its one declared table; no SFN, SQS or secrets client


# ----------------------------------------------------------------------- import and wiring


def test_importing_the_entrypoint_loads_no_sdk():
    """Rendered environment only: the handler resolves, and neither boto3 (Powertools imports
    botocore's package for its user agent, not the client machinery), the X-Ray SDK nor the
    Powertools batch/idempotency utilities are imported until an event needs them."""
    code = (
        "import sys, runtime.aws.entry as e; e.instance();"
        "heavy = [m for m in ('boto3', 'botocore.session', 'botocore.client', 'aws_xray_sdk',"
        " 'aws_lambda_powertools.utilities.batch', 'aws_lambda_powertools.utilities.idempotency')"
        " if m in sys.modules]; print(heavy)"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}", **env_for("task")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_function_runs_the_entrypoint_with_its_handler_and_the_powertools_layer(dev):
    from tests.services import REFERENCE
    from components.aws.function import ENTRYPOINT
    from components.aws.mocks import POWERTOOLS_LAYER_NUMBER

    # The mock answers the SSM lookup of the pinned release with its region's layer.
    layer = f"arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:{POWERTOOLS_LAYER_NUMBER}"
    for fn in dev.of_type(LAMBDA):
        spec = REFERENCE.function(fn.name)
        variables = fn.inputs["environment"]["variables"]
        assert fn.inputs["handler"] == ENTRYPOINT == "runtime.aws.entry.handler"
        assert fn.inputs["layers"] == [layer]
        assert variables["ANYCLOUD_HANDLER"] == spec.handler
        assert variables["POWERTOOLS_SERVICE_NAME"] == "orders"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "anycloud/orders"
        tables = {a.resource for a in spec.uses if a.kind == "table"}
        keys = {k for k in variables if k.startswith("ANYCLOUD_KEYS_")}
        assert keys == {f"ANYCLOUD_KEYS_{t.upper()}" for t in tables}, fn.name
    create = next(f for f in dev.of_type(LAMBDA) if f.name == "create-order").inputs["environment"]["variables"]
    assert json.loads(create["ANYCLOUD_KEYS_ORDERS"]) == {"key": ["order_id"], "indexes": {"by-customer": ["customer_id", "created_at"]},
                                                         "ttl": "expires_at"}
    assert json.loads(create["ANYCLOUD_KEYS_IDEMPOTENCY"]) == {"key": ["id"], "indexes": {}, "ttl": "expiration"}


def test_the_asset_ships_runtime_code_only():
    files = [str(f) for f in runtime_files()]
    assert "runtime/aws/entry.py" in files
    assert not [f for f in files if f.split("/")[0] in ("boto3", "botocore", "aws_lambda_powertools", "pydantic", "tests")]
    assert not [f for f in files if f.endswith((".pyc", ".so"))]


def test_every_rendered_function_imports_in_a_fresh_process_with_only_its_environment(dev):
    """Each rendered function's entrypoint imports and resolves its handler in a fresh process
    that has nothing but its rendered environment. How long that takes is measured by
    benchmarks/coldstart.py (timings are never asserted in tests)."""
    code = "import runtime.aws.entry as e; h = e.instance().handler; print(f'{h.__module__}:{h.__name__}')"
    for fn in dev.of_type(LAMBDA):
        variables = {k: str(v) for k, v in fn.inputs["environment"]["variables"].items()}
        # the asset's root: the runtime and, for a test service, its handlers' root
        path = os.pathsep.join([str(ROOT / "functions"), str(SERVICE_FUNCTIONS)])
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": path, **variables}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"{fn.name}: {out.stderr[-2000:]}"
        assert out.stdout.strip() == variables["ANYCLOUD_HANDLER"], fn.name


def test_a_warm_request_reuses_its_instance_until_the_wiring_changes(monkeypatch):
    """The fast path checks only the instance's own wiring; any change to it builds another."""
    for name, value in env_for("echo").items():
        monkeypatch.setenv(name, value)
    first = entry.instance()
    assert entry.instance() is first
    monkeypatch.setenv("ANYCLOUD_TABLE_ITEMS", "other-items")
    second = entry.instance()
    assert second is not first and second.resources.tables["items"].table_name == "other-items"
    monkeypatch.setenv("ANYCLOUD_QUEUE_JOBS", "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs")
    third = entry.instance()
    assert third is not second and "jobs" in third.resources.queues
    monkeypatch.setenv("ANYCLOUD_TABLE_ITEMS", "items")
    monkeypatch.delenv("ANYCLOUD_QUEUE_JOBS")
    assert entry.instance() is first
