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
   the largest rendition (a box rendition counts as the image it is cropped from, its cover
   size: handlers.imaging.sizing), made by ``Image.reduce()`` by the largest integer factor that
   keeps the image at least ``RESAMPLE_GAP`` times the target (a fast box filter) and a LANCZOS
   resample to the exact size; or, when a smaller rendition could not be made from it, the
   reduced decode;
5. ``_colour``: CMYK, ICC and HEIF nclx to sRGB (handlers.imaging.colour), once, on the base;
6. ``_orient``: the EXIF orientation applied once, to the base; an all-opaque alpha dropped;
7. ``resample.chain``: each smaller rendition resampled from the smallest image already made
   that is at least ``RESAMPLE_GAP`` times its size;
8. ``_crop_all``: each box rendition cut from its cover image, upright, where the uploader's
   focal point or the spec's position puts it (handlers.imaging.crop), with the rectangle in
   the upright source's pixels;
9. ``_encode_all``: every rendition encoded (handlers.imaging.encode), each size and format once;
10. the placeholder computed from the smallest image made (handlers.imaging.placeholder).

The sizes are planned twice: before the decode for whichever orientation the file turns out to
have (a JPEG's is read from its header, so its plan is exact), and after it for the orientation
read, so the base and the chain make each box's cover image at its exact size.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from PIL import Image

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import budget as decode_budget
from handlers.imaging import crop, decode, progressive, resample
from handlers.imaging.colour import drop_opaque_alpha, ignored, to_srgb
from handlers.imaging.crop import Focus, Rect
from handlers.imaging.decode import READABLE_FORMATS, Decoded, _load_isobmff_plugins, _orientation
from handlers.imaging.encode import encode, output_format
from handlers.imaging.limits import BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS
from handlers.imaging.placeholder import Placeholder, compute_placeholder
from handlers.imaging.renditions import CONTENT_TYPE, Box, RenditionSpec, encoder_bytes
from handlers.imaging.renditions import DEFAULT as DEFAULT_RENDITIONS
from handlers.imaging.sizing import (
    Size,
    _draft_request,
    base_size,
    box_size,
    cover_size,
    dc_scale_serves,
    fit_within,
    largest_side,
    rendition_sizes,
    upright,
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


@dataclass(frozen=True)
class Rendition:
    spec: RenditionSpec
    data: bytes  # encoded output
    width: int
    height: int
    format: str  # "JPEG", "PNG", "WEBP" or "AVIF"
    content_type: str
    encode_ms: float = 0.0
    # A box rendition's crop, in the pixels of the source as displayed (after EXIF orientation).
    crop: Rect | None = None


@dataclass(frozen=True)
class Renditions:
    """Every rendition of one upload, in the order of its spec, and the facts of the source."""

    renditions: tuple[Rendition, ...]
    source_format: str
    source_width: int
    source_height: int
    placeholder: Placeholder | None = None  # from the smallest rendition
    decode_ms: float = 0.0  # open, decode, resize, colour and crop
    crop_ms: float = 0.0  # choosing and cutting the box renditions' crops (part of decode_ms)
    encode_ms: float = 0.0  # every encode, and the placeholder
    dc_prefix: bool = False  # a progressive JPEG decoded from its DC scans alone (dc_prefix())
    bytes_decoded: int = 0  # of the input: all of it, or the DC scans' prefix
    # Why the source's ICC profile was not applied (too large, damaged, unusable): its colours
    # were taken as sRGB. Empty when it was applied, or there was none.
    icc_dropped: str = ""

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
    focus: Focus | None = None,
) -> Renditions:
    """Every rendition ``specs`` ask for, from one decode. Each rendition's longer side is its
    size, never upscaled: a size over the source's is made at the source's size.

    ``auto`` renditions are JPEG for opaque images and PNG for real transparency; WebP and AVIF keep
    alpha; JPEG flattens it onto white. EXIF (GPS included) is never copied; colours are
    converted to sRGB, except grey images, which keep their ICC profile where the format can carry
    it. ``max_pixels`` is the budget: at most that many decoded pixels, and the decode's estimated
    peak (handlers.imaging.budget) within ``max_pixels * BUDGET_BYTES_PER_PIXEL`` bytes.
    Box renditions are cropped around ``focus`` when given (the uploader's focal point), else
    where their position says. Raises ImageRejected for input that no retry will fix.
    """
    _check_arguments(data, specs, quality)
    started = time.perf_counter()
    source = _read(data, specs)
    header = _refuse(source, specs, max_pixels)
    plan, decoded = _decode(source, header, specs, max_pixels)
    plan = replace(plan, sizes=rendition_sizes(plan.source_size, specs, decoded.orientation))
    coloured, icc, icc_dropped = _colour(_base(decoded, plan), decoded)
    oriented, sizes = _orient(coloured, decoded.orientation, plan.sizes)
    pixels = resample.chain(oriented, sizes, plan.large_resample)
    cropping = time.perf_counter()
    crops = _crop_all(pixels, specs, upright(plan.source_size, decoded.orientation), focus)
    decoded_at = time.perf_counter()
    made = _encode_all(pixels, specs, plan.source_size, decoded.orientation, quality, icc, crops)
    hint = compute_placeholder(pixels[sizes[-1]]) if placeholder else None
    return Renditions(
        renditions=made,
        source_format=plan.source_format,
        source_width=plan.source_size[0],
        source_height=plan.source_size[1],
        placeholder=hint,
        decode_ms=(decoded_at - started) * 1000,
        crop_ms=(decoded_at - cropping) * 1000,
        encode_ms=(time.perf_counter() - decoded_at) * 1000,
        dc_prefix=source.prefix is not None,
        bytes_decoded=source.bytes_decoded,
        icc_dropped=icc_dropped,
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
    sizes: list[Size]  # every rendition's, largest first, each once (for either orientation
    # when it is not known before the decode)
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
    holds the base, so the budget prices that. The largest rendition's encoder is reserved out of
    the budget (the base is still held while it runs)."""
    estimate = decode_budget.check(
        source.data,
        READABLE_FORMATS,
        budget=max_pixels * BUDGET_BYTES_PER_PIXEL - encoder_bytes(specs),
        draft=lambda size: _draft_request(size, largest_side(size, specs)),
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
    request = _draft_request(source_size, largest_side(source_size, specs))
    jpeg = source_format in ("JPEG", "MPO")
    if jpeg and request:
        source.draft(None, request)
    # A JPEG's orientation is in its header (APP1), read already: its plan is exact.
    orientation = _orientation(source) if jpeg else None
    decoded = source.width * source.height
    if decoded > max_pixels:
        raise decode.too_large(source_size, source_format, decoded, max_pixels)
    # libvips' resample costs a copy of the decoded image: only where it fits beside the decode,
    # within half the budget (a large rendition of a photo, not a hostile edge).
    large_resample = decoded <= max_pixels // 2
    sizes = rendition_sizes(source_size, specs, orientation)
    plan = _Plan(source_format, source_size, sizes, large_resample)
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


def _colour(base: Image.Image, decoded: Decoded) -> tuple[Image.Image, bytes | None, str]:
    """The base in sRGB, the profile to embed (a grey image's own), and why the file's profile
    was not applied, if it was not."""
    with decode.refusing():
        dropped = decoded.icc_dropped
        if ignored(base.mode, decoded.icc):
            dropped = "an ICC profile LittleCMS cannot apply to these pixels"
        return (*to_srgb(base, decoded.icc), dropped)


def _orient(im: Image.Image, orientation: int, sizes: list[Size]) -> tuple[Image.Image, list[Size]]:
    """``im`` upright, without an alpha channel that hides nothing, and the renditions' sizes
    upright too."""
    if orientation in _ORIENTATION:
        im = im.transpose(_ORIENTATION[orientation])
    return drop_opaque_alpha(im), [upright(size, orientation) for size in sizes]


def _crop_all(
    pixels: dict[Size, Image.Image],
    specs: Sequence[RenditionSpec],
    source: Size,
    focus: Focus | None,
) -> dict[Box, tuple[Image.Image, Rect]]:
    """Each box rendition's pixels, cut from its cover image (in ``pixels``, every upright size
    made), and its rectangle in the upright ``source``'s pixels."""
    crops: dict[Box, tuple[Image.Image, Rect]] = {}
    for spec in specs:
        box = spec.box
        if box is None or box in crops:
            continue
        cover = pixels[cover_size(source, box.size)]
        with decode.refusing():
            rect = crop.choose(cover, box_size(source, box.size), box.position, focus)
            crops[box] = cover.crop(rect.box), crop.to_source(rect, cover.size, source)
    return crops


def _encode_all(
    pixels: dict[Size, Image.Image],
    specs: Sequence[RenditionSpec],
    source_size: Size,
    orientation: int,
    quality: int,
    icc: bytes | None,
    crops: Mapping[Box, tuple[Image.Image, Rect]] | None = None,
) -> tuple[Rendition, ...]:
    """Each spec's rendition, from ``pixels`` (every upright size) or, for a box, its crop; a
    size over the source's repeats another, whose bytes are encoded once."""
    made: list[Rendition] = []
    encoded: dict[tuple[Size | Box, str], bytes] = {}
    for spec in specs:
        rect: Rect | None = None
        key: Size | Box
        if spec.box is None:
            key = upright(fit_within(source_size, spec.size), orientation)
            im = pixels[key]
        else:
            key = spec.box
            im, rect = (crops or {})[key]
        out_format = output_format(spec.format, im)
        began = time.perf_counter()
        if (key, out_format) not in encoded:
            encoded[key, out_format] = encode(im, out_format, quality, icc)
        made.append(
            Rendition(
                spec=spec,
                data=encoded[key, out_format],
                width=im.width,
                height=im.height,
                format=out_format,
                content_type=CONTENT_TYPE[out_format],
                encode_ms=(time.perf_counter() - began) * 1000,
                crop=rect,
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
