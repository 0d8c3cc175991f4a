"""The image index in DynamoDB: one row per source object, and the lease that serialises the
events of one key. The protocol these writes take part in is ``handlers.index.lifecycle`` (and
docs/index-protocol.md); this module owns the row's shape and translates failed conditions.

Order. S3 gives each version of a key a sequencer that grows with every write. A row records the
sequencer of the event that last wrote it; an event older than that is stale and writes nothing
(``is_stale`` reads it first, so a stale event costs no download).

Lease. Every write that changes what the bucket holds for a key (uploading renditions, deleting
them) happens while one attempt at one event holds the row's lease: ``acquire`` sets ``lease`` to
the attempt's identity and ``lease-until`` to when its invocation ends, on condition that the
event is not stale and no other live lease is held, and records in ``uploading`` the keys it is
about to write. A retry is a new attempt: it comes after the invocation that died has ended (the
queue's visibility timeout is six times the function's), so that lease has lapsed. The row is
written under the lease (``commit_*``, conditional on holding it), listing in ``pending-deletes``
the renditions it no longer names; they are deleted, then ``release`` drops the lease and the
lists. A holder that dies leaves them all behind: the next holder deletes them, unconditionally
what was being uploaded (none of it is named by the row it finds).

Failed conditions are translated here, once, into return values and ``Busy``. Every other botocore
error propagates as botocore raised it: Lambda retries the invocation (or the SQS message).

Length: over 400 lines, kept whole because every conditional write here reads the same row
attributes and lease condition; split, the row's shape would live in two modules.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import aws
from handlers.common.errors import ImageRejected
from handlers.imaging import renditions as rendition_specs
from handlers.index.events import ObjectCreated, ObjectEvent, ObjectRemoved
from handlers.index.outcomes import PENDING, Outcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from handlers.imaging import Rect, Renditions

# S3 sequencers are hex strings of varying length; left-padded they compare as numbers do, in
# Python and in a DynamoDB condition alike.
SEQUENCER_WIDTH: Final = 32
_DETAIL_CHARS: Final = 1000  # a rejection's detail can quote a decoder's whole message

LEASE: Final = "lease"
LEASE_UNTIL: Final = "lease-until"
PENDING_DELETES: Final = "pending-deletes"
UPLOADING: Final = "uploading"  # keys a lease holder is about to write: a dead one's are deleted
# The RENDITIONS spec the row's renditions were made with, as its canonical text (each item's
# name, in order): `python -m infra.reconcile` finds rows rendered under another spec by it.
RENDITIONS_SPEC: Final = "renditions-spec"

# Attributes that point at renditions: a row that names none (deleted, rejected) drops them.
_RENDITION_ATTRIBUTES: Final = (
    "thumbnail-path",
    "thumbnail-bucket",
    "width",
    "height",
    "bytes",
    "format",
    "content-type",
    "renditions",
    "thumbhash",
    "dominant-color",
    "icc-dropped",
    RENDITIONS_SPEC,
)


def padded(sequencer: str) -> str:
    return sequencer.rjust(SEQUENCER_WIDTH, "0")


class Busy(Exception):
    """Another event of the same key holds the row's lease: retry this one later."""

    def __init__(self, key: str, holder: str, until: float) -> None:
        super().__init__(f"{key}: another event ({holder}) holds the row until {until:.0f}")
        self.key, self.holder, self.until = key, holder, until


@dataclass(frozen=True)
class StoredRendition:
    """One uploaded rendition: where it is and the ETag S3 gave it (its delete is conditional on
    it, so a newer upload at the same key with other bytes is never removed)."""

    key: str
    etag: str


