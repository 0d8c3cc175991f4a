"""libvips (pyvips) where it measured faster than Pillow: streaming decodes and large resamples.

Pillow stays the JPEG front end (its DCT-scaled draft decode is at libjpeg-turbo's floor) and
does mode, colour, orientation, every small resample and every encode. libvips takes two jobs
Pillow does slowly (figures in README, "Why libvips for PNG, lossy WebP and large resamples"):

- 8-bit, non-interlaced PNGs and lossy still WebPs are decoded as a stream and resampled as they
  decode (PNG rows through libspng, WebP through libwebp's scaled decode), so the whole image is
  never held: a 5K screenshot at 128 MB, in a few MB. Pillow decodes the whole image first (and
  WebP through its animation decoder, ~15 bytes a pixel).
- Resampling a large decoded image (a 1024 or 1600 px rendition of a photo) with libvips'
  vectorised lanczos3 instead of Pillow's scalar LANCZOS.

Imported on first use only: a JPEG whose renditions need neither never loads libvips (+15 MB
of resident libraries). One thread, since a Lambda below 1,769 MB has less than one vCPU, and no
operation cache, which would keep pixels between invocations. Where pyvips is not installed
(the dev install without the resize extra's binary), every caller falls back to Pillow.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "Decoded",
    "VipsError",
    "available",
    "load_jpeg_resampled",
    "load_resampled",
    "resample",
    "streams",
]

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPES: Final = frozenset({0, 2, 3, 4, 6})  # grey, RGB, palette, grey+alpha, RGBA
_BANDS_MODE: Final = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}

# From this many source pixels a resample is libvips' lanczos3 rather than Pillow's LANCZOS: 11.6
# against 16.5 ms from 1000x750 to 800 px, the copy in and out included. Smaller sources gain
# less (2.9 against 5.5 ms from 750x500 to 200 px; level from 500x375) than loading libvips costs
# a function whose JPEGs need nothing else from it: 140 ms once, and 13 MB resident.
RESAMPLE_MIN_PIXELS: Final = 600_000
# From this many pixels of a JPEG's DCT-scaled decode libvips decodes it, resampling the rows to
# the base as they come (handlers.imaging.decode.suits_vips_jpeg); below, Pillow's decode and the
# resample above measured as fast.
DECODE_MIN_PIXELS: Final = 1_500_000


class VipsError(Exception):
    """libvips refused the data (truncated, corrupt): the caller's corrupt-image answer."""

    @classmethod
    def of(cls, exc: Exception) -> VipsError:
        """libvips' error, by its first line (the rest is its call stack)."""
        message = str(exc).strip()
        return cls(message.splitlines()[0] if message else "")


@cache
def _pyvips() -> ModuleType | None:
    try:
        import pyvips
    except (ImportError, OSError):  # not installed, or its shared library is missing
        return None
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    # libvips' warnings on a broken file ("not enough data") come before the error that refuses
    # it; the refusal is the answer, so they are not logged a second time.
    logging.getLogger("pyvips").setLevel(logging.ERROR)
    module: ModuleType = pyvips
    return module


def available() -> bool:
    return _pyvips() is not None


def streams(data: bytes) -> str | None:
    """The format libvips decodes as a stream here ("PNG" or "WEBP"), or None: 16-bit,
    interlaced or sub-byte PNGs, lossless or animated WebPs and everything else stay with Pillow,
    whose whole-image decode the budget prices."""
    if data.startswith(_PNG_SIGNATURE):
        if len(data) < 33 or data[12:16] != b"IHDR":
            return None
        depth, colour, interlace = data[24], data[25], data[28]
        return "PNG" if depth == 8 and colour in _PNG_COLOUR_TYPES and interlace == 0 else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP" if _lossy_still_webp(data) else None
    return None


def _lossy_still_webp(data: bytes) -> bool:
    pos, end = 12, len(data)
    animated = False
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if fourcc == b"VP8X":
            animated = bool(data[pos + 8] & 0x02) if pos + 8 < end else True
        elif fourcc == b"VP8 ":
            return not animated
        elif fourcc in (b"VP8L", b"ANMF"):
            return False
        pos += 8 + size + (size & 1)
    return False


