"""The cloud-neutral service model: every validation rule of design section 2, with its message.

Each refused declaration is checked through `describe_error`, the one-line form users see:
it must name the field path and the bad value or what is allowed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from components.spec import (
    RESERVED_ENV_PREFIXES,
    Access,
    FunctionSpec,
    Rule,
    ServiceSpec,
    TableSpec,
    WorkflowSpec,
    describe_error,
)

NAME_HELP = "must be lowercase letters and digits in words joined by single hyphens, starting with a letter"


def base() -> dict[str, Any]:
    """A small valid service touching every kind; tests mutate a fresh copy."""
    return copy.deepcopy(
        {
            "name": "shop",
            "functions": [
                {"name": "api-fn", "handler": "shop.api:handle", "uses": ["table:items:read", "secret:api-key:read"]},
                {"name": "worker", "handler": "shop.worker:run", "uses": ["workflow:flow:start"]},
                {"name": "step-fn", "handler": "shop.tasks:step", "uses": ["queue:jobs:send"]},
            ],
            "api": {"routes": [{"method": "GET", "path": "/items", "function": "api-fn"}]},
            "queues": [{"name": "jobs", "consumer": "worker"}],
            "tables": [{"name": "items", "partition_key": {"name": "id"}}],
            "workflows": [
                {
                    "name": "flow",
                    "start": "go",
                    "steps": {"go": {"type": "task", "function": "step-fn", "next": "done"}, "done": {"type": "succeed"}},
                }
            ],
            "secrets": [{"name": "api-key", "config_key": "apiKey"}],
        }
    )


def refused(data: Any, model: type[BaseModel] = ServiceSpec) -> str:
    """The one-line message for a declaration that must not validate."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return describe_error(info.value)


def mutated(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    data = base()
    change(data)
    return data


def fn(data: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return data["functions"][index]


def workflow(steps: dict[str, Any], start: str = "a") -> dict[str, Any]:
    return {"name": "flow", "start": start, "steps": steps}


def test_base_service_is_valid():
    spec = ServiceSpec.model_validate(base())
    assert [f.name for f in spec.functions] == ["api-fn", "worker", "step-fn"]
    assert spec.function("worker").uses == (Access(kind="workflow", resource="flow", verb="start"),)


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "change, path, bad, allowed",
    [
        pytest.param(lambda d: fn(d).update(name="Api-fn"), "functions.0.name", "Api-fn", NAME_HELP, id="uppercase"),
        pytest.param(lambda d: fn(d).update(name="a" * 31), "functions.0.name", "a" * 31, "at most 30 characters", id="too-long"),
        pytest.param(lambda d: fn(d).update(name="ab"), "functions.0.name", "ab", "at least 3 characters", id="too-short"),
        pytest.param(lambda d: fn(d).update(name="1api"), "functions.0.name", "1api", NAME_HELP, id="leading-digit"),
        pytest.param(lambda d: fn(d).update(name="api--fn"), "functions.0.name", "api--fn", NAME_HELP, id="double-hyphen"),
        pytest.param(lambda d: fn(d).update(name="api-"), "functions.0.name", "api-", NAME_HELP, id="trailing-hyphen"),
        pytest.param(lambda d: fn(d).update(name="api_fn"), "functions.0.name", "api_fn", NAME_HELP, id="underscore"),
        pytest.param(lambda d: d["tables"][0].update(name="abc"), "tables.0.name", "abc", "at least 4 characters", id="firestore-table-min-4"),
        pytest.param(lambda d: d["queues"][0].update(name="Jobs"), "queues.0.name", "Jobs", NAME_HELP, id="queue-uppercase"),
        pytest.param(lambda d: d.update(name="s" * 17), "name", "s" * 17, "at most 16 characters", id="service-name-too-long"),
    ],
)
def test_bad_names_are_refused(change, path, bad, allowed):
    message = refused(mutated(change))
    assert f"ServiceSpec.{path}: " in message
    assert allowed in message
    assert f"(got {bad!r})" in message


def test_name_message_is_one_readable_line():
    message = refused(mutated(lambda d: fn(d).update(name="Api-fn")))
    assert message == f"ServiceSpec.functions.0.name: {NAME_HELP} (got 'Api-fn')"
    assert "\n" not in message


@pytest.mark.parametrize("name", ["abc", "a" * 30, "a1-b2-c3", "orders"])
def test_names_within_every_clouds_limits_are_accepted(name):
    assert FunctionSpec(name=name, handler="a:b").name == name


# -------------------------------------------------------------------------- functions


@pytest.mark.parametrize("handler", ["shop/api.handle", "shop.api", "Shop.api:handle", "shop.api:handle:x", "shop..api:handle", ":handle"])
def test_bad_handler_format_is_refused(handler):
    message = refused({"name": "api-fn", "handler": handler}, FunctionSpec)
    assert message.startswith("FunctionSpec.handler: ")
    assert f"(got {handler!r})" in message
    assert "must be module:function inside functions/, e.g. orders.api:create_order" in message


@pytest.mark.parametrize("handler", ["a:b", "shop.api:create_order", "pkg.sub_mod.x1:fn_2"])
def test_module_colon_function_handlers_are_accepted(handler):
    assert FunctionSpec(name="api-fn", handler=handler).handler == handler


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("memory_mb", 127, "greater than or equal to 128"),
        ("memory_mb", 4097, "less than or equal to 4096"),
        ("timeout_s", 0, "greater than or equal to 1"),
        ("timeout_s", 541, "less than or equal to 540"),
        ("warm_instances", -1, "greater than or equal to 0"),
        ("reserved_concurrency", 0, "greater than or equal to 1"),
    ],
)
def test_memory_and_timeout_bounds(field, value, allowed):
    message = refused(mutated(lambda d: fn(d, 1).update({field: value})))
    assert message == f"ServiceSpec.functions.1.{field}: Input should be {allowed} (got {value})"


