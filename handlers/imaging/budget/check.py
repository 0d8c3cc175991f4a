"""The check: an estimate of a file's decode against the budget, and what every estimator shares.

An estimator answers an ``Estimate``: the size and mode Pillow will decode, what the decoder
allocates while decoding and what it keeps while the pipeline runs, and the CPU time of the
parts that do not scale with pixels (scans, Python loops). ``check`` sniffs the format as
``Image.open`` will, runs its estimator, adds the pipeline's working copies for that mode
(``working_bytes``) and refuses, as ``too-large``, what would not fit the budget or would take
more than ``MAX_CPU_SECONDS``. A readable format with no estimator is refused too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, NoReturn

from PIL import Image

from handlers.common.errors import ImageRejected, RejectReason

if TYPE_CHECKING:
    from handlers.imaging.jpeg import Layout

__all__ = [
    "ESTIMATORS",
    "MAX_CPU_SECONDS",
    "Estimate",
    "Estimator",
    "Unreadable",
    "check",
    "decoded_size",
    "peak_bytes",
    "refuse_structures",
    "working_bytes",
]

MAX_CPU_SECONDS: Final = 1.0
"""CPU the pathological parts of a decode may take, on one full core. Lambda gives a function
memory/1,769 MB of a vCPU: at 128 MB this second is ~14 s of the 30 s timeout, at 256 MB ~7 s."""

_MB: Final = 2**20

# Measured CPU costs the estimators share (x86-64, CPython 3.11, Pillow 13).
PY_STRUCTURE_S: Final = 3e-6  # one marker, chunk, tag or tile handled in Python by Pillow

# Structures (markers, chunks, sub-blocks, boxes) past which Pillow's Python loops alone would
# take MAX_CPU_SECONDS; the estimators stop counting there and refuse.
MAX_STRUCTURES: Final = int(MAX_CPU_SECONDS / PY_STRUCTURE_S)

# Python objects Pillow makes per structure it keeps (a tuple, a bytes header, a dict slot).
PY_OBJECT_BYTES: Final = 160


@dataclass(frozen=True)
class Estimate:
    """What decoding one file will take, from its structure alone."""

    format: str
    size: tuple[int, int]  # as Pillow will report it before draft()
    mode: str  # the mode Pillow decodes to
    key_colour: bool = False  # transparency the pipeline turns into an alpha channel
    scalable: bool = False  # JPEG: draft() lets libjpeg-turbo decode at 1/2, 1/4 or 1/8
    decoding: int = 0  # bytes allocated beside the image while it decodes, then freed
    held: int = 0  # bytes the decoder keeps (and copies it made) while the pipeline runs
    cpu: float = 0.0  # seconds of the parts that do not scale with pixels
    note: str = ""  # what dominates, said in a rejection ("progressive, 12 scans")
    # What a streaming decode (libvips, handlers.imaging.vips) keeps instead of ``held``, where
    # that differs: it never builds Pillow's structures (WebP's animation canvases).
    stream_held: int | None = None
    # ... and what it allocates beside the base while decoding, where that differs from
    # ``decoding`` (WebP: Pillow's two copies of the file while opening; libwebp's are none).
    stream_decoding: int | None = None
    # JPEG: the marker segments the estimate was read from, for a reader of the same bytes
    # (handlers.imaging.progressive.scan) to fast-forward over instead of walking them again.
    jpeg: Layout | None = field(default=None, compare=False, repr=False)


Estimator = Callable[[bytes], Estimate]
DraftRequest = Callable[[tuple[int, int]], "tuple[int, int] | None"]
HeldSize = Callable[[tuple[int, int]], tuple[int, int]]

ESTIMATORS: Final[dict[str, Estimator]] = {}
"""Pillow format name -> estimator, filled in by handlers.imaging.budget (the package) with one
for every format thumbnail reads."""


class Unreadable(ValueError):
    """The structure an estimator walks is broken: the decoder would refuse it too."""


def check(
    data: bytes,
    formats: Iterable[str],
    *,
    budget: int,
    draft: DraftRequest | None = None,
    held: HeldSize | None = None,
) -> Estimate | None:
    """Refuse, before any decoder runs, a file whose decode would not fit ``budget`` bytes or
    would take more than ``MAX_CPU_SECONDS``. ``formats`` are the ones ``Image.open`` will try;
    ``draft`` gives the size thumbstat will request from ``draft()`` for a JPEG of a given size;
    ``held``, for a decode that resamples as it streams, the size of the only image it holds.
    Returns the estimate, or None when no format accepts the file (``Image.open`` refuses it)."""
    format_ = _sniff(data, formats)
    if format_ is None:
        return None
    estimate = _estimate(data, format_)
    refuse_degenerate(estimate.size, format_)
    if held:
        decoded = held(estimate.size)
        streaming = replace(
            estimate,
            held=estimate.held if estimate.stream_held is None else estimate.stream_held,
            decoding=estimate.decoding
            if estimate.stream_decoding is None
            else estimate.stream_decoding,
        )
        peak = peak_bytes(streaming, len(data), decoded)
    else:
        decoded = decoded_size(estimate, draft)
        peak = peak_bytes(estimate, len(data), decoded)
    _refuse_over(estimate, format_, peak, budget)
    return estimate


def refuse_degenerate(size: tuple[int, int], format_: str) -> None:
    """ImageRejected for a header that declares no pixels: a side of 0 or less, of which no
    rendition can be made (the sizes' arithmetic would divide by it)."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageRejected(
            RejectReason.CORRUPT, f"the {format_} header declares a {width}x{height} image"
        )


