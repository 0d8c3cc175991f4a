"""Placeholders a page paints before the image loads: a ThumbHash and the dominant colour.

ThumbHash (https://evanw.github.io/thumbhash/) keeps the image's low frequencies in about 25 bytes:
a DCT of the luminance (up to 7x7 terms), two chroma channels (3x3) and alpha (5x5), quantised to
4 bits, with the average colour and aspect ratio in a header. Web pages decode it with the
reference ``thumbhash`` JavaScript package (``thumbHashToDataURL``).

The reference encoder loops over every pixel for every DCT term, about 50 ms here in pure Python on
a 100 px image; numpy is not in the resize image. This one asks Pillow (in C) for everything
per-pixel: the box downscale to at most ``HASH_SIZE`` px (the terms kept are far below that
resolution), the composite onto the average colour, and the RGB -> LPQ colour matrix. Python then
does the separable DCT on ~800 values, one row projection at a time. Bytes match the reference
encoder's for the same input up to one quantisation step (tests/unit/imaging/test_placeholder.py);
the cost is measured by ``make bench`` (bench/test_renditions.py) against the 2 ms budget.

The dominant colour is the most populous colour of a median-cut palette of the same small image,
over its visible (alpha >= 50%) pixels.
"""

from __future__ import annotations

import base64
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import mul
from typing import Final

from PIL import Image, ImageStat

HASH_SIZE: Final = 24  # the image is box-averaged to this longer side first
_PALETTE_COLOURS: Final = 8
_NOISE: Final = 1e-9
# RGB -> (L, P, Q) in 8 bits: L = (r+g+b)/3; P = (r+g)/2 - b and Q = r - g mapped from [-1, 1]
# to [0, 255] (x * 127.5 + 127.5).
_LPQ: Final = (
    1 / 3, 1 / 3, 1 / 3, 0.0,
    63.75 / 255, 63.75 / 255, -127.5 / 255, 127.5,
    127.5 / 255, -127.5 / 255, 0.0, 127.5,
)  # fmt: skip


@dataclass(frozen=True)
class Placeholder:
    thumbhash: str  # base64 of the ThumbHash bytes
    dominant_color: str | None  # "#rrggbb"; None when no pixel is visible


def compute_placeholder(im: Image.Image) -> Placeholder:
    """The placeholder of ``im`` (mode L, LA, RGB or RGBA, any size)."""
    small = _small_rgba(im)
    return Placeholder(
        thumbhash=base64.b64encode(thumbhash(small)).decode("ascii"),
        dominant_color=dominant_color(small),
    )


def _small_rgba(im: Image.Image) -> Image.Image:
    scale = HASH_SIZE / max(im.size)
    if scale < 1:
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        if im.mode in ("RGBA", "LA"):
            # Premultiplied, so transparent pixels' colour does not bleed into the average
            # (Pillow premultiplies RGBA only: grey and alpha becomes RGBA first).
            rgba = im if im.mode == "RGBA" else im.convert("RGBA")
            im = rgba.convert("RGBa").resize(size, Image.Resampling.BOX).convert("RGBA")
        else:
            im = im.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    return im if im.mode == "RGBA" else im.convert("RGBA")


def thumbhash(im: Image.Image) -> bytes:
    """The ThumbHash of an RGBA image of at most 100x100 pixels."""
    w, h = im.size
    if w > 100 or h > 100:
        raise ValueError(f"{w}x{h} does not fit in 100x100")
    alpha = im.getchannel("A")
    alpha_sum = ImageStat.Stat(alpha).sum[0] / 255
    has_alpha = alpha_sum < w * h
    if has_alpha:
        # The average colour, weighted by alpha; the image composited onto it.
        sums = ImageStat.Stat(im.convert("RGBa")).sum
        average = tuple(round(sums[i] / alpha_sum) if alpha_sum else 0 for i in range(3))
        rgb = Image.alpha_composite(Image.new("RGBA", im.size, (*average, 255)), im).convert("RGB")
    else:
        rgb = im.convert("RGB")
    lpq = rgb.convert("RGB", _LPQ)
    l_chan, p_chan, q_chan = (band.tobytes() for band in lpq.split())

    l_limit = 5 if has_alpha else 7
    lx = max(1, _round(l_limit * w / max(w, h)))
    ly = max(1, _round(l_limit * h / max(w, h)))
    l_dc, l_ac, l_scale = _encode_channel(l_chan, w, h, max(3, lx), max(3, ly), 1 / 255, 0.0)
    p_dc, p_ac, p_scale = _encode_channel(p_chan, w, h, 3, 3, 1 / 127.5, -1.0)
    q_dc, q_ac, q_scale = _encode_channel(q_chan, w, h, 3, 3, 1 / 127.5, -1.0)
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alpha.tobytes(), w, h, 5, 5, 1 / 255, 0.0)

    is_landscape = w > h
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if is_landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(is_landscape) << 15)
    )
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    channels = [l_ac, p_ac, q_ac]
    if has_alpha:
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        channels.append(a_ac)
    nibbles = [_round(15 * f) for ac in channels for f in ac]
    if len(nibbles) % 2:
        nibbles.append(0)
    out += [nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2)]
    return bytes(out)


def _round(value: float) -> int:
    """JavaScript's Math.round (half up), as the reference encoder rounds."""
    return math.floor(value + 0.5)


def _encode_channel(
    pixels: bytes, w: int, h: int, nx: int, ny: int, scale: float, offset: float
) -> tuple[float, list[float], float]:
    """DC, normalised AC terms and their scale of one channel whose values are
    ``byte * scale + offset``. The DCT is separable: each row is projected on the x cosines once
    (in C, through map), then each term is a short sum over the rows."""
    rows = [pixels[y * w : (y + 1) * w] for y in range(h)]
    fx, fy = _cosines(w, nx), _cosines(h, ny)
    projected = [[_dot(row, fx[cx]) for row in rows] for cx in range(nx)]
    dc = 0.0
    ac: list[float] = []
    top = 0.0
    count = w * h
    for cy in range(ny):
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = _dot(projected[cx], fy[cy]) * scale / count
            if cx or cy:
                ac.append(f)
                top = max(top, abs(f))
            else:
                dc = f + offset  # the offset survives in the DC term only: cosines sum to 0
            cx += 1
    if top < _NOISE:  # a flat channel (grey's chroma): the reference's exact zeros
        return dc, [0.0] * len(ac), 0.0
    return dc, [0.5 + 0.5 / top * f for f in ac], top


@lru_cache(maxsize=64)
def _cosines(length: int, terms: int) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(math.cos(math.pi / length * c * (i + 0.5)) for i in range(length))
        for c in range(terms)
    )


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(map(mul, a, b)))


if sys.version_info >= (3, 12):
    _dot = math.sumprod  # one C loop: about twice as fast


def dominant_color(im: Image.Image) -> str | None:
    """The most populous colour of a small median-cut palette, over the visible pixels."""
    alpha = im.getchannel("A")
    mask = alpha.point(lambda v: 255 if v >= 128 else 0)
    if mask.getextrema() == (0, 0):
        return None
    palette_image = im.convert("RGB").quantize(_PALETTE_COLOURS, Image.Quantize.MEDIANCUT)
    counts = palette_image.histogram(mask)
    index = max(range(len(counts)), key=counts.__getitem__)
    palette = palette_image.getpalette() or []
    r, g, b = palette[3 * index : 3 * index + 3]
    return f"#{r:02x}{g:02x}{b:02x}"
