"""The framework's test services (tests/services): each shape renders on AWS, GCP and Azure, dev
and prod, with no mandatory violation of the whole pack, means on every cloud what its name says,
and its handlers run against the runtime's contracts.

These are the shapes a team's service takes when it replaces the example; the other framework
tests render the reference service.
"""

from __future__ import annotations

import base64
import json
import re
from xml.etree import ElementTree

import pytest
import yaml
from runtime.contracts import Context, Message, Request, Response, TaskError
from runtime.handlers import load_handler
from runtime.http import run_route
from runtime.memory import MemoryResources

from components.azure import identity as roles
from components.azure.table import DATA_ROLES
from components.export import to_export
from components.mock_engine import Rendering
from policy.offline import evaluate
from tests.conftest import AZURE_DEV, AZURE_PROD, DEV, GCP_DEV, GCP_PROD, PROD, render_config
from tests.services import MANY_ROUTES, NO_QUEUE, NO_WORKFLOW, REFERENCE, SHAPES, TWO_TABLES, config_for

CONFIGS = {"aws-dev": DEV, "aws-prod": PROD, "gcp-dev": GCP_DEV, "gcp-prod": GCP_PROD, "azure-dev": AZURE_DEV,
           "azure-prod": AZURE_PROD}
CLOUDS = ("aws", "gcp", "azure")


def rendered(spec, config: str) -> Rendering:
    return render_config(config_for(spec, CONFIGS[config]), config.split("-")[1], spec)


def by_name(r: Rendering, typ: str) -> dict:
    return {x.name: x for x in r.of_type(typ)}


# ------------------------------------------------------------------ every shape, every cloud


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_renders_with_no_mandatory_violation_of_the_pack(shape, config):
    spec, base = SHAPES[shape], CONFIGS[config]
    r = rendered(spec, config)
    assert set(r.outputs["functions"]) == {f.name for f in spec.functions}
    report = evaluate(to_export(r)["deployment"]["resources"], base["anycloud:environment"],
                      config={"publicRoutes": [route.key for route in spec.api.routes if route.public]})
    assert report.mandatory == [], [(v.policy, v.message) for v in report.mandatory]


# ------------------------------------------------------------------ no workflow


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_workflow_renders_no_engine_and_grants_no_start(cloud):
    """No state machine, Workflows workflow or orchestrator app, and no identity may start one."""
    r = rendered(NO_WORKFLOW, f"{cloud}-prod")
    assert r.outputs["workflows"] == {} and r.of_type("anycloud:index:Workflow") == []
    if cloud == "aws":
        assert r.of_type("aws:sfn/stateMachine:StateMachine") == []
        actions = [a for p in r.of_type("aws:iam/rolePolicy:RolePolicy") for s in json.loads(p.inputs["policy"])["Statement"]
                   for a in s["Action"]]
        assert actions and not [a for a in actions if a.startswith("states:")]
    elif cloud == "gcp":
        assert r.of_type("gcp:workflows/workflow:Workflow") == []
        assert {f.name for f in r.of_type("gcp:cloudfunctionsv2/function:Function")} == {f.name for f in NO_WORKFLOW.functions}
        roles = {m.inputs["role"] for typ in ("gcp:projects/iAMMember:IAMMember", "gcp:pubsub/topicIAMMember:TopicIAMMember")
                 for m in r.of_type(typ)}
        assert not [role for role in roles if role.startswith("roles/workflows.")]
        assert {t.name for t in r.of_type("gcp:pubsub/topic:Topic")} == {"indexing", "indexing-dlq"}
    else:
        apps = r.of_type("azure-native:web:WebApp")
        assert {a.name for a in apps} == {f.name for f in NO_WORKFLOW.functions}
        triggers = {s["value"] for a in apps for s in a.inputs["siteConfig"]["appSettings"] if s["name"] == "ANYCLOUD_TRIGGERS"}
        assert triggers == {"route", "consumer"}
        assert {q.name for q in r.of_type("azure-native:storage:Queue")} == {"indexing", "indexing-poison"}


