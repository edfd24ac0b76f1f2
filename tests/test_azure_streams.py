"""A table stream rendered on Azure (components/azure/stream.py): the example's orders stream consumed
by order-placed (which declares nothing on the table), and the reference service's orders stream
consumed by the notify task (which declares read on it); what the pack and the architecture make
of them, and what the renderer refuses."""

from __future__ import annotations

import copy

import pytest

import components.azure.observability as observability
import components.azure.stream as stream
from components.architecture import read
from components.azure import identity as roles
from components.azure.table import DATA_ROLES
from components.export import to_export
from components.mock_engine import render
from components.spec import SpecError, StreamSpec
from policy.offline import evaluate
from tests.conftest import AZURE_DEV, AZURE_PROD, program, refused_before_registering
from tests.example.conftest import render_example
from tests.services import REFERENCE

APP = "azure-native:web:WebApp"
QUEUE = "azure-native:storage:Queue"
CONTAINER = "azure-native:cosmosdb:SqlResourceSqlContainer"
DATA_ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
RULE = "azure-native:monitor:ScheduledQueryRule"
POLICY = "stream-dead-letters-kept-and-alerted"
READER = "19e7f393-937e-4f77-808e-94535e297925"  # Storage Queue Data Reader: peeks, never sends


def streamed(**stream_args):
    return REFERENCE.model_copy(update={"tables": tuple(
        t.model_copy(update={"stream": StreamSpec(consumer="notify", **stream_args)}) if t.name == "orders" else t
        for t in REFERENCE.tables)})


@pytest.fixture(scope="module")
def example():
    return render_example(AZURE_PROD, "prod")


@pytest.fixture(scope="module")
def reference():
    return render(program(streamed(max_receives=7, batch_size=25)), AZURE_PROD, ["anycloud:paymentApiKey"], stack="prod")


def named(rendering, typ: str, name: str):
    (found,) = [r for r in rendering.of_type(typ) if r.name == name]
    return found


def settings(rendering, app: str) -> dict[str, str]:
    return {s["name"]: s["value"] for s in named(rendering, APP, app).inputs["siteConfig"]["appSettings"]}


def held(rendering, app: str) -> set[tuple[str, str]]:
    """(role, scope) of every assignment the app's identity holds."""
    principal = named(rendering, "azure-native:managedidentity:UserAssignedIdentity", f"{app}-identity").outputs["principalId"]
    return {(a.inputs["roleDefinitionId"].rsplit("/", 1)[-1], a.inputs["scope"])
            for a in rendering.of_type(ASSIGNMENT) + rendering.of_type(DATA_ASSIGNMENT)
            if a.inputs["principalId"] == principal}


def mandatory(rendering, environment: str = "prod") -> set[str]:
    report = evaluate(to_export(rendering)["deployment"]["resources"], environment, config={"publicRoutes": ["GET /health"]})
    return {v.policy for v in report.mandatory}


# ------------------------------------------------------------------ rendering


def test_the_lease_container_sits_beside_the_table_partitioned_by_id(example):
    table, leases = named(example, CONTAINER, "orders"), named(example, CONTAINER, "orders-leases")
    assert leases.inputs["containerName"] == leases.inputs["resource"]["id"] == "orders_leases"
    assert leases.inputs["resource"]["partitionKey"] == {"paths": ["/id"], "kind": "Hash", "version": 2}
    assert "defaultTtl" not in leases.inputs["resource"]  # checkpoints never expire
    for key in ("accountName", "databaseName", "resourceGroupName"):
        assert leases.inputs[key] == table.inputs[key]
    assert leases.protect and table.protect  # prod: losing the leases replays the whole feed


