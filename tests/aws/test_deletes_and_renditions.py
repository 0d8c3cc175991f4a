"""The resize handler's renditions and deletes against moto's server over real HTTP: every
order of creates, deletes and re-deliveries leaves the right objects and rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from handlers import resize
from handlers.common.errors import RejectReason
from handlers.imaging import make_renditions
from handlers.index import lifecycle
from handlers.index.outcomes import Outcome
from tests import events
from tests.aws.conftest import Bucket

SPEC = "200:jpeg,200:webp,800:webp,1600:avif"
KEYS = [
    "thumbnails/200/trip/photo.jpg.jpg",
    "thumbnails/200/trip/photo.jpg.webp",
    "thumbnails/800/trip/photo.jpg.webp",
    "thumbnails/1600/trip/photo.jpg.avif",
]


@pytest.fixture
def renditions(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    monkeypatch.setenv("RENDITIONS", SPEC)
    resize.settings.cache_clear()
    yield bucket
    resize.settings.cache_clear()


def removed(bucket: Bucket, key: str, sequencer: str) -> dict[str, Any]:
    """The ObjectRemoved:Delete record S3 sends after deleting ``key``."""
    record = events.s3_record(bucket.name, key, etag="", size=0, sequencer=sequencer)
    record["eventName"] = "ObjectRemoved:Delete"
    record["eventTime"] = "2026-11-22T10:00:00.000Z"
    del record["s3"]["object"]["size"], record["s3"]["object"]["eTag"]
    return record


def delete(bucket: Bucket, key: str) -> dict[str, Any]:
    """Delete the source and return the event announcing it, sequenced after every upload."""
    bucket.s3.delete_object(Bucket=bucket.name, Key=key)
    return removed(bucket, key, f"{next(bucket._sequence):X}")


def test_every_rendition_is_uploaded_and_listed_in_the_row(
    renditions: Bucket, read_image: Callable[[str], bytes]
) -> None:
    record = renditions.upload("uploads/trip/photo.jpg", read_image("2569067123_aca715a2ee_o.jpg"))

    resize.handler(events.s3_event(record), None)

    assert renditions.keys("thumbnails/") == sorted(KEYS)
    row = renditions.dynamodb.get_item(
        TableName=renditions.table, Key={"id": {"S": "uploads/trip/photo.jpg"}}
    )["Item"]
    assert row["thumbnail-path"]["S"] == KEYS[0]  # the first rendition is the default
    assert row["status"]["S"] == Outcome.OK
    listed = row["renditions"]["M"]
    assert set(listed) == {"200:jpeg", "200:webp", "800:webp", "1600:avif"}
    expected = {
        "200:jpeg": (KEYS[0], "JPEG", "image/jpeg", 200, 163),
        "200:webp": (KEYS[1], "WEBP", "image/webp", 200, 163),
        "800:webp": (KEYS[2], "WEBP", "image/webp", 800, 653),
        "1600:avif": (KEYS[3], "AVIF", "image/avif", 1600, 1306),
    }
    for name, (key, out_format, content_type, width, height) in expected.items():
        entry = {k: next(iter(v.values())) for k, v in listed[name]["M"].items()}
        head = renditions.s3.head_object(Bucket=renditions.name, Key=key)
        assert entry["key"] == key
        assert (entry["format"], entry["content-type"]) == (out_format, content_type)
        assert head["ContentType"] == content_type
        assert (int(entry["width"]), int(entry["height"])) == (width, height)
        assert int(entry["bytes"]) == head["ContentLength"]
        assert entry["etag"] == head["ETag"]
    assert row["thumbhash"]["S"] and row["dominant-color"]["S"].startswith("#")


def test_sources_differing_only_in_extension_get_their_own_renditions(
    bucket: Bucket, read_image: Callable[[str], bytes]
) -> None:
    png = bucket.upload("uploads/x.png", read_image("with-alpha.png"))
    jpg = bucket.upload("uploads/x.jpg", read_image("flowers.jpeg"))
    resize.handler(events.s3_event(png, jpg), None)

    assert bucket.keys("thumbnails/") == ["thumbnails/200/x.jpg.jpg", "thumbnails/200/x.png.png"]
    for key in ("uploads/x.png", "uploads/x.jpg"):
        row = bucket.row(key)
        assert row is not None and row["status"] == Outcome.OK


def test_a_source_key_whose_renditions_would_be_too_long_is_rejected_saying_why(
    bucket: Bucket, image: bytes
) -> None:
    key = "uploads/" + "k" * (1024 - len("uploads/") - len(".jpg")) + ".jpg"  # S3's longest
    record = bucket.upload(key, image)

    assert resize.handler(events.sqs_event(events.s3_event(record)), None) == {
        "batchItemFailures": []  # rejected, not retried into the dead-letter queue
    }
    assert bucket.keys("thumbnails/") == []
    row = bucket.row(key)
    assert row is not None
    assert (row["status"], row["reason"]) == (Outcome.REJECTED, RejectReason.KEY_TOO_LONG)
    assert len(key.encode()) == 1024
    assert "1,035 UTF-8 bytes, over S3's limit of 1,024" in row["detail"]


def deleted_row(bucket: Bucket, key: str) -> dict[str, Any]:
    row = bucket.row(key)
    assert row is not None
    assert row["status"] == Outcome.DELETED
    assert row["deleted-at"] == "2026-11-22T10:00:00.000Z"
    assert "thumbnail-path" not in row and "renditions" not in row
    return row


def test_a_delete_removes_every_rendition_and_keeps_the_row_for_audit(
    renditions: Bucket, read_image: Callable[[str], bytes]
) -> None:
    data = read_image("flowers.jpeg")
    created = renditions.upload("uploads/trip/photo.jpg", data)
    resize.handler(events.s3_event(created), None)
    assert len(renditions.keys("thumbnails/")) == 4
    unrelated = renditions.upload("uploads/trip/photo.jpg.d/other.jpg", data)
    resize.handler(events.s3_event(unrelated), None)

    resize.handler(events.s3_event(delete(renditions, "uploads/trip/photo.jpg")), None)

    assert renditions.keys("thumbnails/") == [  # only the other upload's
        "thumbnails/1600/trip/photo.jpg.d/other.jpg.avif",
        "thumbnails/200/trip/photo.jpg.d/other.jpg.jpg",
        "thumbnails/200/trip/photo.jpg.d/other.jpg.webp",
        "thumbnails/800/trip/photo.jpg.d/other.jpg.webp",
    ]
    row = deleted_row(renditions, "uploads/trip/photo.jpg")
    assert row["source-etag"] == created["s3"]["object"]["eTag"]  # what was deleted, for audit
    assert row["processed-at"]


def test_deletes_arrive_through_sqs_and_sns(bucket: Bucket, image: bytes) -> None:
    first = bucket.upload("uploads/a.jpg", image)
    second = bucket.upload("uploads/b.jpg", image)
    resize.handler(events.s3_event(first, second), None)
    envelope = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "Message": json.dumps(events.s3_event(delete(bucket, "uploads/b.jpg"))),
    }
    answer = resize.handler(
        events.sqs_event(events.s3_event(delete(bucket, "uploads/a.jpg")), envelope), None
    )

    assert answer == {"batchItemFailures": []}
    assert bucket.keys("thumbnails/") == []
    deleted_row(bucket, "uploads/a.jpg")
    deleted_row(bucket, "uploads/b.jpg")


def test_a_redelivered_delete_is_harmless(bucket: Bucket, image: bytes) -> None:
    resize.handler(events.s3_event(bucket.upload("uploads/a.jpg", image)), None)
    event = events.s3_event(delete(bucket, "uploads/a.jpg"))
    outcomes = [resize.process(next(iter_events(event))) for _ in range(3)]

    assert outcomes == [Outcome.DELETED] * 3
    assert bucket.keys("thumbnails/") == []
    deleted_row(bucket, "uploads/a.jpg")


def iter_events(event: dict[str, Any]) -> Iterator[Any]:
    from handlers.index import events as s3_events

    return iter(s3_events.object_events(event))


def test_a_delete_older_than_the_indexed_version_does_nothing(bucket: Bucket, image: bytes) -> None:
    old = bucket.upload("uploads/a.jpg", image)
    resize.handler(events.s3_event(old), None)
    stale_delete = removed(bucket, "uploads/a.jpg", old["s3"]["object"]["sequencer"] + "0")
    stale_delete["s3"]["object"]["sequencer"] = "1"  # sequenced before the upload
    newer = bucket.upload("uploads/a.jpg", image)
    resize.handler(events.s3_event(newer), None)

    assert resize.process(next(iter_events(events.s3_event(stale_delete)))) is Outcome.SKIPPED_STALE
    assert bucket.keys("thumbnails/") == ["thumbnails/200/a.jpg.jpg"]
    row = bucket.row("uploads/a.jpg")
    assert row is not None and row["status"] == Outcome.OK


def test_a_create_older_than_a_recorded_delete_does_nothing(bucket: Bucket, image: bytes) -> None:
    created = bucket.upload("uploads/a.jpg", image)
    gone = delete(bucket, "uploads/a.jpg")

    resize.handler(events.s3_event(gone), None)  # the delete arrives first: a tombstone row
    resize.handler(events.s3_event(created), None)

    assert bucket.keys("thumbnails/") == []
    deleted_row(bucket, "uploads/a.jpg")


def test_a_create_that_loses_to_a_delete_mid_flight_uploads_nothing(
    bucket: Bucket, image: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete is indexed while the create renders: the create finds itself stale when it
    takes the row's lease, before any upload, and leaves nothing behind."""
    created = bucket.upload("uploads/a.jpg", image)
    render = make_renditions

    def render_then_delete(*args: Any, **kwargs: Any) -> Any:
        made = render(*args, **kwargs)
        resize.handler(events.s3_event(delete(bucket, "uploads/a.jpg")), None)
        return made

    monkeypatch.setattr(lifecycle, "make_renditions", render_then_delete)

    assert resize.process(next(iter_events(events.s3_event(created)))) is Outcome.SKIPPED_STALE
    assert bucket.keys("thumbnails/") == []
    deleted_row(bucket, "uploads/a.jpg")


