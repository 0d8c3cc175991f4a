"""S3 event notifications as the resize function receives them, unwrapped to ObjectCreated and
ObjectRemoved facts.

They arrive three ways: directly from S3 (``{"Records": [...]}``), as SQS message bodies
(S3 -> SQS), or inside an SNS envelope inside an SQS body (S3 -> SNS -> SQS fan-out).
``ObjectCreated:*`` records are creates. ``ObjectRemoved:*`` (``Delete``, and
``DeleteMarkerCreated`` in a versioned bucket) and ``LifecycleExpiration:*`` records are removals:
in a versioned bucket a removal may take away a non-current version, or a delete marker (an
undelete), so what it means is decided by asking S3 what is current (handlers.index.lifecycle).
S3's test event and other records are skipped, each with a log line. No AWS calls here.

A notification whose shape is not S3's raises ``Unreadable`` (a ValueError), whatever is wrong
with it, so one bad message never takes its batch down with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from handlers.common.logs import get_logger, log_json

logger = get_logger(__name__)


class Unreadable(ValueError):
    """A message or record that holds no S3 notification the function can act on."""


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str  # decoded
    size: int
    etag: str
    sequencer: str  # as S3 sent it; handlers.index.store pads it for ordering
    version_id: str = ""  # a versioned bucket's version (empty where versioning is off)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ObjectCreated:
        bucket, obj = _parts(record)
        return cls(
            bucket=bucket,
            key=_key(obj),
            size=_size(obj.get("size", 0)),
            etag=str(obj.get("eTag", "")),
            sequencer=str(obj.get("sequencer", "")),
            version_id=_version(obj),
        )


@dataclass(frozen=True)
class ObjectRemoved:
    bucket: str
    key: str  # decoded
    sequencer: str  # a removal's is newer than the version it removed
    event_time: str  # when S3 removed it (ISO 8601), kept on the row for audit
    name: str = "ObjectRemoved:Delete"  # the eventName: Delete, DeleteMarkerCreated, ...
    version_id: str = ""  # the version (or delete marker) removed, in a versioned bucket

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ObjectRemoved:
        bucket, obj = _parts(record)
        return cls(
            bucket=bucket,
            key=_key(obj),
            sequencer=str(obj.get("sequencer", "")),
            event_time=str(record.get("eventTime", "")),
            name=str(record.get("eventName", "")),
            version_id=_version(obj),
        )


def _parts(record: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    s3 = record["s3"]
    bucket, obj = s3["bucket"]["name"], s3["object"]
    if not isinstance(bucket, str) or not bucket or not isinstance(obj, Mapping):
        raise Unreadable("s3.bucket.name or s3.object is not what S3 sends")
    return bucket, obj


def _key(obj: Mapping[str, Any]) -> str:
    key = obj["key"]
    if not isinstance(key, str) or not key:
        raise Unreadable("s3.object.key is not a string")
    return unquote_plus(key)  # form-encoded: spaces as "+", the rest percent-encoded UTF-8


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Unreadable(f"s3.object.size {value!r} is not a number")
    size = int(value)
    if size < 0:
        raise Unreadable(f"s3.object.size {size} is negative")
    return size


def _version(obj: Mapping[str, Any]) -> str:
    version = obj.get("versionId") or ""
    return "" if version == "null" else str(version)  # "null": written while versioning was off


ObjectEvent = ObjectCreated | ObjectRemoved


def is_sqs(event: Mapping[str, Any]) -> bool:
    """True for an SQS event (each record a message), False for a direct S3 notification."""
    return _first_source(event) == "aws:sqs"


def _first_source(event: Mapping[str, Any]) -> object:
    records = event.get("Records")
    first = records[0] if isinstance(records, list) and records else None
    if not isinstance(first, Mapping):
        return None
    return first.get("eventSource") or first.get("EventSource")


def parse_body(body: object) -> Mapping[str, Any]:
    """The S3 notification in an SQS message body, out of its SNS envelope if it has one.

    Raises Unreadable for a body that holds no notification, whatever its shape.
    """
    if not isinstance(body, str):
        raise Unreadable("message body is not a string")
    try:
        notification = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Unreadable(f"message body is not JSON: {exc}") from None
    if not isinstance(notification, dict):
        raise Unreadable("message body is not a JSON object")
    if notification.get("Type") == "Notification" and "Message" in notification:
        message = notification["Message"]
        if not isinstance(message, str):
            raise Unreadable("the SNS envelope's Message is not a string")
        return parse_body(message)  # S3 -> SNS -> SQS fan-out
    return _s3_notification(notification)


def object_events(notification: Mapping[str, Any]) -> list[ObjectEvent]:
    """The create and removal records of one notification. Raises Unreadable when any record is
    not S3's shape, before anything is done for the others."""
    if notification.get("Event") == "s3:TestEvent":
        log_json(logger, logging.INFO, "test-event-skipped", bucket=notification.get("Bucket"))
        return []
    found: list[ObjectEvent] = []
    for record in notification.get("Records") or []:
        try:
            event = _object_event(record)
        except (LookupError, TypeError, AttributeError, ValueError) as exc:
            raise Unreadable(f"a record is not an S3 notification record: {exc!r}") from None
        if event is not None:
            found.append(event)
    return found


def _object_event(record: Mapping[str, Any]) -> ObjectEvent | None:
    name = str(record.get("eventName", ""))
    if name.startswith("ObjectCreated:"):
        return ObjectCreated.from_record(record)
    if name.startswith(("ObjectRemoved:", "LifecycleExpiration:")):
        return ObjectRemoved.from_record(record)
    log_json(logger, logging.INFO, "skipped", reason="not a create or removal", event_name=name)
    return None


# --- S3 -> SNS -> Lambda, and events that are no S3 notification -------------------------------
def is_sns(event: Mapping[str, Any]) -> bool:
    """True for an SNS event (S3 -> SNS -> Lambda, no queue between): each record a message."""
    return _first_source(event) == "aws:sns"


def direct_notifications(event: object) -> Iterator[Mapping[str, Any]]:
    """The S3 notifications of a direct invocation: the event itself (S3 -> Lambda), or each SNS
    record's message (S3 -> SNS -> Lambda).

    Raises Unreadable for an event or message that holds no S3 notification.
    """
    if not isinstance(event, Mapping):
        raise Unreadable("the event is not a JSON object")
    if not is_sns(event):
        yield _s3_notification(event)
        return
    for record in event["Records"]:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        yield parse_body(sns.get("Message", "") if isinstance(sns, Mapping) else "")


def _s3_notification(notification: Mapping[str, Any]) -> Mapping[str, Any]:
    records = notification.get("Records")
    if isinstance(records, list) and all(isinstance(record, Mapping) for record in records):
        return notification
    if notification.get("Event") == "s3:TestEvent":
        return notification
    raise Unreadable(
        "not an S3 event notification (no Records, not s3:TestEvent): the resize function takes "
        "S3 notifications directly, through SQS or through SNS"
    )