@pytest.mark.parametrize("field, value", [("memory_mb", 128), ("memory_mb", 4096), ("timeout_s", 1), ("timeout_s", 540)])
def test_bounds_are_inclusive(field, value):
    # worker is a queue consumer, so the HTTP route cap does not apply to it
    spec = ServiceSpec.model_validate(mutated(lambda d: fn(d, 1).update({field: value})))
    assert getattr(spec.function("worker"), field) == value


@pytest.mark.parametrize("prefix", [p for p in RESERVED_ENV_PREFIXES if p != "_"])
def test_reserved_env_var_prefixes_are_refused(prefix):
    variable = f"{prefix}REGION"
    message = refused(mutated(lambda d: fn(d).update(environment={variable: "x", "TABLE_HINT": "y"})))
    assert message.startswith("ServiceSpec.functions.0.environment: ")
    assert f"{variable} use a reserved prefix" in message
    assert "not allowed: ANYCLOUD_, AWS_, GOOGLE_" in message
    assert "TABLE_HINT" not in message


@pytest.mark.parametrize("variable", ["_HIDDEN", "lower", "Mixed_Case"])
def test_env_var_names_must_be_upper_snake_case(variable):
    message = refused(mutated(lambda d: fn(d).update(environment={variable: "x"})))
    assert "ServiceSpec.functions.0.environment." in message
    assert "must be UPPER_SNAKE_CASE" in message
    assert f"(got {variable!r})" in message


def test_plain_env_vars_are_accepted():
    spec = ServiceSpec.model_validate(mutated(lambda d: fn(d).update(environment={"FEATURE_FLAG": "on"})))
    assert spec.function("api-fn").environment == {"FEATURE_FLAG": "on"}


@pytest.mark.parametrize(
    "uses",
    [
        ["table:items:read", "table:items:read"],
        ["table:items:read", {"kind": "table", "resource": "items", "verb": "read"}],
    ],
    ids=["plain-twice", "plain-and-object"],
)
def test_duplicate_uses_are_refused(uses):
    message = refused(mutated(lambda d: fn(d).update(uses=uses)))
    assert message == "ServiceSpec.functions.0: uses: table:items:read declared twice"


# ----------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "kind, verb, allowed",
    [("queue", "read", "send"), ("table", "delete", "read, write"), ("workflow", "read", "start"), ("secret", "write", "read"), ("table", "send", "read, write")],
)
def test_verbs_not_allowed_on_a_kind(kind, verb, allowed):
    expected = f"verb {verb!r} is not allowed on a {kind}; allowed: {allowed}"
    assert refused({"kind": kind, "resource": "items", "verb": verb}, Access) == f"Access: {expected}"
    # the plain form in a function's uses says the same, under the function's path
    message = refused(mutated(lambda d: fn(d).update(uses=[f"{kind}:items:{verb}"])))
    assert message == f"ServiceSpec.functions.0.uses: {expected}"