def _estimate(data: bytes, format_: str) -> Estimate:
    estimator = ESTIMATORS.get(format_)
    if estimator is None:
        raise ImageRejected(
            RejectReason.UNSUPPORTED, f"{format_} has no decode-budget estimator: not decoded"
        )
    try:
        return estimator(data)
    except (Unreadable, IndexError, struct.error, ValueError, OverflowError) as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"unreadable {format_} structure: {exc}") from exc


def _refuse_over(estimate: Estimate, format_: str, peak: int, budget: int) -> None:
    width, height = estimate.size
    described = f"{width}x{height} {format_}" + (f" ({estimate.note})" if estimate.note else "")
    if peak > budget:
        raise ImageRejected(
            RejectReason.TOO_LARGE,
            f"{described} would take about {_mb(peak)} to decode, over the budget of {_mb(budget)}",
        )
    if estimate.cpu > MAX_CPU_SECONDS:
        raise ImageRejected(
            RejectReason.TOO_LARGE,
            f"{described} would take about {estimate.cpu:.0f} s of CPU to decode, over the limit "
            f"of {MAX_CPU_SECONDS:g} s",
        )


def decoded_size(estimate: Estimate, draft: DraftRequest | None) -> tuple[int, int]:
    """The size Pillow decodes to: JpegImageFile.draft's choice of 1/8, 1/4, 1/2 or 1."""
    width, height = estimate.size
    request = draft(estimate.size) if draft and estimate.scalable else None
    if not request or min(request) < 1:
        return estimate.size
    scale = min(width // request[0], height // request[1])
    for s in (8, 4, 2, 1):
        if scale >= s:
            return -(-width // s), -(-height // s)
    return estimate.size


def peak_bytes(estimate: Estimate, data_bytes: int, decoded: tuple[int, int]) -> int:
    """The input, what the decoder keeps, and the larger of the decode and the pipeline."""
    pixels = decoded[0] * decoded[1]
    image = pixels * _PIXEL_BYTES.get(estimate.mode, 4)
    pipeline = int(pixels * working_bytes(estimate.mode, estimate.key_colour))
    return data_bytes + estimate.held + max(estimate.decoding + image, pipeline)


def refuse_structures(what: str, count: int) -> NoReturn:
    """Refuse a file with ``count`` structures, past MAX_STRUCTURES."""
    raise ImageRejected(
        RejectReason.TOO_LARGE,
        f"more than {count - 1:,} {what}: reading them alone would take over "
        f"{MAX_CPU_SECONDS:g} s of CPU",
    )


def _mb(n: int) -> str:
    return f"{n / _MB:,.0f} MB" if n >= 10 * _MB else f"{n / _MB:,.1f} MB"


def _sniff(data: bytes, formats: Iterable[str]) -> str | None:
    """The format Image.open will pick: the first whose accept() takes the first 16 bytes."""
    prefix = data[:16]
    for format_ in formats:
        factory_accept = Image.OPEN.get(format_)
        if factory_accept is None:
            continue
        accept = factory_accept[1]
        if accept is None or accept(prefix):
            return format_
    return None


# --- the pipeline --------------------------------------------------------------------------

# Bytes a pixel of each mode takes in Pillow's storage (everything not listed takes 4).
_PIXEL_BYTES: Final = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}

# Bytes a decoded pixel of each mode takes at the pipeline's peak beside its own storage, with
# and without key-colour transparency (see working_bytes).
_NORMALISED: Final[dict[str, tuple[int, int]]] = {
    "L": (0, 8),  # + LA/RGBA, then its premultiplied copy
    "RGB": (0, 8),
    "LA": (4, 4),  # the premultiplied copy
    "RGBA": (4, 4),
    "CMYK": (0, 0),
    "La": (8, 8),  # to LA/RGBA, then premultiplied again
    "RGBa": (8, 8),
    "P": (4, 8),
    "PA": (8, 8),
    "1": (1, 1),
    "I": (5, 5),  # point() (4) and L (1)
    "F": (5, 5),
}


def working_bytes(mode: str, key_colour: bool = False) -> float:
    """Bytes a decoded pixel of ``mode`` takes at the pipeline's peak, the decoded image included:
    handlers.imaging.decode's _normalise_mode (the conversions to L, LA, RGB, RGBA or CMYK;
    16-bit grey goes through I and a point() copy) and _shrink (the premultiplied copy of alpha
    images), plus one byte for the reduced copy. Keep in step with those functions: the
    hostile-input tests measure the pipeline against it."""
    source = _PIXEL_BYTES.get(mode, 4)
    if mode.startswith("I;16"):
        return source + 8 + 1  # to I (4), point() (4), then L
    # Unlisted modes: convert("RGB"), and an alpha mode's premultiplied copy.
    return source + _NORMALISED.get(mode, (8, 8))[key_colour] + 1


# --- reading structures --------------------------------------------------------------------


def u16be(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from(">H", data, offset)[0]
    return value


def u32be(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from(">I", data, offset)[0]
    return value


def u16le(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<H", data, offset)[0]
    return value


def u32le(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def u24le(data: bytes, offset: int) -> int:
    return data[offset] | data[offset + 1] << 8 | data[offset + 2] << 16


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    return ceil_div(a, b) * b
