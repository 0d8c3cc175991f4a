"""The image index in DynamoDB: one row per source object, right under re-delivery and reordering.

S3 gives each version of a key a sequencer that grows with every write. A row is put only when
there is none or the stored one is not newer (``attribute_not_exists(id) OR sequencer <= :s``),
so a late event for an older version never overwrites a newer version's row; ``is_stale`` reads
the stored sequencer first so such an event costs no download.

Deletes follow the same order: ``mark_deleted`` turns the row into a ``deleted`` one (kept for
audit, with the time S3 removed the object) under the same condition, so a delete older than the
indexed version does nothing, and the row's sequencer then makes every older create stale. The
row it replaced comes back (``ALL_OLD``): its ``renditions`` map says exactly which objects to
delete, whatever RENDITIONS says now.

Failed conditions are translated here, once, into return values. Every other botocore error
propagates as botocore raised it: the resize function has no caller to answer, Lambda retries the
invocation (or the SQS message), and the log keeps DynamoDB's own words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from handlers.common import aws
from handlers.common.errors import ImageRejected
from handlers.index.events import ObjectCreated, ObjectEvent, ObjectRemoved
from handlers.index.outcomes import Outcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from handlers.imaging.pipeline import Renditions

# S3 sequencers are hex strings of varying length; left-padded they compare as numbers do, in
# Python and in a DynamoDB condition alike.
SEQUENCER_WIDTH: Final = 32
_DETAIL_CHARS: Final = 1000  # a rejection's detail can quote a decoder's whole message
_NOT_NEWER: Final = "attribute_not_exists(id) OR sequencer <= :sequencer"


def padded(sequencer: str) -> str:
    return sequencer.rjust(SEQUENCER_WIDTH, "0")


@dataclass(frozen=True)
class StoredRendition:
    """One uploaded rendition: where it is and the ETag S3 gave it (deletes are conditional on
    it, so a newer upload at the same key is never removed)."""

    key: str
    etag: str


def is_stale(table: str, obj: ObjectEvent) -> bool:
    """True when the index already holds a newer version of this object."""
    row = (
        aws.dynamodb()
        .get_item(
            TableName=table,
            Key={"id": _s(obj.key)},
            ProjectionExpression="sequencer",
            ConsistentRead=True,
        )
        .get("Item")
    )
    stored = row.get("sequencer", {}).get("S", "") if row else ""
    return stored > padded(obj.sequencer)


def put_renditions(
    table: str,
    obj: ObjectCreated,
    made: Renditions,
    bucket: str,
    keys: Sequence[StoredRendition],
) -> Outcome:
    """Index the renditions uploaded to ``bucket`` at ``keys`` (in the order of ``made``); the
    default rendition's facts stay where the single thumbnail's were. OK when written; when a
    newer row is there, SKIPPED_STALE, or DELETED if that row is a newer delete's (the caller then
    removes what it uploaded: nothing may outlive a delete)."""
    default = made.default
    renditions: dict[str, AttributeValueTypeDef] = {
        rendition.spec.name: {
            "M": {
                "key": _s(stored.key),
                "width": _n(rendition.width),
                "height": _n(rendition.height),
                "bytes": _n(len(rendition.data)),
                "format": _s(rendition.format),
                "content-type": _s(rendition.content_type),
                "etag": _s(stored.etag),
            }
        }
        for rendition, stored in zip(made.renditions, keys, strict=True)
    }
    fields: dict[str, AttributeValueTypeDef] = {
        "status": _s(Outcome.OK),
        "thumbnail-path": _s(keys[0].key),
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
    }
    if made.placeholder is not None:
        fields["thumbhash"] = _s(made.placeholder.thumbhash)
        if made.placeholder.dominant_color:
            fields["dominant-color"] = _s(made.placeholder.dominant_color)
    newer = _put(table, obj, fields)
    if newer is None:
        return Outcome.OK
    deleted = newer.get("status", {}).get("S") == Outcome.DELETED
    return Outcome.DELETED if deleted else Outcome.SKIPPED_STALE


def put_rejection(table: str, obj: ObjectCreated, rejection: ImageRejected) -> bool:
    """Index the object as rejected, with why. False when a newer version's row is there."""
    return (
        _put(
            table,
            obj,
            {
                "status": _s(Outcome.REJECTED),
                "reason": _s(rejection.reason),
                "detail": _s(rejection.detail[:_DETAIL_CHARS]),
            },
        )
        is None
    )