def test_unknown_resource_kind_names_the_kinds():
    message = refused({"kind": "bucket", "resource": "items", "verb": "read"}, Access)
    assert message == "Access.kind: Input should be 'table', 'queue', 'workflow' or 'secret' (got 'bucket')"


def test_plain_form_parses_to_the_same_access():
    access = Access.parse("table:orders:read")
    assert access == Access(kind="table", resource="orders", verb="read")
    assert access == TableSpec(name="orders", partition_key={"name": "id"}).read()
    assert str(access) == "table:orders:read"
    spec = FunctionSpec(name="get-order", handler="a:b", uses=["table:orders:read", "queue:jobs:send"])
    assert spec.uses == (access, Access(kind="queue", resource="jobs", verb="send"))


@pytest.mark.parametrize("text", ["table:orders", "table:orders:read:extra", "orders"])
def test_malformed_plain_form_is_refused(text):
    message = refused(mutated(lambda d: fn(d).update(uses=[text])))
    assert message == f"ServiceSpec.functions.0.uses: access {text!r} must look like 'kind:name:verb', e.g. 'table:orders:read'"


# ------------------------------------------------------------------ duplicates, references


@pytest.mark.parametrize(
    "collection, index, label, duplicate",
    [
        ("functions", 1, "functions", "worker"),
        ("queues", 0, "queues", "jobs"),
        ("tables", 0, "tables", "items"),
        ("workflows", 0, "workflows", "flow"),
        ("secrets", 0, "secrets", "api-key"),
    ],
)
def test_duplicate_names_of_each_kind(collection, index, label, duplicate):
    message = refused(mutated(lambda d: d[collection].append(copy.deepcopy(d[collection][index]))))
    assert message == f"ServiceSpec: {label}: {duplicate} declared twice"


def test_duplicate_secret_config_key():
    message = refused(mutated(lambda d: d["secrets"].append({"name": "other-key", "config_key": "apiKey"})))
    assert message == "ServiceSpec: secrets: config_key apiKey used twice"


def test_duplicate_index_names():
    index = {"name": "by-owner", "partition_key": {"name": "owner"}}
    message = refused(mutated(lambda d: d["tables"][0].update(indexes=[index, index])))
    assert message == "ServiceSpec.tables.0: indexes: by-owner declared twice"


PARALLEL_GHOST = {
    "type": "parallel",
    "branches": [{"start": "x", "steps": {"x": {"type": "task", "function": "ghost"}}}],
    "next": "done",
}
MAP_GHOST = {
    "type": "map",
    "items": "lines",
    "iterator": {"start": "x", "steps": {"x": {"type": "task", "function": "ghost"}}},
    "next": "done",
}


@pytest.mark.parametrize(
    "change, expected",
    [
        pytest.param(
            lambda d: fn(d).update(uses=["table:nope:read"]),
            "functions.api-fn.uses: unknown table 'nope'; declared: items",
            id="uses-unknown-table",
        ),
        pytest.param(
            lambda d: fn(d).update(uses=["queue:nope:send"]),
            "functions.api-fn.uses: unknown queue 'nope'; declared: jobs",
            id="uses-unknown-queue",
        ),
        pytest.param(
            lambda d: fn(d).update(uses=["workflow:nope:start"]),
            "functions.api-fn.uses: unknown workflow 'nope'; declared: flow",
            id="uses-unknown-workflow",
        ),
        pytest.param(
            lambda d: fn(d).update(uses=["secret:nope:read"]),
            "functions.api-fn.uses: unknown secret 'nope'; declared: api-key",
            id="uses-unknown-secret",
        ),
        pytest.param(
            lambda d: d["api"]["routes"].append({"method": "POST", "path": "/x", "function": "ghost"}),
            "api.routes[POST /x].function: unknown function 'ghost'; declared: api-fn, worker, step-fn",
            id="route-unknown-function",
        ),
        pytest.param(
            lambda d: d["queues"][0].update(consumer="ghost"),
            "queues.jobs.consumer: unknown function 'ghost'; declared: api-fn, worker, step-fn",
            id="queue-unknown-consumer",
        ),
        pytest.param(
            lambda d: d["workflows"][0]["steps"]["go"].update(function="ghost"),
            "workflows.flow.steps: unknown function 'ghost'; declared: api-fn, worker, step-fn",
            id="workflow-task-unknown-function",
        ),
        pytest.param(
            lambda d: d["workflows"][0].update(start="p", steps={"p": PARALLEL_GHOST, "done": {"type": "succeed"}}),
            "workflows.flow.steps: unknown function 'ghost'",
            id="parallel-branch-unknown-function",
        ),
        pytest.param(
            lambda d: d["workflows"][0].update(start="m", steps={"m": MAP_GHOST, "done": {"type": "succeed"}}),
            "workflows.flow.steps: unknown function 'ghost'",
            id="map-iterator-unknown-function",
        ),
    ],
)
def test_unknown_references(change, expected):
    message = refused(mutated(change))
    assert message.startswith(f"ServiceSpec: {expected}")


