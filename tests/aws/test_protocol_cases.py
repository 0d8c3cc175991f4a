"""Named cases of the create and delete protocol (docs/index-protocol.md), against moto's server
over real HTTP: failures part-way, endpoints without conditional deletes, a holder that dies,
a key whose rendition keys change, and versioned buckets. The property test over interleavings
(test_index_protocol.py) covers the orders; these pin the cases a reader asks about by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import resize
from handlers.common import aws
from handlers.index import events as s3_events
from handlers.index import store
from handlers.index.outcomes import Outcome
from tests import events
from tests.aws.conftest import Bucket
from tests.aws.interleavings import Crash, Scheduler
from tests.aws.test_index_protocol import check_agreement, transparent_png

KEY = "uploads/case.img"


def record_of(bucket: Bucket, name: str, *, etag: str = "", version: str = "") -> dict[str, Any]:
    record = events.s3_record(
        bucket.name, KEY, etag=etag, size=1, sequencer=f"{next(bucket._sequence):X}"
    )
    record["eventName"] = name
    if version:
        record["s3"]["object"]["versionId"] = version
    if name.startswith("ObjectRemoved"):
        del record["s3"]["object"]["eTag"], record["s3"]["object"]["size"]
    return record


def put(bucket: Bucket, data: bytes) -> dict[str, Any]:
    answer = bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=data)
    return record_of(
        bucket,
        "ObjectCreated:Put",
        etag=answer["ETag"].strip('"'),
        version=answer.get("VersionId", ""),
    )


def process(record: dict[str, Any]) -> Outcome:
    (obj,) = s3_events.object_events(events.s3_event(record))
    return resize.process(obj)


def renditions_of(bucket: Bucket) -> list[str]:
    return [k for k in bucket.keys("thumbnails/") if "/case.img." in k]


@pytest.fixture
def fail_calls(bucket: Bucket) -> Iterator[Callable[[str, str, int], None]]:
    """fail_calls(operation, code, times): the next ``times`` calls of ``operation`` on the
    functions' S3 client answer ``code`` before reaching the server, as a flaky S3 would."""
    plans: dict[str, list[str]] = {}

    def before_call(event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if not plans.get(operation):
            return
        code = plans[operation][-1]
        if code == "NotImplemented" and "If-Match" not in params.get("headers", {}):
            return  # the endpoint refuses conditional deletes only
        plans[operation].pop()
        status = {"InternalError": 500, "NotImplemented": 501}[code]
        response: Any = {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        raise ClientError(response, operation)

    client = aws.s3()
    client.meta.events.register("before-call.s3", before_call)

    def plan(operation: str, code: str, times: int) -> None:
        plans[operation] = [code] * times

    yield plan
    client.meta.events.unregister("before-call.s3", before_call)


def test_a_delete_that_fails_part_way_is_finished_by_its_retry(
    bucket: Bucket, image: bytes, fail_calls: Callable[[str, str, int], None]
) -> None:
    assert process(put(bucket, image)) is Outcome.OK
    assert renditions_of(bucket)
    bucket.s3.delete_object(Bucket=bucket.name, Key=KEY)
    removal = record_of(bucket, "ObjectRemoved:Delete")
    fail_calls("DeleteObject", "InternalError", 1)  # after botocore's own retries

    with pytest.raises(ClientError):
        process(removal)
    row = bucket.row(KEY)
    assert row is not None and row["status"] == "deleted"
    assert row[store.PENDING_DELETES]  # what is left to delete is in the row, under its lease
    assert renditions_of(bucket)

    assert process(removal) is Outcome.DELETED  # SQS delivers it again
    check_agreement(bucket, KEY)


def test_without_conditional_deletes_the_fallback_compares_first(
    bucket: Bucket, image: bytes, fail_calls: Callable[[str, str, int], None]
) -> None:
    """An endpoint that answers If-Match deletes NotImplemented (LocalStack 4.14) gets
    HeadObject, compare, delete."""
    assert process(put(bucket, image)) is Outcome.OK
    bucket.s3.delete_object(Bucket=bucket.name, Key=KEY)
    fail_calls("DeleteObject", "NotImplemented", 1)

    assert process(record_of(bucket, "ObjectRemoved:Delete")) is Outcome.DELETED
    check_agreement(bucket, KEY)


def test_a_rendition_with_other_bytes_than_recorded_is_left_alone(
    bucket: Bucket, image: bytes
) -> None:
    """Written by something outside the protocol: neither the conditional delete nor the
    fallback removes it."""
    assert process(put(bucket, image)) is Outcome.OK
    (rendition,) = renditions_of(bucket)
    bucket.s3.put_object(Bucket=bucket.name, Key=rendition, Body=b"someone else's")
    bucket.s3.delete_object(Bucket=bucket.name, Key=KEY)

    assert process(record_of(bucket, "ObjectRemoved:Delete")) is Outcome.DELETED
    assert renditions_of(bucket) == [rendition]


def test_renditions_whose_keys_change_between_versions_are_replaced(
    bucket: Bucket, image: bytes
) -> None:
    """200:auto is a PNG for a transparent image and a JPEG for a photo: the PNG goes."""
    assert process(put(bucket, transparent_png(300, 200))) is Outcome.OK
    assert renditions_of(bucket) == ["thumbnails/200/case.img.png"]

    assert process(put(bucket, image)) is Outcome.OK
    assert renditions_of(bucket) == ["thumbnails/200/case.img.jpg"]
    check_agreement(bucket, KEY)


def test_a_rejected_version_takes_the_earlier_renditions_with_it(
    bucket: Bucket, image: bytes
) -> None:
    assert process(put(bucket, image)) is Outcome.OK
    assert process(put(bucket, b"not an image")) is Outcome.REJECTED
    assert renditions_of(bucket) == []
    check_agreement(bucket, KEY)


def test_what_a_holder_that_died_uploaded_is_deleted_by_the_next(
    bucket: Bucket, image: bytes
) -> None:
    """The transparent version's processor dies after uploading its PNG, before writing the
    row; a photo replaces it. The photo's processor finds the PNG in ``uploading`` and deletes
    it, though no row ever named it."""
    first = put(bucket, transparent_png(300, 200))
    (obj,) = s3_events.object_events(events.s3_event(first))
    scheduler = Scheduler()
    try:
        actor = scheduler.start(
            "first", lambda: resize.process(obj, attempt=resize.Attempt("first", 2**40))
        )
        while actor.parked_at != "s3.PutObject":
            scheduler.step(actor)
        scheduler.step(actor)  # the PNG is uploaded
        scheduler.step(actor, crash=True)  # and the process dies before the row
        assert isinstance(actor.error, Crash)
    finally:
        scheduler.close()
    assert renditions_of(bucket) == ["thumbnails/200/case.img.png"]
    bucket.dynamodb.update_item(  # its invocation is over, and so is its lease
        TableName=bucket.table,
        Key={"id": {"S": KEY}},
        UpdateExpression="SET #until = :zero",
        ExpressionAttributeNames={"#until": store.LEASE_UNTIL},
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )

    assert process(put(bucket, image)) is Outcome.OK
    assert process(first) is Outcome.SKIPPED_STALE  # its retry
    assert renditions_of(bucket) == ["thumbnails/200/case.img.jpg"]
    check_agreement(bucket, KEY)


def test_a_live_lease_makes_another_event_wait(bucket: Bucket, image: bytes) -> None:
    created = put(bucket, image)
    (obj,) = s3_events.object_events(events.s3_event(created))
    assert store.acquire(bucket.table, obj, store.owner_of(obj, "other"), 2**40) is not None

    with pytest.raises(store.Busy):
        process(created)
    messages = events.sqs_event(events.s3_event(created))
    assert resize.handler(messages, None) == {
        "batchItemFailures": [{"itemIdentifier": "message-0"}]
    }


# --- versioned buckets ----------------------------------------------------------------------------
@pytest.fixture
def versioned(bucket: Bucket) -> Bucket:
    bucket.s3.put_bucket_versioning(
        Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
    )
    return bucket


def test_removing_a_noncurrent_version_changes_nothing(versioned: Bucket, image: bytes) -> None:
    old = put(versioned, transparent_png(300, 200))
    assert process(old) is Outcome.OK
    assert process(put(versioned, image)) is Outcome.OK
    before = versioned.row(KEY)
    versioned.s3.delete_object(
        Bucket=versioned.name, Key=KEY, VersionId=old["s3"]["object"]["versionId"]
    )
    removal = record_of(versioned, "ObjectRemoved:Delete", version=old["s3"]["object"]["versionId"])

    assert process(removal) is Outcome.SKIPPED_NONCURRENT
    assert versioned.row(KEY) == before
    assert renditions_of(versioned) == ["thumbnails/200/case.img.jpg"]
    check_agreement(versioned, KEY)


def test_a_delete_marker_deletes_and_removing_it_renders_again(
    versioned: Bucket, image: bytes
) -> None:
    assert process(put(versioned, image)) is Outcome.OK
    marker = versioned.s3.delete_object(Bucket=versioned.name, Key=KEY)
    assert marker["DeleteMarker"]
    assert (
        process(
            record_of(versioned, "ObjectRemoved:DeleteMarkerCreated", version=marker["VersionId"])
        )
        is Outcome.DELETED
    )
    assert renditions_of(versioned) == []

    versioned.s3.delete_object(Bucket=versioned.name, Key=KEY, VersionId=marker["VersionId"])
    undelete = record_of(versioned, "ObjectRemoved:Delete", version=marker["VersionId"])

    assert process(undelete) is Outcome.OK
    assert renditions_of(versioned) == ["thumbnails/200/case.img.jpg"]
    check_agreement(versioned, KEY)


def test_deleting_the_current_version_renders_the_one_before(
    versioned: Bucket, image: bytes
) -> None:
    assert process(put(versioned, transparent_png(300, 200))) is Outcome.OK
    current = put(versioned, image)
    assert process(current) is Outcome.OK
    version = current["s3"]["object"]["versionId"]
    versioned.s3.delete_object(Bucket=versioned.name, Key=KEY, VersionId=version)

    assert process(record_of(versioned, "ObjectRemoved:Delete", version=version)) is Outcome.OK
    assert renditions_of(versioned) == ["thumbnails/200/case.img.png"]
    check_agreement(versioned, KEY)


def test_a_lifecycle_expiration_is_a_removal(versioned: Bucket, image: bytes) -> None:
    assert process(put(versioned, image)) is Outcome.OK
    marker = versioned.s3.delete_object(Bucket=versioned.name, Key=KEY)
    expired = record_of(
        versioned, "LifecycleExpiration:DeleteMarkerCreated", version=marker["VersionId"]
    )
    assert process(expired) is Outcome.DELETED
    check_agreement(versioned, KEY)
