"""The thumbnail core: bytes and rendition specs in, every rendition and its facts out. No AWS.

``make_renditions`` decodes once and does as little pixel work as the outputs allow, in these
steps (each a function below, given what the earlier ones made and returning what it makes):

1. ``_read``: the ISOBMFF plugins loaded for an AVIF or HEIF; a progressive JPEG whose
   renditions all come from a 1/8-scale decode cut to its DC scans, the first ~7% of the file
   (``dc_prefix``, at the end of this module); whether libvips decodes it as a stream;
2. ``_refuse``: what the decoders would allocate beyond the budget is refused from the file's
   structure, before any decoder runs (handlers.imaging.budget);
3. ``_decode``: the source opened (lazily: its header) and the renditions' sizes planned
   (handlers.imaging.sizing), the pixel budget checked against what will really be decoded, then
   one of three decodes (handlers.imaging.decode):

   - a JPEG through ``Image.draft()``, which lets libjpeg-turbo decode at 1/2, 1/4 or 1/8 scale
     (DCT scaling), the cheapest decode there is, chosen for the largest rendition;
   - a large rendition of a JPEG photo: libvips decodes at the same DCT scale and resamples the
     rows to the base as they come;
   - an 8-bit PNG or a lossy WebP: libvips decodes it as a stream, resampled to the base;

4. ``_base``: the one image colour and orientation are applied to (handlers.imaging.resample):
   the largest rendition, made by ``Image.reduce()`` by the largest integer factor that keeps the
   image at least ``RESAMPLE_GAP`` times the target (a fast box filter) and a LANCZOS resample to
   the exact size; or, when a smaller rendition could not be made from it, the reduced decode;
5. ``_colour``: CMYK, ICC and HEIF nclx to sRGB (handlers.imaging.colour), once, on the base;
6. ``_orient``: the EXIF orientation applied once, to the base; an all-opaque alpha dropped;
7. ``resample.chain``: each smaller rendition resampled from the smallest image already made
   that is at least ``RESAMPLE_GAP`` times its size;
8. ``_encode_all``: every rendition encoded (handlers.imaging.encode), each size and format once;
9. the placeholder computed from the smallest (handlers.imaging.placeholder).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from PIL import Image

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import budget as decode_budget
from handlers.imaging import decode, progressive, resample
from handlers.imaging.colour import drop_opaque_alpha, to_srgb
from handlers.imaging.decode import READABLE_FORMATS, Decoded, _load_isobmff_plugins
from handlers.imaging.encode import encode, output_format
from handlers.imaging.limits import BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS
from handlers.imaging.placeholder import Placeholder, compute_placeholder
from handlers.imaging.renditions import CONTENT_TYPE, RenditionSpec
from handlers.imaging.renditions import DEFAULT as DEFAULT_RENDITIONS
from handlers.imaging.sizing import (
    Size,
    _draft_request,
    base_size,
    dc_scale_serves,
    fit_within,
    rendition_sizes,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageRejected",
    "RejectReason",
    "Rendition",
    "Renditions",
    "dc_prefix",
    "dc_scale_serves",
    "make_renditions",
]

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
_TRANSPOSING: Final = 5  # orientations 5 to 8 swap width and height


@dataclass(frozen=True)
class Rendition:
    spec: RenditionSpec
    data: bytes  # encoded output
    width: int
    height: int
    format: str  # "JPEG", "PNG", "WEBP" or "AVIF"
    content_type: str
    encode_ms: float = 0.0


@dataclass(frozen=True)
class Renditions:
    """Every rendition of one upload, in the order of its spec, and the facts of the source."""

    renditions: tuple[Rendition, ...]
    source_format: str
    source_width: int
    source_height: int
    placeholder: Placeholder | None = None  # from the smallest rendition
    decode_ms: float = 0.0  # open, decode, resize and colour
    encode_ms: float = 0.0  # every encode, and the placeholder
    dc_prefix: bool = False  # a progressive JPEG decoded from its DC scans alone (dc_prefix())
    bytes_decoded: int = 0  # of the input: all of it, or the DC scans' prefix

    @property
    def default(self) -> Rendition:
        return self.renditions[0]


def make_renditions(
    data: bytes,
    specs: Sequence[RenditionSpec] = DEFAULT_RENDITIONS,
    *,
    quality: int = 85,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    placeholder: bool = True,
) -> Renditions:
    """Every rendition ``specs`` ask for, from one decode. Each rendition's longer side is its
    size, never upscaled: a size over the source's is made at the source's size.

    ``auto`` renditions are JPEG for opaque images and PNG for real transparency; WebP and AVIF keep
    alpha; JPEG flattens it onto white. EXIF (GPS included) is never copied; colours are
    converted to sRGB, except grey images, which keep their ICC profile where the format can carry
    it. ``max_pixels`` is the budget: at most that many decoded pixels, and the decode's estimated
    peak (handlers.imaging.budget) within ``max_pixels * BUDGET_BYTES_PER_PIXEL`` bytes.
    Raises ImageRejected for input that no retry will fix.
    """
    _check_arguments(data, specs, quality)
    started = time.perf_counter()
    source = _read(data, specs)
    header = _refuse(source, specs, max_pixels)
    plan, decoded = _decode(source, header, specs, max_pixels)
    coloured, icc = _colour(_base(decoded, plan), decoded.icc)
    upright, sizes = _orient(coloured, decoded.orientation, plan.sizes)
    pixels = resample.chain(upright, sizes, plan.large_resample)
    decoded_at = time.perf_counter()
    made = _encode_all(pixels, specs, plan.source_size, decoded.orientation, quality, icc)
    hint = compute_placeholder(pixels[sizes[-1]]) if placeholder else None
    return Renditions(
        renditions=made,
        source_format=plan.source_format,
        source_width=plan.source_size[0],
        source_height=plan.source_size[1],
        placeholder=hint,
        decode_ms=(decoded_at - started) * 1000,
        encode_ms=(time.perf_counter() - decoded_at) * 1000,
        dc_prefix=source.prefix is not None,
        bytes_decoded=source.bytes_decoded,
    )


@dataclass(frozen=True)
class _Source:
    """The bytes to decode and what is known of them before any decoder runs."""

    data: bytes  # the upload, or its DC scans made a file of their own (dc_prefix)
    prefix: progressive.Head | None  # where the DC scans end, when only they are decoded
    bytes_decoded: int  # of the upload
    streamed: str | None  # the format libvips decodes as a stream ("PNG", "WEBP"), or None


@dataclass(frozen=True)
class _Plan:
    """The source's facts and the renditions' sizes, known once its header is read."""

    source_format: str
    source_size: Size
    sizes: list[Size]  # every rendition's, largest first, each once
    large_resample: bool  # libvips may resample megapixels: its copy fits beside the decode


def _check_arguments(data: bytes, specs: Sequence[RenditionSpec], quality: int) -> None:
    if not specs:
        raise ValueError("at least one rendition is needed")
    if not 1 <= quality <= 100:
        raise ValueError("quality must be between 1 and 100")
    if not data:
        raise ImageRejected(RejectReason.EMPTY, "the object is empty")


def _read(data: bytes, specs: Sequence[RenditionSpec]) -> _Source:
    """The bytes the decoders will see: the whole upload, or a progressive JPEG's DC scans."""
    if data[4:8] == b"ftyp":  # ISOBMFF: AVIF or HEIF
        _load_isobmff_plugins()
    prefix = dc_prefix(data, specs)
    if prefix is not None:
        return _Source(progressive.closed(data, prefix), prefix, prefix.end, None)
    return _Source(data, None, len(data), decode.streamed_format(data))


