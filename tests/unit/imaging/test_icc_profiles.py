"""Embedded ICC profiles: honoured up to MAX_ICC_BYTES, dropped past it, never a rejection; the
decode budget prices what the decode keeps."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image, ImageCms

from handlers.imaging import OutputFormat, RenditionSpec, decode, make_renditions
from handlers.imaging.budget import png as png_budget
from handlers.imaging.limits import MAX_ICC_BYTES
from tests.unit.imaging import hostile_images as hostile


def _iccp_body(data: bytes) -> bytes:
    start = data.index(b"iCCP") + 4
    return data[start : start + int.from_bytes(data[start - 8 : start - 4], "big")]


@pytest.mark.parametrize(
    ("size", "kept"),
    [(MAX_ICC_BYTES, True), (MAX_ICC_BYTES + 1, False)],
    ids=["at-the-limit-honoured", "one-over-dropped"],
)
def test_a_png_profile_is_honoured_up_to_the_limit_and_dropped_past_it(
    size: int, kept: bool
) -> None:
    icc = hostile.icc_profile(size)
    data = hostile.png_with_icc((300, 200), icc)

    assert decode.open_image(data).info.get("icc_profile") == (icc if kept else None)
    assert png_budget.icc_size(_iccp_body(data)) == (size if kept else 0)
    made = make_renditions(data, (RenditionSpec(200, OutputFormat.AUTO),), placeholder=False)
    assert (made.default.width, made.default.height) == (200, 133)
    assert made.icc_dropped == ("" if kept else decode.too_large_icc())  # the row says so


def test_the_budget_counts_a_kept_profile_and_not_a_dropped_one() -> None:
    small = png_budget.estimate(hostile.png_with_icc((64, 64), hostile.icc_profile(2**20), 8))
    none = png_budget.estimate(hostile.png((64, 64)))
    dropped = png_budget.estimate(hostile.png_with_icc((64, 64), bytes(MAX_ICC_BYTES + 1), 8))
    assert small.held - none.held >= 3 * 2**20
    assert dropped.held - none.held < 2**16


def test_a_damaged_profile_is_dropped_not_refused() -> None:
    deflated = bytearray(zlib.compress(hostile.icc_profile(4096)))
    deflated[2:40] = bytes(range(38))  # the deflate stream, not its header
    chunk = hostile.png_chunk(b"iCCP", b"profile\0\0" + deflated)  # with its right CRC
    data = hostile.png((64, 64), extra=iter([chunk]))
    assert decode.open_image(data).info.get("icc_profile") is None
    assert png_budget.icc_size(_iccp_body(data)) == 0
    made = make_renditions(data, (RenditionSpec(32, OutputFormat.AUTO),), placeholder=False)
    assert made.icc_dropped  # libvips (8-bit, streamed) or Pillow: either way the row says so


@pytest.mark.parametrize(
    ("depth", "dropped"),
    # libvips takes the profile its own header sizes (588 bytes, the rest padding) and applies it;
    # Pillow takes the whole chunk, which is over the limit, and drops it.
    [(8, ""), (16, decode.too_large_icc())],
    ids=["8-bit-streamed-by-libvips", "16-bit-pillow"],
)
def test_a_chunk_over_the_limit_is_dropped_or_read_as_its_profile(depth: int, dropped: str) -> None:
    data = hostile.png_with_icc((300, 200), hostile.icc_profile(MAX_ICC_BYTES + 1), depth)
    made = make_renditions(data, (RenditionSpec(200, OutputFormat.AUTO),), placeholder=False)
    assert made.icc_dropped == dropped


def test_a_profile_lcms_cannot_read_is_dropped_and_a_good_one_applied() -> None:
    image = Image.new("RGB", (300, 200), (200, 30, 30))
    made = {}
    for name, icc in {"garbage": b"not a profile" * 100, "srgb": _srgb_icc()}.items():
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", icc_profile=icc)
        spec = (RenditionSpec(100, OutputFormat.AUTO),)
        made[name] = make_renditions(buffer.getvalue(), spec, placeholder=False).icc_dropped
    assert made == {"garbage": "an ICC profile LittleCMS cannot apply to these pixels", "srgb": ""}


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
