"""The one Lambda entrypoint of every function: ``runtime.aws.entry.handler``.

The renderer sets ``handler = "runtime.aws.entry.handler"`` on every function and tells it
which portable handler to run with ``ANYCLOUD_HANDLER`` (``module:function``, relative to the
asset root). The event's shape says how to run it:

- HTTP API payload 2.0 (``requestContext.http``) -> a route: the event becomes a `Request`
  (lower-case headers, base64 bodies decoded, path parameters, request id =
  ``requestContext.requestId``), `runtime.http.run_route` runs it (with Powertools idempotency
  when the handler is ``@idempotent``) and the `Response` goes back as
  ``{"statusCode", "headers", "body"}``.
- An SQS batch (``Records`` from ``aws:sqs``) -> a consumer, one `Message` per record through
  Powertools' `BatchProcessor`: a record that fails (its body is not JSON, or the consumer
  raised) is reported in ``batchItemFailures`` and only it is redelivered. When the function
  declares the ``idempotency`` table, a message body already processed is not processed again.
- A DynamoDB stream batch (``Records`` from ``aws:dynamodb``) -> the consumer of a table's changes
  (changes.py): one `Message` per change ``{"table", "key", "item"}``, in order, failures reported
  by sequence number, counted, and kept whole in the stream's dead-letter queue after
  ``max_receives``; with the ``idempotency`` table, as for SQS.
- Anything else -> a workflow task: the state in, the handler's JSON out. A `TaskError` is
  raised again as an exception whose class is named after the error, so the Lambda runtime
  reports ``errorType`` = the name and the state machine's Retry/Catch match it.

Once per instance (per process on Lambda): the handler is imported, the `Context` is built
from the environment (resources only; boto3 clients are created on first use, one per AWS
service) and the Powertools Logger (JSON, correlation id = request id or message id), Tracer
(on Lambda; `capture_lambda_handler` without the response) and Metrics (one count per
outcome: ``Http2xx``/``Http4xx``/``Http5xx``, ``MessageProcessed``/``MessageFailed``/
``MessageMalformed``, ``ChangeProcessed``/``ChangeFailed``/``ChangeDeadLettered``, ``TaskSucceeded``/``TaskError``/``TaskFailed``, dimension ``function``)
are set up. On Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set)
the clients are also created at import, during the init phase, so no invocation pays for them.
Importing this module loads neither boto3 nor the Powertools batch and idempotency utilities.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from .. import wiring
from ..contracts import Context, HttpError, Message, TaskError
from ..http import load_handler, refused, run_route
from ..instances import Instances
from .changes import StreamWiring
from .events import HTTP, SQS, STREAM, http_response, kind_of, request_from
from .resources import Clients, build_context, services_used

#: The table that backs idempotency (declared in the service spec with key `id`, TTL `expiration`).
IDEMPOTENCY_TABLE = "idempotency"

_TASK_ERRORS: dict[str, type[Exception]] = {}


def task_exception(name: str) -> type[Exception]:
    """An exception class named `name`: the Lambda runtime reports it as ``errorType``."""
    cls = _TASK_ERRORS.get(name)
    if cls is None:
        cls = _TASK_ERRORS[name] = type(name, (Exception,), {"__module__": "anycloud.task"})
    return cls


def tracing_wanted(env: Mapping[str, str]) -> bool:
    """Powertools' Tracer only on Lambda and unless POWERTOOLS_TRACE_DISABLED: it loads the X-Ray
    SDK, which builds a botocore X-Ray client at import (a few hundred ms), and elsewhere it would
    disable itself anyway."""
    disabled = env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in ("1", "true", "yes", "on")
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


class Instance:
    """What a Lambda instance keeps between invocations, built from its environment."""

    def __init__(self, env: Mapping[str, str]):
        from aws_lambda_powertools import Logger, Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        self.function = env.get(wiring.FUNCTION, "")
        spec = env.get(wiring.HANDLER)
        if not spec:
            raise RuntimeError(f"{wiring.HANDLER} is not set: the renderer names the handler (module:function)")
        self.handler = load_handler(spec)
        self.clients = Clients()
        self.resources = build_context(env, self.clients)
        self.idempotent = bool(getattr(self.handler, "idempotent", False))
        if self.idempotent and IDEMPOTENCY_TABLE not in self.resources.tables:
            raise RuntimeError(f"{spec} is @idempotent: the function must declare the {IDEMPOTENCY_TABLE!r} table")

        service = env.get("POWERTOOLS_SERVICE_NAME") or env.get(wiring.SERVICE) or "anycloud"
        self.logger = Logger(service=service)
        self.tracer = None
        if tracing_wanted(env):
            from aws_lambda_powertools import Tracer

            self.tracer = Tracer(service=service)
        self.metrics = Metrics(service=service, namespace=env.get("POWERTOOLS_METRICS_NAMESPACE"))
        self._count_unit = MetricUnit.Count

        self._route_idempotency = None
        self._consumer_idempotency = None
        self._processor = None
        self._stream = StreamWiring.from_env(env)
        self._changes = None

        handle = self._dispatch
        if self.tracer is not None:
            handle = self.tracer.capture_lambda_handler(handle, capture_response=False)
        handle = self.metrics.log_metrics(handle)
        self.handle = self.logger.inject_lambda_context(handle, clear_state=True)

    # ---------------------------------------------------------------------------- shared

    def warm(self) -> None:
        """Create this function's clients now (Lambda's init phase) instead of on first use."""
        for service in services_used(self.resources) + (["dynamodb", "sqs"] if self._stream else []):
            self.clients.get(service)  # a stream's consumer counts in DynamoDB and dead-letters to SQS
        if self.idempotent:
            self.route_idempotency()

    def context(self, request_id: str) -> Context:
        return dataclasses.replace(self.resources, request_id=request_id)

    def count(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=self._count_unit, value=1)

    def _idempotency_table(self) -> str:
        return self.resources.tables[IDEMPOTENCY_TABLE].table_name

    def _dispatch(self, event: Any, context: Any) -> Any:
        if self.function:  # dimensions are cleared with every flush
            self.metrics.add_dimension(name="function", value=self.function)
        kind = kind_of(event)
        if kind == HTTP:
            return self.route(event, context)
        if kind == SQS:
            return self.consume(event, context)
        if kind == STREAM:
            return self.changes(event, context)
        return self.task(event, context)

    # ---------------------------------------------------------------------------- routes

    def route_idempotency(self):
        if self._route_idempotency is None:
            from .idempotency import RouteIdempotency

            self._route_idempotency = RouteIdempotency(self._idempotency_table(), self.function, self.clients.get("dynamodb"))
        return self._route_idempotency

    def route(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        request_id = str(event["requestContext"].get("requestId", ""))
        self.logger.set_correlation_id(request_id)
        try:
            request = request_from(event)
        except HttpError as err:
            response = refused(err, request_id, self.logger)
        else:
            store = None
            if self.idempotent:
                store = self.route_idempotency().for_request(context, request.caller)
            response = run_route(self.handler, request, self.context(request_id), idempotency=store, logger=self.logger)
        self.count(f"Http{response.status // 100}xx")
        return http_response(response, request_id)

    # ------------------------------------------------------------------------- consumers

    def _consumer_ready(self, context: Any) -> None:
        """Consumer idempotency over the `idempotency` table when the function declares it."""
        if self._consumer_idempotency is None and IDEMPOTENCY_TABLE in self.resources.tables:
            from .idempotency import ConsumerIdempotency

            self._consumer_idempotency = ConsumerIdempotency(self._idempotency_table(), self.function, self.clients.get("dynamodb"))
        if self._consumer_idempotency is not None:
            self._consumer_idempotency.register(context)

    def _run_consumer(self, message: Message) -> None:
        """The consumer on `message`; a body already processed is not processed again."""
        ctx = self.context(message.id)
        if self._consumer_idempotency is not None:
            self._consumer_idempotency.run(message.body, lambda: self.handler(message, ctx))
        else:
            self.handler(message, ctx)

    def consume(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        if self._processor is None:
            self._processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._consumer_ready(context)
        try:
            return process_partial_response(event=event, record_handler=self._record, processor=self._processor, context=context)
        finally:
            self.logger.set_correlation_id(None)

    def _record(self, record: Any) -> None:
        message_id = record.message_id
        self.logger.set_correlation_id(message_id)
        try:
            body = json.loads(record.body)
        except (TypeError, ValueError):
            self.count("MessageMalformed")
            self.logger.warning("message body is not JSON", extra={"message_id": message_id})
            raise ValueError("the message body is not JSON") from None
        raw = record.raw_event
        attributes = {k: v.get("stringValue", "") for k, v in (raw.get("messageAttributes") or {}).items() if isinstance(v, Mapping)}
        message = Message(
            id=message_id,
            body=body,
            receive_count=int((raw.get("attributes") or {}).get("ApproximateReceiveCount", 1)),
            attributes=attributes,
        )
        try:
            self._run_consumer(message)
        except Exception as exc:
            self.count("MessageFailed")
            self.logger.warning(
                "message failed; it will be retried",
                extra={"message_id": message_id, "receive_count": message.receive_count, "error": type(exc).__name__},
            )
            raise
        self.count("MessageProcessed")

    # ------------------------------------------------------------------- table changes

    def changes(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if self._stream is None:
            raise RuntimeError("a DynamoDB stream batch reached a function that consumes no table's changes "
                               "(ANYCLOUD_CHANGES is not set: the renderer wires a stream's consumer)")
        if self._changes is None:
            from .changes import ChangeConsumer

            self._changes = ChangeConsumer(self._stream, self.clients, self._run_consumer, self.logger, self.count)
        self._consumer_ready(context)
        return self._changes.consume(event, context)

    # ----------------------------------------------------------------------------- tasks

    def task(self, state: Any, context: Any) -> Any:
        request_id = str(getattr(context, "aws_request_id", "") or "")
        try:
            result = self.handler(state, self.context(request_id))
        except TaskError as err:
            self.count("TaskError")
            self.logger.info("task failed with a business error", extra={"error": err.name})
            raise task_exception(err.name)(err.message) from None
        except Exception:
            self.count("TaskFailed")
            self.logger.exception("task failed")
            raise
        self.count("TaskSucceeded")
        return result


# ------------------------------------------------------------------------------- runtime

_instances: Instances[Instance] = Instances(Instance)


def instance(env: Mapping[str, str] | None = None) -> Instance:
    """This instance's state (runtime/instances.py: one per function environment)."""
    return _instances.get(env)


def reset() -> None:
    """Forget every instance (tests)."""
    _instances.reset()


def handler(event: Any, context: Any) -> Any:
    """The Lambda entrypoint."""
    return instance().handle(event, context)


if os.environ.get(wiring.HANDLER):
    # Resolve the handler at import: a wrong ANYCLOUD_HANDLER fails the init phase, not a request.
    _first = instance()
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        _first.warm()