def test_a_newer_upload_after_a_delete_is_rendered_again(bucket: Bucket, image: bytes) -> None:
    resize.handler(events.s3_event(bucket.upload("uploads/a.jpg", image)), None)
    resize.handler(events.s3_event(delete(bucket, "uploads/a.jpg")), None)
    again = bucket.upload("uploads/a.jpg", image)

    resize.handler(events.s3_event(again), None)

    assert bucket.keys("thumbnails/") == ["thumbnails/200/a.jpg.jpg"]
    row = bucket.row("uploads/a.jpg")
    assert row is not None and row["status"] == Outcome.OK and "deleted-at" not in row


def test_a_delete_leaves_a_rendition_a_newer_upload_replaced(
    bucket: Bucket, image: bytes, read_image: Callable[[str], bytes]
) -> None:
    """Deletes are conditional on the ETag recorded: what a newer version uploaded stays."""
    resize.handler(events.s3_event(bucket.upload("uploads/a.jpg", image)), None)
    newer = read_image("flowers.jpeg")
    bucket.s3.put_object(Bucket=bucket.name, Key="thumbnails/200/a.jpg.jpg", Body=newer)

    resize.handler(events.s3_event(delete(bucket, "uploads/a.jpg")), None)

    assert bucket.keys("thumbnails/") == ["thumbnails/200/a.jpg.jpg"]
    kept = bucket.s3.get_object(Bucket=bucket.name, Key="thumbnails/200/a.jpg.jpg")
    assert kept["Body"].read() == newer


def test_deletes_outside_the_source_prefix_are_skipped(bucket: Bucket, image: bytes) -> None:
    resize.handler(events.s3_event(bucket.upload("uploads/a.jpg", image)), None)
    for key in ("thumbnails/200/a.jpg.jpg", "elsewhere/a.jpg"):
        assert resize.process(
            next(iter_events(events.s3_event(removed(bucket, key, "FFFFFFFFFFFFFFFFFF"))))
        ) in (Outcome.SKIPPED_THUMBNAIL_PREFIX, Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX)
    assert bucket.keys("thumbnails/") == ["thumbnails/200/a.jpg.jpg"]
    assert bucket.rows() == 1