def test_function_used_by_nothing_is_an_error():
    message = refused(mutated(lambda d: d["functions"].append({"name": "lonely", "handler": "shop.lonely:run"})))
    assert message == (
        "ServiceSpec: functions lonely are not used by any route, queue, table stream or workflow; remove them or wire them to a trigger"
    )


def test_function_used_only_by_a_workflow_branch_counts_as_used():
    def change(d):
        d["functions"].append({"name": "branch-fn", "handler": "shop.tasks:branch"})
        branch = {"start": "b", "steps": {"b": {"type": "task", "function": "branch-fn"}}}
        d["workflows"][0]["steps"]["go"]["next"] = "fan"
        d["workflows"][0]["steps"]["fan"] = {"type": "parallel", "branches": [branch], "next": "done"}

    assert "branch-fn" in ServiceSpec.model_validate(mutated(change)).workflows[0].task_functions()


def test_queue_consumer_that_is_also_a_route_handler_is_allowed():
    spec = ServiceSpec.model_validate(
        mutated(lambda d: d["api"]["routes"].append({"method": "POST", "path": "/jobs", "function": "worker"}))
    )
    assert spec.queues[0].consumer == "worker"
    assert "worker" in {r.function for r in spec.api.routes}


def with_stream(stream: dict[str, Any], consumer: dict[str, Any] | None = None) -> dict[str, Any]:
    def change(d):
        if consumer:
            d["functions"].append(consumer)
        d["tables"][0]["stream"] = stream
    return mutated(change)


def test_a_table_stream_consumer_is_a_trigger_reached_as_changes():
    from components.wiring import triggers

    data = with_stream({"consumer": "on-item"}, {"name": "on-item", "handler": "shop.items:changed"})
    spec = ServiceSpec.model_validate(data)
    assert spec.table("items").stream.model_dump() == {"consumer": "on-item", "deletes": False, "batch_size": 10,
                                                        "max_receives": 5}
    assert triggers(spec, "on-item") == (["changes"], [])


@pytest.mark.parametrize("stream, consumer, expected", [
    pytest.param({"consumer": "ghost"}, None, "tables.items.stream.consumer: unknown function 'ghost'", id="unknown"),
    pytest.param({"consumer": "worker"}, None, "tables.items.stream.consumer: 'worker' already consumes queue 'jobs'; "
                 "allowed: one queue or table stream per consumer function", id="also-a-queue-consumer"),
    pytest.param({"consumer": "on-item", "max_receives": 1}, {"name": "on-item", "handler": "shop.items:changed"},
                 "max_receives", id="one-delivery-is-no-retry"),
    pytest.param({"consumer": "on-item", "batch_size": 101}, {"name": "on-item", "handler": "shop.items:changed"},
                 "batch_size", id="batch-too-large"),
    pytest.param({"consumer": "on-item", "inserts": True}, {"name": "on-item", "handler": "shop.items:changed"},
                 "inserts", id="unknown-field"),
])
def test_a_bad_stream_is_refused_naming_the_field(stream, consumer, expected):
    assert expected in refused(with_stream(stream, consumer))


# ------------------------------------------------------------------------------- api


def test_duplicate_route_is_refused():
    message = refused(mutated(lambda d: d["api"]["routes"].append({"method": "GET", "path": "/items", "function": "worker"})))
    assert message == "ServiceSpec.api: routes: GET /items declared twice"


