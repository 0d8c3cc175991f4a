"""The thumbnail core: bytes in, a thumbnail and its facts out. No AWS here.

The pipeline does as little pixel work as the output allows:

1. refuse, from the file's structure and before any decoder runs, what the decoders would allocate
   beyond the budget (handlers.decode_budget); open lazily and check the pixel budget against
   what will really be decoded;
2. JPEG: ``Image.draft()`` lets libjpeg-turbo decode at 1/2, 1/4 or 1/8 scale (DCT scaling), the
   cheapest decode there is;
3. ``Image.reduce()`` by the largest integer factor that keeps the image at least
   ``_RESAMPLE_GAP`` times the target, a fast box filter;
4. a LANCZOS resample to the exact size, on what is left;
5. colour (CMYK and ICC to sRGB) and EXIF orientation applied to the small image, then encode.
"""

from __future__ import annotations

import io
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from PIL import (  # noqa: F401 (plugins imported to register their formats)
    AvifImagePlugin,
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

from handlers import decode_budget
from handlers.errors import ImageRejected, RejectReason
from handlers.limits import BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from PIL.ImageCms import ImageCmsTransform

__all__ = ["DEFAULT_MAX_PIXELS", "ImageRejected", "RejectReason", "Thumbnail", "make_thumbnail"]

# Formats with safe, in-process decoders (JPEG includes MPO). EPS (Ghostscript) and the rest are
# refused unopened. The plugin imports above register exactly these, which also spares
# Image.open() from importing all ~40 plugins on first use.
READABLE_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "AVIF")

# The decoded image is kept at least this many times the target before the final LANCZOS
# resample; below 2 the box-filtered draft/reduce steps start to show as aliasing.
_RESAMPLE_GAP: Final = 2

# Pillow's own bomb check counts header pixels, which would refuse a huge JPEG that draft mode
# decodes in a few MB. The pixel budget in make_thumbnail, and handlers.decode_budget's check of
# what each decoder allocates (before Image.open, which allocates some of it), replace it.
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

_CONTENT_TYPES: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# EXIF orientation -> the transpose that displays the image upright.
_ORIENTATION: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG: Final = 0x0112


@dataclass(frozen=True)
class Thumbnail:
    data: bytes  # encoded output
    width: int
    height: int
    format: str  # "JPEG", "PNG" or "WEBP"
    content_type: str
    source_format: str
    source_width: int
    source_height: int
    decode_ms: float = 0.0  # open, decode and resize
    encode_ms: float = 0.0


