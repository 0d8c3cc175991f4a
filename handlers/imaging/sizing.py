"""The geometry of renditions: their sizes, the DCT scale draft() decodes at and the factor
``reduce()`` boxes by. Pure arithmetic on sizes, no pixels.

Sizes are ``(width, height)``. ``sizes`` lists are every rendition's size, largest first, each
once (``rendition_sizes``); a box rendition's is the size of the image it is cropped from (its
``cover_size``), in the stored frame: for EXIF orientations 5 to 8 the box is fitted to the
upright image and the size turned back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

from handlers.imaging.renditions import RenditionSpec

Size = tuple[int, int]

# The decoded image is kept at least this many times the target before the final LANCZOS
# resample; below 2 the box-filtered reduce() steps start to show as aliasing.
RESAMPLE_GAP: Final = 2

# EXIF orientations from this one on (5 to 8) swap width and height.
TRANSPOSING: Final = 5

# How many times the target a DCT-scaled decode must leave, at every scale draft() decodes at:
# the rule libvips' shrink-on-load follows in sharp (the smallest scale leaving at least
# 1.25x, then lanczos3 the rest), so the renditions are as close to a full decode's LANCZOS as
# sharp's: within 0.02 dB of PSNR up to 1024 px, 0.2 dB under at 1600. 2x at 1/8 and 1/4
# (pyvips' thumbnail) keeps up to 0.9 dB more at 400 and 800 px, for a decode twice to four times
# as large: 35-40% more time for those sizes (python -m bench.peers.compare). libjpeg-turbo's
# 3/8 scale (Pillow's decoder reaches it with a scale denominator of 3) measured no faster than
# 1/2: its 3x3 inverse DCT is not vectorised.
DRAFT_GAP: Final = 1.25


def fit_within(size: Size, max_size: int) -> Size:
    """The size whose longer side is ``max_size``, aspect kept; ``size`` if already smaller.

    Rounded as Pillow's ``Image.thumbnail()`` rounds (the side that is not ``max_size`` takes
    whichever neighbouring whole number keeps the aspect ratio closest), which is what libvips and
    sharp give too: 3840x2160 to 200 is 200x113.
    """
    width, height = size
    if max(width, height) <= max_size:
        return size
    aspect = width / height
    if aspect <= 1:  # portrait or square: the height is max_size
        x = _round_aspect(max_size * aspect, lambda n: abs(aspect - n / max_size))
        return x, max_size
    y = _round_aspect(max_size / aspect, lambda n: 0 if n == 0 else abs(aspect - max_size / n))
    return max_size, y


def _round_aspect(number: float, key: Callable[[int], float]) -> int:
    return max(min(math.floor(number), math.ceil(number), key=key), 1)


def upright(size: Size, orientation: int) -> Size:
    """``size`` as displayed under the EXIF ``orientation`` (5 to 8 swap the sides)."""
    return (size[1], size[0]) if orientation >= TRANSPOSING else size


def cover_size(size: Size, box: Size) -> Size:
    """The image a ``box`` rendition of an upright ``size`` source is cropped from: the source
    scaled, aspect kept, until each side is at least the box's; the source itself where it
    cannot cover the box (never upscaled)."""
    width, height = size
    if box[0] > width or box[1] > height:
        return size
    # The side the box binds is the box's exactly; the other is rounded to the nearest pixel,
    # never below the box's (integer arithmetic: 4000x3000 into 400x300 is 400x300, not 401x301).
    if box[0] * height >= box[1] * width:
        return box[0], max(box[1], _nearest(height * box[0], width))
    return max(box[0], _nearest(width * box[1], height)), box[1]


def _nearest(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest whole number (halves up)."""
    return (2 * numerator + denominator) // (2 * denominator)


def box_size(size: Size, box: Size) -> Size:
    """A box rendition's size for an upright ``size`` source: the box; where the source cannot
    cover it, the largest rectangle of the box's shape within the source (never upscaled)."""
    width, height = size
    if box[0] <= width and box[1] <= height:
        return box
    if box[0] * height >= box[1] * width:  # the box is wider than the source: the width binds
        return width, max(1, round(width * box[1] / box[0]))
    return max(1, round(height * box[0] / box[1])), height


