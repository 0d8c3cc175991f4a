"""What one S3 object event does to the bucket and the index: the create and delete protocol
(docs/index-protocol.md draws it). The S3 calls themselves are ``handlers.index.objects``.

A created object is checked (its keys fit S3, its size fits ``MAX_INPUT_BYTES``), downloaded
(exactly the version the event announces; a progressive JPEG only as far as its renditions need)
and rendered by the pure core (``handlers.imaging``), all before any write. Then, holding the
row's lease (``handlers.index.store``), it uploads every rendition at its key
(``handlers.index.keys``), writes the row naming them, deletes what the row named before and no
longer does, and releases the lease. A removal asks S3 what is current first: nothing (deleted,
or a delete marker) -> under the lease, the row is marked deleted and every rendition it named is
deleted; an object (a non-current version was removed, or a delete marker: an undelete) -> the
row already shows it, or the current version is rendered as if just created.

Every step is safe to repeat: a retry finds in the row the renditions left to delete and what a
holder that died was uploading. An image the core rejects gets a ``rejected`` row and is never
retried. Each step returns what it did; ``create`` and ``remove`` give back one ``Result``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import Focus, InvalidFocus, make_renditions
from handlers.imaging.renditions import PILLOW_FORMAT, OutputFormat
from handlers.index import objects, store
from handlers.index.events import ObjectCreated, ObjectEvent, ObjectRemoved
from handlers.index.keys import KeyTooLong, rendition_key
from handlers.index.outcomes import Outcome
from handlers.index.settings import ResizeSettings
from handlers.index.store import StoredRendition


@dataclass(frozen=True)
class Result:
    """What became of one object event: the outcome, the facts its log line reports and the
    milliseconds each phase took."""

    outcome: Outcome
    facts: Mapping[str, Any] = field(default_factory=dict)
    ms: Mapping[str, float] = field(default_factory=dict)


class _PhaseTimer:
    """Milliseconds per phase, for the one log line per object (a phase met twice, as the index
    is before and after the uploads, adds up)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    def add(self, phase: str, ms: float) -> None:
        self.phases[phase] = round(self.phases.get(phase, 0.0) + ms, 1)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, (time.perf_counter() - started) * 1000)


def key_of(key: str, config: ResizeSettings, folder: str | int, out_format: str) -> str:
    """Where one rendition of ``key`` goes, by its size folder (``RenditionSpec.folder``: ``200``,
    ``400x400``; handlers.index.keys). Raises KeyTooLong."""
    return rendition_key(key, config.source_prefix, config.thumbnail_prefix, folder, out_format)


def check_keys(key: str, config: ResizeSettings) -> None:
    """Raise KeyTooLong, before any download, when some rendition's key would be too long."""
    for spec in config.renditions:
        formats = (
            ("JPEG", "PNG") if spec.format is OutputFormat.AUTO else (PILLOW_FORMAT[spec.format],)
        )
        for out_format in formats:
            key_of(key, config, spec.folder, out_format)


def _focus(text: str | None) -> tuple[Focus | None, dict[str, str]]:
    """The uploader's focal point (object metadata ``focus``), or None; one that does not parse
    is ignored, never a rejection, and said in the log line's facts."""
    if text is None:
        return None, {}
    try:
        return Focus.parse(text), {}
    except InvalidFocus as exc:
        return None, {"warning": f"{exc}: ignored"}


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