def test_the_consumer_app_is_wired_to_its_trigger_and_stores(example):
    s = settings(example, "order-placed")
    (account,) = example.of_type("azure-native:cosmosdb:DatabaseAccount")
    client = named(example, "azure-native:managedidentity:UserAssignedIdentity", "order-placed-identity").outputs["clientId"]
    dead_letters = named(example, QUEUE, "orders-changes-poison")
    (data,) = [a for a in example.of_type("azure-native:storage:StorageAccount") if a.name == "storage-data"]
    assert {k: v for k, v in s.items() if k.startswith("ANYCLOUD_CHANGES")} == {
        "ANYCLOUD_CHANGES_ACCOUNT__accountEndpoint": account.outputs["documentEndpoint"],
        "ANYCLOUD_CHANGES_ACCOUNT__credential": "managedidentity",
        "ANYCLOUD_CHANGES_ACCOUNT__clientId": client,
        "ANYCLOUD_CHANGES_DATABASE": "tables", "ANYCLOUD_CHANGES_CONTAINER": "orders",
        "ANYCLOUD_CHANGES_LEASES": "orders_leases", "ANYCLOUD_CHANGES_TABLE": "orders",
        "ANYCLOUD_CHANGES_BATCH_SIZE": "10", "ANYCLOUD_CHANGES_MAX_RECEIVES": "5",
        "ANYCLOUD_CHANGES_DEAD_LETTERS": f"{data.outputs['primaryEndpoints']['queue']}{dead_letters.inputs['queueName']}",
    }
    assert s["ANYCLOUD_TRIGGERS"] == "changes" and "ANYCLOUD_TABLE_ORDERS" not in s  # it declared nothing on the table
    assert s["ANYCLOUD_KEYS_ORDERS"].startswith('{"key":["order_id"]')
    assert s["AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__excludedTypes"] == "Request;Trace"
    app = named(example, APP, "order-placed")
    assert app.inputs["siteConfig"]["ipSecurityRestrictionsDefaultAction"] == "Deny"  # a trigger reaches out


def test_the_consumer_holds_read_on_the_table_write_on_its_leases_and_send_on_its_dead_letters_only(example):
    (account,) = example.of_type("azure-native:cosmosdb:DatabaseAccount")
    dead_letters = named(example, QUEUE, "orders-changes-poison")
    stream_roles = {(DATA_ROLES["read"], f"{account.id}/dbs/tables/colls/orders"),
                    (DATA_ROLES["write"], f"{account.id}/dbs/tables/colls/orders_leases"),
                    (roles.QUEUE_SENDER, dead_letters.id)}
    every_app = (roles.BLOB_CONTRIBUTOR, roles.BLOB_OWNER, roles.METRICS_PUBLISHER)  # deployment, host, telemetry
    own = {(r, s) for r, s in held(example, "order-placed") if r not in every_app}
    assert own == stream_roles | {(roles.QUEUE_SENDER, named(example, QUEUE, "orders").id)}  # and its jobs.send()
    app = named(example, APP, "order-placed")
    grants = {d.rsplit("::", 1)[-1] for d in app.dependencies}
    assert {"orders-changes-order-placed-reads", "orders-changes-order-placed-leases",
            "orders-changes-order-placed-dead-letters"} <= grants  # its trigger starts with them


def test_a_consumer_that_declares_the_table_holds_no_second_read(reference):
    (account,) = reference.of_type("azure-native:cosmosdb:DatabaseAccount")
    orders = f"{account.id}/dbs/tables/colls/orders"
    data = [(r, s) for r, s in held(reference, "notify") if s.startswith(account.id)]
    assert sorted(data) == sorted([(DATA_ROLES["read"], orders), (DATA_ROLES["write"], f"{orders}_leases")])
    assert not [a for a in reference.of_type(DATA_ASSIGNMENT) if a.name == "orders-changes-notify-reads"]
    s = settings(reference, "notify")
    assert (s["ANYCLOUD_CHANGES_BATCH_SIZE"], s["ANYCLOUD_CHANGES_MAX_RECEIVES"]) == ("25", "7")
    assert s["ANYCLOUD_TRIGGERS"] == "task,changes"


