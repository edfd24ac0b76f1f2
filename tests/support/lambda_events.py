"""Lambda events as AWS delivers them: API Gateway HTTP API payload 2.0 and SQS batches.

Shapes follow the AWS documentation's examples (field names and nesting); values are made up.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def http_event(
    method: str,
    path: str,
    body: bytes | str | Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    path_params: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    route_key: str | None = None,
    request_id: str | None = None,
    base64_body: bool = False,
    sub: str | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event. A dict/list `body` is sent as JSON text."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "tests", **(headers or {})},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "tests"},
            "requestId": request_id or f"req-{uuid.uuid4().hex[:12]}",
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": base64_body,
    }
    if sub is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    if query:
        event["queryStringParameters"] = dict(query)
    if path_params:
        event["pathParameters"] = dict(path_params)
    if raw is not None:
        try:
            text = None if base64_body else raw.decode("utf-8")
        except UnicodeDecodeError:  # API Gateway base64-encodes what is not text
            text = None
        event["isBase64Encoded"] = text is None
        event["body"] = base64.b64encode(raw).decode() if text is None else text
    return event


def sqs_record(body: str, *, queue_arn: str, message_id: str | None = None, receive_count: int = 1,
               receipt_handle: str = "handle") -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def sqs_event_from_messages(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's event source mapping builds from ReceiveMessage results."""
    return sqs_event(
        [
            sqs_record(
                m["Body"],
                queue_arn=queue_arn,
                message_id=m["MessageId"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                receipt_handle=m["ReceiptHandle"],
            )
            for m in messages
        ]
    )