@dataclass(frozen=True)
class Lease:
    """The row as this event found it on taking the lease: what the next commit replaces."""

    owner: str
    until: int  # the epoch second it ends
    bucket: str | None  # where the named renditions are (None: the source bucket)
    renditions: tuple[StoredRendition, ...]  # named by the row
    pending: tuple[StoredRendition, ...]  # left to delete by a holder that died

    def leftovers(self, kept: Iterable[str] = ()) -> tuple[StoredRendition, ...]:
        """What a commit naming ``kept`` must delete: every rendition the row named or had left
        to delete, but those at a kept key (the new upload replaced them in place)."""
        kept = set(kept)
        seen: dict[str, StoredRendition] = {}
        for rendition in (*self.pending, *self.renditions):
            if rendition.key not in kept:
                seen.setdefault(rendition.key, rendition)
        return tuple(seen.values())


def owner_of(obj: ObjectEvent, attempt: str) -> str:
    """The identity one attempt at an event holds a lease under: the event (an emulator may stamp
    every event of a key with one sequencer) and the attempt (the invocation's request id), so two
    deliveries of one event, run at once, still exclude each other."""
    kind = "created" if isinstance(obj, ObjectCreated) else "removed"
    etag = obj.etag if isinstance(obj, ObjectCreated) else ""
    return f"{padded(obj.sequencer)}:{kind}:{etag}:{attempt}"


def is_stale(table: str, obj: ObjectEvent) -> bool:
    """True when the index already holds a newer version of this object."""
    row = _get(table, obj.key, "sequencer")
    return _text(row, "sequencer") > padded(obj.sequencer)


def shows(table: str, key: str, etag: str) -> bool:
    """True when the row already indexes the object with this ETag (rendered or rejected) and no
    event is part-way through changing it."""
    row = _get(table, key)
    settled = _text(row, "status") in (Outcome.OK, Outcome.REJECTED) and LEASE not in row
    return settled and _text(row, "source-etag").strip('"') == etag.strip('"')


@dataclass(frozen=True)
class Snapshot:
    """A row as a writer without a sequencer of its own read it (an S3 Batch Operations task):
    it takes the lease only while the row is still as read (``acquire(as_read=...)``), so any
    event that wrote the row since wins."""

    exists: bool
    sequencer: str = ""  # padded; empty while the first event of the key holds its lease
    status: str = ""
    source_etag: str = ""
    thumbnail_bucket: str = ""
    renditions: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name: (key, format)

    def same_row(self, other: Snapshot) -> bool:
        """True when ``other`` is this row unchanged (its lease and pending lists aside)."""
        fields = ("exists", "sequencer", "status", "source_etag")
        return all(getattr(self, name) == getattr(other, name) for name in fields)


def snapshot(table: str, key: str) -> Snapshot:
    """The row of ``key`` as it is now (a consistent read)."""
    return _snapshot(_get(table, key))


def _snapshot(row: Mapping[str, Any]) -> Snapshot:
    listed = row.get("renditions", {}).get("M", {})
    return Snapshot(
        exists=bool(row),
        sequencer=_text(row, "sequencer"),
        status=_text(row, "status"),
        source_etag=_text(row, "source-etag"),  # as written: the condition compares it so
        thumbnail_bucket=_text(row, "thumbnail-bucket"),
        renditions={
            name: (entry["M"]["key"]["S"], entry["M"].get("format", {}).get("S", ""))
            for name, entry in listed.items()
        },
    )


def _unchanged(
    as_read: Snapshot, names: dict[str, str], values: dict[str, AttributeValueTypeDef]
) -> str:
    """The condition that the row is still ``as_read`` (its lease aside)."""
    if not as_read.exists:
        return "attribute_not_exists(id)"
    names.update({"#read_status": "status", "#read_etag": "source-etag"})
    parts = []
    for name, attribute, value in (
        (":read_sequencer", "sequencer", as_read.sequencer),
        (":read_status", "#read_status", as_read.status),
        (":read_etag", "#read_etag", as_read.source_etag),
    ):
        if value:
            values[name] = _s(value)
            parts.append(f"{attribute} = {name}")
        else:
            parts.append(f"attribute_not_exists({attribute})")
    return " AND ".join(parts)