def declares_icc(data: bytes) -> bool:
    """True when a file ``streams`` accepted carries an ICC profile: a PNG's iCCP chunk (before
    its first IDAT), a WebP's ICCP chunk. libvips drops one it cannot read (a damaged stream,
    libspng's size limits) without a word; this says there was one to drop."""
    if data.startswith(_PNG_SIGNATURE):
        pos, end = 8, len(data)
        while pos + 8 <= end:
            (size,) = struct.unpack_from(">I", data, pos)
            kind = data[pos + 4 : pos + 8]
            if kind == b"iCCP":
                return True
            if kind == b"IDAT":
                return False
            pos += 12 + size
        return False
    pos, end = 12, len(data)
    while pos + 8 <= end:
        fourcc = data[pos : pos + 4]
        if fourcc == b"ICCP":
            return True
        if fourcc in (b"VP8 ", b"VP8L", b"ANMF"):
            return False
        (size,) = struct.unpack_from("<I", data, pos + 4)
        pos += 8 + size + (size & 1)
    return False


@dataclass(frozen=True)
class Decoded:
    image: Image.Image  # L, LA, RGB or RGBA
    orientation: int  # EXIF orientation, 1 when none
    icc: bytes | None  # the embedded ICC profile


def load_resampled(data: bytes, size: tuple[int, int]) -> Decoded:
    """Decode ``data`` (a format ``streams`` accepted) straight to ``size`` with lanczos3, alpha
    premultiplied while resampling, as a Pillow image, with the orientation and profile libvips
    read from the file. Raises VipsError for data libvips refuses."""
    vips = _pyvips()
    assert vips is not None, "check available() first"
    try:
        # thumbnail_buffer shrinks on load where the format can (WebP's scaled decode) and
        # streams the rest; size="force" gives exactly ``size``; orientation and colour are
        # left to the Pillow pipeline, which applies them to every format alike.
        # fail_on=error: a truncated or corrupt file is refused, not padded with black rows.
        image = vips.Image.thumbnail_buffer(
            data,
            size[0],
            height=size[1],
            size="force",
            no_rotate=True,
            option_string="fail_on=error",
        )
        orientation = _int_field(image, "orientation") or 1
        icc = _bytes_field(image, "icc-profile-data")
        return Decoded(_to_pillow(image), orientation if 1 <= orientation <= 8 else 1, icc)
    except vips.Error as exc:
        raise VipsError.of(exc) from exc


def load_jpeg_resampled(data: bytes, shrink: int, size: tuple[int, int]) -> Image.Image:
    """A JPEG decoded by libjpeg-turbo at 1/``shrink`` (its DCT scaling, as Pillow's draft()),
    resampled with lanczos3 to exactly ``size`` as the rows come. Raises VipsError."""
    vips = _pyvips()
    assert vips is not None, "check available() first"
    try:
        image = vips.Image.jpegload_buffer(
            data, shrink=shrink, access="sequential", fail_on="error", autorotate=False
        )
        image = image.thumbnail_image(size[0], height=size[1], size="force", no_rotate=True)
        return _to_pillow(image)
    except vips.Error as exc:
        raise VipsError.of(exc) from exc


def _int_field(image: Any, name: str) -> int:
    return int(image.get(name)) if image.get_typeof(name) != 0 else 0


def _bytes_field(image: Any, name: str) -> bytes | None:
    return bytes(image.get(name)) or None if image.get_typeof(name) != 0 else None


def resample(im: Image.Image, size: tuple[int, int]) -> Image.Image | None:
    """``im`` resampled to ``size`` with libvips' lanczos3, or None when libvips is not there
    or would not give exactly ``size`` (the caller then uses Pillow). Premultiplied modes (RGBa,
    La) stay premultiplied: libvips filters the numbers it is given."""
    vips = _pyvips()
    if vips is None or im.mode not in ("L", "La", "LA", "RGB", "RGBa", "RGBA"):
        return None
    source = vips.Image.new_from_memory(im.tobytes(), im.width, im.height, len(im.mode), "uchar")
    out = source.resize(size[0] / im.width, vscale=size[1] / im.height, kernel="lanczos3")
    if (out.width, out.height) != size:
        return None
    return Image.frombuffer(im.mode, size, out.write_to_memory(), "raw", im.mode, 0, 1)


def _to_pillow(image: Any) -> Image.Image:
    if image.format != "uchar":
        image = image.cast("uchar")
    mode = _BANDS_MODE.get(image.bands)
    if mode is None:
        raise VipsError(f"{image.bands} bands")
    return Image.frombuffer(
        mode, (image.width, image.height), image.write_to_memory(), "raw", mode, 0, 1
    )
