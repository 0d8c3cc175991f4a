"""The image index in DynamoDB: one row per source object, right under re-delivery and reordering.

S3 gives each version of a key a sequencer that grows with every write. A row is put only when
there is none or the stored one is not newer (``attribute_not_exists(id) OR sequencer <= :s``),
so a late event for an older version never overwrites a newer version's row; ``is_stale`` reads
the stored sequencer first so such an event costs no download.

The failed condition is translated here, once, into a False return. Every other botocore error
propagates as botocore raised it: the resize function has no caller to answer, Lambda retries the
invocation (or the SQS message), and the log keeps DynamoDB's own words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from handlers import aws
from handlers.errors import ImageRejected
from handlers.outcomes import Outcome
from handlers.s3_events import ObjectCreated

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from handlers.thumbnail import Thumbnail

# S3 sequencers are hex strings of varying length; left-padded they compare as numbers do, in
# Python and in a DynamoDB condition alike.
SEQUENCER_WIDTH: Final = 32
_DETAIL_CHARS: Final = 1000  # a rejection's detail can quote a decoder's whole message


def padded(sequencer: str) -> str:
    return sequencer.rjust(SEQUENCER_WIDTH, "0")


def is_stale(table: str, obj: ObjectCreated) -> bool:
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


def put_thumbnail(table: str, obj: ObjectCreated, thumb: Thumbnail, bucket: str, key: str) -> bool:
    """Index the thumbnail at ``bucket``/``key``. False when a newer version's row is there."""
    return _put(
        table,
        obj,
        {
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
        },
    )


def put_rejection(table: str, obj: ObjectCreated, rejection: ImageRejected) -> bool:
    """Index the object as rejected, with why. False when a newer version's row is there."""
    return _put(
        table,
        obj,
        {
            "status": _s(Outcome.REJECTED),
            "reason": _s(rejection.reason),
            "detail": _s(rejection.detail[:_DETAIL_CHARS]),
        },
    )


def _put(table: str, obj: ObjectCreated, fields: dict[str, AttributeValueTypeDef]) -> bool:
    sequencer = padded(obj.sequencer)
    item: dict[str, AttributeValueTypeDef] = {
        "id": _s(obj.key),
        "fullsize-path": _s(obj.key),
        "source-bucket": _s(obj.bucket),
        "source-etag": _s(obj.etag),
        "source-size": _n(obj.size),
        "sequencer": _s(sequencer),
        "processed-at": _s(datetime.now(UTC).isoformat(timespec="milliseconds")),
        **fields,
    }
    client = aws.dynamodb()
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(id) OR sequencer <= :sequencer",
            ExpressionAttributeValues={":sequencer": _s(sequencer)},
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": str(value)}  # str(): a StrEnum member goes in as its plain value


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}
