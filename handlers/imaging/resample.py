"""Resampling: the base the renditions are made from, and each rendition from the smallest image
at least ``RESAMPLE_GAP`` times its size. ``reduce()`` (a box filter) as far as the gap allows,
then LANCZOS to the exact size, Pillow's or (from 0.6 MP: vips.RESAMPLE_MIN_PIXELS) libvips'
lanczos3.

``sizes`` are every rendition's size, largest first (handlers.imaging.sizing).
"""

from __future__ import annotations

from PIL import Image

from handlers.imaging import vips
from handlers.imaging.sizing import Size, can_make, reduce_factor, serves_all


def base(im: Image.Image, sizes: list[Size], large_resample: bool) -> Image.Image:
    """The one image colour and orientation are applied to, as small as the renditions allow.

    When every smaller rendition can be made from the largest one, that is the largest rendition
    itself (for one thumbnail, the thumbnail). Otherwise it is the decoded image box-reduced as far
    as the largest rendition's resample allows, so every rendition is still resampled from at
    least twice its size.
    """
    largest = sizes[0]
    if serves_all(sizes):
        return shrink(im, largest, large_resample)
    factor = reduce_factor(im.size, largest)
    return im.reduce(factor) if factor > 1 else im


def chain(base: Image.Image, sizes: list[Size], large_resample: bool) -> dict[Size, Image.Image]:
    """Every size from ``base``, each from the smallest image made so far that is at least twice
    its size (the previous, larger rendition where it can be), else from ``base``."""
    made: dict[Size, Image.Image] = {base.size: base}
    for size in sizes:
        if size in made:
            continue
        sources = [im for im in made.values() if can_make(im.size, size)]
        source = min(sources, key=lambda im: im.width) if sources else base
        made[size] = shrink(source, size, large_resample)
    return made


def shrink(im: Image.Image, target: Size, large_resample: bool = False) -> Image.Image:
    """``im`` at ``target``: reduce() to within the gap, then LANCZOS (libvips' lanczos3 on
    sources of 0.6 MP and more when ``large_resample`` allows its copy)."""
    if im.size == target:
        return im
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(im.mode)
    if premultiplied:
        # Resample colour weighted by alpha, so transparent pixels leave no dark fringes.
        im = im.convert(premultiplied)
    factor = reduce_factor(im.size, target)
    if factor > 1:
        im = im.reduce(factor)
    resampled = None
    if large_resample and im.width * im.height >= vips.RESAMPLE_MIN_PIXELS:
        resampled = vips.resample(im, target)  # 1.4-2x faster from 0.6 MP
    im = resampled or im.resize(target, Image.Resampling.LANCZOS)
    return im.convert(im.mode.upper()) if premultiplied else im
