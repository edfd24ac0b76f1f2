"""Queues and workflow starts on Azure through the real azure-storage-queue client against
Azurite's queue service (npm `azurite`, started by tests/support/azurite.py).

Azurite checks shared-key signatures, not AAD tokens, so the clients here use the development
account's key where the functions use their managed identity (tested with a stand-in
credential class). The tests read the queues with a plain client, which returns the message
text as it was stored: Base64, as the Functions queue trigger expects it.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from runtime.azure import messaging
from runtime.azure.messaging import MAX_MESSAGE_BYTES, Clients, Queue, QueueNotFound, Workflow
from tests.support.azurite import Azurite, azurite  # noqa: F401 (fixture)


@pytest.fixture
def name() -> str:
    """A queue of its own per test: Azurite keeps every queue for the session."""
    return f"q-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clients(azurite: Azurite) -> Clients:  # noqa: F811
    return Clients(azurite.credential)


def received(queue: Any) -> list[tuple[str, Any]]:
    """(id, JSON body) of each message on `queue`, checking that its text is Base64."""
    out = []
    for message in queue.receive_messages(max_messages=32):
        text = message.content
        out.append((message.id, json.loads(base64.b64decode(text, validate=True))))
    return out


def test_send_puts_base64_json_on_the_queue_and_returns_its_id(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    raw = azurite.queue(name)
    queue = Queue(azurite.queue_url(name), clients)
    assert clients.created == []
    message_id = queue.send({"order_id": "o-1", "total": 2500, "lines": [{"sku": "a", "qty": 2}], "note": "é"})
    [message] = raw.peek_messages()
    assert message.content == base64.b64encode(b'{"order_id":"o-1","total":2500,"lines":[{"sku":"a","qty":2}],"note":"\\u00e9"}').decode()
    assert received(raw) == [(message_id, {"order_id": "o-1", "total": 2500, "lines": [{"sku": "a", "qty": 2}], "note": "é"})]
    assert clients.created == [azurite.queue_url(name)]
    Queue(azurite.queue_url(name), clients).send([1, None])
    assert clients.created == [azurite.queue_url(name)]  # one client per queue for this instance


def test_a_delay_keeps_the_message_invisible_until_then(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    raw = azurite.queue(name)
    queue = Queue(azurite.queue_url(name), clients)
    queue.send({"later": True}, delay_s=900)
    queue.send({"now": True})
    assert [body for _, body in received(raw)] == [{"now": True}]
    assert raw.get_queue_properties().approximate_message_count == 2


def test_delays_beyond_the_contract_are_refused_before_sending(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    raw = azurite.queue(name)
    for delay in (901, -1):
        with pytest.raises(ValueError, match="delay_s must be 0-900"):
            Queue(azurite.queue_url(name), clients).send({"a": 1}, delay_s=delay)
    assert raw.get_queue_properties().approximate_message_count == 0 and clients.created == []


def test_start_sends_the_start_message_the_starter_reads(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    raw = azurite.queue(name)
    workflow = Workflow(azurite.queue_url(name), clients)
    assert workflow.start("order-1", {"order": {"order_id": "order-1", "total": 10}}) is True
    assert [body for _, body in received(raw)] == [{"instance_id": "order-1", "input": {"order": {"order_id": "order-1", "total": 10}}}]


@pytest.mark.parametrize("bad", ["", "x" * 81, "a/b", "a\\b", "a?b", "a#b", "a\nb", "a\x00b", "a\x7fb", "a\x85b"])
def test_start_refuses_ids_durable_cannot_take_before_sending(azurite: Azurite, clients: Clients, name: str, bad: str) -> None:  # noqa: F811
    """Empty or longer than the contract allows, or with a character Durable refuses in an
    instance id: a ValueError here, never a message the starter would fail on."""
    raw = azurite.queue(name)
    with pytest.raises(ValueError, match="execution id"):
        Workflow(azurite.queue_url(name), clients).start(bad, {"a": 1})
    assert raw.get_queue_properties().approximate_message_count == 0 and clients.created == []


def test_ids_with_other_characters_are_started(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    raw = azurite.queue(name)
    ids = ["order-1_2.3:4@5", "é日本", "a b", "x" * 80]
    for execution_id in ids:
        Workflow(azurite.queue_url(name), clients).start(execution_id, {})
    assert [body["instance_id"] for _, body in received(raw)] == ids


def test_sending_to_a_missing_queue_says_which(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    from azure.core.exceptions import ResourceNotFoundError

    url = azurite.queue_url(name)  # never created
    with pytest.raises(QueueNotFound, match=f"the queue {url} does not exist \\(QueueNotFound\\)") as err:
        Queue(url, clients).send({"a": 1})
    assert isinstance(err.value.__cause__, ResourceNotFoundError)
    with pytest.raises(QueueNotFound):
        Workflow(url, clients).start("order-1", {})


def test_the_largest_message_is_the_services(azurite: Azurite, clients: Clients, name: str) -> None:  # noqa: F811
    """A body whose Base64 text is exactly 64 KiB goes through; one byte of JSON more is
    refused before sending, with the limit in the message."""
    raw = azurite.queue(name)
    queue = Queue(azurite.queue_url(name), clients)
    largest = "x" * (MAX_MESSAGE_BYTES * 3 // 4 - 2)  # the JSON string's quotes are the other 2 bytes
    queue.send(largest)
    with pytest.raises(ValueError, match="at most 65536"):
        queue.send(largest + "x")
    assert [body for _, body in received(raw)] == [largest]


def test_the_default_credential_is_the_apps_user_assigned_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Made on first use, once per Clients, from AZURE_CLIENT_ID; no client id is an error."""
    made: list[dict[str, Any]] = []

    class ManagedIdentityCredential:
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)

        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise AssertionError("no request is sent in this test")

    import azure.identity

    monkeypatch.setattr(azure.identity, "ManagedIdentityCredential", ManagedIdentityCredential)
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000c1")
    clients = Clients()
    assert made == []
    first = clients.get("https://acct.queue.core.windows.net/orders")
    clients.get("https://acct.queue.core.windows.net/fulfil-order-start")
    assert made == [{"client_id": "00000000-0000-0000-0000-0000000000c1"}]
    assert (first.account_name, first.queue_name) == ("acct", "orders")
    assert type(first._message_encode_policy).__name__ == "TextBase64EncodePolicy"
    monkeypatch.delenv("AZURE_CLIENT_ID")
    with pytest.raises(RuntimeError, match="AZURE_CLIENT_ID is not set"):
        messaging.managed_identity()