def test_the_dead_letters_are_a_kept_queue_on_the_keyed_data_account_with_an_alert(example):
    dead_letters = named(example, QUEUE, "orders-changes-poison")
    assert dead_letters.inputs["queueName"].endswith("-orders-changes-poison") and dead_letters.protect
    (data,) = [a for a in example.of_type("azure-native:storage:StorageAccount") if a.name == "storage-data"]
    assert dead_letters.inputs["accountName"] == data.outputs["name"]
    assert data.inputs["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert data.inputs["encryption"]["services"]["queue"] == {"enabled": True, "keyType": "Account"}
    alert = named(example, RULE, "orders-changes-dead-letters")
    (criterion,) = alert.inputs["criteria"]["allOf"]
    role = named(example, APP, "order-placed").outputs["name"]
    assert criterion["query"] == (f'traces | where cloud_RoleName == "{role}" and message has "anycloud change '
                                  f'dead-lettered" and message has "\'{dead_letters.inputs["queueName"]}\'"')
    (group,) = example.of_type("azure-native:monitor:ActionGroup")
    assert alert.inputs["actions"] == {"actionGroups": [group.id]} and alert.inputs["enabled"]


def test_the_stream_renders_in_dev_and_prod_and_passes_the_pack(example, reference):
    dev = render_example(AZURE_DEV)
    assert mandatory(example) == mandatory(reference) == mandatory(dev, "dev") == set()
    assert not named(dev, CONTAINER, "orders-leases").protect


def test_deletes_are_refused_before_anything_is_registered():
    error = refused_before_registering({**AZURE_DEV}, SpecError, spec=streamed(deletes=True))
    assert str(error) == ("tables.orders.stream.deletes: True is not allowed on Azure; allowed: False (the Cosmos DB "
                          "trigger reads the latest-version change feed, which has no deletes)")


# ------------------------------------------------------------------ the pack


def test_a_stream_without_its_alert_fails(monkeypatch):
    real = observability.alerts

    def without_stream_alerts(ctx, seen, watched):
        watched.streams.clear()
        return real(ctx, seen, watched)

    monkeypatch.setattr("components.azure.platform.alerts", without_stream_alerts)
    assert POLICY in mandatory(render(program(streamed()), AZURE_PROD, ["anycloud:paymentApiKey"], stack="prod"))


def test_a_consumer_that_may_only_read_its_dead_letters_fails(monkeypatch):
    real = stream.assign

    def reader(ctx, name, who, role, scope, parent):
        return real(ctx, name, who, READER if name.endswith("-dead-letters") else role, scope, parent)

    monkeypatch.setattr(stream, "assign", reader)
    rendering = render(program(streamed()), AZURE_PROD, ["anycloud:paymentApiKey"], stack="prod")
    (grant,) = [a for a in rendering.of_type(ASSIGNMENT) if a.name == "orders-changes-notify-dead-letters"]
    assert grant.inputs["roleDefinitionId"].endswith(READER)
    assert POLICY in mandatory(rendering)


def test_dead_letters_named_outside_the_stack_fail(example):
    resources = copy.deepcopy(to_export(example)["deployment"]["resources"])
    for r in resources:
        if r["type"] == APP and r["urn"].endswith("::order-placed"):
            for side in ("inputs", "outputs"):
                for s in r[side]["siteConfig"]["appSettings"]:
                    if s["name"] == "ANYCLOUD_CHANGES_DEAD_LETTERS":
                        s["value"] = s["value"].rsplit("/", 1)[0] + "/somewhere-else-poison"
    assert POLICY in {v.policy for v in evaluate(resources, "prod").mandatory}


# ------------------------------------------------------------------ architecture


def test_the_table_delivers_its_changes_to_the_consumer(example, reference):
    arrows = {(a.source, a.target, a.verb) for a in read(to_export(example)["deployment"]["resources"]).arrows}
    assert ("table:orders", "function:order-placed", "consume") in arrows
    assert not {a for a in arrows if a[0] == "function:order-placed" and a[1].startswith("table:")}  # no declared read
    arrows = {(a.source, a.target, a.verb) for a in read(to_export(reference)["deployment"]["resources"]).arrows}
    assert {("table:orders", "function:notify", "consume"), ("function:notify", "table:orders", "read")} <= arrows


def test_without_the_lease_grant_there_is_no_stream_arrow(example):
    resources = [r for r in to_export(example)["deployment"]["resources"]
                 if not r["urn"].endswith("::orders-changes-order-placed-leases")]
    arrows = {(a.source, a.target, a.verb) for a in read(resources).arrows}
    assert ("table:orders", "function:order-placed", "consume") not in arrows


def test_a_request_that_writes_the_table_pays_its_consumers_feed_read_and_checkpoint(example):
    from components.cost import estimate

    routes = estimate(to_export(example)["deployment"]["resources"]).routes
    post = {line.what: line.quantity for line in routes["POST /orders"]}
    assert post["order-placed reads the orders change feed"] == 1  # request units (cosmos_read_ru)
    assert post["order-placed checkpoints its orders lease"] == 6  # (cosmos_write_ru)
    assert "order-placed: execution" in post
    assert not [what for what in {line.what for line in routes["GET /orders/{order_id}"]} if "change feed" in what]


def test_the_renderer_and_the_adapter_name_the_same_settings_and_log_line():
    from runtime.azure import changes

    assert (stream.CONNECTION, stream.DATABASE_SETTING, stream.CONTAINER_SETTING, stream.LEASES_SETTING,
            stream.TABLE_SETTING, stream.BATCH_SETTING, stream.RECEIVES_SETTING, stream.DEAD_LETTERS_SETTING) == \
        (changes.CONNECTION, changes.DATABASE, changes.CONTAINER, changes.LEASES, changes.TABLE, changes.BATCH_SIZE,
         changes.MAX_RECEIVES, changes.DEAD_LETTERS)
    assert observability.CHANGE_DEAD_LETTERED == changes.DEAD_LETTERED