def _refuse(
    source: _Source, specs: Sequence[RenditionSpec], max_pixels: int
) -> tuple[str, Size] | None:
    """ImageRejected when the decode would not fit the budget, else the format and size the
    budget's header walk read (None: no format reads the file). A streamed decode only ever
    holds the base, so the budget prices that."""
    max_size = max(spec.size for spec in specs)
    estimate = decode_budget.check(
        source.data,
        READABLE_FORMATS,
        budget=max_pixels * BUDGET_BYTES_PER_PIXEL,
        draft=lambda size: _draft_request(size, max_size),
        held=(lambda size: base_size(size, rendition_sizes(size, specs)))
        if source.streamed
        else None,
    )
    return None if estimate is None else (estimate.format, estimate.size)


def _decode(
    source: _Source,
    header: tuple[str, Size] | None,
    specs: Sequence[RenditionSpec],
    max_pixels: int,
) -> tuple[_Plan, Decoded]:
    if source.streamed and header is not None and header[0] == source.streamed:
        return _decode_streamed(source.data, header, specs, max_pixels)
    return _decode_with_pillow(source.data, specs, max_pixels)


def _decode_streamed(
    data: bytes, header: tuple[str, Size], specs: Sequence[RenditionSpec], max_pixels: int
) -> tuple[_Plan, Decoded]:
    """libvips decodes a PNG or lossy WebP as a stream, resampled to the base as it goes. Pillow
    never opens it (its WebP plugin allocates two canvases on open): its format and size are
    the budget's header walk's. The CPU bound stays the source's pixels (at most
    DEFAULT_MAX_PIXELS, whatever the memory size)."""
    source_format, source_size = header
    sizes = rendition_sizes(source_size, specs)
    decoded_size = base_size(source_size, sizes)
    pixel_limit = max(max_pixels, DEFAULT_MAX_PIXELS)
    counted = source_size[0] * source_size[1]
    if counted > pixel_limit or decoded_size[0] * decoded_size[1] > max_pixels:
        raise decode.too_large(source_size, source_format, counted, pixel_limit)
    plan = _Plan(source_format, source_size, sizes, large_resample=True)
    return plan, decode.load_streamed(data, decoded_size)


