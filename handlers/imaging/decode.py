"""Bytes to pixels: Pillow's decoders (the formats thumbstat reads, the ISOBMFF plugins loaded on
first use) and libvips' two decodes that resample as they go (handlers.imaging.vips).

Every decode gives a ``Decoded``: the image in L, LA, RGB, RGBA or CMYK (8 bits a channel), the
EXIF orientation still to apply and the ICC profile its colours are in. Malformed data is refused
as ``corrupt``, an allocation the decode budget missed as ``too-large``: never retried.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Final

from PIL import (  # noqa: F401 (plugins imported to register their formats)
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import nclx, vips
from handlers.imaging.limits import MAX_ICC_BYTES
from handlers.imaging.sizing import Size, base_size, draft_scale

# HEIF (phones' HEIC) from pillow-heif, in the resize image and the dev install; its plugin and
# Pillow's AVIF one are loaded when the first ISOBMFF file arrives (_load_isobmff_plugins).
_HEIF: tuple[str, ...] = ("HEIF",) if importlib.util.find_spec("pillow_heif") else ()

# Formats with safe, in-process decoders (JPEG includes MPO). EPS (Ghostscript) and the rest are
# refused unopened. The plugin imports above (and _load_isobmff_plugins) register exactly these,
# which also spares Image.open() from importing all ~40 plugins on first use.
READABLE_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "AVIF", *_HEIF)

# Pillow's own bomb check counts header pixels, which would refuse a huge JPEG that draft mode
# decodes in a few MB. The pixel budget in make_renditions, and handlers.imaging.budget's check
# of what each decoder allocates (before Image.open, which allocates some of it), replace it.
Image.MAX_IMAGE_PIXELS = None

# What Pillow's decoders raise on malformed input (SyntaxError is its "not this format" signal;
# libavif's failures on corrupt data come out of Pillow's _avif.c as RuntimeError).
_DECODE_ERRORS: Final = (
    OSError,
    RuntimeError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)

_EXIF_ORIENTATION_TAG: Final = 0x0112


def _png_icc_chunk(stream: PngImagePlugin.PngStream, pos: int, length: int) -> bytes:
    """Pillow's iCCP reader, with the profile's limit at MAX_ICC_BYTES instead of its text limit
    (1 MB, which refuses a legitimate PNG whose large profile every viewer shows): a profile over
    it, like a damaged one, is dropped and the colours taken as sRGB. The decode budget prices
    the profile the same way (handlers.imaging.budget.png.icc_size)."""
    assert stream.fp is not None
    chunk = ImageFile._safe_read(stream.fp, length)
    name_end = chunk.find(b"\0")
    if name_end < 0 or chunk[name_end + 1 : name_end + 2] != b"\0":
        raise SyntaxError("unknown compression method in the iCCP chunk")
    inflate = zlib.decompressobj()
    try:
        # A view, not a slice: the compressed stream is not copied beside the chunk.
        profile: bytes | None = inflate.decompress(memoryview(chunk)[name_end + 2 :], MAX_ICC_BYTES)
        if inflate.unconsumed_tail or inflate.decompress(b"", 1):
            profile = None
            stream.im_info[ICC_DROPPED] = too_large_icc()
    except zlib.error:
        profile = None
        stream.im_info[ICC_DROPPED] = "a damaged ICC profile (its compressed stream)"
    stream.im_info["icc_profile"] = profile
    return chunk


PngImagePlugin.PngStream.chunk_iCCP = _png_icc_chunk  # type: ignore[method-assign,assignment]


@dataclass(frozen=True)
class Decoded:
    image: Image.Image  # L, LA, RGB, RGBA or CMYK
    orientation: int  # EXIF orientation, 1 when none
    icc: bytes | None  # the profile of the image's colours
    # Why the file's ICC profile is not ``icc`` (too large, damaged): its colours are taken as
    # sRGB, as an untagged image's are. Empty when it was kept, or there was none.
    icc_dropped: str = ""


@cache
def _load_isobmff_plugins() -> None:
    """Pillow's AVIF plugin (libavif) and pillow-heif (libheif), loaded on first use: 56 ms of
    a cold start and 10.6 MB resident (measured) that a function seeing only JPEGs, PNGs and
    WebPs never pays. libheif applies the irot/imir transforms while decoding and pillow-heif
    resets the EXIF orientation to 1, so orientation is applied exactly once."""
    from PIL import AvifImagePlugin  # noqa: F401 (registers AVIF)

    if _HEIF:
        import pillow_heif

        # Only the primary image: no depth maps, auxiliary images or embedded thumbnails.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def open_image(data: bytes) -> ImageFile.ImageFile:
    """Pillow's lazy open: the header read, no pixels decoded yet."""
    # Only the formats registered: naming another would make Image.open import every plugin.
    formats = [f for f in READABLE_FORMATS if f in Image.OPEN]
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            RejectReason.UNSUPPORTED,
            "not an image format thumbstat reads (" + ", ".join(READABLE_FORMATS) + ")",
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"unreadable image header: {exc}") from exc
    except MemoryError as exc:
        raise ImageRejected(RejectReason.TOO_LARGE, "the decoder ran out of memory") from exc


def streamed_format(data: bytes) -> str | None:
    """The format libvips decodes ``data`` as a stream here ("PNG" or "WEBP", vips.streams), or
    None: Pillow decodes it (as everything, where libvips is not installed)."""
    streamed = vips.streams(data)
    return streamed if streamed and vips.available() else None


