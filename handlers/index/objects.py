"""The resize function's S3 calls on one object: the download of a source (exactly the announced
version, a progressive JPEG only as far as its renditions need), what a removal left current,
the upload of renditions and their deletes: conditional on the ETag recorded, with a fallback for
endpoints without conditional deletes. The protocol that orders them is
``handlers.index.lifecycle``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, overload
from urllib.parse import quote

from botocore.exceptions import ClientError

from handlers.common import aws
from handlers.common.logs import get_logger, log_json
from handlers.imaging import dc_scale_serves, progressive
from handlers.imaging.renditions import RenditionSpec
from handlers.index.events import ObjectCreated, ObjectRemoved
from handlers.index.settings import ResizeSettings
from handlers.index.store import StoredRendition

if TYPE_CHECKING:
    from handlers.imaging import Renditions

logger = get_logger(__name__)

# What a conditional request answers when the object is not the version it names (a missing key
# answers 404 NoSuchKey, not 412); what S3 answers for a key that is not there (403 to a role
# without s3:ListBucket); what an endpoint without conditional deletes answers.
_NOT_THAT_VERSION: Final = ("PreconditionFailed", "NoSuchKey", "412", "404")
_MISSING: Final = ("NoSuchKey", "NotFound", "404", "AccessDenied", "403")
_NOT_IMPLEMENTED: Final = ("NotImplemented", "501")

# The download is read in chunks of this size while its head is scanned, so a progressive JPEG's
# download stops at most this far past the end of its DC scans (handlers.imaging.progressive).
DOWNLOAD_CHUNK: Final = 16 * 1024
# From this size an object read to its end is read again whole rather than joined to its head
# (see ``read``): one more GET, against holding the object twice (+40 MB for 40 MB, measured).
REFETCH_FROM: Final = 4 * 2**20


def upload(
    obj: ObjectCreated, config: ResizeSettings, bucket: str, made: Renditions, keys: list[str]
) -> list[StoredRendition]:
    """PutObject each rendition at its key; returns where each is and the ETag S3 gave it."""
    stored = []
    for rendition, key in zip(made.renditions, keys, strict=True):
        answer = aws.s3().put_object(
            Bucket=bucket,
            Key=key,
            Body=rendition.data,
            ContentType=rendition.content_type,
            CacheControl=config.cache_control,
            # Metadata must be ASCII: the key goes in percent-encoded. The source's ETag and
            # sequencer say which version of it this is.
            Metadata={
                "source-etag": obj.etag,
                "source-key": quote(obj.key),
                "source-sequencer": obj.sequencer,
            },
        )
        stored.append(StoredRendition(key, answer.get("ETag", "")))
    return stored


def delete(bucket: str, renditions: Sequence[StoredRendition]) -> list[str]:
    """Delete each rendition that is still the bytes recorded. Returns the keys deleted."""
    return [rendition.key for rendition in renditions if _delete_one(bucket, rendition)]


# Buckets whose endpoint answered a conditional delete with NotImplemented (LocalStack 4.14):
# their deletes compare first (``_delete_if_same``) for the rest of the container's life.
_NO_CONDITIONAL_DELETE: set[str] = set()


def _delete_one(bucket: str, rendition: StoredRendition) -> bool:
    """DeleteObject with If-Match on the recorded ETag, so other bytes written there since (by an
    event outside the lease protocol) are left alone. True when deleted."""
    if not rendition.etag or bucket in _NO_CONDITIONAL_DELETE:
        return _delete_if_same(bucket, rendition)
    try:
        aws.s3().delete_object(Bucket=bucket, Key=rendition.key, IfMatch=rendition.etag)
    except ClientError as exc:
        code = _code(exc)
        if code in _NOT_THAT_VERSION:
            return False  # other bytes since, or gone already: a re-delivered delete
        if code not in _NOT_IMPLEMENTED:
            raise
        _NO_CONDITIONAL_DELETE.add(bucket)
        log_json(
            logger,
            logging.WARNING,
            "conditional-delete-unsupported",
            bucket=bucket,
            detail="the endpoint answers DeleteObject with If-Match NotImplemented: deletes "
            "compare the ETag first (HeadObject) from now on",
        )
        return _delete_if_same(bucket, rendition)
    return True


def _delete_if_same(bucket: str, rendition: StoredRendition) -> bool:
    """Where the endpoint has no conditional delete: compare the ETag (HeadObject), then delete.
    Between the two, a writer outside the lease could put other bytes there; none can while the
    lease is held."""
    if rendition.etag:
        try:
            head = aws.s3().head_object(Bucket=bucket, Key=rendition.key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        if head.get("ETag", "").strip('"') != rendition.etag.strip('"'):
            return False
    aws.s3().delete_object(Bucket=bucket, Key=rendition.key)
    return True


@dataclass(frozen=True)
class Current:
    etag: str
    size: int
    version_id: str


def current(obj: ObjectRemoved) -> Current | None:
    """What S3 holds at the key now, or None when nothing is current (deleted, or a delete
    marker). 403 reads as nothing: to a role without s3:ListBucket, S3 answers a missing key so."""
    try:
        head = aws.s3().head_object(Bucket=obj.bucket, Key=obj.key)
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return None
        raise
    version = head.get("VersionId") or ""
    return Current(
        etag=head.get("ETag", "").strip('"'),
        size=int(head.get("ContentLength", 0)),
        version_id="" if version == "null" else version,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_ACCESS_DENIED_HINT: Final = (
    "S3 answers 403, not 404, for a missing key to a role without s3:ListBucket (the deployed "
    "role has none): taken as deleted since the event. If the object exists, the role cannot "
    "read it: check ResizeRole's ReadSources (s3:GetObject on SOURCE_PREFIX*), the bucket "
    "policy, and the KMS key policy if the bucket uses SSE-KMS"
)


# The user metadata naming the uploader's focal point for box renditions (x-amz-meta-focus: x,y).
FOCUS_METADATA: Final = "focus"


class Downloaded(NamedTuple):
    data: bytes
    size: int  # of the whole object
    focus: str | None  # its FOCUS_METADATA, unparsed (handlers.imaging.Focus reads it)


def download(obj: ObjectCreated, specs: Sequence[RenditionSpec]) -> Downloaded | None:
    """The object's bytes (all of them, or the head that is all ``specs`` need: see ``read``),
    its size and its focal point metadata, or None when it changed (newer event coming) or was
    deleted.

    Deleted reads as 403 AccessDenied to the deployed role, as S3 will not tell a role that may
    not list the bucket whether a key exists. Retrying would fail five times and park the
    message in the dead-letter queue, so a 403 is a skip, logged at WARNING with what to check
    should the object in fact exist (least privilege: granting ListBucket for a 404 would let
    the role list every key in the bucket)."""
    request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.etag:
        request["IfMatch"] = obj.etag  # thumbnail exactly the version this event announces
    response = _get(obj, request)
    if response is None:
        return None
    size = int(response.get("ContentLength", 0))
    # A second read, if one is needed, is of exactly the bytes the first one began.
    pinned = {**request, "IfMatch": response["ETag"]} if response.get("ETag") else request

    def whole() -> bytes | None:
        again = _get(obj, pinned)
        return None if again is None else again["Body"].read()

    data = read(response["Body"], specs, whole if size >= REFETCH_FROM else None)
    if data is None:
        return None  # it changed between the two reads: the newer version's event follows
    focus = response.get("Metadata", {}).get(FOCUS_METADATA)
    return Downloaded(data, size or len(data), focus)


def _get(obj: ObjectCreated, request: Mapping[str, Any]) -> Any | None:
    """GetObject's answer, or None when the object is not that version or not there."""
    try:
        return aws.s3().get_object(**request)
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


