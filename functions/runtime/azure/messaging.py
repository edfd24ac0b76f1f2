"""Queues and workflow starts on Azure Storage queues, over the official client (azure-storage-queue).

Wiring: ``ANYCLOUD_QUEUE_<NAME>`` and ``ANYCLOUD_WORKFLOW_<NAME>`` are queue URLs,
``https://<account>.queue.core.windows.net/<queue>``; a workflow's is the queue its starter
function reads (components/azure). Each queue's client is created once per instance, on first
use (`Clients`), authenticated with the app's user-assigned identity (``AZURE_CLIENT_ID``).

Messages are JSON, sent Base64-encoded (``TextBase64EncodePolicy``): the Functions queue
trigger decodes Base64 by default, and a message it can't decode never reaches the function.

- `Queue.send` sends the body; ``delay_s`` is the message's initial invisibility, which Storage
  queues support (up to 7 days; the contract's limit is smaller). A message whose encoded text
  is over the service's 64 KiB is refused before sending (about 48 KiB of JSON).
- `Workflow.start` sends ``{"instance_id", "input"}``; the starter starts the Durable
  orchestration with that instance id, which Durable runs at most once while it is pending or
  running, so the sender cannot know whether the id ran before: `start` returns True when the
  start was accepted. Instance ids can't hold ``/ \\ ? #`` or control characters (Durable
  refuses them), so such an id is a ValueError here, before anything is sent, rather than a
  poison message later.
- A queue that does not exist is `QueueNotFound`, naming the URL: the renderer creates every
  queue, so it means wiring that points elsewhere.
"""

from __future__ import annotations

import base64
import json
import os
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..clients import LazyClients
from ..contracts import check_delay, check_execution_id

__all__ = ["INPUT", "INSTANCE_ID", "MAX_MESSAGE_BYTES", "Clients", "Queue", "QueueNotFound", "Workflow",
           "check_instance_id", "managed_identity", "send_text"]

INSTANCE_ID, INPUT = "instance_id", "input"  # the start message (components/azure)
#: Largest message a Storage queue takes: its Base64 text, in bytes.
MAX_MESSAGE_BYTES = 64 * 1024
_FORBIDDEN_IN_INSTANCE_IDS = "/\\?#"


class QueueNotFound(LookupError):
    """The queue at a wired URL does not exist."""


def managed_identity() -> Any:
    """The app's user-assigned identity (its client id in ``AZURE_CLIENT_ID``, set by the
    renderer); never the default chain, which would try other identities first."""
    client_id = os.environ.get("AZURE_CLIENT_ID")
    if not client_id:
        raise RuntimeError("AZURE_CLIENT_ID is not set: the renderer sets the app's user-assigned identity")
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


class Clients(LazyClients):
    """One QueueClient per queue URL for this instance, created on first use. `credential`
    defaults to `managed_identity()` (made once); tests pass their own, and `options` go to
    every QueueClient."""

    def __init__(self, credential: Any = None, **options: Any) -> None:
        self._credential = credential
        self._options = options
        super().__init__(self._client)

    def _client(self, url: str) -> Any:
        from azure.storage.queue import QueueClient, TextBase64EncodePolicy

        if self._credential is None:
            self._credential = managed_identity()
        return QueueClient.from_queue_url(url, credential=self._credential,
                                          message_encode_policy=TextBase64EncodePolicy(), **self._options)


def _send(clients: Clients, url: str, body: Any, delay_s: int = 0, ttl_s: int | None = None) -> str:
    return send_text(clients, url, json.dumps(body, separators=(",", ":")), delay_s, ttl_s)


def send_text(clients: Clients, url: str, text: str, delay_s: int = 0, ttl_s: int | None = None) -> str:
    """Send `text` as it is (the poison move of an unreadable message uses this too); `ttl_s`
    is how long it lives (None: the service's default, 7 days)."""
    size = len(base64.b64encode(text.encode("utf-8")))
    if size > MAX_MESSAGE_BYTES:
        raise ValueError(f"the message is {size} bytes Base64-encoded; a Storage queue takes at most "
                         f"{MAX_MESSAGE_BYTES} (about 48 KiB of JSON)")
    from azure.core.exceptions import ResourceNotFoundError

    try:
        sent = clients.get(url).send_message(text, visibility_timeout=delay_s or None, time_to_live=ttl_s)
    except ResourceNotFoundError as err:
        raise QueueNotFound(f"the queue {url} does not exist ({getattr(err, 'error_code', None) or 'not found'}): "
                            "check the ANYCLOUD_ wiring") from err
    return sent.id


def check_instance_id(instance_id: str) -> None:
    """An execution id Durable accepts as an instance id (and the contract's length limit)."""
    check_execution_id(instance_id)
    bad = sorted({c for c in instance_id if c in _FORBIDDEN_IN_INSTANCE_IDS or unicodedata.category(c) == "Cc"})
    if bad:
        raise ValueError(f"execution id {instance_id!r} holds {', '.join(repr(c) for c in bad)}: Durable instance ids "
                         "can't hold / \\ ? # or control characters")


class Queue:
    """`ttl_s`: how long a message lives, the queue's declared retention (the renderer's
    ``ANYCLOUD_RETENTION_<NAME>``); None leaves the service's default of 7 days."""

    def __init__(self, url: str, clients: Clients, ttl_s: int | None = None):
        self.url = url
        self._clients = clients
        self.ttl_s = ttl_s

    def send(self, body: Any, *, delay_s: int = 0) -> str:
        check_delay(delay_s)
        return _send(self._clients, self.url, body, delay_s, self.ttl_s)


class Workflow:
    def __init__(self, start_url: str, clients: Clients):
        self.start_url = start_url
        self._clients = clients

    def start(self, execution_id: str, state: Mapping[str, Any]) -> bool:
        check_instance_id(execution_id)
        _send(self._clients, self.start_url, {INSTANCE_ID: execution_id, INPUT: dict(state)})
        return True
