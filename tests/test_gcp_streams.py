"""A table stream rendered on GCP (components/gcp/stream.py), on the reference service with the
orders table streamed to the notify task, and what the pack says when a piece is broken."""

from __future__ import annotations

import json

import pytest

import components.gcp.observability as observability
import components.gcp.stream as stream
from components.export import to_export
from components.mock_engine import render
from components.spec import StreamSpec
from policy.offline import evaluate
from tests.conftest import GCP_PROD, program
from tests.services import REFERENCE

STREAMED = REFERENCE.model_copy(update={"tables": tuple(
    t.model_copy(update={"stream": StreamSpec(consumer="notify", deletes=True, max_receives=7)})
    if t.name == "orders" else t for t in REFERENCE.tables)})
TRIGGER = "gcp:eventarc/trigger:Trigger"


def rendered():
    return render(program(STREAMED), GCP_PROD, ["anycloud:paymentApiKey"], stack="prod")


@pytest.fixture(scope="module")
def prod():
    return rendered()


def mandatory(rendering) -> set[str]:
    report = evaluate(to_export(rendering)["deployment"]["resources"], "prod", config={"publicRoutes": ["GET /health"]})
    return {v.policy for v in report.mandatory}


def test_the_trigger_filters_this_tables_documents_and_sends_protobuf(prod):
    (trigger,) = prod.of_type(TRIGGER)
    criteria = {c["attribute"]: c for c in trigger.inputs["matchingCriterias"]}
    (database,) = [d for d in prod.of_type("gcp:firestore/database:Database") if d.name == "orders"]
    assert criteria["type"]["value"] == "google.cloud.firestore.document.v1.written"
    assert criteria["database"]["value"] == database.outputs["name"]
    assert criteria["document"] == {"attribute": "document", "value": "orders/{doc}", "operator": "match-path-pattern"}
    assert trigger.inputs["eventDataContentType"] == "application/protobuf"
    assert trigger.inputs["location"] == database.inputs["locationId"]
    (consumer,) = [f for f in prod.of_type("gcp:cloudfunctionsv2/function:Function") if f.name == "notify"]
    assert trigger.inputs["destination"]["cloudRunService"]["service"] == consumer.outputs["name"]
    assert trigger.inputs["labels"] == {"anycloud-dead-letters": "orders-prod-orders-changes-dlq"}


def test_the_consumer_is_wired_to_its_stores(prod):
    (consumer,) = [f for f in prod.of_type("gcp:cloudfunctionsv2/function:Function") if f.name == "notify"]
    env = consumer.inputs["serviceConfig"]["environmentVariables"]
    wiring = json.loads(env["ANYCLOUD_STREAM_ORDERS"])
    assert wiring == {"table": "orders", "database": "orders-prod-orders", "key": ["order_id"], "ttl": "expires_at",
                      "deliveries": "orders-prod-orders-deliveries", "max_receives": 7, "deletes": True,
                      "dead_letters": "projects/anycloud-orders-4711/topics/orders-prod-orders-changes-dlq"}
    assert "changes" in env["ANYCLOUD_TRIGGERS"].split(",")
    assert consumer.inputs["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_ONLY"


def test_each_identity_holds_only_its_grants(prod):
    (trigger,) = prod.of_type(TRIGGER)
    sender = trigger.inputs["serviceAccount"]
    members = [m for m in prod.of_type("gcp:projects/iAMMember:IAMMember") if m.name.startswith("orders-changes")]
    roles = {m.inputs["role"]: m for m in members}
    assert roles["roles/eventarc.eventReceiver"].inputs["member"] == f"serviceAccount:{sender}"
    deliveries = roles["roles/datastore.user"]
    assert "orders-prod-orders-deliveries" in deliveries.inputs["condition"]["expression"]
    (invoker,) = [m for m in prod.of_type("gcp:cloudrun/iamMember:IamMember") if m.name == "orders-changes-invoker"]
    assert invoker.inputs["member"] == f"serviceAccount:{sender}" and invoker.inputs["service"] == "orders-prod-notify"
    (publisher,) = [m for m in prod.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
                    if m.name == "orders-changes-notify-dead-letters"]
    assert publisher.inputs["topic"].endswith("/orders-prod-orders-changes-dlq")
    assert publisher.inputs["member"] == deliveries.inputs["member"]  # the consumer's own account
    assert {d.split("::")[-1] for d in trigger.dependencies} >= {"orders-changes-invoker", "orders-changes-receives-events",
                                                                  "eventarc-channel"}


def test_the_dead_letters_are_encrypted_kept_and_alerted(prod):
    (topic,) = [t for t in prod.of_type("gcp:pubsub/topic:Topic") if t.name == "orders-changes-dlq"]
    assert topic.inputs["kmsKeyName"]
    (kept,) = [s for s in prod.of_type("gcp:pubsub/subscription:Subscription") if s.name == "orders-changes-dlq-kept"]
    assert kept.inputs["expirationPolicy"] == {"ttl": ""} and kept.inputs["messageRetentionDuration"] == "604800s"
    (alert,) = [a for a in prod.of_type("gcp:monitoring/alertPolicy:AlertPolicy") if a.name == "orders-changes-dead-letters"]
    filters = " ".join(c["conditionThreshold"]["filter"] for c in alert.inputs["conditions"])
    assert '"orders-prod-orders-changes-dlq"' in filters and '"orders-prod-orders-changes-dlq-kept"' in filters
    (channel,) = prod.of_type("gcp:eventarc/googleChannelConfig:GoogleChannelConfig")
    assert channel.inputs["cryptoKeyName"] == topic.inputs["kmsKeyName"]


def test_the_streamed_stack_passes_the_pack(prod):
    assert mandatory(prod) == set()


def test_a_stream_dead_letter_store_without_its_alert_fails(monkeypatch):
    real = observability.alerts

    def without_stream_alerts(ctx, watched):
        watched.streams.clear()
        return real(ctx, watched)

    monkeypatch.setattr("components.gcp.platform.alerts", without_stream_alerts)
    assert "stream-dead-letters-kept-and-alerted" in mandatory(rendered())


def test_a_consumer_that_cannot_publish_its_dead_letters_fails(monkeypatch):
    real = stream.gcp.pubsub.TopicIAMMember

    def member(name, **kwargs):
        if name.endswith("-dead-letters"):
            kwargs["member"] = "serviceAccount:someone-else@anycloud-orders-4711.iam.gserviceaccount.com"
        return real(name, **kwargs)

    monkeypatch.setattr(stream.gcp.pubsub, "TopicIAMMember", member)
    assert "stream-dead-letters-kept-and-alerted" in mandatory(rendered())


def test_a_trigger_without_its_label_is_an_event_path_that_drops(monkeypatch):
    real = stream.gcp.eventarc.Trigger

    def unlabelled(resource_name, **kwargs):
        kwargs.pop("labels")
        return real(resource_name, **kwargs)

    monkeypatch.setattr(stream.gcp.eventarc, "Trigger", unlabelled)
    found = mandatory(rendered())
    assert {"gcp-event-paths-dead-lettered", "queues-dead-lettered"} <= found