class _Body(Protocol):
    """What ``read`` uses of botocore's StreamingBody."""

    def read(self, amt: int | None = None) -> bytes: ...

    def close(self) -> None: ...


@overload
def read(body: _Body, specs: Sequence[RenditionSpec]) -> bytes: ...


@overload
def read(
    body: _Body, specs: Sequence[RenditionSpec], whole: Callable[[], bytes | None] | None
) -> bytes | None: ...


def read(
    body: _Body, specs: Sequence[RenditionSpec], whole: Callable[[], bytes | None] | None = None
) -> bytes | None:
    """Read a GetObject body, scanning its head as it arrives: a progressive JPEG whose
    renditions all come from a 1/8-scale decode is read only up to the end of its DC scans
    (``make_renditions`` then decodes exactly that prefix); anything else is read to the end,
    the scan having stopped at the frame header or the first scan that disqualifies it. A body
    left unread is closed (its connection dropped, not pooled).

    Joining the rest of the body to the head already read holds the object twice at the join.
    Given ``whole`` (a large object), the body is closed instead and ``whole`` reads the object
    again in one read, into one buffer: one more request, the object held once. Its None (the
    object changed in between) is returned as is."""
    scanner = progressive.PrefixScanner(lambda frame: dc_scale_serves(frame.size, specs))
    head = bytearray()
    while chunk := body.read(DOWNLOAD_CHUNK):
        head += chunk
        status = scanner.advance(head).status
        if status is progressive.Status.COMPLETE:
            body.close()
            return bytes(head)
        if status is progressive.Status.INELIGIBLE:
            if whole is not None:
                body.close()
                del head
                return whole()
            return b"".join((head, body.read()))
    return bytes(head)
