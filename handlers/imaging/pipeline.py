"""The thumbnail core: bytes and rendition specs in, every rendition and its facts out. No AWS.

The pipeline decodes once and does as little pixel work as the outputs allow:

1. refuse, from the file's structure and before any decoder runs, what the decoders would allocate
   beyond the budget (handlers.imaging.budget); open lazily and check the pixel budget against
   what will really be decoded;
2. JPEG: ``Image.draft()`` lets libjpeg-turbo decode at 1/2, 1/4 or 1/8 scale (DCT scaling), the
   cheapest decode there is, chosen for the largest rendition; a progressive JPEG whose
   renditions all come from a 1/8-scale decode is decoded from its DC scans alone, the first ~7%
   of the file (``dc_prefix``, at the end of this module);
3. ``Image.reduce()`` by the largest integer factor that keeps the image at least
   ``_RESAMPLE_GAP`` times the target, a fast box filter;
4. a LANCZOS resample to the exact size, on what is left: the largest rendition, or (when a
   smaller one could not be made from it) the reduced decode stays the base;
5. colour (CMYK, ICC and HEIF nclx to sRGB) and EXIF orientation applied once, to that base;
6. each smaller rendition resampled from the smallest image already made that is at least
   ``_RESAMPLE_GAP`` times its size, then every rendition encoded, and the placeholder computed
   from the smallest.
"""

from __future__ import annotations

import importlib.util
import io
import math
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Final

from PIL import (  # noqa: F401 (plugins imported to register their formats)
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import budget as decode_budget
from handlers.imaging import nclx, progressive, vips
from handlers.imaging.limits import BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS
from handlers.imaging.placeholder import Placeholder, compute_placeholder
from handlers.imaging.renditions import CONTENT_TYPE, PILLOW_FORMAT, OutputFormat, RenditionSpec
from handlers.imaging.renditions import DEFAULT as DEFAULT_RENDITIONS

if TYPE_CHECKING:
    from PIL.ImageCms import ImageCmsTransform

# HEIF (phones' HEIC) from pillow-heif, in the resize image and the dev install; its plugin and
# Pillow's AVIF one are loaded when the first ISOBMFF file arrives (_load_isobmff_plugins).
_HEIF: tuple[str, ...] = ("HEIF",) if importlib.util.find_spec("pillow_heif") else ()

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageRejected",
    "RejectReason",
    "Rendition",
    "Renditions",
    "Thumbnail",
    "make_renditions",
    "make_thumbnail",
]

# Formats with safe, in-process decoders (JPEG includes MPO). EPS (Ghostscript) and the rest are
# refused unopened. The plugin imports above (and _load_isobmff_plugins) register exactly these,
# which also spares Image.open() from importing all ~40 plugins on first use.
READABLE_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "AVIF", *_HEIF)

# The decoded image is kept at least this many times the target before the final LANCZOS
# resample; below 2 the box-filtered reduce() steps start to show as aliasing.
_RESAMPLE_GAP: Final = 2

# JPEG renditions up to this many pixels get optimised Huffman tables (_encode).
_OPTIMIZE_MAX_PIXELS: Final = 512 * 512

# The same for each DCT scale draft() can decode at. At 1/2 libjpeg-turbo inverts the 4x4
# lowest frequencies, a good low-pass already: 1.25x leaves the pixels 49-50 dB from a full
# decode's LANCZOS. At 1/4 and 1/8 (2x2, or only each block's DC: a box filter) the 2x gap
# stays. A 1024 px rendition of a 12 MP photo then decodes at 1/2 instead of in full. (1.4x at
# 1/4 would make a 24 MP photo's 1024 px rendition from a 1/4 decode, as pyvips and sharp do,
# for up to 0.36 dB of PSNR: measured, not taken.)
_DRAFT_GAP: Final = {8: 2.0, 4: 2.0, 2: 1.25}

# Pillow's own bomb check counts header pixels, which would refuse a huge JPEG that draft mode
# decodes in a few MB. The pixel budget in make_thumbnail, and handlers.imaging.budget's check of
# what each decoder allocates (before Image.open, which allocates some of it), replace it.
Image.MAX_IMAGE_PIXELS = None

