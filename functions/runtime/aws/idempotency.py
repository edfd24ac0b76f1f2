"""Idempotency on AWS: Powertools idempotency over the service's `idempotency` DynamoDB table.

The table is declared in the service spec with partition key ``id`` and TTL attribute
``expiration``, which is exactly Powertools' `DynamoDBPersistenceLayer` layout (``id``,
``expiration``, ``in_progress_expiration``, ``status``, ``data``, ``validation``).

- Routes (`RouteIdempotency`, the `IdempotencyStore` that `runtime.http.run_route` drives): the
  record key is the ``Idempotency-Key`` header, scoped to the function and, behind a JWT
  authorizer, to the caller's ``sub`` (two clients can never replay each other's responses);
  the payload hash is the request body's hash, so the same key with another body
  (`IdempotencyValidationError`), or while the first request with it is still running
  (`IdempotencyAlreadyInProgressError`), is 409 ``IdempotencyKeyReused``. The first response
  the handler returns is stored and replayed; when the handler raises (a 4xx `HttpError`, a
  validation error, a bug), Powertools deletes the record and nothing is stored, so a corrected
  retry with the same key runs.
- Consumers (`ConsumerIdempotency`): the record key is the whole message body; a message whose
  processing completed is acknowledged without running the consumer again; a failed run
  deletes its record, so the redelivery runs again.

In-progress records expire with the invocation (the Lambda context is registered on every
call), so a timed-out instance never blocks a retry for longer than its own timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..contracts import Response
from ..http import idempotency_key_in_progress, idempotency_key_reused

#: How long a completed result is replayed (seconds): a client retrying a POST, or SQS
#: redelivering a message, within a day gets the first outcome.
EXPIRES_AFTER_S = 24 * 3600


def persistence_layer(table_name: str, client: Any = None) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", expiry_attr="expiration", boto3_client=client)


def _register_invocation(config: Any, lambda_context: Any) -> None:
    """Tie in-progress records to this invocation's deadline (a real Lambda context only)."""
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        config.register_lambda_context(lambda_context)


class RouteIdempotency:
    """The persistent half, built once per instance; `for_request` gives the per-request store."""

    def __init__(self, table_name: str, function: str, client: Any = None):
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        self.config = IdempotencyConfig(
            event_key_jmespath="[scope, key]",
            payload_validation_jmespath="body_hash",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=EXPIRES_AFTER_S,
        )
        self.persistence = persistence_layer(table_name, client)

        def run(data: dict[str, Any], compute: Callable[[], Response]) -> dict[str, Any]:
            response = compute()
            return {"status": response.status, "body": response.body, "headers": dict(response.headers)}

        self._run = idempotent_function(
            run,
            data_keyword_argument="data",
            persistence_store=self.persistence,
            config=self.config,
            key_prefix=f"{function}.route",
        )

    def for_request(self, lambda_context: Any, scope: str = "") -> RouteStore:
        _register_invocation(self.config, lambda_context)
        return RouteStore(self, scope)


class RouteStore:
    """`runtime.http.IdempotencyStore` for one request."""

    def __init__(self, owner: RouteIdempotency, scope: str):
        self._owner = owner
        self.scope = scope

    def run(self, key: str, body_hash: str, compute: Callable[[], Response]) -> Response:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        data = {"scope": self.scope, "key": key, "body_hash": body_hash}
        try:
            stored = self._owner._run(data=data, compute=compute)
        except IdempotencyValidationError:
            raise idempotency_key_reused() from None
        except IdempotencyAlreadyInProgressError:
            raise idempotency_key_in_progress() from None
        return Response(stored["status"], stored["body"], stored["headers"])


class ConsumerIdempotency:
    """Wraps a consumer call so a message body that was already processed is not processed again."""

    def __init__(self, table_name: str, function: str, client: Any = None):
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        self.config = IdempotencyConfig(raise_on_no_idempotency_key=True, expires_after_seconds=EXPIRES_AFTER_S)
        self.persistence = persistence_layer(table_name, client)

        def run(body: Any, process: Callable[[], None]) -> None:  # `body` is the idempotency key
            process()

        self._run = idempotent_function(
            run, data_keyword_argument="body", persistence_store=self.persistence, config=self.config, key_prefix=f"{function}.consumer"
        )

    def register(self, lambda_context: Any) -> None:
        _register_invocation(self.config, lambda_context)

    def run(self, body: Any, process: Callable[[], None]) -> None:
        self._run(body=body, process=process)