def _decode_with_pillow(
    data: bytes, specs: Sequence[RenditionSpec], max_pixels: int
) -> tuple[_Plan, Decoded]:
    """Pillow opens the file; a JPEG is drafted to its DCT scale; the decode is Pillow's, or for
    a large rendition of a JPEG photo libvips' at the same scale."""
    source = decode.open_image(data)
    source_format, source_size = str(source.format), source.size
    decode_budget.refuse_degenerate(source_size, source_format)  # as Pillow reads the header
    request = _draft_request(source_size, max(spec.size for spec in specs))
    if source_format in ("JPEG", "MPO") and request:
        source.draft(None, request)
    decoded = source.width * source.height
    if decoded > max_pixels:
        raise decode.too_large(source_size, source_format, decoded, max_pixels)
    # libvips' resample costs a copy of the decoded image: only where it fits beside the decode,
    # within half the budget (a large rendition of a photo, not a hostile edge).
    large_resample = decoded <= max_pixels // 2
    plan = _Plan(source_format, source_size, rendition_sizes(source_size, specs), large_resample)
    if large_resample and decode.suits_vips_jpeg(source):
        return plan, decode.load_jpeg_with_vips(source, source_size, data, plan.sizes)
    return plan, decode.load(source)


def _base(decoded: Decoded, plan: _Plan) -> Image.Image:
    """The base (resample.base) made from the decode, which is then closed: its pixels are freed
    before the encoders take their memory."""
    with decode.refusing():
        made = resample.base(decoded.image, plan.sizes, plan.large_resample)
    if made is not decoded.image:
        decoded.image.close()
    return made


def _colour(base: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """The base in sRGB, and the profile to embed (a grey image's own)."""
    with decode.refusing():
        return to_srgb(base, icc)


def _orient(im: Image.Image, orientation: int, sizes: list[Size]) -> tuple[Image.Image, list[Size]]:
    """``im`` upright, without an alpha channel that hides nothing, and the renditions' sizes
    upright too."""
    if orientation in _ORIENTATION:
        im = im.transpose(_ORIENTATION[orientation])
    if orientation >= _TRANSPOSING:
        sizes = [(height, width) for width, height in sizes]
    return drop_opaque_alpha(im), sizes


def _encode_all(
    pixels: dict[Size, Image.Image],
    specs: Sequence[RenditionSpec],
    source_size: Size,
    orientation: int,
    quality: int,
    icc: bytes | None,
) -> tuple[Rendition, ...]:
    """Each spec's rendition, from ``pixels`` (every upright size); a size over the source's
    repeats another, whose bytes are encoded once."""
    made: list[Rendition] = []
    encoded: dict[tuple[Size, str], bytes] = {}
    for spec in specs:
        size = fit_within(source_size, spec.size)
        if orientation >= _TRANSPOSING:
            size = (size[1], size[0])
        im = pixels[size]
        out_format = output_format(spec.format, im)
        began = time.perf_counter()
        if (size, out_format) not in encoded:
            encoded[size, out_format] = encode(im, out_format, quality, icc)
        made.append(
            Rendition(
                spec=spec,
                data=encoded[size, out_format],
                width=im.width,
                height=im.height,
                format=out_format,
                content_type=CONTENT_TYPE[out_format],
                encode_ms=(time.perf_counter() - began) * 1000,
            )
        )
    return tuple(made)


# --- progressive JPEG: the DC scans alone, when a 1/8-scale decode serves every rendition ----


def dc_prefix(data: bytes | bytearray, specs: Sequence[RenditionSpec]) -> progressive.Head | None:
    """Where the DC scans of a progressive JPEG end (``.end``) when those bytes are all its
    renditions need (handlers.imaging.progressive; ``data`` may be only the head of the file), else
    None: decode the whole file. ``progressive.closed`` makes them the file to decode."""
    head = progressive.scan(data, lambda frame: dc_scale_serves(frame.size, specs))
    return head if head.status is progressive.Status.COMPLETE else None
