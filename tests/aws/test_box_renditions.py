"""Box renditions end to end on moto's server over real HTTP: an upload with a focal point in its
metadata gets its box rendition at the box's key, cropped around the point, and the row records
the crop rectangle; an invalid focal point is ignored with a warning, never a rejection."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from PIL import Image, ImageDraw

from handlers import resize
from handlers.common.logs import _FIELDS
from handlers.index.outcomes import Outcome
from tests import events
from tests.aws.conftest import Bucket

SPEC = "200:jpeg,400x400:webp,1200x630:jpeg:entropy"
KEY = "uploads/trip/wide.jpg"


@pytest.fixture
def boxes(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    monkeypatch.setenv("RENDITIONS", SPEC)
    resize.settings.cache_clear()
    yield bucket
    resize.settings.cache_clear()


def _photo() -> bytes:
    """2400x1600, a saturated subject at the right; the focal point names the left."""
    im = Image.new("RGB", (2400, 1600), (100, 108, 112))
    ImageDraw.Draw(im).ellipse((2000, 600, 2300, 900), fill=(230, 40, 40))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def _upload(bucket: Bucket, data: bytes, metadata: dict[str, str]) -> dict[str, Any]:
    """Put ``KEY`` with user metadata and return the record S3 would send."""
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=data, Metadata=metadata)
    head = bucket.s3.head_object(Bucket=bucket.name, Key=KEY)
    return events.s3_record(
        bucket.name,
        KEY,
        etag=head["ETag"].strip('"'),
        size=head["ContentLength"],
        sequencer=f"{next(bucket._sequence):X}",
    )


def _row(bucket: Bucket) -> dict[str, Any]:
    """The row with every nested map unwrapped and numbers as ints."""
    item = bucket.dynamodb.get_item(
        TableName=bucket.table, Key={"id": {"S": KEY}}, ConsistentRead=True
    )["Item"]
    return {name: _ints(TypeDeserializer().deserialize(value)) for name, value in item.items()}


def _ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return (
        int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, int) else value
    )


def _resize_line(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    lines = [getattr(r, _FIELDS) for r in caplog.records if hasattr(r, _FIELDS)]
    return next(line for line in lines if line.get("event") == "resize")


def test_a_focal_point_places_the_crop_and_the_row_records_it(
    boxes: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    record = _upload(boxes, _photo(), {"focus": "0.1,0.5"})
    with caplog.at_level(logging.INFO, logger="handlers.resize"):
        resize.handler(events.s3_event(record), None)

    assert boxes.keys("thumbnails/") == [
        "thumbnails/1200x630/trip/wide.jpg.jpg",
        "thumbnails/200/trip/wide.jpg.jpg",
        "thumbnails/400x400/trip/wide.jpg.webp",
    ]
    row = _row(boxes)
    assert row["status"] == Outcome.OK
    listed = row["renditions"]
    assert set(listed) == {"200:jpeg", "400x400:webp:attention", "1200x630:jpeg:entropy"}
    assert "crop" not in listed["200:jpeg"]
    square = listed["400x400:webp:attention"]
    assert square["key"] == "thumbnails/400x400/trip/wide.jpg.webp"
    assert (square["width"], square["height"]) == (400, 400)
    # 2400x1600 covers 400x400 at 600x400: a 1600x1600 window, centred on x = 240 as far as the
    # image allows, is the left edge (not the subject at the right, which attention would take).
    assert square["crop"] == {"left": 0, "top": 0, "width": 1600, "height": 1600}
    wide = listed["1200x630:jpeg:entropy"]
    assert (wide["width"], wide["height"]) == (1200, 630)
    # 1200x800 cover, a 1200x630 window: 2400x1260 of the source, centred on y = 800.
    assert wide["crop"] == {"left": 0, "top": 170, "width": 2400, "height": 1260}
    stored = boxes.s3.get_object(Bucket=boxes.name, Key=square["key"])
    im = Image.open(io.BytesIO(stored["Body"].read()))
    assert (im.format, im.size) == ("WEBP", (400, 400))
    assert "warning" not in _resize_line(caplog)


@pytest.mark.parametrize("focus", ["0.5", "left", "1.5,0.5", "0.2,-1"])
def test_an_invalid_focal_point_is_ignored_with_a_warning(
    boxes: Bucket, caplog: pytest.LogCaptureFixture, focus: str
) -> None:
    record = _upload(boxes, _photo(), {"focus": focus})
    with caplog.at_level(logging.INFO, logger="handlers.resize"):
        resize.handler(events.s3_event(record), None)

    row = _row(boxes)
    assert row["status"] == Outcome.OK
    # attention's own choice: the window holds the subject at the right.
    crop = row["renditions"]["400x400:webp:attention"]["crop"]
    assert crop["left"] + crop["width"] >= 2300 and crop["left"] <= 2000
    line = _resize_line(caplog)
    assert line["outcome"] == Outcome.OK
    assert "focus" in line["warning"] and "ignored" in line["warning"]
