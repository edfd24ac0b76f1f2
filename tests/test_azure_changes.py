"""The Azure adapter's table stream consumer (functions/runtime/azure/changes.py, entry.Instance.changes):
what the Cosmos DB trigger registers, and what an invocation does with the change feed's documents.
Documents are written through the portable Cosmos table and read back from the stand-in's change
feed by the real azure-cosmos client; dead letters go to an Azurite queue."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import uuid
import zipfile
from types import SimpleNamespace

import pytest
from azure.cosmos import CosmosClient

from components.azure.deploy import build_zip
from components.packaging import cloud_archive
from runtime.azure import changes, entry
from runtime.azure.cosmos import CosmosTable, container_address
from runtime.azure.messaging import Clients
from runtime.contracts import Context, Message
from tests.example.conftest import render_example
from tests.conftest import AZURE_DEV
from tests.support.azure_stack import FakeCredential
from tests.support.azurite import Azurite, azurite  # noqa: F401 (fixture)
from tests.support.cosmos_standin import ENDPOINT, CosmosStandIn

RECEIVED: list[Message] = []
URL = f"{ENDPOINT}dbs/tables/colls/items"


def record(message: Message, ctx: Context) -> None:
    """Fails for an item with `fail`; records every message it is given."""
    RECEIVED.append(message)
    if message.body["item"].get("fail"):
        raise RuntimeError("cannot process")


def stream_env(dead_letters: str, max_receives: int = 3) -> dict[str, str]:
    return {"ANYCLOUD_FUNCTION": "on-items", "ANYCLOUD_HANDLER": f"{__name__}:record", "ANYCLOUD_TRIGGERS": "changes",
            "ANYCLOUD_CHANGES_ACCOUNT__accountEndpoint": ENDPOINT, "ANYCLOUD_CHANGES_ACCOUNT__credential": "managedidentity",
            "ANYCLOUD_CHANGES_ACCOUNT__clientId": "c-1", "ANYCLOUD_CHANGES_DATABASE": "tables",
            "ANYCLOUD_CHANGES_CONTAINER": "items", "ANYCLOUD_CHANGES_LEASES": "items_leases",
            "ANYCLOUD_CHANGES_TABLE": "items", "ANYCLOUD_KEYS_ITEMS": json.dumps({"key": ["pk", "sk"], "ttl": "expires"}),
            "ANYCLOUD_CHANGES_BATCH_SIZE": "7", "ANYCLOUD_CHANGES_MAX_RECEIVES": str(max_receives),
            "ANYCLOUD_CHANGES_DEAD_LETTERS": dead_letters}


@pytest.fixture
def consumer(azurite: Azurite):  # noqa: F811
    """An instance consuming the `items` table's changes, its table on the stand-in, its dead-letter queue."""
    RECEIVED.clear()
    standin = CosmosStandIn()
    standin.add_container("tables", "items", "/pk")
    container = CosmosClient(ENDPOINT, credential=FakeCredential(), transport=standin) \
        .get_database_client("tables").get_container_client("items")
    table = CosmosTable(lambda: container, container_address(URL), ["pk", "sk"], ttl="expires")
    queue = f"items-changes-{uuid.uuid4().hex[:8]}-poison"
    dead_letters = azurite.queue(queue)
    env = stream_env(azurite.queue_url(queue))
    instance = entry.Instance(env, clients=Clients(azurite.credential), context=Context())

    def feed() -> list[dict]:
        return list(container.query_items_change_feed(start_time="Beginning"))

    return SimpleNamespace(instance=instance, table=table, feed=feed, dead_letters=dead_letters, queue=queue,
                           env=env, azurite=azurite)


def kept(queue) -> list[dict]:
    return [json.loads(base64.b64decode(m.content)) for m in queue.peek_messages(max_messages=32)]


def test_each_change_is_the_portable_message_of_the_item_as_the_table_returns_it(consumer):
    consumer.table.put({"pk": "a", "sk": 1, "id": "mine", "_private": True, "expires": 2_000_000_000, "n": 1})
    consumer.table.put({"pk": "b", "sk": 2, "n": 1})
    consumer.table.update({"pk": "a", "sk": 1}, {"n": 2})  # folded: one change of "a", at its latest state
    documents = consumer.feed()
    assert [d["pk"] for d in documents] == ["b", "a"] and all("_lsn" in d and "_rid" in d for d in documents)
    consumer.instance.changes(documents, 0, "invocation-1")
    assert [(m.id, m.body, m.receive_count) for m in RECEIVED] == [
        (f"{d['id']}:{d['_lsn']}", {"table": "items", "key": {"pk": d["pk"], "sk": d["sk"]},
                                    "item": consumer.table.get({"pk": d["pk"], "sk": d["sk"]})}, 1) for d in documents]
    assert RECEIVED[1].body["item"] == {"pk": "a", "sk": 1, "id": "mine", "_private": True, "expires": 2_000_000_000,
                                        "n": 2}
    assert kept(consumer.dead_letters) == []


