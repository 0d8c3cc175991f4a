"""How close a thumbnail is to a reference: PSNR against a full-decode LANCZOS resize.

The reference for an image at a size is Pillow's full decode of the original, turned as its EXIF
orientation says (what a viewer shows), resized with LANCZOS straight to the thumbnail's own
width and height in 8-bit sRGB (no conversion to linear light: what every method here does). Both
the reference and the thumbnail (decoded back from its bytes) are composited over black when they
have an alpha channel (what a JPEG encoder dropping alpha shows), then compared as 8-bit RGB:

    PSNR = 10 * log10(255^2 / MSE), MSE over every pixel and channel; infinite when identical.

A thumbnail whose orientation is not the displayed one (a method ignoring EXIF orientation) has
no PSNR: ``None``, and ``oriented`` says why.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps


@dataclass(frozen=True)
class Quality:
    psnr_db: float | None  # None: the thumbnail is not the displayed orientation
    width: int
    height: int
    oriented: bool


def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR of two images of the same size, as 8-bit RGB over black."""
    if a.size != b.size:
        raise ValueError(f"sizes differ: {a.size} and {b.size}")
    x = np.asarray(_over_black(a), dtype=np.float64)
    y = np.asarray(_over_black(b), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _over_black(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return im.convert("RGB")


@lru_cache(maxsize=2)
def _displayed(data: bytes) -> Image.Image:
    """The full decode, oriented as displayed (cached: one source, many sizes and methods)."""
    im = Image.open(io.BytesIO(data))
    im.load()
    oriented = ImageOps.exif_transpose(im)
    mode = "RGBA" if "A" in oriented.getbands() or "transparency" in oriented.info else "RGB"
    return oriented.convert(mode)


def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The full-decode LANCZOS reference of ``data`` at ``size`` (width, height)."""
    return _displayed(data).resize(size, Image.Resampling.LANCZOS)


def measure(source: bytes, thumbnail: bytes) -> Quality:
    """The thumbnail's PSNR against the reference at the thumbnail's own size."""
    out = Image.open(io.BytesIO(thumbnail))
    out.load()
    shown = _displayed(source).size
    landscape_out, landscape_shown = out.width >= out.height, shown[0] >= shown[1]
    if shown[0] != shown[1] and landscape_out != landscape_shown:
        return Quality(None, out.width, out.height, oriented=False)
    return Quality(psnr(out, reference(source, out.size)), out.width, out.height, oriented=True)