# ------------------------------------------------------------------ no queue


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_queue_renders_no_queue_but_the_workflow_start_path_and_the_route_starts_the_workflow(cloud):
    """Nothing is queued but the workflow's own start (GCP and Azure start a workflow through a
    queue); the route function holds the start grant."""
    r = rendered(NO_QUEUE, f"{cloud}-prod")
    assert r.outputs["queues"] == {} and r.of_type("anycloud:index:Queue") == []
    if cloud == "aws":
        assert r.of_type("aws:sqs/queue:Queue") == [] and r.of_type("aws:lambda/eventSourceMapping:EventSourceMapping") == []
        (machine,) = r.of_type("aws:sfn/stateMachine:StateMachine")
        starts = {p.name: s["Resource"] for p in r.of_type("aws:iam/rolePolicy:RolePolicy")
                  for s in json.loads(p.inputs["policy"])["Statement"] if "states:StartExecution" in s["Action"]}
        assert starts == {"submit-request-policy": [machine.outputs["arn"]]}
    elif cloud == "gcp":
        names = {x.name for typ in ("gcp:pubsub/topic:Topic", "gcp:pubsub/subscription:Subscription") for x in r.of_type(typ)}
        assert names and all(n.startswith("review-start") for n in names), names
        accounts = {a.outputs["member"]: a.name.removesuffix("-sa") for a in r.of_type("gcp:serviceaccount/account:Account")}
        publishers = {accounts[m.inputs["member"]]: m.inputs["topic"] for m in r.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
                      if m.inputs["role"] == "roles/pubsub.publisher" and accounts.get(m.inputs["member"]) in
                      {f.name for f in NO_QUEUE.functions}}
        assert publishers == {"submit-request": by_name(r, "gcp:pubsub/topic:Topic")["review-start"].id}
    else:
        assert {q.name for q in r.of_type("azure-native:storage:Queue")} == {"review-start", "review-start-poison"}
        start = by_name(r, "azure-native:storage:Queue")["review-start"].id
        submit = by_name(r, "azure-native:managedidentity:UserAssignedIdentity")["submit-request-identity"].outputs["principalId"]
        senders = {a.inputs["principalId"] for a in r.of_type("azure-native:authorization:RoleAssignment")
                   if a.inputs["scope"] == start and a.inputs["roleDefinitionId"].endswith(roles.QUEUE_SENDER)}
        assert senders == {submit}


# ------------------------------------------------------------------ two tables


def table_grants(r: Rendering, cloud: str, function: str) -> dict[str, str]:
    """table -> verb the function's identity holds on it, read from the rendered grants."""
    found: dict[str, str] = {}
    if cloud == "aws":
        arns = {t.outputs["arn"]: t.name for t in r.of_type("aws:dynamodb/table:Table")}
        policy = json.loads(by_name(r, "aws:iam/rolePolicy:RolePolicy")[f"{function}-policy"].inputs["policy"])
        for s in policy["Statement"]:
            for resource in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
                table = arns.get(resource.split("/index/")[0])
                if table and any(a.startswith("dynamodb:") for a in s["Action"]):
                    verb = "write" if "dynamodb:PutItem" in s["Action"] else "read"
                    assert found.setdefault(table, verb) == verb, (function, table)
    elif cloud == "gcp":
        databases = {d.outputs["name"]: d.name for d in r.of_type("gcp:firestore/database:Database")}
        account = by_name(r, "gcp:serviceaccount/account:Account")[f"{function}-sa"].outputs["member"]
        for m in r.of_type("gcp:projects/iAMMember:IAMMember"):
            if m.inputs["member"] == account and m.inputs["role"].startswith("roles/datastore."):
                database = re.fullmatch(r'resource\.name == "projects/[^/]+/databases/([^"]+)"',
                                        m.inputs["condition"]["expression"]).group(1)
                found[databases[database]] = "write" if m.inputs["role"] == "roles/datastore.user" else "read"
    else:
        verbs = {role: verb for verb, role in DATA_ROLES.items()}
        identity = by_name(r, "azure-native:managedidentity:UserAssignedIdentity")[f"{function}-identity"]
        for a in r.of_type("azure-native:cosmosdb:SqlResourceSqlRoleAssignment"):
            if a.inputs["principalId"] == identity.outputs["principalId"]:
                found[a.inputs["scope"].rsplit("/colls/", 1)[1]] = verbs[a.inputs["roleDefinitionId"].rsplit("/", 1)[-1]]
    return found


