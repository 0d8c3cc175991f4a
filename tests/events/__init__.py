"""Real event payloads, kept as files and filled in by the tests."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

HERE = Path(__file__).resolve().parent


@cache
def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return event


def load(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/NAME.json."""
    return copy.deepcopy(_load(name))


def s3_record(bucket: str, key: str, *, etag: str, size: int, sequencer: str) -> dict[str, Any]:
    """One S3 ObjectCreated record, with the key form-encoded as S3 sends it."""
    record: dict[str, Any] = load("s3-object-created")["Records"][0]
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"].update(
        key=quote_plus(key, safe="/"), eTag=etag, size=size, sequencer=sequencer
    )
    return record


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS event, one message per body (JSON-encoded unless already a string)."""
    template = load("sqs-message")["Records"][0]
    messages = []
    for index, body in enumerate(bodies):
        message = copy.deepcopy(template)
        message["messageId"] = f"message-{index}"
        message["body"] = body if isinstance(body, str) else json.dumps(body)
        messages.append(message)
    return {"Records": messages}


def function_url(
    method: str = "POST",
    path: str = "/",
    *,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A Function URL (payload 2.0) event from the recorded POST or GET, with changes."""
    event = load("function-url-post" if method == "POST" else "function-url-get")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    if body is not None:
        event["body"] = body
    elif method not in ("POST", "PUT", "PATCH"):
        event.pop("body", None)
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if headers is not None:
        event["headers"].update(headers)
    event["isBase64Encoded"] = base64_encoded
    return event


def batch_invocation(
    version: str,
    bucket: str,
    *keys: str,
    version_id: str | None = None,
    arguments: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An S3 Batch Operations invocation (schema ``version``, "1.0" or "2.0") from the documented
    example, one task per key, each key URL-encoded as Batch Operations sends it."""
    event = load(f"s3-batch-invoke-{version}")
    template = event["tasks"][0]
    event["tasks"] = []
    for index, key in enumerate(keys):
        task = copy.deepcopy(template)
        task.update(taskId=f"task-{index}", s3Key=quote_plus(key, safe="/"), s3VersionId=version_id)
        if version == "1.0":
            task["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
        else:
            task["s3Bucket"] = bucket
        event["tasks"].append(task)
    if version == "2.0":
        if arguments is None:
            del event["job"]["userArguments"]
        else:
            event["job"]["userArguments"] = arguments
    return event
