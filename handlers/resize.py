"""The resize function: S3 ObjectCreated notifications (direct or through SQS) -> thumbnail + row.

Thin by design: unpack the event, guard against recursion and stale deliveries, download, call the
pure core in ``handlers.thumbnail``, upload, index. Every AWS error that a retry may fix
propagates (direct S3 invocations) or becomes a ``batchItemFailures`` entry (SQS), so Lambda
retries it; an image the core rejects gets a ``rejected`` row and is never retried.
"""

from __future__ import annotations

import json
import logging
import posixpath
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote_plus

from botocore.exceptions import ClientError

from handlers import aws
from handlers.errors import RejectReason
from handlers.logs import get_logger, log_json
from handlers.outcomes import Outcome
from handlers.settings import ResizeSettings
from handlers.thumbnail import ImageRejected, Thumbnail, make_thumbnail

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

logger = get_logger(__name__)

_EXTENSIONS: Final = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# S3 sequencers are hex strings of varying length; left-padded they compare as numbers do, in
# Python and in a DynamoDB condition alike.
_SEQUENCER_WIDTH: Final = 32


@cache
def settings() -> ResizeSettings:
    return ResizeSettings.from_env()


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str  # decoded
    size: int
    etag: str
    sequencer: str  # padded

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
            sequencer=str(obj.get("sequencer", "")).rjust(_SEQUENCER_WIDTH, "0"),
        )


def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any] | None:
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        return {"batchItemFailures": _handle_sqs(records)}
    for record in _object_created(event):
        process(ObjectCreated.from_record(record))
    return None


