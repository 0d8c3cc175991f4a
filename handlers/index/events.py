"""S3 event notifications as the resize function receives them, unwrapped to ObjectCreated and
ObjectRemoved facts.

They arrive three ways: directly from S3 (``{"Records": [...]}``), as SQS message bodies
(S3 -> SQS), or inside an SNS envelope inside an SQS body (S3 -> SNS -> SQS fan-out). S3's test
event and records other than ObjectCreated and ObjectRemoved (Delete, DeleteMarkerCreated) are
skipped, each with a log line. No AWS calls here.
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


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str  # decoded
    size: int
    etag: str
    sequencer: str  # as S3 sent it; handlers.index.store pads it for ordering

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ObjectCreated:
        s3 = record["s3"]
        obj = s3["object"]
        return cls(
            bucket=s3["bucket"]["name"],
            # Keys arrive form-encoded: spaces as "+", everything else percent-encoded UTF-8.
            key=unquote_plus(obj["key"]),
            size=int(obj.get("size", 0)),
            etag=str(obj.get("eTag", "")),
            sequencer=str(obj.get("sequencer", "")),
        )


@dataclass(frozen=True)
class ObjectRemoved:
    bucket: str
    key: str  # decoded
    sequencer: str  # a delete's is newer than the version it removed
    event_time: str  # when S3 removed it (ISO 8601), kept on the row for audit

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ObjectRemoved:
        s3 = record["s3"]
        obj = s3["object"]
        return cls(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            sequencer=str(obj.get("sequencer", "")),
            event_time=str(record.get("eventTime", "")),
        )


ObjectEvent = ObjectCreated | ObjectRemoved


def is_sqs(event: Mapping[str, Any]) -> bool:
    """True for an SQS event (each record a message), False for a direct S3 notification."""
    records = event.get("Records") or []
    return bool(records) and records[0].get("eventSource") == "aws:sqs"


def parse_body(body: str) -> Mapping[str, Any]:
    """The S3 notification in an SQS message body, out of its SNS envelope if it has one.

    Raises ValueError (json.JSONDecodeError included) for a body that holds no notification.
    """
    notification = json.loads(body)
    if not isinstance(notification, dict):
        raise ValueError("message body is not a JSON object")
    if notification.get("Type") == "Notification" and "Message" in notification:
        return parse_body(notification["Message"])  # S3 -> SNS -> SQS fan-out
    return _s3_notification(notification)


def object_events(notification: Mapping[str, Any]) -> Iterator[ObjectEvent]:
    """The ObjectCreated and ObjectRemoved records of one notification, lazily: a malformed record
    raises when reached, inside the caller's error handling for its message."""
    if notification.get("Event") == "s3:TestEvent":
        log_json(logger, logging.INFO, "test-event-skipped", bucket=notification.get("Bucket"))
        return
    for record in notification.get("Records") or []:
        name = str(record.get("eventName", ""))
        if name.startswith("ObjectCreated:"):
            yield ObjectCreated.from_record(record)
        elif name.startswith("ObjectRemoved:"):
            yield ObjectRemoved.from_record(record)
        else:
            log_json(
                logger,
                logging.INFO,
                "skipped",
                reason="not ObjectCreated or ObjectRemoved",
                event_name=record.get("eventName"),
            )


# --- S3 -> SNS -> Lambda, and events that are no S3 notification -------------------------------
def is_sns(event: Mapping[str, Any]) -> bool:
    """True for an SNS event (S3 -> SNS -> Lambda, no queue between): each record a message."""
    records = event.get("Records") or []
    first = records[0] if records and isinstance(records[0], Mapping) else {}
    return "aws:sns" in (first.get("EventSource"), first.get("eventSource"))


def direct_notifications(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The S3 notifications of a direct invocation: the event itself (S3 -> Lambda), or each SNS
    record's message (S3 -> SNS -> Lambda).

    Raises ValueError for an event or message that holds no S3 notification, so the invocation
    fails visibly (and Lambda's retries and on-failure destination keep the event) instead of
    doing nothing.
    """
    if not is_sns(event):
        yield _s3_notification(event)
        return
    for record in event["Records"]:
        yield parse_body(str((record.get("Sns") or {}).get("Message", "")))


def _s3_notification(notification: Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(notification.get("Records"), list) or notification.get("Event") == "s3:TestEvent":
        return notification
    raise ValueError(
        "not an S3 event notification (no Records, not s3:TestEvent): the resize function takes "
        "S3 notifications directly, through SQS or through SNS"
    )