def test_a_failing_change_is_retried_then_dead_lettered_on_its_last_delivery(consumer, caplog):
    consumer.table.put({"pk": "ok", "sk": 1})
    consumer.table.put({"pk": "bad", "sk": 1, "fail": True})
    documents = consumer.feed()
    for retry_count in (0, 1):
        with pytest.raises(changes.ChangesFailed, match=f"failed on delivery {retry_count + 1} of 3"):
            consumer.instance.changes(documents, retry_count, "invocation")
    with caplog.at_level(logging.ERROR, logger="anycloud"):
        consumer.instance.changes(documents, 2, "invocation")  # the last delivery: kept, and the batch is done
    assert [(m.body["key"]["pk"], m.receive_count) for m in RECEIVED] == [("ok", 1), ("bad", 1), ("bad", 2), ("bad", 3)]
    bad = next(d for d in documents if d["pk"] == "bad")
    (letter,) = kept(consumer.dead_letters)
    assert letter == {"change": f"{bad['id']}:{bad['_lsn']}", "table": "items", "key": {"pk": "bad", "sk": 1},
                      "item": {"pk": "bad", "sk": 1, "fail": True}, "attempts": 3, "error": "RuntimeError"}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"anycloud change dead-lettered to '{consumer.queue}': table items, change {bad['id']}:{bad['_lsn']}, "
        "3 deliveries, RuntimeError"]
    consumer.instance.changes(documents, 3, "invocation")  # a retry after that: nothing runs or is kept twice
    assert len(RECEIVED) == 4 and len(kept(consumer.dead_letters)) == 1


def test_a_dead_letter_that_cannot_be_written_fails_the_invocation_and_is_written_on_the_next(consumer):
    consumer.table.put({"pk": "bad", "sk": 1, "fail": True})
    documents = consumer.feed()
    consumer.dead_letters.delete_queue()
    with pytest.raises(Exception, match="does not exist"):
        consumer.instance.changes(documents, 2, "invocation")  # its last delivery, and the queue is gone
    consumer.dead_letters.create_queue()
    consumer.instance.changes(documents, 3, "invocation")  # retried (without limit): kept, not delivered again
    assert [m.receive_count for m in RECEIVED] == [3]
    (letter,) = kept(consumer.dead_letters)
    assert (letter["attempts"], letter["error"]) == (3, "MessageFailed")


def test_a_document_that_is_not_a_change_of_the_table_is_kept_at_once_and_once(consumer):
    consumer.table.put({"pk": "bad", "sk": 1, "fail": True})
    documents = [{"id": "x", "_lsn": 9, "other": 1}, *consumer.feed()]
    with pytest.raises(changes.ChangesFailed):
        consumer.instance.changes(documents, 0, "invocation")
    with pytest.raises(changes.ChangesFailed):
        consumer.instance.changes(documents, 1, "invocation")
    (letter,) = kept(consumer.dead_letters)
    assert letter == {"table": "items", "error": "MalformedChange", "reason": "the document has no key attribute pk, sk",
                      "document_id": "x", "document": {"id": "x", "_lsn": 9, "other": 1}}


def test_a_change_too_large_for_a_queue_message_is_kept_by_its_key(consumer):
    consumer.table.put({"pk": "big", "sk": 1, "fail": True, "blob": "x" * 60_000})
    documents = consumer.feed()
    consumer.instance.changes(documents, 2, "invocation")
    (letter,) = kept(consumer.dead_letters)
    assert letter["key"] == {"pk": "big", "sk": 1} and letter["omitted"] == "item" and "item" not in letter
    assert letter["change"] == f"{documents[0]['id']}:{documents[0]['_lsn']}"


def test_the_app_registers_one_cosmos_trigger_with_a_retry_policy_without_limit(consumer):
    (function,) = entry.create_app(consumer.env).get_functions()
    (binding,) = [b.get_dict_repr() for b in function.get_bindings()]
    assert (function.get_function_name(), binding["type"]) == ("changes", "cosmosDBTrigger")
    assert {k: binding[k] for k in ("connection", "databaseName", "containerName", "leaseContainerName",
                                    "maxItemsPerInvocation", "startFromBeginning")} == {
        "connection": "ANYCLOUD_CHANGES_ACCOUNT", "databaseName": "%ANYCLOUD_CHANGES_DATABASE%",
        "containerName": "%ANYCLOUD_CHANGES_CONTAINER%", "leaseContainerName": "%ANYCLOUD_CHANGES_LEASES%",
        "maxItemsPerInvocation": 7, "startFromBeginning": True}
    assert "createLeaseContainerIfNotExists" not in binding  # the identity may not create containers
    retry = function.get_setting("retry_policy").get_dict_repr()
    assert (retry["strategy"], retry["max_retry_count"], retry["delay_interval"]) == ("fixed_delay", "-1", "00:00:10")
    with pytest.raises(RuntimeError, match="ANYCLOUD_CHANGES_DEAD_LETTERS"):
        entry.Instance({**consumer.env, "ANYCLOUD_CHANGES_DEAD_LETTERS": ""}, context=Context())


PROBE = """
import json, function_app
print(json.dumps({f.get_function_name(): sorted(b.type for b in f.get_bindings()) for f in function_app.app.get_functions()}))
"""


def test_the_rendered_consumer_app_imports_in_a_fresh_process_and_registers_its_trigger_only(tmp_path):
    zipfile.ZipFile(io.BytesIO(build_zip(cloud_archive("azure")))).extractall(tmp_path)
    (app,) = [a for a in render_example(AZURE_DEV).of_type("azure-native:web:WebApp") if a.name == "order-placed"]
    settings = {s["name"]: s["value"] for s in app.inputs["siteConfig"]["appSettings"]}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**settings, "PATH": os.environ["PATH"]})  # the example's handlers are in the package
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"changes": ["cosmosDBTrigger"]}