# What Pillow's decoders raise on malformed input (SyntaxError is its "not this format" signal;
# libavif's failures on corrupt data come out of Pillow's _avif.c as RuntimeError).
_DECODE_ERRORS: Final = (
    OSError,
    RuntimeError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)

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
_EXIF_ORIENTATION_TAG: Final = 0x0112
_TRANSPOSING: Final = 5  # orientations 5 to 8 swap width and height

# WebP and AVIF encoder settings, chosen by measurement (python -m bench.encoders; README's table):
# WebP q80 method 4 scores JPEG q85's PSNR in 10-40% fewer bytes; AVIF q60 speed 8 takes 45-55%
# fewer bytes for 2 dB less PSNR (it smooths grain), at a fifteenth of speed 4's time.
ENCODER_SETTINGS: Final[dict[str, dict[str, object]]] = {
    "WEBP": {"quality": 80, "method": 4},
    "AVIF": {"quality": 60, "speed": 8},
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


@dataclass(frozen=True)
class Thumbnail:
    data: bytes  # encoded output
    width: int
    height: int
    format: str  # "JPEG", "PNG" or "WEBP"
    content_type: str
    source_format: str
    source_width: int
    source_height: int
    decode_ms: float = 0.0  # open, decode and resize
    encode_ms: float = 0.0


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
    if not specs:
        raise ValueError("at least one rendition is needed")
    if not 1 <= quality <= 100:
        raise ValueError("quality must be between 1 and 100")
    if not data:
        raise ImageRejected(RejectReason.EMPTY, "the object is empty")
    max_size = max(spec.size for spec in specs)

    started = time.perf_counter()
    if data[4:8] == b"ftyp":  # ISOBMFF: AVIF or HEIF
        _load_isobmff_plugins()
    prefix = dc_prefix(data, specs)
    if prefix is not None:
        data = progressive.closed(data, prefix)
    # PNGs and lossy WebPs libvips can decode as a stream are resampled while they decode: only
    # the base is ever held, so the memory budget prices that, and the CPU bound stays the
    # source's pixels (at most DEFAULT_MAX_PIXELS, whatever the memory size).
    streamed = vips.streams(data)
    if streamed and not vips.available():
        streamed = None
    estimate = decode_budget.check(
        data,
        READABLE_FORMATS,
        budget=max_pixels * BUDGET_BYTES_PER_PIXEL,
        draft=lambda size: _draft_request(size, max_size),
        held=(lambda size: _base_size(size, _sizes(size, specs))) if streamed else None,
    )
    if streamed and estimate is not None and estimate.format == streamed:
        # Pillow never opens it (its WebP plugin allocates two canvases on open): the size
        # comes from the estimate's header walk, the rest from libvips.
        source_format, source_size = streamed, estimate.size
        sizes = _sizes(source_size, specs)
        decoded_size = _base_size(source_size, sizes)
        pixel_limit = max(max_pixels, DEFAULT_MAX_PIXELS)
        counted = source_size[0] * source_size[1]
        if counted > pixel_limit or decoded_size[0] * decoded_size[1] > max_pixels:
            raise _too_large(source_size, source_format, counted, pixel_limit)
        base, orientation, icc = _load_streamed(data, decoded_size, sizes)
        large_resample = True
    else:
        source = _open(data)
        source_format = str(source.format)
        source_size = source.size
        sizes = _sizes(source_size, specs)
        request = _draft_request(source_size, max_size)
        if source_format in ("JPEG", "MPO") and request:
            source.draft(None, request)
        decoded = source.width * source.height
        if decoded > max_pixels:
            raise _too_large(source_size, source_format, decoded, max_pixels)
        # libvips' resample costs a copy of the decoded image: only where it fits beside the
        # decode, within half the budget (a large rendition of a photo, not a hostile edge).
        large_resample = decoded <= max_pixels // 2
        if (
            large_resample
            and source_format == "JPEG"
            and source.mode in ("L", "RGB")
            and decoded >= vips.RESAMPLE_MIN_PIXELS
            and vips.available()
        ):
            # A large rendition: libvips decodes at the same DCT scale and resamples the rows
            # as they come, so the megapixel decode is never held nor copied out of Pillow.
            base, orientation, icc = _load_jpeg_with_vips(source, source_size, data, sizes)
        else:
            base, orientation, icc = _load(source, sizes, large_resample)
    if orientation in _ORIENTATION:
        base = base.transpose(_ORIENTATION[orientation])
    if orientation >= _TRANSPOSING:
        sizes = [(height, width) for width, height in sizes]
    base = _drop_opaque_alpha(base)
    pixels = _resample_chain(base, sizes, large_resample)
    decoded_at = time.perf_counter()

    made: list[Rendition] = []
    encoded: dict[tuple[tuple[int, int], str], bytes] = {}
    for spec in specs:
        size = fit_within(source_size, spec.size)
        if orientation >= _TRANSPOSING:
            size = (size[1], size[0])
        im = pixels[size]
        out_format = _output_format(spec.format, im)
        began = time.perf_counter()
        if (size, out_format) not in encoded:  # a size over the source's repeats another
            encoded[size, out_format] = _encode(im, out_format, quality, icc)
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
    hint = compute_placeholder(pixels[sizes[-1]]) if placeholder else None
    return Renditions(
        renditions=tuple(made),
        source_format=source_format,
        source_width=source_size[0],
        source_height=source_size[1],
        placeholder=hint,
        decode_ms=(decoded_at - started) * 1000,
        encode_ms=(time.perf_counter() - decoded_at) * 1000,
        dc_prefix=prefix is not None,
        bytes_decoded=len(data) if prefix is None else prefix.end,
    )


def make_thumbnail(
    data: bytes,
    *,
    max_size: int = 200,
    quality: int = 85,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Thumbnail:
    """One ``auto`` rendition whose longer side is ``max_size`` (never upscaled): the single
    thumbnail the function made before renditions, kept for the benchmarks and callers of it."""
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    made = make_renditions(
        data,
        (RenditionSpec(max_size, OutputFormat.AUTO),),
        quality=quality,
        max_pixels=max_pixels,
        placeholder=False,
    )
    thumb = made.default
    return Thumbnail(
        data=thumb.data,
        width=thumb.width,
        height=thumb.height,
        format=thumb.format,
        content_type=thumb.content_type,
        source_format=made.source_format,
        source_width=made.source_width,
        source_height=made.source_height,
        decode_ms=made.decode_ms,
        encode_ms=made.encode_ms,
    )


def fit_within(size: tuple[int, int], max_size: int) -> tuple[int, int]:
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


def _draft_request(size: tuple[int, int], max_size: int) -> tuple[int, int] | None:
    """The size draft() is asked for, which makes it pick the smallest DCT scale that leaves
    the decode ``_DRAFT_GAP[scale]`` times the target; None: decode at full size."""
    target = fit_within(size, max_size)
    if target == size:
        return None
    for scale in (8, 4, 2):
        # Floors: draft() divides the size by the request and takes the scale at or below.
        width, height = size[0] // scale, size[1] // scale
        gap = _DRAFT_GAP[scale]
        if width >= target[0] * gap and height >= target[1] * gap:
            return width, height
    return None


@cache
def _load_isobmff_plugins() -> None:
    """Pillow's AVIF plugin (libavif) and pillow-heif (libheif), loaded on first use: 56 ms of
    a cold start and 10.6 MB resident (measured) that a function seeing only JPEGs, PNGs and
    WebPs never pays. libheif applies the irot/imir transforms while decoding and pillow-heif
    resets the EXIF orientation to 1, so orientation is applied exactly once."""
    from PIL import AvifImagePlugin  # noqa: F401 (registers AVIF)

    if _HEIF:
        import pillow_heif

        # Only the primary image: no depth maps, auxiliary images or embedded thumbnails.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _open(data: bytes) -> ImageFile.ImageFile:
    # Only the formats registered: naming another would make Image.open import every plugin.
    formats = [f for f in READABLE_FORMATS if f in Image.OPEN]
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            RejectReason.UNSUPPORTED,
            "not an image format thumbstat reads (" + ", ".join(READABLE_FORMATS) + ")",
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"unreadable image header: {exc}") from exc
    except MemoryError as exc:
        raise ImageRejected(RejectReason.TOO_LARGE, "the decoder ran out of memory") from exc


def _corrupt(exc: BaseException) -> ImageRejected:
    return ImageRejected(RejectReason.CORRUPT, f"image data is truncated or corrupt: {exc}")


def _too_large(
    size: tuple[int, int], source_format: str, decoded: int, limit: int
) -> ImageRejected:
    return ImageRejected(
        RejectReason.TOO_LARGE,
        f"{size[0]}x{size[1]} {source_format} would decode to {decoded:,} pixels, over the "
        f"limit of {limit:,}",
    )


def _load(
    source: ImageFile.ImageFile, sizes: list[tuple[int, int]], large_resample: bool
) -> tuple[Image.Image, int, bytes | None]:
    """Pillow's decode: the base (in sRGB), the EXIF orientation and the profile to embed."""
    try:
        source.load()
        orientation = _orientation(source)
        icc = source.info.get("icc_profile") or nclx.icc_for(source.info.get("nclx_profile"))
        base = _base(_normalise_mode(source), sizes, large_resample)
        if base is not source:
            source.close()  # the decoded pixels, freed before the encoders take their memory
        base, icc = _to_srgb(base, icc)
    except _DECODE_ERRORS as exc:
        raise _corrupt(exc) from exc
    except MemoryError as exc:  # an allocation the estimate missed: refuse, never retry
        raise ImageRejected(RejectReason.TOO_LARGE, "the decoder ran out of memory") from exc
    return base, orientation, icc


def _load_jpeg_with_vips(
    source: ImageFile.ImageFile,
    source_size: tuple[int, int],
    data: bytes,
    sizes: list[tuple[int, int]],
) -> tuple[Image.Image, int, bytes | None]:
    """The JPEG ``source`` (opened, draft() applied) decoded by libvips at the draft's scale
    straight to the base ``_base`` would make; orientation and profile from Pillow's header."""
    shrink = next(  # the DCT scale draft() chose
        (s for s in (8, 4, 2) if source.size == (-(-source_size[0] // s), -(-source_size[1] // s))),
        1,
    )
    orientation = _orientation(source)
    icc = source.info.get("icc_profile")
    size = _base_size(source.size, sizes)
    source.close()
    try:
        im = vips.load_jpeg_resampled(data, shrink, size)
    except vips.VipsError as exc:
        raise _corrupt(exc) from exc
    base = _base(im, sizes, True)
    base, icc = _to_srgb(base, icc)
    return base, orientation, icc


def _sizes(size: tuple[int, int], specs: Sequence[RenditionSpec]) -> list[tuple[int, int]]:
    """Every rendition's size for a source of ``size``, largest first, each once."""
    return sorted({fit_within(size, spec.size) for spec in specs}, reverse=True)


def _serves_all(sizes: list[tuple[int, int]]) -> bool:
    """True when every smaller rendition can be made from the largest (``sizes`` decreasing)."""
    return all(_can_make(sizes[0], size) or size == sizes[0] for size in sizes[1:])


def _base_size(size: tuple[int, int], sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The size of the base ``_base`` makes from an image of ``size``: the largest rendition
    when it serves all, else the image box-reduced as far as the largest rendition allows (as
    ``reduce()`` rounds). For decoders that resample as they go, so they can make it at once."""
    if _serves_all(sizes):
        return sizes[0]
    factor = max(1, _reduce_factor_of(size, sizes[0]))
    return -(-size[0] // factor), -(-size[1] // factor)


def _load_streamed(
    data: bytes, size: tuple[int, int], sizes: list[tuple[int, int]]
) -> tuple[Image.Image, int, bytes | None]:
    """libvips' streaming decode straight to ``size``, with the EXIF orientation and the ICC
    profile it read; colour is then applied as to Pillow's own decodes."""
    try:
        decoded = vips.load_resampled(data, size)
    except vips.VipsError as exc:
        raise _corrupt(exc) from exc
    base = _base(decoded.image, sizes, True)
    base, icc = _to_srgb(base, decoded.icc)
    return base, decoded.orientation, icc


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return 1  # a broken EXIF block is no reason to refuse the pixels
    return value if isinstance(value, int) else 1


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, LA, RGB, RGBA or CMYK (8 bits a channel)."""
    mode = im.mode
    has_key_colour = "transparency" in im.info
    if mode in ("L", "RGB"):
        return im.convert(mode + "A") if has_key_colour else im
    if mode in ("LA", "RGBA", "CMYK"):
        return im
    if mode in ("La", "RGBa"):
        return im.convert(mode.upper())
    if mode in ("P", "PA"):
        return im.convert("RGBA" if has_key_colour or mode == "PA" else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I") or mode == "F":
        # 16-bit (and wider) grey: scale to 8 bits rather than clip everything above 255 to white.
        wide = im.convert("I") if mode.startswith("I;16") else im
        top = wide.getextrema()[1]
        if isinstance(top, (int, float)) and top > 255:
            wide = wide.point(lambda v: v / 256)
        return wide.convert("L")
    return im.convert("RGB")


def _can_make(larger: tuple[int, int], size: tuple[int, int]) -> bool:
    """True when ``size`` can be made from an image of ``larger`` size under the quality rule."""
    return larger[0] >= size[0] * _RESAMPLE_GAP and larger[1] >= size[1] * _RESAMPLE_GAP


def _base(im: Image.Image, sizes: list[tuple[int, int]], large_resample: bool) -> Image.Image:
    """The one image colour and orientation are applied to, as small as the renditions allow.

    ``sizes`` is in decreasing order. When every smaller rendition can be made from the largest
    one, that is the largest rendition itself (for one thumbnail, the thumbnail: as cheap as
    before renditions). Otherwise it is the decoded image box-reduced as far as the largest
    rendition's resample allows, so every rendition is still resampled from at least twice its
    size.
    """
    largest = sizes[0]
    if _serves_all(sizes):
        return _shrink(im, largest, large_resample)
    factor = _reduce_factor(im, largest)
    return im.reduce(factor) if factor > 1 else im


def _resample_chain(
    base: Image.Image, sizes: list[tuple[int, int]], large_resample: bool
) -> dict[tuple[int, int], Image.Image]:
    """Every size from ``base``, each from the smallest image made so far that is at least twice
    its size (the previous, larger rendition where it can be), else from ``base``."""
    made: dict[tuple[int, int], Image.Image] = {base.size: base}
    for size in sizes:
        if size in made:
            continue
        sources = [im for im in made.values() if _can_make(im.size, size)]
        source = min(sources, key=lambda im: im.width) if sources else base
        made[size] = _shrink(source, size, large_resample)
    return made


def _reduce_factor(im: Image.Image, target: tuple[int, int]) -> int:
    return _reduce_factor_of(im.size, target)


def _reduce_factor_of(size: tuple[int, int], target: tuple[int, int]) -> int:
    return min(size[0] // (target[0] * _RESAMPLE_GAP), size[1] // (target[1] * _RESAMPLE_GAP))


def _shrink(im: Image.Image, target: tuple[int, int], large_resample: bool = False) -> Image.Image:
    """``im`` at ``target``: reduce() to within the gap, then LANCZOS (libvips' lanczos3 on
    megapixels when ``large_resample`` allows its copy)."""
    if im.size == target:
        return im
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(im.mode)
    if premultiplied:
        # Resample colour weighted by alpha, so transparent pixels leave no dark fringes.
        im = im.convert(premultiplied)
    factor = _reduce_factor(im, target)
    if factor > 1:
        im = im.reduce(factor)
    resampled = None
    if large_resample and im.width * im.height >= vips.RESAMPLE_MIN_PIXELS:
        resampled = vips.resample(im, target)  # 2-3x faster on megapixels
    im = resampled or im.resize(target, Image.Resampling.LANCZOS)
    return im.convert(im.mode.upper()) if premultiplied else im


@lru_cache(maxsize=8)
def _srgb_transform(icc: bytes) -> ImageCmsTransform | None:
    """The profile-to-sRGB transform, cached: camera photos share a handful of profiles and
    building a transform costs more than applying it to a thumbnail."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        in_mode = "CMYK" if source.profile.xcolor_space.strip() == "CMYK" else "RGB"
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.buildTransform(source, srgb, in_mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # unusable profile


def _to_srgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert to sRGB with the embedded profile. Returns the image and the profile to embed."""
    if im.mode in ("L", "LA"):
        return im, icc  # grey profiles are small and converting grey to RGB triples the bytes
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    colour = im.convert("RGB") if alpha is not None else im
    transform = _srgb_transform(icc) if icc else None
    if transform is not None and transform.input_mode == colour.mode:
        converted = transform.apply(colour)
    else:
        # Untagged (or unusably tagged) pixels are taken as sRGB already; untagged CMYK gets the
        # device conversion browsers apply to untagged CMYK JPEGs.
        converted = colour.convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, None


def _drop_opaque_alpha(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() == (255, 255):
        return im.convert(im.mode[:-1])
    return im


def _has_transparency(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() != (255, 255)


def _output_format(requested: OutputFormat, im: Image.Image) -> str:
    if requested is OutputFormat.AUTO:
        return "PNG" if _has_transparency(im) else "JPEG"
    return PILLOW_FORMAT[requested]


def _encode(im: Image.Image, out_format: str, quality: int, icc: bytes | None) -> bytes:
    """Encode with the settings chosen by measurement (ENCODER_SETTINGS; bench/encoders.py)."""
    if im.mode in ("RGBA", "LA") and not _has_transparency(im):
        im = im.convert(im.mode[:-1])
    if out_format == "JPEG" and im.mode in ("RGBA", "LA"):
        # JPEG has no alpha: flattened onto white, as browsers show transparency on a white page.
        background = Image.new(im.mode, im.size, (255,) * len(im.mode))
        im = Image.alpha_composite(background, im) if im.mode == "RGBA" else _flatten_la(im)
        im = im.convert(im.mode[:-1])
    if out_format == "WEBP" and im.mode in ("L", "LA"):
        # WebP holds colour only, and a grey profile does not describe RGB: plain grey as sRGB.
        im, icc = im.convert("RGBA" if im.mode == "LA" else "RGB"), None
    # Images carry their source's info (EXIF, XMP, ...) through Pillow operations; save only
    # what is passed here explicitly.
    im.info = {}
    buffer = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if out_format == "JPEG":
        # Optimised Huffman tables save ~2% of the bytes for three times the encode's time
        # (measured at 1024x768: 9.7 against 3.1 ms): worth it on thumbnails, not on large ones.
        optimize = im.width * im.height <= _OPTIMIZE_MAX_PIXELS
        im.save(buffer, "JPEG", quality=quality, optimize=optimize, **options)
    elif out_format == "PNG":
        im.save(buffer, "PNG", compress_level=6, **options)
    else:
        im.save(buffer, out_format, **ENCODER_SETTINGS[out_format], **options)
    return buffer.getvalue()


def _flatten_la(im: Image.Image) -> Image.Image:
    rgba = Image.alpha_composite(
        Image.new("RGBA", im.size, (255, 255, 255, 255)), im.convert("RGBA")
    )
    return rgba.convert("L").convert("LA")


# --- progressive JPEG: the DC scans alone, when a 1/8-scale decode serves every rendition ----


def dc_scale_serves(size: tuple[int, int], specs: Sequence[RenditionSpec]) -> bool:
    """True when draft() will decode a ``size`` JPEG at 1/8 scale for ``specs``: the 1/8-scale
    image is then at least ``_RESAMPLE_GAP`` times every rendition (orientation swaps both sides
    of both, so it changes nothing here)."""
    request = _draft_request(size, max(spec.size for spec in specs))
    return request is not None and min(size[0] // request[0], size[1] // request[1]) >= 8


def dc_prefix(data: bytes | bytearray, specs: Sequence[RenditionSpec]) -> progressive.Head | None:
    """Where the DC scans of a progressive JPEG end (``.end``) when those bytes are all its
    renditions need (handlers.imaging.progressive; ``data`` may be only the head of the file), else
    None:
    decode the whole file. ``progressive.closed`` makes them the file to decode."""
    head = progressive.scan(data, lambda frame: dc_scale_serves(frame.size, specs))
    return head if head.status is progressive.Status.COMPLETE else None
