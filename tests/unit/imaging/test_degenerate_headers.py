"""Headers that declare sizes no image has: every size field of every format the core reads, set
to zero, to sizes that overflow their field's sign or the pixel budget, or to aspect ratios that
round to nothing. Each file is either thumbnailed (every rendition at least 1x1) or rejected with
a reason (ImageRejected), never an exception of another kind (a ZeroDivisionError would loop the
upload to the dead-letter queue instead of writing a ``rejected`` row); an image declared with a
side of 0 is always rejected."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers.imaging import ImageRejected, make_renditions, parse

SPECS = parse("200:auto,64:webp")
MAX_PIXELS = 16_000_000  # the budget at 256 MB is about this


@dataclass(frozen=True)
class Field:
    """Where a size field is in a file, and how it is written."""

    name: str
    offset: Callable[[bytes], int]
    layout: str  # struct format: ">H", "<i", ...
    fix: Callable[[bytearray], None] = lambda data: None  # a checksum to recompute
    # False for a GIF's logical screen: Pillow, like browsers, sizes the image by its frame
    # when the screen declares 0.
    sizes_the_image: bool = True

    def write(self, data: bytes, value: int) -> bytes:
        out = bytearray(data)
        low, high = _range(self.layout)
        struct.pack_into(self.layout, out, self.offset(data), min(max(value, low), high))
        self.fix(out)
        return bytes(out)


def _range(layout: str) -> tuple[int, int]:
    bits = struct.calcsize(layout) * 8
    if layout[-1].islower():  # signed
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _encoded(fmt: str, mode: str = "RGB", **options: object) -> bytes:
    image = Image.new(mode, (48, 32), (90, 140, 200) if mode == "RGB" else 120)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _png_crc(data: bytearray) -> None:
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))


def _jpeg_sof(data: bytes) -> int:
    return data.index(b"\xff\xc0") + 5


def _gif_descriptor(data: bytes) -> int:
    flags, position = data[10], 13
    if flags & 0x80:
        position += 3 * 2 ** ((flags & 7) + 1)
    while data[position] == 0x21:  # extension blocks: label, then sub-blocks
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    assert data[position] == 0x2C
    return position + 5


def _tiff_entry(tag: int) -> Callable[[bytes], int]:
    def offset(data: bytes) -> int:
        ifd: int = struct.unpack_from("<I", data, 4)[0]
        for index in range(struct.unpack_from("<H", data, ifd)[0]):
            entry = ifd + 2 + 12 * index
            if struct.unpack_from("<H", data, entry)[0] == tag:
                return entry + 8
        raise AssertionError(f"no tag {tag}")

    return offset


def _ispe(data: bytes) -> int:
    return data.index(b"ispe") + 8


@cache
def samples() -> dict[str, tuple[bytes, list[Field]]]:
    from handlers.imaging import decode

    decode._load_isobmff_plugins()
    found = {
        "png": (
            _encoded("PNG"),
            [
                Field("width", lambda d: 16, ">I", _png_crc),
                Field("height", lambda d: 20, ">I", _png_crc),
            ],
        ),
        "jpeg": (
            _encoded("JPEG"),
            [Field("height", _jpeg_sof, ">H"), Field("width", lambda d: _jpeg_sof(d) + 2, ">H")],
        ),
        "gif": (
            _encoded("GIF", "L"),
            [
                Field("screen-width", lambda d: 6, "<H", sizes_the_image=False),
                Field("screen-height", lambda d: 8, "<H", sizes_the_image=False),
                Field("width", _gif_descriptor, "<H"),
                Field("height", lambda d: _gif_descriptor(d) + 2, "<H"),
            ],
        ),
        "bmp": (
            _encoded("BMP"),
            [Field("width", lambda d: 18, "<i"), Field("height", lambda d: 22, "<i")],
        ),
        "webp": (
            _encoded("WEBP", quality=80),
            [Field("width", lambda d: 26, "<H"), Field("height", lambda d: 28, "<H")],
        ),
        "tiff": (
            _encoded("TIFF"),
            [Field("width", _tiff_entry(256), "<H"), Field("height", _tiff_entry(257), "<H")],
        ),
    }
    for name, fmt in (("avif", "AVIF"), ("heic", "HEIF")):
        data = _encoded(fmt)
        found[name] = (
            data,
            [Field("width", _ispe, ">I"), Field("height", lambda d: _ispe(d) + 4, ">I")],
        )
    return found


FORMATS = ["png", "jpeg", "gif", "bmp", "webp", "tiff", "avif", "heic"]
VALUES = st.sampled_from([0, 1, 2, 3, 255, 65_535, 2**31 - 1, 2**32 - 1, -1, -(2**31)])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_side_of_zero_is_rejected_with_a_reason(fmt: str) -> None:
    data, fields = samples()[fmt]
    for field in (field for field in fields if field.sizes_the_image):
        with pytest.raises(ImageRejected):
            make_renditions(field.write(data, 0), SPECS, max_pixels=MAX_PIXELS)


@settings(max_examples=300, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    choice=st.integers(0, 3),
    value=VALUES,
    other=VALUES,
)
def test_any_declared_size_is_thumbnailed_or_rejected(
    fmt: str, choice: int, value: int, other: int
) -> None:
    data, fields = samples()[fmt]
    first = fields[choice % len(fields)]
    second = fields[(choice + 1) % len(fields)]
    try:
        made = make_renditions(
            second.write(first.write(data, value), other), SPECS, max_pixels=MAX_PIXELS
        )
    except ImageRejected:
        return
    for rendition in made.renditions:
        assert rendition.width >= 1 and rendition.height >= 1
        assert rendition.data
