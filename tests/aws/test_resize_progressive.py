"""The resize handler's download of progressive JPEGs, against moto's server over real HTTP: one
GET either way, read only up to the end of the DC scans when a 1/8-scale decode serves every
rendition, to the end otherwise."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.response import StreamingBody

from devstack import samples
from handlers import resize
from handlers.common import aws
from handlers.imaging import progressive, renditions
from handlers.imaging.pipeline import make_renditions
from handlers.index import objects
from handlers.index.outcomes import Outcome
from tests import events
from tests.aws.conftest import Bucket


@dataclass
class Reads:
    """What the handler's S3 client asked for and read of the bodies it got."""

    requests: int = 0
    bytes: int = 0


@pytest.fixture
def reads(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    """GetObject requests sent by the handler's client (each HTTP attempt, retries included) and
    the bytes read from every StreamingBody while the fixture is active; reset before the call
    under test, as the test's own uploads and reads count too."""
    counted = Reads()
    original = StreamingBody.read

    def counting_read(self: StreamingBody, amt: int | None = None) -> bytes:
        chunk: bytes = original(self, amt)
        counted.bytes += len(chunk)
        return chunk

    def count_request(**kwargs: Any) -> None:
        counted.requests += 1

    monkeypatch.setattr(StreamingBody, "read", counting_read)
    aws.s3().meta.events.register("before-send.s3.GetObject", count_request)
    yield counted


def _resize_line(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    [line] = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "handlers.resize" and r.getMessage().startswith('{"event": "resize"')
    ]
    return line  # type: ignore[no-any-return]


def _process(
    bucket: Bucket, reads: Reads, key: str, data: bytes, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    record = bucket.upload(key, data)
    reads.requests = reads.bytes = 0
    with caplog.at_level(logging.INFO, logger="handlers.resize"):
        assert resize.handler(events.s3_event(record), None) is None
    return _resize_line(caplog)


def test_a_progressive_upload_is_read_only_to_the_end_of_its_dc_scans(
    bucket: Bucket, reads: Reads, caplog: pytest.LogCaptureFixture
) -> None:
    data = samples.load("photo-12mp-progressive")  # 4000x3000, its DC scan ends at ~7%
    end = progressive.scan(data).end

    line = _process(bucket, reads, "uploads/camera/progressive.jpg", data, caplog)

    assert reads.requests == 1
    assert end <= reads.bytes <= end + objects.DOWNLOAD_CHUNK
    assert reads.bytes <= 0.12 * len(data)
    assert line["outcome"] == Outcome.OK
    assert (line["bytes_in"], line["bytes_read"]) == (len(data), reads.bytes)
    assert (line["bytes_decoded"], line["dc_prefix"]) == (end, True)
    row = bucket.row("uploads/camera/progressive.jpg")
    assert row is not None
    assert (row["status"], row["width"], row["height"]) == (Outcome.OK, "200", "150")
    assert row["source-size"] == str(len(data))
    # The thumbnail is the one the core makes from the whole file, byte for byte.
    thumb = bucket.s3.get_object(
        Bucket=bucket.name, Key="thumbnails/200/camera/progressive.jpg.jpg"
    )
    assert thumb["Body"].read() == make_renditions(data).default.data


@pytest.mark.parametrize(
    ("sample", "spec"),
    [
        ("photo-12mp", "200:auto"),
        ("photo-12mp-progressive", "200:auto,800:webp"),
    ],
    ids=["baseline", "progressive-with-a-rendition-over-an-eighth"],
)
def test_other_uploads_are_read_whole_in_one_get(
    bucket: Bucket,
    reads: Reads,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    sample: str,
    spec: str,
) -> None:
    monkeypatch.setenv("RENDITIONS", spec)
    resize.settings.cache_clear()
    data = samples.load(sample)

    line = _process(bucket, reads, "uploads/whole.jpg", data, caplog)

    assert reads.requests == 1
    assert reads.bytes == len(data)
    assert line["outcome"] == Outcome.OK
    assert line["bytes_in"] == line["bytes_read"] == line["bytes_decoded"] == len(data)
    assert "dc_prefix" not in line
    row = bucket.row("uploads/whole.jpg")
    assert row is not None
    assert row["status"] == Outcome.OK
    assert len(renditions.parse(spec)) == len(bucket.keys("thumbnails/"))


def test_a_progressive_upload_truncated_in_its_dc_scan_is_rejected_as_corrupt(
    bucket: Bucket, reads: Reads, caplog: pytest.LogCaptureFixture
) -> None:
    data = samples.load("photo-12mp-progressive")
    truncated = data[: progressive.scan(data).end // 2]

    line = _process(bucket, reads, "uploads/cut.jpg", truncated, caplog)

    assert (reads.requests, reads.bytes) == (1, len(truncated))
    assert (line["outcome"], line["reason"]) == (Outcome.REJECTED, "corrupt")
    row = bucket.row("uploads/cut.jpg")
    assert row is not None
    assert (row["status"], row["reason"]) == (Outcome.REJECTED, "corrupt")
