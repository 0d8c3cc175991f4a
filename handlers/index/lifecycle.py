"""What one S3 object event does to the bucket and the index: the create and delete protocol.

A created object is checked (its keys fit S3, its size fits ``MAX_INPUT_BYTES``), downloaded
(a progressive JPEG only up to the end of its DC scans when a 1/8-scale decode serves every
rendition: ``_read``), rendered by the pure core (``handlers.imaging``), every rendition uploaded
at its key (``handlers.index.keys``) and the row written (``handlers.index.store``). A removed
object's row is marked deleted and the renditions it listed are removed. Every AWS error that a
retry may fix propagates; an image the core rejects gets a ``rejected`` row and is never retried.

Each step returns what it did; ``create`` and ``remove`` give back one ``Result``: the outcome,
the facts for the object's log line and the milliseconds of each phase.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

from handlers.common import aws
from handlers.common.errors import ImageRejected, RejectReason
from handlers.common.logs import get_logger, log_json
from handlers.imaging import Renditions, dc_scale_serves, make_renditions, progressive
from handlers.imaging.renditions import PILLOW_FORMAT, OutputFormat, RenditionSpec
from handlers.index import store
from handlers.index.events import ObjectCreated, ObjectRemoved
from handlers.index.keys import KeyTooLong, rendition_key
from handlers.index.outcomes import Outcome
from handlers.index.settings import ResizeSettings
from handlers.index.store import StoredRendition

logger = get_logger(__name__)

# What a conditional request answers when the object is not the version it names.
_NOT_THAT_VERSION: Final = ("PreconditionFailed", "NoSuchKey", "412", "404")

# The download is read in chunks of this size while its head is scanned, so a progressive JPEG's
# download stops at most this far past the end of its DC scans (handlers.imaging.progressive).
DOWNLOAD_CHUNK: Final = 16 * 1024


@dataclass(frozen=True)
class Result:
    """What became of one object event: the outcome, the facts its log line reports and the
    milliseconds each phase took."""

    outcome: Outcome
    facts: Mapping[str, Any] = field(default_factory=dict)
    ms: Mapping[str, float] = field(default_factory=dict)


class _PhaseTimer:
    """Milliseconds per phase, for the one log line per object."""

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


def key_of(key: str, config: ResizeSettings, size: int, out_format: str) -> str:
    """Where one rendition of ``key`` goes (handlers.index.keys). Raises KeyTooLong."""
    return rendition_key(key, config.source_prefix, config.thumbnail_prefix, size, out_format)


def check_keys(key: str, config: ResizeSettings) -> None:
    """Raise KeyTooLong, before any download, when some rendition's key would be too long."""
    for spec in config.renditions:
        formats = (
            ("JPEG", "PNG") if spec.format is OutputFormat.AUTO else (PILLOW_FORMAT[spec.format],)
        )
        for out_format in formats:
            key_of(key, config, spec.size, out_format)


def _refusal(obj: ObjectCreated, config: ResizeSettings) -> ImageRejected | None:
    """Why this upload is rejected before it is downloaded, or None."""
    try:
        check_keys(obj.key, config)
    except KeyTooLong as exc:
        return ImageRejected(RejectReason.KEY_TOO_LONG, str(exc))
    if obj.size > config.max_input_bytes:
        return ImageRejected(
            RejectReason.TOO_LARGE,
            f"{obj.size:,} bytes is over the limit of {config.max_input_bytes:,}",
        )
    return None


def create(obj: ObjectCreated, config: ResizeSettings) -> Result:
    """Render, upload and index one created object."""
    timer = _PhaseTimer()
    refusal = _refusal(obj, config)
    if refusal is not None:
        return _rejected(obj, config, refusal, {"bytes_in": obj.size}, timer)
    with timer("download"):
        downloaded = _download(obj, config.renditions)
    if downloaded is None:
        return Result(Outcome.SKIPPED_CHANGED_OR_DELETED, {"bytes_in": obj.size}, timer.phases)
    data, size = downloaded
    read = {"bytes_in": size, "bytes_read": len(data)}
    try:
        made = make_renditions(
            data, config.renditions, quality=config.jpeg_quality, max_pixels=config.max_pixels
        )
    except ImageRejected as rejection:
        return _rejected(obj, config, rejection, read, timer)
    timer.add("decode_resize", made.decode_ms)
    timer.add("encode", made.encode_ms)
    bucket = config.thumbnail_bucket or obj.bucket
    keys = [key_of(obj.key, config, r.spec.size, r.format) for r in made.renditions]
    facts = {
        **read,
        "bytes_decoded": made.bytes_decoded,
        **({"dc_prefix": True} if made.dc_prefix else {}),
        "bytes_out": sum(len(rendition.data) for rendition in made.renditions),
        "thumbnail_key": keys[0],
        "renditions": len(keys),
    }
    with timer("upload"):
        stored = _upload(obj, config, bucket, made, keys)
    with timer("index"):
        outcome = store.put_renditions(config.index_table, obj, made, bucket, stored)
    if outcome is Outcome.DELETED:
        # The source was deleted while this older version was being rendered: what was just
        # uploaded must not outlive the delete.
        with timer("delete"):
            _delete(bucket, stored)
        outcome = Outcome.SKIPPED_STALE
    return Result(outcome, facts, timer.phases)


def remove(obj: ObjectRemoved, config: ResizeSettings) -> Result:
    """Mark one removed object's row deleted and delete the renditions it listed."""
    timer = _PhaseTimer()
    with timer("index"):
        removed = store.mark_deleted(config.index_table, obj)
    if removed is None:
        return Result(Outcome.SKIPPED_STALE, {}, timer.phases)  # a newer version is indexed
    bucket = removed.bucket or config.thumbnail_bucket or obj.bucket
    with timer("delete"):
        deleted = _delete(bucket, removed.renditions)
    return Result(Outcome.DELETED, {"deleted": deleted}, timer.phases)


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
    scanner = progressive.PrefixScanner(lambda frame: dc_scale_serves(frame.size, specs))
    head = bytearray()
    while chunk := body.read(DOWNLOAD_CHUNK):
        head += chunk
        status = scanner.advance(head).status
        if status is progressive.Status.COMPLETE:
            body.close()
            return bytes(head)
        if status is progressive.Status.INELIGIBLE:
            return b"".join((head, body.read()))
    return bytes(head)


def _rejected(
    obj: ObjectCreated,
    config: ResizeSettings,
    rejection: ImageRejected,
    facts: Mapping[str, Any],
    timer: _PhaseTimer,
) -> Result:
    reasons = {**facts, "reason": rejection.reason, "detail": rejection.detail}
    if store.put_rejection(config.index_table, obj, rejection):
        return Result(Outcome.REJECTED, reasons, timer.phases)
    return Result(Outcome.SKIPPED_STALE, reasons, timer.phases)
