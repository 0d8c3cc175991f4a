"""The resize function: S3 notifications (direct or through SQS/SNS) -> renditions + row.

Wiring only: unpack the event (``handlers.s3_events``), guard against recursion and stale
deliveries, download (a progressive JPEG only up to the end of its DC scans when a 1/8-scale
decode serves every rendition: ``_read``), call the pure core in ``handlers.thumbnail``, upload
every rendition at its key (``handlers.renditions``), index (``handlers.index_store``), one log
line per object. An ObjectRemoved event marks the row deleted and removes the renditions it
listed. Every AWS error that a retry may fix propagates (direct S3 invocations) or becomes a
``batchItemFailures`` entry (SQS), so Lambda retries it; an image the core rejects gets a
``rejected`` row and is never retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, Final, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

from handlers import aws, index_store, jpeg_prefix, renditions, s3_events
from handlers.errors import RejectReason
from handlers.index_store import StoredRendition
from handlers.logs import get_logger, lambda_context, log_json
from handlers.outcomes import Outcome, advice
from handlers.renditions import PILLOW_FORMAT, KeyTooLong, OutputFormat, RenditionSpec
from handlers.s3_events import ObjectCreated, ObjectEvent, ObjectRemoved
from handlers.settings import ResizeSettings
from handlers.thumbnail import ImageRejected, Renditions, dc_scale_serves, make_renditions

logger = get_logger(__name__)

# What a conditional request answers when the object is not the version it names.
_NOT_THAT_VERSION: Final = ("PreconditionFailed", "NoSuchKey", "412", "404")

# The download is read in chunks of this size while its head is scanned, so a progressive JPEG's
# download stops at most this far past the end of its DC scans (handlers.jpeg_prefix).
DOWNLOAD_CHUNK: Final = 16 * 1024


@cache
def settings() -> ResizeSettings:
    return ResizeSettings.from_env()


@lambda_context  # the lines of the invocation carry its requestId
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any] | None:
    if s3_events.is_sqs(event):
        return {"batchItemFailures": _handle_sqs(event["Records"])}
    for notification in s3_events.direct_notifications(event):  # S3 -> Lambda, or through SNS
        for obj in s3_events.object_events(notification):
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
            for obj in s3_events.object_events(notification):
                process(obj)
        except Exception:
            logger.exception("resize failed; message %s will be retried", message.get("messageId"))
            failures.append({"itemIdentifier": str(message["messageId"])})
    return failures


def process(obj: ObjectEvent, config: ResizeSettings | None = None) -> Outcome:
    """Render and index one created object, or delete one removed object's renditions. Returns
    the outcome: ok, rejected, deleted or a skip reason."""
    config = config or settings()
    timer = _PhaseTimer()
    facts: dict[str, Any] = {"bucket": obj.bucket, "key": obj.key}
    if isinstance(obj, ObjectRemoved):
        outcome = _guard(obj, config) or _remove(obj, config, facts, timer)
        log_json(logger, logging.INFO, "delete", outcome=outcome, ms=timer.phases, **facts)
        return outcome
    facts["bytes_in"] = obj.size
    outcome = _guard(obj, config) or _process(obj, config, facts, timer)
    hints = advice(outcome, obj.key)  # why, and what to do: for skips a user would not expect
    level = logging.WARNING if outcome is Outcome.REJECTED or hints else logging.INFO
    log_json(logger, level, "resize", outcome=outcome, ms=timer.phases, **facts, **hints)
    return outcome


def _guard(obj: ObjectEvent, config: ResizeSettings) -> Outcome | None:
    """Why this event is none of ours, or None."""
    if obj.key.startswith(config.thumbnail_prefix):
        return Outcome.SKIPPED_THUMBNAIL_PREFIX  # our own output: processing it would loop forever
    if not obj.key.startswith(config.source_prefix) or obj.key.endswith("/"):
        return Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX
    if index_store.is_stale(config.index_table, obj):
        return Outcome.SKIPPED_STALE
    return None


def _process(
    obj: ObjectCreated, config: ResizeSettings, facts: dict[str, Any], timer: _PhaseTimer
) -> Outcome:
    try:
        check_keys(obj.key, config)
    except KeyTooLong as exc:
        return _record_rejection(
            obj, config, ImageRejected(RejectReason.KEY_TOO_LONG, str(exc)), facts
        )
    if obj.size > config.max_input_bytes:
        rejection = ImageRejected(
            RejectReason.TOO_LARGE,
            f"{obj.size:,} bytes is over the limit of {config.max_input_bytes:,}",
        )
        return _record_rejection(obj, config, rejection, facts)

    with timer("download"):
        downloaded = _download(obj, config.renditions)
    if downloaded is None:
        return Outcome.SKIPPED_CHANGED_OR_DELETED
    data, facts["bytes_in"] = downloaded
    facts["bytes_read"] = len(data)
    try:
        made = make_renditions(
            data,
            config.renditions,
            quality=config.jpeg_quality,
            max_pixels=config.max_pixels,
        )
    except ImageRejected as rejection:
        return _record_rejection(obj, config, rejection, facts)
    timer.add("decode_resize", made.decode_ms)
    timer.add("encode", made.encode_ms)
    facts["bytes_decoded"] = made.bytes_decoded
    if made.dc_prefix:
        facts["dc_prefix"] = True

    bucket = config.thumbnail_bucket or obj.bucket
    keys = [
        rendition_key(obj.key, config, rendition.spec.size, rendition.format)
        for rendition in made.renditions
    ]
    facts.update(
        bytes_out=sum(len(rendition.data) for rendition in made.renditions),
        thumbnail_key=keys[0],
        renditions=len(keys),
    )
    with timer("upload"):
        stored = _upload(obj, config, bucket, made, keys)
    with timer("index"):
        outcome = index_store.put_renditions(config.index_table, obj, made, bucket, stored)
    if outcome is Outcome.DELETED:
        # The source was deleted while this older version was being rendered: what was just
        # uploaded must not outlive the delete.
        with timer("delete"):
            _delete(bucket, stored)
        return Outcome.SKIPPED_STALE
    return outcome


def rendition_key(key: str, config: ResizeSettings, size: int, out_format: str) -> str:
    """Where one rendition of ``key`` goes (handlers.renditions). Raises KeyTooLong."""
    return renditions.rendition_key(
        key, config.source_prefix, config.thumbnail_prefix, size, out_format
    )


def check_keys(key: str, config: ResizeSettings) -> None:
    """Raise KeyTooLong, before any download, when some rendition's key would be too long."""
    for spec in config.renditions:
        formats = (
            ("JPEG", "PNG") if spec.format is OutputFormat.AUTO else (PILLOW_FORMAT[spec.format],)
        )
        for out_format in formats:
            rendition_key(key, config, spec.size, out_format)