@contextmanager
def refusing() -> Iterator[None]:
    """Pixel work on decoded data: what Pillow raises on malformed data refused as corrupt, an
    allocation the estimate missed as too large (refused, never retried)."""
    try:
        yield
    except _DECODE_ERRORS as exc:
        raise corrupt(exc) from exc
    except MemoryError as exc:
        raise ImageRejected(RejectReason.TOO_LARGE, "the decoder ran out of memory") from exc


def corrupt(exc: BaseException) -> ImageRejected:
    return ImageRejected(RejectReason.CORRUPT, f"image data is truncated or corrupt: {exc}")


def too_large(size: Size, source_format: str, decoded: int, limit: int) -> ImageRejected:
    return ImageRejected(
        RejectReason.TOO_LARGE,
        f"{size[0]}x{size[1]} {source_format} would decode to {decoded:,} pixels, over the "
        f"limit of {limit:,}",
    )


def load(source: ImageFile.ImageFile) -> Decoded:
    """Pillow's decode of the opened ``source`` (draft() already applied), in one of the modes
    ``Decoded`` names. ``source`` is closed when a conversion made a copy of it."""
    with refusing():
        source.load()
        orientation = _orientation(source)
        icc = source.info.get("icc_profile") or nclx.icc_for(source.info.get("nclx_profile"))
        image = _normalise_mode(source)
    if image is not source:
        source.close()  # the decoded pixels, freed before the base is made from the copy
    return Decoded(image, orientation, *bounded_icc(icc, source.info.get(ICC_DROPPED, "")))


# The key of Pillow's ``info`` under which the PNG reader (_png_icc_chunk) says why it dropped a
# profile.
ICC_DROPPED: Final = "thumbstat_icc_dropped"


def too_large_icc() -> str:
    return f"an ICC profile over {MAX_ICC_BYTES:,} bytes"


def bounded_icc(icc: bytes | None, dropped: str = "") -> tuple[bytes | None, str]:
    """The profile to honour and, when there is one it is not, why: None past MAX_ICC_BYTES, so a
    huge one is neither parsed by lcms nor embedded in a rendition (the colours are taken as
    sRGB, as for an untagged image). ``dropped``: why a reader already dropped one."""
    if icc and len(icc) > MAX_ICC_BYTES:
        return None, too_large_icc()
    return icc or None, dropped


def suits_vips_jpeg(source: ImageFile.ImageFile) -> bool:
    """True when libvips should decode the JPEG ``source`` (opened, draft() applied): a large
    rendition of an 8-bit grey or RGB photo, which libvips resamples as its rows come."""
    return (
        source.format == "JPEG"
        and source.mode in ("L", "RGB")
        and source.width * source.height >= vips.DECODE_MIN_PIXELS
        and vips.available()
    )


def load_jpeg_with_vips(
    source: ImageFile.ImageFile, source_size: Size, data: bytes, sizes: list[Size]
) -> Decoded:
    """The JPEG ``source`` (opened, draft() applied) decoded by libvips at the draft's scale
    straight to ``base_size``, so the megapixel decode is never held nor copied out of Pillow;
    orientation and profile from Pillow's header. ``source`` is closed."""
    shrink = draft_scale(source_size, source.size)
    orientation = _orientation(source)
    icc = source.info.get("icc_profile")
    size = base_size(source.size, sizes)
    source.close()
    try:
        image = vips.load_jpeg_resampled(data, shrink, size)
    except vips.VipsError as exc:
        raise corrupt(exc) from exc
    return Decoded(image, orientation, *bounded_icc(icc))


def load_streamed(data: bytes, size: Size) -> Decoded:
    """libvips' streaming decode (a format ``vips.streams`` accepted) straight to ``size``, with
    the EXIF orientation and the ICC profile it read."""
    try:
        decoded = vips.load_resampled(data, size)
    except vips.VipsError as exc:
        raise corrupt(exc) from exc
    unread = (
        ""
        if decoded.icc or not vips.declares_icc(data)
        else "an ICC profile libvips could not read"
    )
    return Decoded(decoded.image, decoded.orientation, *bounded_icc(decoded.icc, unread))


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return 1  # a broken EXIF block is no reason to refuse the pixels
    return value if isinstance(value, int) else 1


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, LA, RGB, RGBA or CMYK (8 bits a channel)."""
    mode = im.mode
    has_key_colour = "transparency" in im.info
    if mode in ("L", "RGB"):
        return im.convert(mode + "A") if has_key_colour else im
    if mode in ("LA", "RGBA", "CMYK"):
        return im
    if mode in ("La", "RGBa"):
        return im.convert(mode.upper())
    if mode in ("P", "PA"):
        return im.convert("RGBA" if has_key_colour or mode == "PA" else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I") or mode == "F":
        return _wide_grey_to_l(im)
    return im.convert("RGB")


def _wide_grey_to_l(im: Image.Image) -> Image.Image:
    """16-bit (and wider) grey scaled to 8 bits, rather than everything above 255 clipped to
    white."""
    wide = im.convert("I") if im.mode.startswith("I;16") else im
    top = wide.getextrema()[1]
    if isinstance(top, (int, float)) and top > 255:
        wide = wide.point(lambda v: v / 256)
    return wide.convert("L")