@pytest.mark.parametrize("cloud", CLOUDS)
def test_two_tables_each_function_is_granted_exactly_its_declared_tables(cloud):
    r = rendered(TWO_TABLES, f"{cloud}-prod")
    assert set(r.outputs["tables"]) == {"books", "loans"}
    for fn in TWO_TABLES.functions:
        declared = {a.resource: a.verb for a in fn.uses if a.kind == "table"}
        assert table_grants(r, cloud, fn.name) == declared, fn.name
    # the shape's point: each table has a function granted on it alone, and one spans both
    assert table_grants(r, cloud, "lend-book") == {"books": "read", "loans": "write"}


# ------------------------------------------------------------------ many routes


def route_targets(r: Rendering, cloud: str) -> dict[str, tuple[str, bool]]:
    """route key -> (the function it reaches, whether it requires a JWT), read from the rendering."""
    out = {}
    if cloud == "aws":
        integrations = {i.id: i.inputs["integrationUri"] for i in r.of_type("aws:apigatewayv2/integration:Integration")}
        functions = {f.outputs["arn"]: f.name for f in r.of_type("aws:lambda/function:Function")}
        permitted = {p.inputs["sourceArn"].split("/$default/", 1)[1]: p.inputs["function"]
                     for p in r.of_type("aws:lambda/permission:Permission")}
        names = {f.outputs["name"]: f.name for f in r.of_type("aws:lambda/function:Function")}
        for route in r.of_type("aws:apigatewayv2/route:Route"):
            key = route.inputs["routeKey"]
            function = functions[integrations[route.inputs["target"].removeprefix("integrations/")]]
            method, path = key.split(" ", 1)
            assert names[permitted[f"{method}{re.sub(r'{[^}]+}', '*', path)}"]] == function, key
            out[key] = (function, route.inputs["authorizationType"] == "JWT")
    elif cloud == "gcp":
        (config,) = r.of_type("gcp:apigateway/apiConfig:ApiConfig")
        doc = yaml.safe_load(base64.b64decode(config.inputs["openapiDocuments"][0]["document"]["contents"]))
        functions = {f.outputs["serviceConfig"]["uri"]: f.name for f in r.of_type("gcp:cloudfunctionsv2/function:Function")}
        for path, operations in doc["paths"].items():
            for method, op in operations.items():
                out[f"{method.upper()} {path}"] = (functions[op["x-google-backend"]["address"]], op["security"] == [{"jwt": []}])
    else:
        hosts = {f"https://{a.outputs['defaultHostName']}/api": a.name for a in r.of_type("azure-native:web:WebApp")}
        backends = {b.inputs["backendId"]: hosts[b.inputs["url"]] for b in r.of_type("azure-native:apimanagement:Backend")}
        policies = {p.inputs["operationId"]: ElementTree.fromstring(p.inputs["value"]).find("inbound")
                    for p in r.of_type("azure-native:apimanagement:ApiOperationPolicy")}
        for op in r.of_type("azure-native:apimanagement:ApiOperation"):
            inbound = policies[op.inputs["operationId"]]
            out[f"{op.inputs['method']} {op.inputs['urlTemplate']}"] = (
                backends[inbound.find("set-backend-service").get("backend-id")], inbound.find("validate-jwt") is not None)
    return out