def test_same_path_with_another_method_is_a_different_route():
    spec = ServiceSpec.model_validate(
        mutated(lambda d: d["api"]["routes"].append({"method": "POST", "path": "/items", "function": "api-fn"}))
    )
    assert [r.key for r in spec.api.routes] == ["GET /items", "POST /items"]


@pytest.mark.parametrize("path", ["items", "/Items", "/items/", "/items/{Id}", "/items//x"])
def test_bad_route_paths_are_refused(path):
    message = refused(mutated(lambda d: d["api"]["routes"][0].update(path=path)))
    assert "ServiceSpec.api.routes.0.path: " in message
    assert f"(got {path!r})" in message


def test_route_function_timeout_over_30_s_is_refused():
    message = refused(mutated(lambda d: fn(d).update(timeout_s=31)))
    assert message == "ServiceSpec: functions.api-fn.timeout_s: 31 is too long for an HTTP route; allowed: at most 30"


def test_route_function_timeout_of_30_s_and_long_consumers_are_accepted():
    def change(d):
        fn(d).update(timeout_s=30)
        fn(d, 1).update(timeout_s=300)

    spec = ServiceSpec.model_validate(mutated(change))
    assert (spec.function("api-fn").timeout_s, spec.function("worker").timeout_s) == (30, 300)


@pytest.mark.parametrize(
    "origin, ok",
    [("https://shop.example.com", True), ("*", True), ("ftp://x.com", False), ("https://x.com/path", False)],
)
def test_cors_origins_in_the_declaration(origin, ok):
    def change(d):
        d["api"].update(cors_origins=[origin])

    if ok:
        assert ServiceSpec.model_validate(mutated(change)).api.cors_origins == (origin,)
    else:
        assert "ServiceSpec.api.cors_origins.0: " in refused(mutated(change))


# -------------------------------------------------------------------- tables, queues


@pytest.mark.parametrize(
    "change, expected",
    [
        pytest.param(
            lambda t: t.update(indexes=[{"name": "by-id", "partition_key": {"name": "id", "type": "number"}}]),
            "key attribute 'id' is declared both string and number",
            id="index-vs-table-key",
        ),
        pytest.param(
            lambda t: t.update(
                sort_key={"name": "at", "type": "number"},
                indexes=[{"name": "by-owner", "partition_key": {"name": "owner"}, "sort_key": {"name": "at"}}],
            ),
            "key attribute 'at' is declared both number and string",
            id="sort-key-vs-index-sort-key",
        ),
        pytest.param(
            lambda t: t.update(ttl_attribute="id"),
            "ttl_attribute 'id' is a key attribute; TTL needs its own attribute",
            id="ttl-is-partition-key",
        ),
        pytest.param(
            lambda t: t.update(indexes=[{"name": "by-owner", "partition_key": {"name": "owner"}}], ttl_attribute="owner"),
            "ttl_attribute 'owner' is a key attribute; TTL needs its own attribute",
            id="ttl-is-index-key",
        ),
    ],
)
def test_table_key_rules(change, expected):
    message = refused(mutated(lambda d: change(d["tables"][0])))
    assert message == f"ServiceSpec.tables.0: {expected}"


def test_key_types_are_string_or_number():
    message = refused(mutated(lambda d: d["tables"][0].update(partition_key={"name": "id", "type": "binary"})))
    assert "ServiceSpec.tables.0.partition_key.type: Input should be 'string' or 'number' (got 'binary')" == message


def test_key_attributes_are_listed_once_each():
    table = TableSpec(
        name="orders",
        partition_key={"name": "order_id"},
        indexes=[{"name": "by-customer", "partition_key": {"name": "customer_id"}, "sort_key": {"name": "order_id"}}],
        ttl_attribute="expires_at",
    )
    assert [k.name for k in table.key_attributes()] == ["order_id", "customer_id"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("max_receives", 4, "greater than or equal to 5"),
        ("max_receives", 101, "less than or equal to 100"),
        ("retention_days", 15, "less than or equal to 14"),
        ("retention_days", 0, "greater than or equal to 1"),
        ("batch_size", 11, "less than or equal to 10"),
    ],
)
def test_queue_bounds(field, value, message):
    assert refused(mutated(lambda d: d["queues"][0].update({field: value}))) == (
        f"ServiceSpec.queues.0.{field}: Input should be {message} (got {value})"
    )