def _put(
    table: str, obj: ObjectCreated, fields: dict[str, AttributeValueTypeDef]
) -> Mapping[str, Any] | None:
    """Put the row; None when written, else the newer row that kept it out."""
    sequencer = padded(obj.sequencer)
    item: dict[str, AttributeValueTypeDef] = {
        "id": _s(obj.key),
        "fullsize-path": _s(obj.key),
        "source-bucket": _s(obj.bucket),
        "source-etag": _s(obj.etag),
        "source-size": _n(obj.size),
        "sequencer": _s(sequencer),
        "processed-at": _s(_now()),
        **fields,
    }
    client = aws.dynamodb()
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression=_NOT_NEWER,
            ExpressionAttributeValues={":sequencer": _s(sequencer)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except client.exceptions.ConditionalCheckFailedException as exc:
        newer: Mapping[str, Any] = cast("Mapping[str, Any]", exc.response.get("Item") or {})
        return newer
    return None


# Attributes that point at renditions: a deleted row drops them (the objects are gone) and keeps
# the source's facts, the sequencer and the times.
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
)


@dataclass(frozen=True)
class Removed:
    """What a delete replaced: the renditions to remove (none for a row that had none)."""

    bucket: str | None
    renditions: tuple[StoredRendition, ...]


def mark_deleted(table: str, obj: ObjectRemoved) -> Removed | None:
    """Mark the row ``deleted`` (creating it if there is none, so that an older create arriving
    later is stale). Returns the renditions the replaced row listed, or None when a newer version's
    row is there (the delete is older than what is indexed, and does nothing)."""
    sequencer = padded(obj.sequencer)
    client = aws.dynamodb()
    names = {f"#r{i}": name for i, name in enumerate(_RENDITION_ATTRIBUTES)}
    try:
        answer = client.update_item(
            TableName=table,
            Key={"id": _s(obj.key)},
            UpdateExpression=(
                "SET #status = :status, #path = :key, #bucket = :bucket, sequencer = :sequencer,"
                " #deleted = :deleted, #processed = if_not_exists(#processed, :now)"
                " REMOVE " + ", ".join(names)
            ),
            ConditionExpression=_NOT_NEWER,
            ExpressionAttributeNames={
                "#status": "status",
                "#path": "fullsize-path",
                "#bucket": "source-bucket",
                "#deleted": "deleted-at",
                "#processed": "processed-at",
                **names,
            },
            ExpressionAttributeValues={
                ":status": _s(Outcome.DELETED),
                ":key": _s(obj.key),
                ":bucket": _s(obj.bucket),
                ":sequencer": _s(sequencer),
                ":deleted": _s(obj.event_time or _now()),
                ":now": _s(_now()),
            },
            ReturnValues="ALL_OLD",
        )
    except client.exceptions.ConditionalCheckFailedException:
        return None
    return _removed(answer.get("Attributes") or {})


def _removed(old: Mapping[str, Any]) -> Removed:
    bucket = old.get("thumbnail-bucket", {}).get("S")
    listed = old.get("renditions", {}).get("M", {})
    renditions = [
        StoredRendition(entry["M"]["key"]["S"], entry["M"].get("etag", {}).get("S", ""))
        for entry in listed.values()
    ]
    path = old.get("thumbnail-path", {}).get("S")
    if path and path not in {r.key for r in renditions}:
        renditions.append(StoredRendition(path, ""))  # a row from before renditions
    return Removed(bucket, tuple(renditions))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": str(value)}  # str(): a StrEnum member goes in as its plain value


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}
