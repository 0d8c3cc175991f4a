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