@pytest.mark.parametrize("cloud", CLOUDS)
def test_many_routes_every_route_reaches_its_function_with_its_auth(cloud):
    assert len(MANY_ROUTES.api.routes) == 12 and len(MANY_ROUTES.functions) == 6
    expected = {route.key: (route.function, not route.public) for route in MANY_ROUTES.api.routes}
    assert route_targets(rendered(MANY_ROUTES, f"{cloud}-prod"), cloud) == expected
    # dev declares no apiAuth: every route reaches its function, none asks for a JWT
    assert route_targets(rendered(MANY_ROUTES, f"{cloud}-dev"), cloud) == {k: (f, False) for k, (f, _) in expected.items()}


# ------------------------------------------------------------------ the handlers run


def handler(spec, function: str):
    return load_handler(spec.function(function).handler)


def call(res: MemoryResources, spec, function: str, method: str, path: str, body=None, **params) -> Response:
    request = Request(method=method, path=path, request_id="req-1", path_params=params,
                      headers={"content-type": "application/json"}, body=json.dumps(body).encode() if body else b"")
    return run_route(handler(spec, function), request, res.context(function), res.idempotency)


def task(res: MemoryResources, spec, function: str, state: dict) -> dict:
    return handler(spec, function)(state, res.context(function))


def test_the_reference_service_takes_an_order_through_its_workflow_tasks():
    res = MemoryResources.from_spec(REFERENCE, {"payment-api-key": "k"})
    created = call(res, REFERENCE, "create-order", "POST", "/orders", {"customer_id": "c-1", "total": 40, "sku": "mug"})
    assert created.status == 202
    order_id = created.body["order_id"]
    (message,) = res.queues["orders"].sent
    handler(REFERENCE, "process-order")(message.message(), res.context("process-order"))
    state = res.workflows["fulfil-order"].executions[order_id]
    assert state == {"order": {"order_id": order_id, "total": 40, "sku": "mug"}}
    assert task(res, REFERENCE, "reserve-stock", state) == {"sku": "mug"}
    assert task(res, REFERENCE, "charge-payment", state) == {"amount": 40}
    assert task(res, REFERENCE, "ship", state) == {"tracking_id": f"trk-{order_id}"}
    assert task(res, REFERENCE, "notify", state) == {"notified": True}
    assert task(res, REFERENCE, "mark-completed", state) == {"status": "COMPLETED"}
    assert call(res, REFERENCE, "get-order", "GET", f"/orders/{order_id}", order_id=order_id).body["status"] == "COMPLETED"
    assert call(res, REFERENCE, "get-order", "GET", "/orders/nope", order_id="nope").status == 404
    with pytest.raises(TaskError) as info:
        task(res, REFERENCE, "charge-payment", {"order": {**state["order"], "total": 10**6}})
    assert info.value.name == "PaymentDeclined"
    with pytest.raises(TaskError) as info:
        task(res, REFERENCE, "reserve-stock", {"order": {**state["order"], "sku": "out-of-stock"}})
    assert info.value.name == "OutOfStock"
    # a task reaches only what its function declares: notify reads, and holds no secret
    assert set(res.context("notify").tables) == {"orders"} and not res.context("notify").secrets


def test_no_workflow_a_note_is_stored_queued_and_indexed():
    res = MemoryResources.from_spec(NO_WORKFLOW)
    created = call(res, NO_WORKFLOW, "create-note", "POST", "/notes", {"text": "Buy milk buy bread"})
    assert created.status == 201
    (message,) = res.queues["indexing"].sent
    handler(NO_WORKFLOW, "index-note")(message.message(), res.context("index-note"))
    note = call(res, NO_WORKFLOW, "get-note", "GET", "/notes/x", note_id=created.body["note_id"]).body
    assert note["indexed"] is True and note["words"] == ["bread", "buy", "milk"]
    assert call(res, NO_WORKFLOW, "create-note", "POST", "/notes", {"text": " "}).status == 400
    with pytest.raises(LookupError):
        handler(NO_WORKFLOW, "index-note")(Message(id="m-2", body={"note_id": "gone"}), res.context("index-note"))


