"""The resize methods compared by the benchmarks: bytes in, encoded 200 px thumbnail out.

Every method works on one thread, as a Lambda below 1,769 MB has under one vCPU: Pillow does
anyway, pyvips and sharp are set to (concurrency 1, no operation cache), the Rust peer has no
rayon. sharp and rust-image run in persistent worker processes (bench/peers): their CPU time and
peak memory are the worker's, read through ``bench.peers.PEERS``.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from typing import Any

from PIL import Image

from bench.peers import PEERS
from handlers.imaging import OutputFormat, RenditionSpec, fit_within, make_renditions
from handlers.imaging.sizing import _draft_request

MAX_SIZE = 200
QUALITY = 85


@functools.cache
def register_heif_opener() -> None:
    """Pillow reads HEIC once pillow-heif's opener is registered, as tutorials do (the tuned core
    registers its own on its first HEIC; registering without options changes none of them)."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - pillow-heif is a dependency
        return
    pillow_heif.register_heif_opener()


def naive(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """What the original function did: full decode, LANCZOS resize, save."""
    register_heif_opener()
    im = Image.open(io.BytesIO(data))
    out = im.resize(fit_within(im.size, max_size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    out.convert("RGB").save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def pillow_thumbnail(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """Pillow's own Image.thumbnail() (draft + reducing_gap), as most tutorials use it."""
    register_heif_opener()
    im = Image.open(io.BytesIO(data))
    im.thumbnail((max_size, max_size))
    buffer = io.BytesIO()
    im.convert("RGB").save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def tuned(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """thumbstat's core: one JPEG rendition of ``max_size``, without the placeholder. JPEG, as
    every peer here writes: an image with transparency is flattened on white, where the function's
    default ``auto`` would write a PNG (whose encode alone costs more than the whole resize)."""
    specs = (RenditionSpec(max_size, OutputFormat.JPEG),)
    return make_renditions(data, specs, quality=QUALITY, placeholder=False).default.data


@functools.cache
def _pyvips() -> Any:  # pyvips is untyped
    """pyvips on one thread (VIPS_CONCURRENCY before libvips starts, concurrency_set in case it
    had) and without its operation cache, as sharp is run: sharp.concurrency(1), cache(false)."""
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    import pyvips

    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    return pyvips


def pyvips_thumbnail(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    pyvips = _pyvips()
    return bytes(
        pyvips.Image.thumbnail_buffer(data, max_size).write_to_buffer(f".jpg[Q={QUALITY}]")
    )


def floor(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """The physical floor for a JPEG: libjpeg-turbo's DCT-scaled decode alone, at the scale
    tuned's draft() request picks (handlers.imaging.sizing.DRAFT_GAP)."""
    import simplejpeg

    height, width, _, _ = simplejpeg.decode_jpeg_header(data)  # (height, width, ...)
    request = _draft_request((width, height), max_size) or (width, height)
    pixels = simplejpeg.decode_jpeg(data, min_width=request[0], min_height=request[1])
    return bytes(memoryview(pixels)[:0])


def sharp(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """sharp in a Node.js worker: rotate, resize inside, no enlargement, JPEG q85."""
    return PEERS["sharp"].thumbnail(data, max_size)


def rust_image(data: bytes, max_size: int = MAX_SIZE) -> bytes:
    """The original project's Rust thumbnailer (image 0.24's thumbnail, JPEG q85) in a worker."""
    return PEERS["rust-image"].thumbnail(data, max_size)


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
    "sharp": sharp,
    "rust-image": rust_image,
}
OPTIONAL = {"pyvips": "pyvips", "floor": "simplejpeg"}
# The sample kinds (devstack.samples.Spec.kind) a method reads, where not all: the floor decodes
# JPEG only; rust-image is built with the image crate's jpeg and png features only.
KINDS: dict[str, frozenset[str]] = {
    "floor": frozenset({"photo"}),
    "rust-image": frozenset({"photo", "screenshot"}),
}


FORMATS: dict[str, str] = {"photo": "JPEG", "screenshot": "PNG", "webp": "WebP", "heic": "HEIC"}
# Kinds a method reads only if its library was built to: HEIC needs libheif with an HEVC decoder
# (libde265), which the libvips of the pyvips and sharp wheels leave out (patents). Probed once.
PROBED: dict[str, frozenset[str]] = {
    "pyvips": frozenset({"heic"}),
    "sharp": frozenset({"heic"}),
}


def declines(method: str, kind: str) -> str | None:
    """Why ``method`` never reads images of ``kind`` (KINDS), whatever is installed; else None."""
    if kind not in KINDS.get(method, frozenset({kind})):
        return f"{method} does not read {FORMATS.get(kind, kind)}"
    return None


def why_not_reads(method: str, kind: str) -> str | None:
    """Why ``method`` does not read images of ``kind`` here, or None when it does. Call it only
    for an available method: a probe runs the method."""
    declined = declines(method, kind)
    if declined:
        return declined
    if kind in PROBED.get(method, frozenset()):
        return _probe(method, kind)
    return None


def reads(method: str, kind: str) -> bool:
    return why_not_reads(method, kind) is None


@functools.cache
def _probe(method: str, kind: str) -> str | None:
    """Thumbnail a tiny image of ``kind`` with ``method``: None if it works, else why not."""
    assert kind == "heic", kind  # the one probed kind
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - pillow-heif is a dependency
        return "pillow-heif is not installed, so no HEIC to probe with"
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), (90, 140, 200))).save(buffer, quality=50)
    try:
        METHODS[method](buffer.getvalue(), 16)  # type: ignore[call-arg]
    except Exception as exc:  # pyvips.Error, a worker's error: whatever the library says
        if "HEVC" in str(exc):
            return f"{method} cannot decode HEIC here: its libheif has no HEVC decoder"
        return f"{method} cannot read HEIC here: {str(exc).strip().splitlines()[0][:200]}"
    return None


def unavailable(method: str) -> str | None:
    """Why ``method`` cannot run here, saying what to install; None when it can."""
    if method in PEERS:
        return PEERS[method].unavailable()
    if method in OPTIONAL and not _available(OPTIONAL[method]):
        return f"{method} needs {OPTIONAL[method]}: pip install -e '.[bench]'"
    return None


def available(method: str) -> bool:
    return unavailable(method) is None