def acquire(
    table: str,
    obj: ObjectEvent,
    owner: str,
    until: float,
    uploading: Sequence[str] = (),
    as_read: Snapshot | None = None,
) -> Lease | None:
    """Take the row's lease for ``obj`` as ``owner`` (``owner_of``) until the epoch second
    ``until``, recording the keys it is about to upload. None when the event is stale (or, with
    ``as_read``, the row changed since it was read); raises Busy when another attempt's lease is
    live."""
    sequencer, now, end = padded(obj.sequencer), time.time(), int(until)
    names = {"#lease": LEASE, "#until": LEASE_UNTIL, "#status": "status", "#path": "fullsize-path"}
    values: dict[str, AttributeValueTypeDef] = {
        ":owner": _s(owner),
        ":until": _n(end),
        ":now": _n(int(now)),
        ":pending": _s(PENDING),
        ":key": _s(obj.key),
        ":sequencer": _s(sequencer),
    }
    update = (
        "SET #lease = :owner, #until = :until, #status = if_not_exists(#status, :pending),"
        " #path = if_not_exists(#path, :key)"
    )
    if uploading:
        names["#uploading"] = UPLOADING
        values[":uploading"] = {"SS": sorted(set(uploading))}
        update += " ADD #uploading :uploading"
    condition = (
        "(attribute_not_exists(sequencer) OR sequencer <= :sequencer) AND"
        " (attribute_not_exists(#lease) OR #lease = :owner OR #until < :now)"
    )
    if as_read is not None:
        condition += " AND " + _unchanged(as_read, names, values)
    client = aws.dynamodb()
    try:
        answer = client.update_item(
            TableName=table,
            Key={"id": _s(obj.key)},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except client.exceptions.ConditionalCheckFailedException:
        # Read it again rather than trust ReturnValuesOnConditionCheckFailure, which not every
        # emulator returns: stale (or changed since read), or held by another event.
        row = _get(table, obj.key)
        if _text(row, "sequencer") > sequencer:
            return None
        if as_read is not None and not as_read.same_row(_snapshot(row)):
            return None
        raise Busy(obj.key, _text(row, LEASE), float(_text(row, LEASE_UNTIL, "N") or 0)) from None
    return _lease(owner, end, answer.get("Attributes") or {})


def commit_renditions(
    table: str,
    obj: ObjectCreated,
    lease: Lease,
    made: Renditions,
    bucket: str,
    stored: Sequence[StoredRendition],
) -> tuple[StoredRendition, ...]:
    """Write the row naming the renditions uploaded to ``bucket`` at ``stored`` (in the order of
    ``made``). Returns the renditions left to delete (the lease stays held while there are)."""
    default = made.default
    renditions: dict[str, AttributeValueTypeDef] = {
        rendition.spec.name: {
            "M": {
                "key": _s(kept.key),
                "width": _n(rendition.width),
                "height": _n(rendition.height),
                "bytes": _n(len(rendition.data)),
                "format": _s(rendition.format),
                "content-type": _s(rendition.content_type),
                "etag": _s(kept.etag),
                **_crop(rendition.crop),
            }
        }
        for rendition, kept in zip(made.renditions, stored, strict=True)
    }
    fields: dict[str, AttributeValueTypeDef] = {
        "status": _s(Outcome.OK),
        "thumbnail-path": _s(stored[0].key),
        "thumbnail-bucket": _s(bucket),
        "width": _n(default.width),
        "height": _n(default.height),
        "bytes": _n(len(default.data)),
        "format": _s(default.format),
        "content-type": _s(default.content_type),
        "source-format": _s(made.source_format),
        "source-width": _n(made.source_width),
        "source-height": _n(made.source_height),
        "renditions": {"M": renditions},
        RENDITIONS_SPEC: _s(rendition_specs.render(tuple(r.spec for r in made.renditions))),
    }
    if made.icc_dropped:
        fields["icc-dropped"] = _s(made.icc_dropped)
    if made.placeholder is not None:
        fields["thumbhash"] = _s(made.placeholder.thumbhash)
        if made.placeholder.dominant_color:
            fields["dominant-color"] = _s(made.placeholder.dominant_color)
    leftovers = lease.leftovers(kept.key for kept in stored)
    _put(table, obj, lease, fields, leftovers)
    return leftovers


def _crop(rect: Rect | None) -> dict[str, AttributeValueTypeDef]:
    """A box rendition's ``crop``: its rectangle in the source's pixels as displayed."""
    if rect is None:
        return {}
    box = {"left": rect.left, "top": rect.top, "width": rect.width, "height": rect.height}
    return {"crop": {"M": {name: _n(value) for name, value in box.items()}}}


def commit_rejection(
    table: str, obj: ObjectCreated, lease: Lease, rejection: ImageRejected
) -> tuple[StoredRendition, ...]:
    """Write the row as rejected, with why. Returns the renditions left to delete: every one an
    earlier version had (none of them is this version's)."""
    fields: dict[str, AttributeValueTypeDef] = {
        "status": _s(Outcome.REJECTED),
        "reason": _s(rejection.reason),
        "detail": _s(rejection.detail[:_DETAIL_CHARS]),
    }
    leftovers = lease.leftovers()
    _put(table, obj, lease, fields, leftovers)
    return leftovers


def commit_deleted(table: str, obj: ObjectRemoved, lease: Lease) -> tuple[StoredRendition, ...]:
    """Mark the row ``deleted``, keeping the source's facts for audit. Returns the renditions left
    to delete."""
    leftovers = lease.leftovers()
    names = {f"#r{i}": name for i, name in enumerate(_RENDITION_ATTRIBUTES)}
    values: dict[str, AttributeValueTypeDef] = {
        ":status": _s(Outcome.DELETED),
        ":bucket": _s(obj.bucket),
        ":sequencer": _s(padded(obj.sequencer)),
        ":deleted": _s(obj.event_time or _now()),
        ":now": _s(_now()),
        ":owner": _s(lease.owner),
    }
    update = (
        "SET #status = :status, #bucket = :bucket, sequencer = :sequencer, #deleted = :deleted,"
        " #processed = if_not_exists(#processed, :now)"
    )
    lease_names = {"#lease": LEASE, "#pending": PENDING_DELETES, "#uploading": UPLOADING}
    if leftovers:
        values[":pending"] = _pending(leftovers)
        update += ", #pending = :pending"
        gone = [*names, "#uploading"]
    else:  # nothing to delete: the lease goes with this write
        lease_names["#until"] = LEASE_UNTIL
        gone = [*names, "#lease", "#until", "#pending", "#uploading"]
    _conditional_update(
        table,
        obj.key,
        update + " REMOVE " + ", ".join(gone),
        {
            "#status": "status",
            "#bucket": "source-bucket",
            "#deleted": "deleted-at",
            "#processed": "processed-at",
            **lease_names,
            **names,
        },
        values,
    )
    return leftovers


def release(table: str, key: str, lease: Lease) -> None:
    """Drop the lease and the list of pending deletes, once they are done."""
    _conditional_update(
        table,
        key,
        "REMOVE #lease, #until, #pending, #uploading",
        {
            "#lease": LEASE,
            "#until": LEASE_UNTIL,
            "#pending": PENDING_DELETES,
            "#uploading": UPLOADING,
        },
        {":owner": _s(lease.owner)},
    )


def end(table: str, key: str, lease: Lease) -> None:
    """End the lease now (its holder failed part-way and gives up): the next attempt need not wait
    for the invocation's end to finish what is left. Best effort: should this write fail too, the
    lease lapses at ``lease-until``."""
    with contextlib.suppress(LeaseLost, ClientError, BotoCoreError):
        _conditional_update(
            table,
            key,
            "SET #until = :zero",
            {"#lease": LEASE, "#until": LEASE_UNTIL},
            {":owner": _s(lease.owner), ":zero": _n(0)},
        )


class LeaseLost(Exception):
    """The row's lease is no longer this event's (it outlived ``lease-until`` and another event
    took it): what this event would write is no longer its to write. Retried, it finds out
    whether it is stale."""


def _put(
    table: str,
    obj: ObjectCreated,
    lease: Lease,
    fields: Mapping[str, AttributeValueTypeDef],
    leftovers: Sequence[StoredRendition],
) -> None:
    item: dict[str, AttributeValueTypeDef] = {
        "id": _s(obj.key),
        "fullsize-path": _s(obj.key),
        "source-bucket": _s(obj.bucket),
        "source-etag": _s(obj.etag),
        "source-size": _n(obj.size),
        "sequencer": _s(padded(obj.sequencer)),
        "processed-at": _s(_now()),
        **fields,
    }
    if obj.version_id:
        item["source-version"] = _s(obj.version_id)
    if leftovers:  # the lease stays until they are deleted (release)
        item[LEASE] = _s(lease.owner)
        item[LEASE_UNTIL] = _n(lease.until)
        item[PENDING_DELETES] = _pending(leftovers)
    client = aws.dynamodb()
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="#lease = :owner",
            ExpressionAttributeNames={"#lease": LEASE},
            ExpressionAttributeValues={":owner": _s(lease.owner)},
        )
    except client.exceptions.ConditionalCheckFailedException:
        raise LeaseLost(obj.key) from None