def test_no_queue_a_request_starts_the_review_and_its_tasks_decide_it():
    res = MemoryResources.from_spec(NO_QUEUE)
    small = call(res, NO_QUEUE, "submit-request", "POST", "/requests", {"amount": 200})
    large = call(res, NO_QUEUE, "submit-request", "POST", "/requests", {"amount": 5000})
    assert small.status == large.status == 202
    executions = res.workflows["review"].executions
    assert task(res, NO_QUEUE, "approve", executions[small.body["request_id"]]) == {"status": "APPROVED"}
    assert task(res, NO_QUEUE, "escalate", executions[large.body["request_id"]]) == {"status": "ESCALATED"}
    got = call(res, NO_QUEUE, "get-request", "GET", "/requests/x", request_id=large.body["request_id"])
    assert got.body == {"request_id": large.body["request_id"], "amount": 5000, "status": "ESCALATED"}
    assert call(res, NO_QUEUE, "submit-request", "POST", "/requests", {"amount": -1}).status == 400
    assert len(executions) == 2


def test_two_tables_a_loan_needs_the_book_and_lands_in_loans_only():
    res = MemoryResources.from_spec(TWO_TABLES)
    assert call(res, TWO_TABLES, "add-book", "POST", "/books", {"isbn": "978-1", "title": "Dune"}).status == 201
    assert call(res, TWO_TABLES, "add-book", "POST", "/books", {"isbn": "978-1", "title": "Dune"}).status == 409
    assert call(res, TWO_TABLES, "lend-book", "POST", "/loans", {"isbn": "978-9", "reader": "ada"}).status == 404
    lent = call(res, TWO_TABLES, "lend-book", "POST", "/loans", {"isbn": "978-1", "reader": "ada"})
    assert lent.status == 201
    loans = call(res, TWO_TABLES, "list-loans", "GET", "/books/978-1/loans", isbn="978-1").body["loans"]
    assert loans == [{"loan_id": lent.body["loan_id"], "isbn": "978-1", "reader": "ada"}]
    assert len(res.tables["books"]) == 1 and len(res.tables["loans"]) == 1
    # the context holds only the declared tables: list-loans cannot read books
    assert set(res.context("list-loans").tables) == {"loans"}


def test_many_routes_each_function_serves_its_routes():
    res = MemoryResources.from_spec(MANY_ROUTES)
    created = call(res, MANY_ROUTES, "put-product", "POST", "/products", {"name": "Mug", "category": "kitchen"})
    assert created.status == 201
    pid = created.body["product_id"]
    put = call(res, MANY_ROUTES, "put-product", "PUT", f"/products/{pid}", {"name": "Big mug", "category": "kitchen"},
               product_id=pid)
    assert put.status == 200 and put.body["name"] == "Big mug"
    listed = call(res, MANY_ROUTES, "list-products", "GET", "/categories/kitchen/products", category="kitchen")
    assert [p["product_id"] for p in listed.body["products"]] == [pid]
    summary = call(res, MANY_ROUTES, "get-product", "GET", f"/products/{pid}/summary", product_id=pid)
    assert summary.body == {"product_id": pid, "name": "Big mug"}
    assert call(res, MANY_ROUTES, "search", "GET", "/search/kitchen", term="kitchen").body["products"] == [summary.body]
    renamed = call(res, MANY_ROUTES, "change-product", "PATCH", f"/products/{pid}", {"name": "Cup"}, product_id=pid)
    assert renamed.body["name"] == "Cup"
    assert call(res, MANY_ROUTES, "change-product", "DELETE", f"/products/{pid}", product_id=pid).status == 204
    assert call(res, MANY_ROUTES, "get-product", "GET", f"/products/{pid}", product_id=pid).status == 404
    assert call(res, MANY_ROUTES, "status", "GET", "/version").body == {"version": "1"}
    assert call(res, MANY_ROUTES, "list-products", "GET", "/products").status == 400  # no category
    assert res.context("status") == Context(request_id="req-memory")  # declares nothing, reaches nothing
