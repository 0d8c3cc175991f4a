"""Pixels to bytes: the output format ``auto`` resolves to, alpha flattened where the format has
none, and each encoder with the settings chosen by measurement."""

from __future__ import annotations

import io
from typing import Final

from PIL import Image

from handlers.imaging.colour import has_transparency
from handlers.imaging.renditions import PILLOW_FORMAT, OutputFormat

# JPEG renditions up to this many pixels get optimised Huffman tables (encode).
_OPTIMIZE_MAX_PIXELS: Final = 512 * 512

# WebP and AVIF encoder settings, chosen by measurement (python -m bench.encoders; README's table):
# WebP q80 method 4 scores JPEG q85's PSNR in 10-40% fewer bytes; AVIF q60 speed 8 takes 45-55%
# fewer bytes for 2 dB less PSNR (it smooths grain), at a fifteenth of speed 4's time.
ENCODER_SETTINGS: Final[dict[str, dict[str, object]]] = {
    "WEBP": {"quality": 80, "method": 4},
    "AVIF": {"quality": 60, "speed": 8},
}


def output_format(requested: OutputFormat, im: Image.Image) -> str:
    """Pillow's name of the format a rendition of ``im`` is written in: ``auto`` is PNG where the
    transparency is real, else JPEG."""
    if requested is OutputFormat.AUTO:
        return "PNG" if has_transparency(im) else "JPEG"
    return PILLOW_FORMAT[requested]


def encode(im: Image.Image, out_format: str, quality: int, icc: bytes | None) -> bytes:
    """Encode with the settings chosen by measurement (ENCODER_SETTINGS; bench/encoders.py)."""
    im, icc = _for_format(im, out_format, icc)
    # Images carry their source's info (EXIF, XMP, ...) through Pillow operations; save only
    # what is passed here explicitly.
    im.info = {}
    buffer = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if out_format == "JPEG":
        # Optimised Huffman tables save ~2% of the bytes for three times the encode's time
        # (measured at 1024x768: 9.7 against 3.1 ms): worth it on thumbnails, not on large ones.
        optimize = im.width * im.height <= _OPTIMIZE_MAX_PIXELS
        im.save(buffer, "JPEG", quality=quality, optimize=optimize, **options)
    elif out_format == "PNG":
        im.save(buffer, "PNG", compress_level=6, **options)
    else:
        im.save(buffer, out_format, **ENCODER_SETTINGS[out_format], **options)
    return buffer.getvalue()


def _for_format(
    im: Image.Image, out_format: str, icc: bytes | None
) -> tuple[Image.Image, bytes | None]:
    """``im`` in a mode ``out_format`` holds, and the profile that still describes it."""
    if im.mode in ("RGBA", "LA") and not has_transparency(im):
        im = im.convert(im.mode[:-1])
    if out_format == "JPEG" and im.mode in ("RGBA", "LA"):
        # JPEG has no alpha: flattened onto white, as browsers show transparency on a white page.
        background = Image.new(im.mode, im.size, (255,) * len(im.mode))
        im = Image.alpha_composite(background, im) if im.mode == "RGBA" else _flatten_la(im)
        im = im.convert(im.mode[:-1])
    if out_format == "WEBP" and im.mode in ("L", "LA"):
        # WebP holds colour only, and a grey profile does not describe RGB: plain grey as sRGB.
        im, icc = im.convert("RGBA" if im.mode == "LA" else "RGB"), None
    return im, icc


def _flatten_la(im: Image.Image) -> Image.Image:
    rgba = Image.alpha_composite(
        Image.new("RGBA", im.size, (255, 255, 255, 255)), im.convert("RGBA")
    )
    return rgba.convert("L").convert("LA")