def _conditional_update(
    table: str,
    key: str,
    update: str,
    names: Mapping[str, str],
    values: Mapping[str, AttributeValueTypeDef],
) -> None:
    client = aws.dynamodb()
    try:
        client.update_item(
            TableName=table,
            Key={"id": _s(key)},
            UpdateExpression=update,
            ConditionExpression="#lease = :owner",
            ExpressionAttributeNames=dict(names),
            ExpressionAttributeValues=dict(values),
        )
    except client.exceptions.ConditionalCheckFailedException:
        raise LeaseLost(key) from None


def _lease(owner: str, until: int, row: Mapping[str, Any]) -> Lease:
    listed = row.get("renditions", {}).get("M", {})
    renditions = [
        StoredRendition(entry["M"]["key"]["S"], entry["M"].get("etag", {}).get("S", ""))
        for entry in listed.values()
    ]
    path = _text(row, "thumbnail-path")
    if path and path not in {r.key for r in renditions}:
        renditions.append(StoredRendition(path, ""))  # a row from before renditions
    # What a holder that died was uploading comes first, with no ETag: whatever is there now is
    # none of the row's, and is deleted unconditionally (the lease keeps every writer out).
    pending = [StoredRendition(key, "") for key in row.get(UPLOADING, {}).get("SS", [])]
    pending += [
        StoredRendition(key, value.get("S", ""))
        for key, value in row.get(PENDING_DELETES, {}).get("M", {}).items()
    ]
    bucket = _text(row, "thumbnail-bucket") or None
    return Lease(owner, until, bucket, tuple(renditions), tuple(pending))


def _pending(renditions: Sequence[StoredRendition]) -> AttributeValueTypeDef:
    return {"M": {r.key: _s(r.etag) for r in renditions}}


def _get(table: str, key: str, projection: str | None = None) -> Mapping[str, Any]:
    request: dict[str, Any] = {"TableName": table, "Key": {"id": _s(key)}, "ConsistentRead": True}
    if projection:
        request["ProjectionExpression"] = "#p"
        request["ExpressionAttributeNames"] = {"#p": projection}
    return cast("Mapping[str, Any]", aws.dynamodb().get_item(**request).get("Item") or {})


def _text(row: Mapping[str, Any], name: str, kind: str = "S") -> str:
    return str(row.get(name, {}).get(kind, ""))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": str(value)}  # str(): a StrEnum member goes in as its plain value


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}