def _handle_sqs(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    failures = []
    for message in messages:
        try:
            notification = _parse_body(message.get("body", ""))
        except ValueError as exc:
            # Not an S3 notification: no retry can fix it, and retrying would loop until the
            # queue's redrive policy moves it aside. Logged with the body for inspection.
            log_json(
                logger,
                logging.ERROR,
                "unreadable-message",
                message_id=message.get("messageId"),
                error=str(exc),
                body=str(message.get("body", ""))[:1000],
            )
            continue
        try:
            for record in _object_created(notification):
                process(ObjectCreated.from_record(record))
        except Exception:
            logger.exception("resize failed; message %s will be retried", message.get("messageId"))
            failures.append({"itemIdentifier": str(message["messageId"])})
    return failures


def _parse_body(body: str) -> Mapping[str, Any]:
    notification = json.loads(body)
    if not isinstance(notification, dict):
        raise ValueError("message body is not a JSON object")
    if notification.get("Type") == "Notification" and "Message" in notification:
        return _parse_body(notification["Message"])  # S3 -> SNS -> SQS fan-out
    return notification


def _object_created(notification: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if notification.get("Event") == "s3:TestEvent":
        log_json(logger, logging.INFO, "test-event-skipped", bucket=notification.get("Bucket"))
        return
    for record in notification.get("Records") or []:
        if str(record.get("eventName", "")).startswith("ObjectCreated:"):
            yield record
        else:
            log_json(
                logger,
                logging.INFO,
                "skipped",
                reason="not ObjectCreated",
                event_name=record.get("eventName"),
            )


def process(obj: ObjectCreated, config: ResizeSettings | None = None) -> Outcome:
    """Thumbnail and index one object. Returns the outcome: ok, rejected or a skip reason."""
    config = config or settings()
    facts: dict[str, Any] = {"bucket": obj.bucket, "key": obj.key, "bytes_in": obj.size}
    timer = _PhaseTimer()
    outcome = _process(obj, config, facts, timer)
    level = logging.WARNING if outcome is Outcome.REJECTED else logging.INFO
    log_json(logger, level, "resize", outcome=outcome, ms=timer.phases, **facts)
    return outcome


def _process(
    obj: ObjectCreated, config: ResizeSettings, facts: dict[str, Any], timer: _PhaseTimer
) -> Outcome:
    if obj.key.startswith(config.thumbnail_prefix):
        return Outcome.SKIPPED_THUMBNAIL_PREFIX  # our own output: processing it would loop forever
    if not obj.key.startswith(config.source_prefix) or obj.key.endswith("/"):
        return Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX
    if _is_stale(obj, config):
        return Outcome.SKIPPED_STALE
    if obj.size > config.max_input_bytes:
        rejection = ImageRejected(
            RejectReason.TOO_LARGE,
            f"{obj.size:,} bytes is over the limit of {config.max_input_bytes:,}",
        )
        return _record_rejection(obj, config, rejection, facts)

    with timer("download"):
        data = _download(obj)
    if data is None:
        return Outcome.SKIPPED_CHANGED_OR_DELETED
    facts["bytes_in"] = len(data)
    try:
        thumb = make_thumbnail(
            data,
            max_size=config.max_size,
            quality=config.jpeg_quality,
            max_pixels=config.max_pixels,
        )
    except ImageRejected as rejection:
        return _record_rejection(obj, config, rejection, facts)
    timer.add("decode_resize", thumb.decode_ms)
    timer.add("encode", thumb.encode_ms)

    thumb_bucket = config.thumbnail_bucket or obj.bucket
    thumb_key = thumbnail_key(obj.key, thumb.format, config)
    facts.update(bytes_out=len(thumb.data), thumbnail_key=thumb_key)
    with timer("upload"):
        aws.s3().put_object(
            Bucket=thumb_bucket,
            Key=thumb_key,
            Body=thumb.data,
            ContentType=thumb.content_type,
            CacheControl=config.cache_control,
            # Metadata must be ASCII: the key goes in percent-encoded.
            Metadata={"source-etag": obj.etag, "source-key": quote(obj.key)},
        )
    with timer("index"):
        written = _write_row(obj, config, _ok_fields(thumb, thumb_bucket, thumb_key))
    return Outcome.OK if written else Outcome.SKIPPED_STALE


def thumbnail_key(key: str, out_format: str, config: ResizeSettings) -> str:
    """thumbnails/ + the path below the source prefix, with the output format's extension."""
    below = key[len(config.source_prefix) :]
    stem, _ = posixpath.splitext(below)
    return config.thumbnail_prefix + (stem or below) + _EXTENSIONS[out_format]


def _is_stale(obj: ObjectCreated, config: ResizeSettings) -> bool:
    """True when the index already holds a newer version of this object."""
    row = (
        aws.dynamodb()
        .get_item(
            TableName=config.index_table,
            Key={"id": {"S": obj.key}},
            ProjectionExpression="sequencer",
            ConsistentRead=True,
        )
        .get("Item")
    )
    stored = row.get("sequencer", {}).get("S", "") if row else ""
    return stored > obj.sequencer


def _download(obj: ObjectCreated) -> bytes | None:
    """The object's bytes, or None when it changed (newer event coming) or was deleted."""
    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.etag:
        request["IfMatch"] = obj.etag  # thumbnail exactly the version this event announces
    try:
        response = aws.s3().get_object(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "NoSuchKey", "412"):
            return None
        raise
    return response["Body"].read()


def _record_rejection(
    obj: ObjectCreated, config: ResizeSettings, rejection: ImageRejected, facts: dict[str, Any]
) -> Outcome:
    facts.update(reason=rejection.reason, detail=rejection.detail)
    fields = {
        "status": _s(Outcome.REJECTED),
        "reason": _s(rejection.reason),
        "detail": _s(rejection.detail[:1000]),
    }
    return Outcome.REJECTED if _write_row(obj, config, fields) else Outcome.SKIPPED_STALE


def _ok_fields(thumb: Thumbnail, bucket: str, key: str) -> dict[str, AttributeValueTypeDef]:
    return {
        "status": _s(Outcome.OK),
        "thumbnail-path": _s(key),
        "thumbnail-bucket": _s(bucket),
        "width": _n(thumb.width),
        "height": _n(thumb.height),
        "bytes": _n(len(thumb.data)),
        "format": _s(thumb.format),
        "content-type": _s(thumb.content_type),
        "source-format": _s(thumb.source_format),
        "source-width": _n(thumb.source_width),
        "source-height": _n(thumb.source_height),
    }


def _write_row(
    obj: ObjectCreated, config: ResizeSettings, fields: dict[str, AttributeValueTypeDef]
) -> bool:
    """Put the index row unless a newer version's row is there. False when it was."""
    item: dict[str, AttributeValueTypeDef] = {
        "id": _s(obj.key),
        "fullsize-path": _s(obj.key),
        "source-bucket": _s(obj.bucket),
        "source-etag": _s(obj.etag),
        "source-size": _n(obj.size),
        "sequencer": _s(obj.sequencer),
        "processed-at": _s(datetime.now(UTC).isoformat(timespec="milliseconds")),
        **fields,
    }
    try:
        aws.dynamodb().put_item(
            TableName=config.index_table,
            Item=item,
            ConditionExpression="attribute_not_exists(id) OR sequencer <= :sequencer",
            ExpressionAttributeValues={":sequencer": _s(obj.sequencer)},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


class _PhaseTimer:
    """Milliseconds per phase, for the one log line per image."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    def add(self, phase: str, ms: float) -> None:
        self.phases[phase] = round(ms, 1)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, (time.perf_counter() - started) * 1000)
