"""The resize handler against moto's server over real HTTP."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import EndpointConnectionError

from handlers import resize
from handlers.common import aws
from handlers.common.errors import RejectReason
from handlers.imaging import decode
from handlers.imaging.limits import MAX_ICC_BYTES
from handlers.index.outcomes import Outcome
from tests import events
from tests.aws.conftest import Bucket
from tests.aws.s3_proxy import S3WithoutListBucket
from tests.aws.s3_proxy import running as s3_proxy_running
from tests.unit.imaging import hostile_images as hostile


def test_s3_event_makes_a_thumbnail_and_an_index_row(bucket: Bucket, image: bytes) -> None:
    record = bucket.upload("uploads/holiday/beach.jpg", image)

    assert resize.handler(events.s3_event(record), None) is None

    thumb = bucket.s3.get_object(Bucket=bucket.name, Key="thumbnails/200/holiday/beach.jpg.jpg")
    assert thumb["ContentType"] == "image/jpeg"
    assert thumb["CacheControl"] == "public, max-age=86400"
    assert thumb["Metadata"]["source-etag"] == record["s3"]["object"]["eTag"]
    row = bucket.row("uploads/holiday/beach.jpg")
    assert row is not None
    assert row["status"] == Outcome.OK
    assert row["fullsize-path"] == "uploads/holiday/beach.jpg"
    assert row["thumbnail-path"] == "thumbnails/200/holiday/beach.jpg.jpg"
    # Stored 450x600 with orientation 6: shown, and thumbnailed, as landscape.
    assert (row["width"], row["height"], row["format"]) == ("200", "150", "JPEG")
    assert row["bytes"] == str(thumb["ContentLength"])
    assert row["source-etag"] == record["s3"]["object"]["eTag"]
    assert row["source-size"] == str(len(image))
    assert row["processed-at"]


@pytest.mark.parametrize(
    "key",
    ["uploads/my cat photo.jpg", "uploads/a+b=c.jpg", "uploads/café/Ünïcødé 写真.jpg"],
    ids=["spaces-as-plus", "literal-plus-as-%2B", "utf-8"],
)
def test_url_encoded_keys_are_decoded(bucket: Bucket, image: bytes, key: str) -> None:
    record = bucket.upload(key, image)
    assert record["s3"]["object"]["key"] != key  # the event really carries the encoded form

    resize.handler(events.s3_event(record), None)

    expected = "thumbnails/200/" + key.removeprefix("uploads/") + ".jpg"
    assert bucket.keys("thumbnails/") == [expected]
    assert bucket.row(key) is not None


def test_sqs_wrapped_notifications_are_processed(bucket: Bucket, image: bytes) -> None:
    first = bucket.upload("uploads/one.jpg", image)
    second = bucket.upload("uploads/two.png", image)
    event = events.sqs_event(
        events.s3_event(first), events.load("s3-test-event"), events.s3_event(second)
    )

    assert resize.handler(event, None) == {"batchItemFailures": []}
    assert bucket.keys("thumbnails/") == [
        "thumbnails/200/one.jpg.jpg",
        "thumbnails/200/two.png.jpg",
    ]
    assert bucket.rows() == 2


@pytest.mark.parametrize(
    "key",
    ["thumbnails/already.jpg", "elsewhere/photo.jpg", "uploads/folder/"],
    ids=["thumbnail-prefix", "outside-source-prefix", "folder-marker"],
)
def test_recursion_guard_skips_keys_outside_the_source_prefix(
    bucket: Bucket, image: bytes, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    record = bucket.upload(key, image)
    with caplog.at_level(logging.INFO, logger="handlers.resize"):
        resize.handler(events.s3_event(record), None)

    assert bucket.keys() == [key]
    assert bucket.rows() == 0
    assert '"outcome": "skipped-' in caplog.text


def test_redelivered_event_leaves_one_object_and_one_row(bucket: Bucket, image: bytes) -> None:
    record = bucket.upload("uploads/again.jpg", image)
    for _ in range(3):
        resize.handler(events.s3_event(record), None)

    assert bucket.keys("thumbnails/") == ["thumbnails/200/again.jpg.jpg"]
    assert bucket.rows() == 1


def test_older_event_never_overwrites_a_newer_version(
    bucket: Bucket, image: bytes, read_image: Callable[[str], bytes]
) -> None:
    old = bucket.upload("uploads/v.jpg", image)
    new = bucket.upload("uploads/v.jpg", read_image("flowers.jpeg"))

    resize.handler(events.s3_event(new), None)
    resize.handler(events.s3_event(old), None)  # delivered late

    row = bucket.row("uploads/v.jpg")
    assert row is not None
    assert row["source-etag"] == new["s3"]["object"]["eTag"]
    assert (row["width"], row["height"]) == ("200", "113")  # flowers.jpeg, 1920x1080


def test_older_event_arriving_first_does_not_thumbnail_the_wrong_version(
    bucket: Bucket, image: bytes, read_image: Callable[[str], bytes]
) -> None:
    old = bucket.upload("uploads/v.jpg", image)
    bucket.upload("uploads/v.jpg", read_image("flowers.jpeg"))

    resize.handler(events.s3_event(old), None)  # the object changed since: its event is stale

    assert bucket.keys("thumbnails/") == []
    assert bucket.row("uploads/v.jpg") is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("check.svg", RejectReason.UNSUPPORTED),
        ("truncated.jpg", RejectReason.CORRUPT),
        ("65536-uint32-limit.png", RejectReason.TOO_LARGE),
    ],
)
def test_rejected_image_gets_a_row_and_no_thumbnail(
    bucket: Bucket, read_image: Callable[[str], bytes], name: str, reason: RejectReason
) -> None:
    record = bucket.upload(f"uploads/{name}", read_image(name))

    assert resize.handler(events.sqs_event(events.s3_event(record)), None) == {
        "batchItemFailures": []
    }
    assert bucket.keys("thumbnails/") == []
    row = bucket.row(f"uploads/{name}")
    assert row is not None
    assert (row["status"], row["reason"]) == (Outcome.REJECTED, reason)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (hostile.corrupt_avif, RejectReason.CORRUPT),  # libavif's RuntimeError
        (lambda: hostile.jpeg_declaring((23000, 23000)), RejectReason.TOO_LARGE),
        (lambda: hostile.gif_frame((65535, 8000)), RejectReason.TOO_LARGE),
    ],
    ids=["corrupt-avif", "progressive-jpeg-23000", "gif-frame-outside-canvas"],
)
def test_hostile_image_ends_on_first_delivery_as_a_rejected_row(
    bucket: Bucket, build: Callable[[], bytes], reason: RejectReason
) -> None:
    record = bucket.upload("uploads/hostile.img", build())

    answer = resize.handler(events.sqs_event(events.s3_event(record)), None)

    assert answer == {"batchItemFailures": []}
    row = bucket.row("uploads/hostile.img")
    assert row is not None
    assert (row["status"], row["reason"]) == (Outcome.REJECTED, reason)
    assert row["detail"]


def test_oversized_object_is_rejected_without_download(
    bucket: Bucket, image: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_INPUT_BYTES", "1000")
    resize.settings.cache_clear()
    record = bucket.upload("uploads/big.jpg", image)

    resize.handler(events.s3_event(record), None)

    row = bucket.row("uploads/big.jpg")
    assert row is not None
    assert (row["status"], row["reason"]) == (Outcome.REJECTED, RejectReason.TOO_LARGE)


@pytest.fixture
def s3_as_the_role_sees_it(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> Iterator[S3WithoutListBucket]:
    """The handler's S3 client goes through a proxy answering missing keys 403, as S3 answers
    the deployed role (GetObject, no ListBucket); the tests' own client does not."""
    with s3_proxy_running(os.environ["AWS_ENDPOINT_URL"]) as (proxy, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
        aws.clear()
        yield proxy
    aws.clear()


def test_object_deleted_before_processing_is_skipped_on_first_delivery(
    bucket: Bucket,
    image: bytes,
    s3_as_the_role_sees_it: S3WithoutListBucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    record = bucket.upload("uploads/gone.jpg", image)
    bucket.s3.delete_object(Bucket=bucket.name, Key="uploads/gone.jpg")

    with caplog.at_level(logging.INFO, logger="handlers.resize"):
        answer = resize.handler(events.sqs_event(events.s3_event(record)), None)

    assert s3_as_the_role_sees_it.denied  # S3 said 403, as it says to the deployed role
    assert answer == {"batchItemFailures": []}
    assert bucket.keys() == []
    assert bucket.row("uploads/gone.jpg") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # The download's line says what S3 answered; the resize line's hint says what to check.
    [denied] = [w for w in warnings if "access-denied" in w]
    assert "ListBucket" in denied
    assert any('"outcome": "skipped-changed-or-deleted"' in w for w in warnings)


def test_unreadable_message_is_logged_and_kept_for_the_dead_letter_queue(
    bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="handlers.resize"):
        answer = resize.handler(events.sqs_event("this is not JSON"), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    assert "unreadable-message" in caplog.text


def test_failing_message_is_reported_for_retry_alone(bucket: Bucket, image: bytes) -> None:
    good = bucket.upload("uploads/good.jpg", image)
    missing_bucket = events.s3_record(
        f"{bucket.name}-gone", "uploads/x.jpg", etag="", size=10, sequencer="1"
    )
    event = events.sqs_event(events.s3_event(good), events.s3_event(missing_bucket))

    assert resize.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}
    assert bucket.keys("thumbnails/") == ["thumbnails/200/good.jpg.jpg"]


@pytest.fixture
def dynamodb_down(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB unreachable: a closed port on 127.0.0.1, refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.clear()


def test_transient_failure_raises_for_s3_invocations(
    bucket: Bucket, image: bytes, dynamodb_down: None
) -> None:
    record = bucket.upload("uploads/retry.jpg", image)
    with pytest.raises(EndpointConnectionError):
        resize.handler(events.s3_event(record), None)


def test_transient_failure_is_returned_as_batch_item_failure(
    bucket: Bucket, image: bytes, dynamodb_down: None
) -> None:
    record = bucket.upload("uploads/retry.jpg", image)
    answer = resize.handler(events.sqs_event(events.s3_event(record)), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}


def test_outcomes_keep_their_logged_values() -> None:
    # Log queries and index rows use these strings.
    assert {str(o) for o in Outcome} == {
        "ok",
        "rejected",
        "deleted",
        "skipped-stale",
        "skipped-thumbnail-prefix",
        "skipped-outside-source-prefix",
        "skipped-changed-or-deleted",
        "skipped-noncurrent",
        "skipped-up-to-date",
        "skipped-missing",
    }


def test_sns_enveloped_notifications_are_processed(bucket: Bucket, image: bytes) -> None:
    record = bucket.upload("uploads/fan-out.jpg", image)
    envelope = {
        "Type": "Notification",
        "MessageId": "5b3f8a9e-0000-4000-8000-000000000000",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "Message": json.dumps(events.s3_event(record)),
    }

    assert resize.handler(events.sqs_event(envelope), None) == {"batchItemFailures": []}
    assert bucket.keys("thumbnails/") == ["thumbnails/200/fan-out.jpg.jpg"]


def test_a_dropped_icc_profile_is_on_the_row_and_gone_with_a_reupload(bucket: Bucket) -> None:
    key = "uploads/wide-gamut.png"
    big = hostile.png_with_icc((300, 200), hostile.icc_profile(MAX_ICC_BYTES + 1), 16)
    resize.handler(events.s3_event(bucket.upload(key, big)), None)
    row = bucket.row(key)
    assert row is not None and row["status"] == Outcome.OK
    assert row["icc-dropped"] == decode.too_large_icc()

    resize.handler(events.s3_event(bucket.upload(key, hostile.png((300, 200)))), None)
    row = bucket.row(key)
    assert row is not None and row["status"] == Outcome.OK and "icc-dropped" not in row
