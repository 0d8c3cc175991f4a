"""Where a box rendition is cut from its cover image (handlers.imaging.sizing.cover_size): the
uploader's focal point when there is one, else the spec's position (handlers.imaging.renditions.
Position): ``attention``, ``entropy`` or ``centre``. Pure Pillow, no pixels kept.

Both guesses look at a small analysis map (``ANALYSIS_SIDE`` px on its longer side), so their
cost does not grow with the image:

- ``attention`` (after libvips' smartcrop): a saliency map that adds edges (Pillow's Laplacian on
  the grey image), saturated colour (HSV saturation weighted by brightness) and skin tones
  (a classic RGB rule), blurred; the window is centred on its peak.
- ``entropy``: of the windows along the free axis, the one whose grey histogram has the most
  entropy (the most detail); ties go to the one nearest the centre.

One implementation whether or not libvips is installed, so the crop an upload gets does not
depend on the container it ran in. The window is then placed so its centre is as close to the
chosen point as the image allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageChops, ImageFilter

from handlers.imaging.renditions import Position
from handlers.imaging.sizing import Size, fit_within

ANALYSIS_SIDE: Final = 128  # the analysis map's longer side, in pixels
_ENTROPY_STEPS: Final = 32  # windows tried along the free axis, at most
# The saliency terms' weights (edges, saturation, skin), summed into one 8-bit map.
_ATTENTION_WEIGHTS: Final = (0.4, 0.3, 0.3, 0.0)


class InvalidFocus(ValueError):
    """A focal point that is not two numbers in [0, 1]."""


@dataclass(frozen=True)
class Focus:
    """A point as fractions of the width and height of the image as displayed (after EXIF
    orientation), 0,0 its top-left corner: ``x-amz-meta-focus: 0.3,0.6``."""

    x: float
    y: float

    @classmethod
    def parse(cls, text: str) -> Focus:
        """``"x,y"``; raises InvalidFocus saying what is wrong."""
        parts = text.split(",")
        if len(parts) != 2:
            raise InvalidFocus(f"focus {text[:40]!r} is not x,y (e.g. 0.3,0.6)")
        try:
            x, y = (float(part) for part in parts)
        except ValueError:
            raise InvalidFocus(f"focus {text[:40]!r} is not two numbers") from None
        if not (0 <= x <= 1 and 0 <= y <= 1):  # also refuses nan
            raise InvalidFocus(f"focus {text[:40]!r} is outside 0..1")
        return cls(x, y)


@dataclass(frozen=True)
class Rect:
    left: int
    top: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """As Pillow's crop() takes it: left, top, right, bottom."""
        return self.left, self.top, self.left + self.width, self.top + self.height


def choose(im: Image.Image, window: Size, position: Position, focus: Focus | None = None) -> Rect:
    """The ``window``-sized rectangle of ``im`` (upright, at least ``window`` on each side) to
    keep: around ``focus`` when given, else where ``position`` says."""
    if focus is not None:
        centre = (focus.x * im.width, focus.y * im.height)
    elif position is Position.ATTENTION:
        centre = _attention(im)
    elif position is Position.ENTROPY:
        centre = _entropy(im, window)
    else:
        centre = (im.width / 2, im.height / 2)
    return Rect(
        _place(centre[0], window[0], im.width),
        _place(centre[1], window[1], im.height),
        window[0],
        window[1],
    )


def to_source(rect: Rect, made_from: Size, source: Size) -> Rect:
    """``rect``, cut from an image of size ``made_from``, in the pixels of the ``source`` it was
    scaled from (both upright): what a page needs to draw the same crop."""
    sx, sy = source[0] / made_from[0], source[1] / made_from[1]
    left, top = round(rect.left * sx), round(rect.top * sy)
    right = min(source[0], round((rect.left + rect.width) * sx))
    bottom = min(source[1], round((rect.top + rect.height) * sy))
    return Rect(left, top, max(1, right - left), max(1, bottom - top))