def make_thumbnail(
    data: bytes,
    *,
    max_size: int = 200,
    quality: int = 85,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Thumbnail:
    """Make a thumbnail whose longer side is ``max_size`` (never upscaled).

    Opaque images become JPEG, images with real transparency PNG. EXIF (GPS included) is never
    copied; colours are converted to sRGB, except grey images, which keep their ICC profile.
    ``max_pixels`` is the budget: at most that many decoded pixels, and the decode's estimated
    peak (handlers.decode_budget) within ``max_pixels * BUDGET_BYTES_PER_PIXEL`` bytes.
    Raises ImageRejected for input that no retry will fix.
    """
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    if not 1 <= quality <= 100:
        raise ValueError("quality must be between 1 and 100")
    if not data:
        raise ImageRejected(RejectReason.EMPTY, "the object is empty")

    started = time.perf_counter()
    decode_budget.check(
        data,
        READABLE_FORMATS,
        budget=max_pixels * BUDGET_BYTES_PER_PIXEL,
        draft=lambda size: _draft_request(size, max_size),
    )
    source = _open(data)
    source_format = str(source.format)
    source_size = source.size
    target = fit_within(source_size, max_size)

    request = _draft_request(source_size, max_size)
    if source_format in ("JPEG", "MPO") and request:
        source.draft(None, request)
    decoded = source.width * source.height
    if decoded > max_pixels:
        raise ImageRejected(
            RejectReason.TOO_LARGE,
            f"{source_size[0]}x{source_size[1]} {source_format} would decode to {decoded:,} "
            f"pixels, over the limit of {max_pixels:,}",
        )
    try:
        source.load()
        orientation = _orientation(source)
        icc = source.info.get("icc_profile") or None
        im = _shrink(_normalise_mode(source), target)
        im, icc = _to_srgb(im, icc)
    except _DECODE_ERRORS as exc:
        raise ImageRejected(
            RejectReason.CORRUPT, f"image data is truncated or corrupt: {exc}"
        ) from exc
    except MemoryError as exc:  # an allocation the estimate missed: refuse, never retry
        raise ImageRejected(RejectReason.TOO_LARGE, "the decoder ran out of memory") from exc
    if orientation in _ORIENTATION:
        im = im.transpose(_ORIENTATION[orientation])
    im = _drop_opaque_alpha(im)
    decoded_at = time.perf_counter()

    out_format = "PNG" if im.mode in ("RGBA", "LA") else "JPEG"
    encoded = _encode(im, out_format, quality, icc)
    return Thumbnail(
        data=encoded,
        width=im.width,
        height=im.height,
        format=out_format,
        content_type=_CONTENT_TYPES[out_format],
        source_format=source_format,
        source_width=source_size[0],
        source_height=source_size[1],
        decode_ms=(decoded_at - started) * 1000,
        encode_ms=(time.perf_counter() - decoded_at) * 1000,
    )


def fit_within(size: tuple[int, int], max_size: int) -> tuple[int, int]:
    """The size whose longer side is ``max_size``, aspect kept; ``size`` if already smaller."""
    width, height = size
    longest = max(width, height)
    if longest <= max_size:
        return size
    scale = max_size / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _draft_request(size: tuple[int, int], max_size: int) -> tuple[int, int] | None:
    """The size draft() is asked for: the target times _RESAMPLE_GAP, or None (no draft)."""
    target = fit_within(size, max_size)
    return None if target == size else (target[0] * _RESAMPLE_GAP, target[1] * _RESAMPLE_GAP)


def _open(data: bytes) -> ImageFile.ImageFile:
    try:
        return Image.open(io.BytesIO(data), formats=READABLE_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            RejectReason.UNSUPPORTED,
            "not an image format thumbstat reads (" + ", ".join(READABLE_FORMATS) + ")",
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"unreadable image header: {exc}") from exc
    except MemoryError as exc:
        raise ImageRejected(RejectReason.TOO_LARGE, "the decoder ran out of memory") from exc


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
        # 16-bit (and wider) grey: scale to 8 bits rather than clip everything above 255 to white.
        wide = im.convert("I") if mode.startswith("I;16") else im
        top = wide.getextrema()[1]
        if isinstance(top, (int, float)) and top > 255:
            wide = wide.point(lambda v: v / 256)
        return wide.convert("L")
    return im.convert("RGB")


def _shrink(im: Image.Image, target: tuple[int, int]) -> Image.Image:
    if im.size == target:
        return im
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(im.mode)
    if premultiplied:
        # Resample colour weighted by alpha, so transparent pixels leave no dark fringes.
        im = im.convert(premultiplied)
    factor = min(im.width // (target[0] * _RESAMPLE_GAP), im.height // (target[1] * _RESAMPLE_GAP))
    if factor > 1:
        im = im.reduce(factor)
    im = im.resize(target, Image.Resampling.LANCZOS)
    return im.convert(im.mode.upper()) if premultiplied else im


@lru_cache(maxsize=8)
def _srgb_transform(icc: bytes) -> ImageCmsTransform | None:
    """The profile-to-sRGB transform, cached: camera photos share a handful of profiles and
    building a transform costs more than applying it to a thumbnail."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        in_mode = "CMYK" if source.profile.xcolor_space.strip() == "CMYK" else "RGB"
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.buildTransform(source, srgb, in_mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # unusable profile


def _to_srgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert to sRGB with the embedded profile. Returns the image and the profile to embed."""
    if im.mode in ("L", "LA"):
        return im, icc  # grey profiles are small and converting grey to RGB triples the bytes
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    colour = im.convert("RGB") if alpha is not None else im
    transform = _srgb_transform(icc) if icc else None
    if transform is not None and transform.input_mode == colour.mode:
        converted = transform.apply(colour)
    else:
        # Untagged (or unusably tagged) pixels are taken as sRGB already; untagged CMYK gets the
        # device conversion browsers apply to untagged CMYK JPEGs.
        converted = colour.convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, None


def _drop_opaque_alpha(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() == (255, 255):
        return im.convert(im.mode[:-1])
    return im


def _encode(im: Image.Image, out_format: str, quality: int, icc: bytes | None) -> bytes:
    # Images carry their source's info (EXIF, XMP, ...) through Pillow operations; save only
    # what is passed here explicitly.
    im.info = {}
    buffer = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if out_format == "JPEG":
        im.save(buffer, "JPEG", quality=quality, optimize=True, **options)
    else:
        im.save(buffer, "PNG", compress_level=6, **options)
    return buffer.getvalue()
