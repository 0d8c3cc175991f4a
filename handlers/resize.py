"""The resize function: S3 ObjectCreated notifications (direct or through SQS) -> thumbnail + row.

Wiring only: unpack the event (``handlers.s3_events``), guard against recursion and stale
deliveries, download, call the pure core in ``handlers.thumbnail``, upload, index
(``handlers.index_store``), one log line per object. Every AWS error that a retry may fix
propagates (direct S3 invocations) or becomes a ``batchItemFailures`` entry (SQS), so Lambda
retries it; an image the core rejects gets a ``rejected`` row and is never retried.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any, Final
from urllib.parse import quote

from botocore.exceptions import ClientError

from handlers import aws, index_store, s3_events
from handlers.errors import RejectReason
from handlers.logs import get_logger, lambda_context, log_json
from handlers.outcomes import Outcome, advice
from handlers.s3_events import ObjectCreated
from handlers.settings import ResizeSettings
from handlers.thumbnail import ImageRejected, make_thumbnail

logger = get_logger(__name__)

_EXTENSIONS: Final = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


@cache
def settings() -> ResizeSettings:
    return ResizeSettings.from_env()


@lambda_context  # the lines of the invocation carry its requestId
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any] | None:
    if s3_events.is_sqs(event):
        return {"batchItemFailures": _handle_sqs(event["Records"])}
    for notification in s3_events.direct_notifications(event):  # S3 -> Lambda, or through SNS
        for obj in s3_events.object_created(notification):
            process(obj)
    return None


def _handle_sqs(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    failures = []
    for message in messages:
        try:
            notification = s3_events.parse_body(message.get("body", ""))
        except ValueError as exc:
            # Not an S3 notification: no retry can fix it, but deleting it would lose it. Reported
            # as failed (Powertools' batch convention), so the queue's redrive policy moves it to
            # the dead-letter queue, where it can be inspected.
            log_json(
                logger,
                logging.ERROR,
                "unreadable-message",
                message_id=message.get("messageId"),
                error=str(exc),
                body=str(message.get("body", ""))[:1000],
            )
            failures.append({"itemIdentifier": str(message["messageId"])})
            continue
        try:
            for obj in s3_events.object_created(notification):
                process(obj)
        except Exception:
            logger.exception("resize failed; message %s will be retried", message.get("messageId"))
            failures.append({"itemIdentifier": str(message["messageId"])})
    return failures


def process(obj: ObjectCreated, config: ResizeSettings | None = None) -> Outcome:
    """Thumbnail and index one object. Returns the outcome: ok, rejected or a skip reason."""
    config = config or settings()
    facts: dict[str, Any] = {"bucket": obj.bucket, "key": obj.key, "bytes_in": obj.size}
    timer = _PhaseTimer()
    outcome = _process(obj, config, facts, timer)
    hints = advice(outcome, obj.key)  # why, and what to do: for skips a user would not expect
    level = logging.WARNING if outcome is Outcome.REJECTED or hints else logging.INFO
    log_json(logger, level, "resize", outcome=outcome, ms=timer.phases, **facts, **hints)
    return outcome


def _process(
    obj: ObjectCreated, config: ResizeSettings, facts: dict[str, Any], timer: _PhaseTimer
) -> Outcome:
    if obj.key.startswith(config.thumbnail_prefix):
        return Outcome.SKIPPED_THUMBNAIL_PREFIX  # our own output: processing it would loop forever
    if not obj.key.startswith(config.source_prefix) or obj.key.endswith("/"):
        return Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX
    if index_store.is_stale(config.index_table, obj):
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
        written = index_store.put_thumbnail(config.index_table, obj, thumb, thumb_bucket, thumb_key)
    return Outcome.OK if written else Outcome.SKIPPED_STALE


def thumbnail_key(key: str, out_format: str, config: ResizeSettings) -> str:
    """thumbnails/ + the path below the source prefix, with the output format's extension."""
    below = key[len(config.source_prefix) :]
    stem, _ = posixpath.splitext(below)
    return config.thumbnail_prefix + (stem or below) + _EXTENSIONS[out_format]


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
    if index_store.put_rejection(config.index_table, obj, rejection):
        return Outcome.REJECTED
    return Outcome.SKIPPED_STALE


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