def _place(centre: float, side: int, total: int) -> int:
    """The offset of a ``side`` window along a ``total`` axis whose centre is nearest ``centre``."""
    return min(max(round(centre - side / 2), 0), total - side)


def _analysis(im: Image.Image) -> Image.Image:
    """``im`` in RGB at most ANALYSIS_SIDE px on its longer side (a box filter: an average)."""
    small = im.resize(fit_within(im.size, ANALYSIS_SIDE), Image.Resampling.BOX)
    return small if small.mode == "RGB" else small.convert("RGB")


def _attention(im: Image.Image) -> tuple[float, float]:
    """The centre of the saliency map's peak, in ``im``'s pixels."""
    rgb = _analysis(im)
    edges = rgb.convert("L").filter(ImageFilter.FIND_EDGES)
    _, saturation, value = rgb.convert("HSV").split()
    chroma = ImageChops.multiply(saturation, value)  # saturation that shows: not in the dark
    score = Image.merge("RGB", (edges, chroma, _skin(rgb))).convert("L", _ATTENTION_WEIGHTS)
    blurred = score.filter(ImageFilter.GaussianBlur(max(rgb.size) / 16))
    peak = blurred.getextrema()[1]
    assert isinstance(peak, int)
    if peak == 0:
        return im.width / 2, im.height / 2  # nothing stands out
    left, top, right, bottom = blurred.point(lambda v: 255 if v >= peak else 0).getbbox() or (
        0,
        0,
        rgb.width,
        rgb.height,
    )
    scale = im.width / rgb.width, im.height / rgb.height
    return (left + right) / 2 * scale[0], (top + bottom) / 2 * scale[1]


def _skin(rgb: Image.Image) -> Image.Image:
    """255 where a pixel has a skin tone (R>95, G>40, B>20, R exceeding G and B by 15), else 0."""
    r, g, b = rgb.split()
    masks = (
        r.point(lambda v: 255 if v > 95 else 0),
        g.point(lambda v: 255 if v > 40 else 0),
        b.point(lambda v: 255 if v > 20 else 0),
        ImageChops.subtract(r, g).point(lambda v: 255 if v > 15 else 0),
        ImageChops.subtract(r, b).point(lambda v: 255 if v > 15 else 0),
    )
    skin = masks[0]
    for mask in masks[1:]:
        skin = ImageChops.darker(skin, mask)  # AND of 0/255 masks
    return skin


def _entropy(im: Image.Image, window: Size) -> tuple[float, float]:
    """The centre of the window, along the free axis, whose grey histogram has the most
    entropy (ties: the one nearest the image's centre), in ``im``'s pixels."""
    grey = _analysis(im).convert("L")
    scale = grey.width / im.width, grey.height / im.height
    # The window in the map's pixels (at least one), and how far it can slide on each axis.
    w = min(grey.width, max(1, round(window[0] * scale[0])))
    h = min(grey.height, max(1, round(window[1] * scale[1])))
    free = grey.width - w, grey.height - h
    steps = max(free)
    if steps == 0:
        return im.width / 2, im.height / 2
    count = min(steps, _ENTROPY_STEPS)
    best: tuple[float, float, tuple[int, int]] | None = None
    for i in range(count + 1):
        offset = (round(free[0] * i / count), round(free[1] * i / count))
        entropy = grey.crop((offset[0], offset[1], offset[0] + w, offset[1] + h)).entropy()
        off_centre = math.hypot(offset[0] - free[0] / 2, offset[1] - free[1] / 2)
        # Entropy compared to 1e-6: equal histograms tie, then the nearer the centre wins.
        candidate = (round(entropy, 6), -off_centre, offset)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    assert best is not None
    offset = best[2]
    return (offset[0] + w / 2) / scale[0], (offset[1] + h / 2) / scale[1]
