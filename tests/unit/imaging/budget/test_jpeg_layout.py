"""The decode budget's JPEG walk (handlers.imaging.jpeg.walk) and the layout its estimate carries:
what it records, and that the DC-prefix scan reading through it answers as a scan of the bytes."""

from __future__ import annotations

import pytest

from handlers.imaging import budget as decode_budget
from handlers.imaging import decode, jpeg, progressive
from tests.unit.imaging import hostile_images as hostile


def _estimate(data: bytes) -> decode_budget.Estimate:
    estimate = decode_budget.check(data, decode.READABLE_FORMATS, budget=2**40)
    assert estimate is not None
    return estimate


def test_a_jpeg_estimate_carries_the_segments_it_was_read_from() -> None:
    data = hostile.jpeg((640, 480))
    layout = _estimate(data).jpeg
    assert layout is not None
    markers = [marker for marker, _, _, _ in layout.segments]
    assert markers[0] == 0xE0  # JFIF
    assert jpeg.SOF2 in markers
    assert markers.count(jpeg.SOS) == 10  # libjpeg-turbo's default progression
    assert markers[-1] == jpeg.EOI
    assert all(clean for _, _, _, clean in layout.segments)
    assert all(data[code - 1] == 0xFF and data[code] == m for m, code, _, _ in layout.segments)


def test_other_formats_carry_none() -> None:
    assert _estimate(hostile.png((64, 64))).jpeg is None


@pytest.mark.parametrize(
    ("inserted", "clean"),
    [
        (b"\xff\xff\xff", True),  # fill
        (b"junk", False),
        (b"\xff\x00", False),  # a stuffed zero outside entropy-coded data
        (b"\xff\xd0", False),  # a stray restart marker
        (b"\xff\x01", False),  # TEM
    ],
    ids=["fill", "junk", "stuffed-zero", "restart", "tem"],
)
def test_a_segment_found_past_anything_but_fill_is_not_clean(inserted: bytes, clean: bool) -> None:
    data = hostile.jpeg_with_segments(hostile.jpeg(), inserted, 1)
    layout = _estimate(data).jpeg
    assert layout is not None
    assert layout.segments[1][3] is clean
    assert all(clean for _, _, _, clean in layout.segments[2:])


@pytest.mark.parametrize(
    "inserted",
    [b"", b"\xff\xff\xff", b"junk", b"\xff\x00", b"\xff\xd0", b"\xff\x01", b"\xff\xd8"],
    ids=["plain", "fill", "junk", "stuffed-zero", "restart", "tem", "soi"],
)
def test_the_scan_through_the_layout_answers_as_the_scan_of_the_bytes(inserted: bytes) -> None:
    data = hostile.jpeg_with_segments(hostile.jpeg((640, 480)), inserted, 1)
    layout = _estimate(data).jpeg
    for cut in (len(data), len(data) // 2, 700):
        head = data[:cut]
        walked = jpeg.Layout()
        for _ in jpeg.walk(head, walked, 10**6):
            pass
        for wanted in (None, lambda frame: frame.width > 1000):
            expected = progressive.scan(head, wanted)
            assert progressive.scan(head, wanted, walked) == expected
            if cut == len(data):
                assert progressive.scan(head, wanted, layout) == expected


def test_past_the_recorded_segments_the_scan_reads_the_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = hostile.jpeg((640, 480))
    expected = progressive.scan(data)
    assert expected.status is progressive.Status.COMPLETE
    monkeypatch.setattr(jpeg, "RECORDED_SEGMENTS", 3)
    layout = _estimate(data).jpeg
    assert layout is not None
    assert len(layout.segments) == 3
    assert progressive.scan(data, layout=layout) == expected