def _upload(
    obj: ObjectCreated, config: ResizeSettings, bucket: str, made: Renditions, keys: list[str]
) -> list[StoredRendition]:
    stored = []
    for rendition, key in zip(made.renditions, keys, strict=True):
        answer = aws.s3().put_object(
            Bucket=bucket,
            Key=key,
            Body=rendition.data,
            ContentType=rendition.content_type,
            CacheControl=config.cache_control,
            # Metadata must be ASCII: the key goes in percent-encoded.
            Metadata={"source-etag": obj.etag, "source-key": quote(obj.key)},
        )
        stored.append(StoredRendition(key, answer.get("ETag", "")))
    return stored


def _remove(
    obj: ObjectRemoved, config: ResizeSettings, facts: dict[str, Any], timer: _PhaseTimer
) -> Outcome:
    with timer("index"):
        removed = index_store.mark_deleted(config.index_table, obj)
    if removed is None:
        return Outcome.SKIPPED_STALE  # a newer version is indexed: this delete is older
    bucket = removed.bucket or config.thumbnail_bucket or obj.bucket
    with timer("delete"):
        facts["deleted"] = _delete(bucket, removed.renditions)
    return Outcome.DELETED


def _delete(bucket: str, stored: Sequence[StoredRendition]) -> list[str]:
    """Delete each rendition that is still the version recorded (If-Match on its ETag), so an
    upload made since by a newer version is left alone. Returns the keys deleted."""
    deleted = []
    for rendition in stored:
        request: dict[str, Any] = {"Bucket": bucket, "Key": rendition.key}
        if rendition.etag:
            request["IfMatch"] = rendition.etag
        try:
            aws.s3().delete_object(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_THAT_VERSION:
                continue  # replaced by a newer upload, or gone already: a re-delivered delete
            raise
        deleted.append(rendition.key)
    return deleted


_ACCESS_DENIED_HINT: Final = (
    "S3 answers 403, not 404, for a missing key to a role without s3:ListBucket (the deployed "
    "role has none): taken as deleted since the event. If the object exists, the role cannot "
    "read it: check ResizeRole's ReadSources (s3:GetObject on SOURCE_PREFIX*), the bucket "
    "policy, and the KMS key policy if the bucket uses SSE-KMS"
)


def _download(obj: ObjectCreated, specs: Sequence[RenditionSpec]) -> tuple[bytes, int] | None:
    """The object's bytes (all of them, or the head that is all ``specs`` need: see ``_read``)
    and its size, or None when it changed (newer event coming) or was deleted.

    Deleted reads as 403 AccessDenied to the deployed role, as S3 will not tell a role that may
    not list the bucket whether a key exists. Retrying would fail five times and park the
    message in the dead-letter queue, so a 403 is a skip, logged at WARNING with what to check
    should the object in fact exist (least privilege: granting ListBucket for a 404 would let
    the role list every key in the bucket)."""
    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.etag:
        request["IfMatch"] = obj.etag  # thumbnail exactly the version this event announces
    try:
        response = aws.s3().get_object(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "NoSuchKey", "412"):
            return None
        if code in ("AccessDenied", "403"):
            log_json(
                logger,
                logging.WARNING,
                "access-denied",
                bucket=obj.bucket,
                key=obj.key,
                hint=_ACCESS_DENIED_HINT,
            )
            return None
        raise
    data = _read(response["Body"], specs)
    return data, int(response.get("ContentLength", len(data)))


class _Body(Protocol):
    """What ``_read`` uses of botocore's StreamingBody."""

    def read(self, amt: int | None = None) -> bytes: ...

    def close(self) -> None: ...


def _read(body: _Body, specs: Sequence[RenditionSpec]) -> bytes:
    """Read a GetObject body, scanning its head as it arrives: a progressive JPEG whose
    renditions all come from a 1/8-scale decode is read only up to the end of its DC scans
    (``make_renditions`` then decodes exactly that prefix); anything else is read to the end,
    the scan having stopped at the frame header or the first scan that disqualifies it. One
    request either way; a body left unread is closed (its connection dropped, not pooled)."""
    scanner = jpeg_prefix.PrefixScanner(lambda frame: dc_scale_serves(frame.size, specs))
    head = bytearray()
    while chunk := body.read(DOWNLOAD_CHUNK):
        head += chunk
        status = scanner.advance(head).status
        if status is jpeg_prefix.Status.COMPLETE:
            body.close()
            return bytes(head)
        if status is jpeg_prefix.Status.INELIGIBLE:
            return b"".join((head, body.read()))
    return bytes(head)


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
