"""The resize methods compared by the benchmarks: bytes in, encoded 200 px thumbnail out."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image

from handlers.thumbnail import fit_within, make_thumbnail

MAX_SIZE = 200
QUALITY = 85


def naive(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """What the original function did: full decode, LANCZOS resize, save."""
    im = Image.open(io.BytesIO(data))
    out = im.resize(fit_within(im.size, max_size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    out.convert("RGB").save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def pillow_thumbnail(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """Pillow's own Image.thumbnail() (draft + reducing_gap), as most tutorials use it."""
    im = Image.open(io.BytesIO(data))
    im.thumbnail((max_size, max_size))
    buffer = io.BytesIO()
    im.convert("RGB").save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def tuned(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    return make_thumbnail(data, max_size=max_size, quality=QUALITY).data


def pyvips_thumbnail(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    import pyvips

    return bytes(
        pyvips.Image.thumbnail_buffer(data, max_size).write_to_buffer(f".jpg[Q={QUALITY}]")
    )


def floor(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """The physical floor for a JPEG: libjpeg-turbo's DCT-scaled decode alone, at the same
    scale draft mode picks (the smallest leaving at least twice the target)."""
    import simplejpeg

    width, height, _, _ = simplejpeg.decode_jpeg_header(data)
    target = fit_within((width, height), max_size)
    pixels = simplejpeg.decode_jpeg(data, min_width=target[0] * 2, min_height=target[1] * 2)
    return bytes(memoryview(pixels)[:0])


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


METHODS: dict[str, Callable[[bytes], bytes]] = {
    "naive": naive,
    "pillow-thumbnail": pillow_thumbnail,
    "tuned": tuned,
    "pyvips": pyvips_thumbnail,
    "floor": floor,
}
OPTIONAL = {"pyvips": "pyvips", "floor": "simplejpeg"}
JPEG_ONLY = {"floor"}


def available(method: str) -> bool:
    return method not in OPTIONAL or _available(OPTIONAL[method])