def create(
    obj: ObjectCreated,
    config: ResizeSettings,
    owner: str,
    until: float,
    as_read: store.Snapshot | None = None,
) -> Result:
    """Render, upload and index one created object, holding the row's lease (as ``owner``:
    ``store.owner_of``) until ``until`` (an epoch second: when the invocation ends) for the
    writes. ``as_read``: the row as a caller without a sequencer of its own read it (an S3 Batch
    Operations task, handlers.index.rerender): nothing is written unless it is unchanged."""
    timer = _PhaseTimer()
    refusal = _refusal(obj, config)
    if refusal is not None:
        return _rejected(obj, config, refusal, {"bytes_in": obj.size}, timer, owner, until, as_read)
    with timer("download"):
        downloaded = objects.download(obj, config.renditions)
    if downloaded is None:
        return Result(Outcome.SKIPPED_CHANGED_OR_DELETED, {"bytes_in": obj.size}, timer.phases)
    data, size, focus_text = downloaded
    focus, focus_warning = _focus(focus_text)
    read = {"bytes_in": size, "bytes_read": len(data), **focus_warning}
    try:
        made = make_renditions(
            data,
            config.renditions,
            quality=config.jpeg_quality,
            max_pixels=config.max_pixels,
            focus=focus,
        )
    except ImageRejected as rejection:
        return _rejected(obj, config, rejection, read, timer, owner, until, as_read)
    timer.add("decode_resize", made.decode_ms)
    timer.add("encode", made.encode_ms)
    bucket = config.thumbnail_bucket or obj.bucket
    keys = [key_of(obj.key, config, r.spec.folder, r.format) for r in made.renditions]
    facts = {
        **read,
        "bytes_decoded": made.bytes_decoded,
        **({"dc_prefix": True} if made.dc_prefix else {}),
        **({"icc_dropped": made.icc_dropped} if made.icc_dropped else {}),
        "bytes_out": sum(len(rendition.data) for rendition in made.renditions),
        "thumbnail_key": keys[0],
        "renditions": len(keys),
    }
    with timer("index"):
        lease = store.acquire(config.index_table, obj, owner, until, keys, as_read)
    if lease is None:
        return Result(Outcome.SKIPPED_STALE, facts, timer.phases)
    with _holding(config, obj, lease):
        with timer("upload"):
            stored = objects.upload(obj, config, bucket, made, keys)
        with timer("index"):
            leftovers = store.commit_renditions(
                config.index_table, obj, lease, made, bucket, stored
            )
        deleted = _finish(config, obj, lease, leftovers, timer)
    return Result(Outcome.OK, {**facts, **({"deleted": deleted} if deleted else {})}, timer.phases)


def remove(obj: ObjectRemoved, config: ResizeSettings, owner: str, until: float) -> Result:
    """Act on one removal: delete the renditions and mark the row deleted when nothing is
    current any more; else show the current version (see the module docstring)."""
    timer = _PhaseTimer()
    with timer("head"):
        current = objects.current(obj)
    if current is not None:
        if store.shows(config.index_table, obj.key, current.etag):
            return Result(Outcome.SKIPPED_NONCURRENT, {"version_id": obj.version_id}, timer.phases)
        again = ObjectCreated(
            obj.bucket, obj.key, current.size, current.etag, obj.sequencer, current.version_id
        )
        result = create(again, config, owner, until)
        ms = {**timer.phases, **result.ms}
        return Result(result.outcome, {**result.facts, "restored": True}, ms)
    with timer("index"):
        lease = store.acquire(config.index_table, obj, owner, until)
    if lease is None:
        return Result(Outcome.SKIPPED_STALE, {}, timer.phases)  # a newer version is indexed
    with _holding(config, obj, lease):
        with timer("index"):
            leftovers = store.commit_deleted(config.index_table, obj, lease)
        deleted = _finish(config, obj, lease, leftovers, timer)
    return Result(Outcome.DELETED, {"deleted": deleted}, timer.phases)


@contextmanager
def _holding(config: ResizeSettings, obj: ObjectEvent, lease: store.Lease) -> Iterator[None]:
    """Work under the lease; on an error, end it at once (what is left is in the row, for the
    next attempt to finish) and let the error propagate, so the event is retried."""
    try:
        yield
    except Exception:
        store.end(config.index_table, obj.key, lease)
        raise


def _finish(
    config: ResizeSettings,
    obj: ObjectEvent,
    lease: store.Lease,
    leftovers: Sequence[StoredRendition],
    timer: _PhaseTimer,
) -> list[str]:
    """Delete what the row no longer names, then release the lease (a commit with nothing left
    to delete released it already). Returns the keys deleted."""
    if not leftovers:
        return []
    bucket = lease.bucket or config.thumbnail_bucket or obj.bucket
    with timer("delete"):
        deleted = objects.delete(bucket, leftovers)
    with timer("index"):
        store.release(config.index_table, obj.key, lease)
    return deleted


def _rejected(
    obj: ObjectCreated,
    config: ResizeSettings,
    rejection: ImageRejected,
    facts: Mapping[str, Any],
    timer: _PhaseTimer,
    owner: str,
    until: float,
    as_read: store.Snapshot | None = None,
) -> Result:
    """Index the rejection under the lease; an earlier version's renditions go with it."""
    reasons = {**facts, "reason": rejection.reason, "detail": rejection.detail}
    with timer("index"):
        lease = store.acquire(config.index_table, obj, owner, until, as_read=as_read)
    if lease is None:
        return Result(Outcome.SKIPPED_STALE, reasons, timer.phases)
    with _holding(config, obj, lease):
        with timer("index"):
            leftovers = store.commit_rejection(config.index_table, obj, lease, rejection)
        deleted = _finish(config, obj, lease, leftovers, timer)
    return Result(
        Outcome.REJECTED, {**reasons, **({"deleted": deleted} if deleted else {})}, timer.phases
    )