def test_queue_bounds_at_the_limits_are_accepted():
    spec = ServiceSpec.model_validate(mutated(lambda d: d["queues"][0].update(max_receives=5, retention_days=14)))
    assert (spec.queues[0].max_receives, spec.queues[0].retention_days) == (5, 14)


# ------------------------------------------------------------------------- workflows

TASK = {"type": "task", "function": "step-fn"}


@pytest.mark.parametrize(
    "steps, start, expected",
    [
        pytest.param({"a": {**TASK, "next": "b"}}, "a", "steps.a: next 'b' is not a step; steps: a", id="unknown-next"),
        pytest.param(
            {"a": {**TASK, "catch": [{"errors": ["Boom"], "next": "oops"}]}},
            "a",
            "steps.a: next 'oops' is not a step; steps: a",
            id="unknown-catch-target",
        ),
        pytest.param(
            {"c": {"type": "choice", "rules": [{"path": "x", "op": "==", "value": 1, "next": "nowhere"}], "default": "d"}, "d": {"type": "succeed"}},
            "c",
            "steps.c: next 'nowhere' is not a step; steps: c, d",
            id="unknown-rule-target",
        ),
        pytest.param(
            {"c": {"type": "choice", "rules": [{"path": "x", "op": "==", "value": 1, "next": "d"}], "default": "gone"}, "d": {"type": "succeed"}},
            "c",
            "steps.c: next 'gone' is not a step; steps: c, d",
            id="unknown-default",
        ),
        pytest.param({"a": TASK}, "zz", "start 'zz' is not a step; steps: a", id="unknown-start"),
        pytest.param({"a": TASK, "b": {"type": "succeed"}}, "a", "steps b are unreachable from start 'a'", id="unreachable"),
        pytest.param(
            {"a": {**TASK, "next": "b"}, "b": {"type": "wait", "seconds": 5, "next": "a"}},
            "a",
            "steps a, b never reach an end (succeed, fail or a step without next)",
            id="loop-without-exit",
        ),
        pytest.param(
            {
                "a": {**TASK, "next": "c"},
                "c": {"type": "choice", "rules": [{"path": "again", "op": "==", "value": True, "next": "a"}], "default": "a"},
            },
            "a",
            "steps a, c never reach an end (succeed, fail or a step without next)",
            id="choice-loop-without-exit",
        ),
    ],
)
def test_workflow_graph_errors(steps, start, expected):
    assert refused(workflow(steps, start), WorkflowSpec) == f"WorkflowSpec: {expected}"


def test_loop_with_an_exit_via_choice_is_allowed():
    spec = WorkflowSpec.model_validate(
        workflow(
            {
                "a": {**TASK, "next": "wait"},
                "wait": {"type": "wait", "seconds": 10, "next": "check"},
                "check": {"type": "choice", "rules": [{"path": "status", "op": "==", "value": "done", "next": "end"}], "default": "a"},
                "end": {"type": "succeed"},
            }
        )
    )
    assert list(spec.steps) == ["a", "wait", "check", "end"]


@pytest.mark.parametrize(
    "step, path, expected",
    [
        pytest.param(
            {"type": "parallel", "branches": [{"start": "x", "steps": {"x": {**TASK, "next": "y"}}}]},
            "steps.p.branches.0",
            "steps.x: next 'y' is not a step; steps: x",
            id="parallel-unknown-next",
        ),
        pytest.param(
            {"type": "map", "items": "lines", "iterator": {"start": "x", "steps": {"x": TASK, "y": {"type": "succeed"}}}},
            "steps.p.iterator",
            "steps y are unreachable from start 'x'",
            id="map-unreachable",
        ),
        pytest.param(
            {
                "type": "parallel",
                "branches": [
                    {"start": "ok", "steps": {"ok": TASK}},
                    {"start": "x", "steps": {"x": {**TASK, "next": "w"}, "w": {"type": "wait", "seconds": 1, "next": "x"}}},
                ],
            },
            "steps.p.branches.1",
            "steps x, w never reach an end",
            id="parallel-branch-loop",
        ),
    ],
)
def test_branch_graphs_are_validated_too(step, path, expected):
    message = refused(workflow({"p": step}, "p"), WorkflowSpec)
    assert f"WorkflowSpec.{path}: {expected}" in message


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("exists", 3, "op 'exists' takes value true, false or nothing, not 3"),
        ("exists", "yes", "op 'exists' takes value true, false or nothing, not 'yes'"),
        ("<", True, "op '<' compares numbers or strings, not True"),
        (">=", None, "op '>=' compares numbers or strings, not None"),
        ("==", None, "op '==' needs a value"),
        ("!=", None, "op '!=' needs a value"),
    ],
)
def test_choice_rule_value_op_mismatches(op, value, expected):
    rule = {"path": "order.total", "op": op, "next": "x"}
    if value is not None:
        rule["value"] = value
    assert refused(rule, Rule) == f"Rule: {expected}"