def planned_size(size: Size, spec: RenditionSpec, orientation: int | None = None) -> Size:
    """The size in the stored frame the rendition ``spec`` is made from, for a ``size`` source:
    the rendition itself, or a box's ``cover_size``. ``orientation`` None (not read yet): the
    larger of the two a box could need, so a decode planned before it is read serves both."""
    if spec.box is None:
        return fit_within(size, spec.size)
    if orientation is None:
        return max(planned_size(size, spec, 1), planned_size(size, spec, TRANSPOSING))
    return upright(cover_size(upright(size, orientation), spec.box.size), orientation)


def rendition_sizes(
    size: Size, specs: Sequence[RenditionSpec], orientation: int | None = None
) -> list[Size]:
    """Every rendition's size for a source of ``size``, largest first, each once."""
    return sorted({planned_size(size, spec, orientation) for spec in specs}, reverse=True)


def largest_side(size: Size, specs: Sequence[RenditionSpec]) -> int:
    """The longer side of the largest image ``specs`` need from a ``size`` source, whatever its
    orientation: what the decode is planned for."""
    return max(max(planned) for planned in rendition_sizes(size, specs))


def _draft_request(size: Size, max_size: int) -> Size | None:
    """The size draft() is asked for, which makes it pick the smallest DCT scale that leaves
    the decode ``DRAFT_GAP`` times the target; None: decode at full size."""
    target = fit_within(size, max_size)
    if target == size:
        return None
    for scale in (8, 4, 2):
        # Floors: draft() divides the size by the request and takes the scale at or below.
        width, height = size[0] // scale, size[1] // scale
        if width >= target[0] * DRAFT_GAP and height >= target[1] * DRAFT_GAP:
            return width, height
    return None


def dc_scale_serves(size: Size, specs: Sequence[RenditionSpec]) -> bool:
    """True when draft() will decode a ``size`` JPEG at 1/8 scale for ``specs``: the 1/8-scale
    image is then at least ``DRAFT_GAP`` times every rendition (orientation swaps both sides
    of both, so it changes nothing here)."""
    request = _draft_request(size, largest_side(size, specs))
    return request is not None and min(size[0] // request[0], size[1] // request[1]) >= 8


def draft_scale(size: Size, drafted: Size) -> int:
    """The DCT scale (1, 2, 4 or 8) draft() chose to turn a ``size`` JPEG into ``drafted``."""
    return next(
        (s for s in (8, 4, 2) if drafted == (-(-size[0] // s), -(-size[1] // s))),
        1,
    )


def can_make(larger: Size, size: Size) -> bool:
    """True when ``size`` can be made from an image of ``larger`` size under the quality rule."""
    return larger[0] >= size[0] * RESAMPLE_GAP and larger[1] >= size[1] * RESAMPLE_GAP


def serves_all(sizes: list[Size]) -> bool:
    """True when every smaller rendition can be made from the largest (``sizes`` decreasing)."""
    return all(can_make(sizes[0], size) or size == sizes[0] for size in sizes[1:])


def reduce_factor(size: Size, target: Size) -> int:
    """The largest ``reduce()`` factor that keeps ``size`` at least ``RESAMPLE_GAP`` times
    ``target`` (0 or 1: none)."""
    return min(size[0] // (target[0] * RESAMPLE_GAP), size[1] // (target[1] * RESAMPLE_GAP))


def base_size(size: Size, sizes: list[Size]) -> Size:
    """The size of the base ``handlers.imaging.resample.base`` makes from an image of ``size``:
    the largest rendition when it serves all, else the image box-reduced as far as the largest
    rendition allows (as ``reduce()`` rounds). For decoders that resample as they go, so they
    can make it at once."""
    if serves_all(sizes):
        return sizes[0]
    factor = max(1, reduce_factor(size, sizes[0]))
    return -(-size[0] // factor), -(-size[1] // factor)