def test_choice_rule_error_is_reported_under_its_step():
    steps = {
        "c": {"type": "choice", "rules": [{"path": "a", "op": "exists", "value": 3, "next": "d"}], "default": "d"},
        "d": {"type": "succeed"},
    }
    assert "WorkflowSpec.steps.c.rules.0: op 'exists' takes value true, false or nothing, not 3" in refused(workflow(steps, "c"), WorkflowSpec)


@pytest.mark.parametrize("op, value", [("exists", None), ("exists", False), ("==", True), ("<", 5), ("<=", 2.5), (">", "2024-01-01"), ("!=", "x")])
def test_choice_rules_that_fit_their_op(op, value):
    assert Rule(path="order.total", op=op, value=value, next="x").op == op


def test_unknown_op_and_step_type_name_the_allowed_ones():
    assert refused({"path": "a", "op": "~=", "value": 1, "next": "x"}, Rule) == (
        "Rule.op: Input should be '==', '!=', '<', '<=', '>', '>=' or 'exists' (got '~=')"
    )
    message = refused(workflow({"a": {"type": "tsk", "function": "step-fn"}}), WorkflowSpec)
    assert message.startswith("WorkflowSpec.steps.a: Input tag 'tsk'")
    assert "'task', 'choice', 'parallel', 'map', 'wait', 'succeed', 'fail'" in message


# ------------------------------------------------------------------ immutability, strictness


@pytest.mark.parametrize(
    "target, field, value",
    [
        (lambda s: s, "name", "other"),
        (lambda s: s.functions[0], "memory_mb", 1024),
        (lambda s: s.api.routes[0], "public", True),
        (lambda s: s.tables[0], "ttl_attribute", "expires_at"),
        (lambda s: s.workflows[0], "start", "done"),
    ],
)
def test_models_are_frozen(target, field, value):
    spec = ServiceSpec.model_validate(base())
    model = target(spec)
    before = getattr(model, field)
    with pytest.raises(ValidationError) as info:
        setattr(model, field, value)
    assert "Instance is frozen" in describe_error(info.value)
    assert getattr(model, field) == before


def test_collections_are_tuples():
    spec = ServiceSpec.model_validate(base())
    for collection in (spec.functions, spec.queues, spec.tables, spec.workflows, spec.secrets, spec.api.routes, spec.functions[0].uses):
        assert isinstance(collection, tuple)


def test_mappings_inside_models_cannot_be_mutated():
    spec = ServiceSpec.model_validate(mutated(lambda d: fn(d).update(environment={"FEATURE": "on"})))
    with pytest.raises(TypeError):
        spec.function("api-fn").environment["AWS_REGION"] = "us-east-1"
    with pytest.raises(TypeError):
        spec.workflows[0].steps["extra"] = {"type": "succeed"}
    assert ServiceSpec.model_validate(spec.model_dump()) == spec


@pytest.mark.parametrize(
    "data, model, expected",
    [
        ({"name": "api-fn", "handler": "a:b", "colour": "red"}, FunctionSpec, "FunctionSpec.colour: Extra inputs are not permitted (got 'red')"),
        (mutated(lambda d: d.update(region="eu-west-1")), ServiceSpec, "ServiceSpec.region: Extra inputs are not permitted (got 'eu-west-1')"),
        (
            mutated(lambda d: d["queues"][0].update(fifo=True)),
            ServiceSpec,
            "ServiceSpec.queues.0.fifo: Extra inputs are not permitted (got True)",
        ),
        (
            workflow({"a": {**TASK, "timeout": 5}}),
            WorkflowSpec,
            "WorkflowSpec.steps.a.timeout: Extra inputs are not permitted (got 5)",
        ),
    ],
    ids=["function", "service", "queue", "workflow-step"],
)
def test_extra_fields_are_refused(data, model, expected):
    assert refused(data, model) == expected
