"""What each decoder will allocate, read from the file's own structure before Pillow opens it.

The pixel budget used to be checked on the decoded size, after ``Image.open``. That missed what
the decoders allocate beside the decoded image, some of it while opening:

- progressive (multi-scan) JPEG: whole-image coefficient buffers, 2 bytes a coefficient of every
  component at full size whatever the draft scale, and one pass over them per scan;
- GIF: a frame larger than its canvas grows the image, and its disposal area is allocated while
  opening;
- WebP: Pillow decodes through libwebp's animation decoder, which keeps two RGBA canvases, and
  hands the frame over as a third copy;
- AVIF: libavif scales the AV1 frame to the ``ispe`` size (or a grid's output size), and keeps its
  YUV planes while Pillow copies the RGB pixels twice;
- TIFF: libtiff reads a whole tile or strip at its declared size, whatever the image's size;
- PNG, BMP and the rest: the mode conversions of thumbstat's own pipeline (16-bit grey, key colour
  transparency) and Python-level loops over chunks, markers and run-length codes.

Each readable format has an estimator (``ESTIMATORS``, keyed by Pillow's format name) that walks the
headers (markers, chunks, boxes, tags; never a pixel) and answers an ``Estimate``: the size and mode
Pillow will decode, what the decoder allocates while decoding and what it keeps while the pipeline
runs, and the CPU time of the parts that do not scale with pixels (scans, Python loops). ``check``
adds the pipeline's working copies for that mode and refuses, as ``too-large``, what would not fit
the budget or would take more than ``MAX_CPU_SECONDS``. Where a structure can be read two ways the
estimators take the larger reading: an estimate may refuse a file its decoder would have managed,
never the reverse. The costs below were measured with Pillow 13 on x86-64;
tests/unit/imaging/test_hostile_input.py holds files sized to each limit against the memory sizes.

Adding a format (HEIF, say) means registering ``ESTIMATORS["HEIF"]``: ``check`` refuses a readable
format it has no estimator for.
"""

from __future__ import annotations

import contextlib
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Final, NoReturn

from PIL import Image, PngImagePlugin

from handlers.common.errors import ImageRejected, RejectReason

__all__ = [
    "ESTIMATORS",
    "MAX_CPU_SECONDS",
    "Estimate",
    "Estimator",
    "check",
    "decoded_size",
    "peak_bytes",
    "working_bytes",
]

MAX_CPU_SECONDS: Final = 1.0
"""CPU the pathological parts of a decode may take, on one full core. Lambda gives a function
memory/1,769 MB of a vCPU: at 128 MB this second is ~14 s of the 30 s timeout, at 256 MB ~7 s."""

_MB: Final = 2**20

# Measured CPU costs of what the estimators count (x86-64, CPython 3.11, Pillow 13).
_PY_STRUCTURE_S: Final = 3e-6  # one marker, chunk, tag or tile handled in Python by Pillow
_PY_KEPT_CHUNK_S: Final = 5e-6  # ... and one Pillow also copies and keeps (PNG private chunks)
_PY_JUNK_S: Final = 0.1e-6  # one byte of junk Pillow's JPEG header loop reads alone
_PY_FILL_S: Final = 1e-6  # ... one 0xFF fill byte (a longer turn of the same loop)
_PY_NUMBER_S: Final = 0.05e-6  # one tag value unpacked into an int
_PY_RATIONAL_S: Final = 3e-6  # ... or into an IFDRational
_PY_RLE_PIXEL_S: Final = 0.1e-6  # one pixel of Pillow's pure-Python BMP RLE decoder
_MEMCPY_BYTE_S: Final = 0.2e-9  # one byte copied by repeated bytes concatenation
_JPEG_SCAN_S: Final = 5e-6  # libjpeg-turbo: starting one scan
_JPEG_BLOCK_S: Final = 10e-9  # ... one block of one component visited by a scan
_JPEG_COEF_S: Final = 0.2e-9  # ... one coefficient of the band a scan codes or refines
_JPEG_ENTROPY_BYTE_S: Final = 10e-9  # ... one byte of Huffman-coded data
_AVIF_TILE_S: Final = 50e-6  # libavif: setting up one grid tile's AV1 decoder
_AVIF_TILE_BYTES: Final = 16 * 1024  # ... and what each tile keeps
# ... and the AV1 decoder itself, whatever the size: dav1d's frame threads and picture pools
# (measured: a 4096x800 grid of 4 tiles peaked 60 MB over the baseline, 37 MB estimated without).
_DAV1D_CONTEXT_BYTES: Final = 24 * 2**20

# Structures (markers, chunks, sub-blocks, boxes) past which Pillow's Python loops alone would
# take MAX_CPU_SECONDS; the estimators stop counting there and refuse.
_MAX_STRUCTURES: Final = int(MAX_CPU_SECONDS / _PY_STRUCTURE_S)

# Python objects Pillow makes per structure it keeps (a tuple, a bytes header, a dict slot).
_PY_OBJECT_BYTES: Final = 160
_PY_NUMBER_BYTES: Final = 40  # a tag value unpacked into a tuple of ints
_PY_RATIONAL_BYTES: Final = 200  # ... or of IFDRational objects


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


Estimator = Callable[[bytes], Estimate]
DraftRequest = Callable[[tuple[int, int]], "tuple[int, int] | None"]
HeldSize = Callable[[tuple[int, int]], tuple[int, int]]


class _Unreadable(ValueError):
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
    estimator = ESTIMATORS.get(format_)
    if estimator is None:
        raise ImageRejected(
            RejectReason.UNSUPPORTED, f"{format_} has no decode-budget estimator: not decoded"
        )
    try:
        estimate = estimator(data)
    except (_Unreadable, IndexError, struct.error, ValueError, OverflowError) as exc:
        raise ImageRejected(RejectReason.CORRUPT, f"unreadable {format_} structure: {exc}") from exc

    width, height = estimate.size
    if held:
        decoded = held(estimate.size)
        streaming = estimate.stream_held
        peak = peak_bytes(
            estimate if streaming is None else replace(estimate, held=streaming), len(data), decoded
        )
    else:
        decoded = decoded_size(estimate, draft)
        peak = peak_bytes(estimate, len(data), decoded)
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
    return estimate


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


def _refuse_structures(what: str, count: int) -> NoReturn:
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


def working_bytes(mode: str, key_colour: bool = False) -> float:
    """Bytes a decoded pixel of ``mode`` takes at the pipeline's peak, the decoded image included:
    handlers.imaging.pipeline's _normalise_mode (the conversions to L, LA, RGB, RGBA or CMYK;
    16-bit grey
    goes through I and a point() copy) and _shrink (the premultiplied copy of alpha images), plus
    one byte for the reduced copy. Keep in step with those functions: the hostile-input tests
    measure the pipeline against it."""
    source = _PIXEL_BYTES.get(mode, 4)
    if mode in ("L", "RGB"):
        normalised = 8 if key_colour else 0  # + LA/RGBA, then its premultiplied copy
    elif mode in ("LA", "RGBA"):
        normalised = 4  # the premultiplied copy
    elif mode == "CMYK":
        normalised = 0
    elif mode in ("La", "RGBa"):
        normalised = 8  # to LA/RGBA, then premultiplied again
    elif mode == "P":
        normalised = 8 if key_colour else 4
    elif mode == "PA":
        normalised = 8
    elif mode == "1":
        normalised = 1
    elif mode.startswith("I;16"):
        normalised = 8  # to I (4), point() (4), then L
    elif mode in ("I", "F"):
        normalised = 4 + 1  # point() (4) and L (1)
    else:
        normalised = 4 + 4  # convert("RGB"), and an alpha mode's premultiplied copy
    return source + normalised + 1


# --- helpers -------------------------------------------------------------------------------


def _u16be(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from(">H", data, offset)[0]
    return value


def _u32be(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from(">I", data, offset)[0]
    return value


def _u16le(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<H", data, offset)[0]
    return value


def _u32le(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def _u24le(data: bytes, offset: int) -> int:
    return data[offset] | data[offset + 1] << 8 | data[offset + 2] << 16


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _round_up(a: int, b: int) -> int:
    return _ceil_div(a, b) * b


# --- JPEG (and MPO: Pillow decodes its first image) ----------------------------------------

_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xDE}  # DHP: Pillow's SOF too
_PROGRESSIVE: Final = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_LOSSLESS: Final = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
_JPEG_MODES: Final = {1: "L", 3: "RGB", 4: "CMYK"}
MAX_JPEG_SCANS: Final = 256
"""libjpeg's default progression has 10 scans (6 for grey); each scan is another pass over the
coefficient buffers, and thousands of them (a few bytes each) are an attack, not a photograph."""


@dataclass(frozen=True)
class _Frame:
    marker: int
    width: int
    height: int
    components: tuple[tuple[int, int, int], ...]  # (id, h, v sampling factors) of each


@dataclass(frozen=True)
class _Scan:
    components: tuple[int, ...]
    start: int  # first coefficient of the band (Ss)
    end: int  # last (Se)


# A marker: the last 0xFF of a run followed by a byte that is not a stuffed zero, a restart
# marker or more fill. A two-byte pattern with a literal first byte, so the search runs at C
# speed over entropy-coded data (a lookbehind with a possessive run took 70 ms on a 5 MB photo,
# twice the whole decode; this takes 3 ms).
_JPEG_MARKER: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_NOT_FF: Final = re.compile(rb"[^\xff]")
_PARAMETERLESS: Final = frozenset({0x01, 0xD8})


@dataclass
class _JpegWalk:
    """What Pillow's Python header loop meets before the first scan."""

    junk: int = 0  # bytes between segments, read one at a time
    fill: int = 0  # extra 0xFF bytes before a marker, each its own loop turn
    segments: int = 0


def _jpeg_segments(data: bytes, walk: _JpegWalk) -> Iterator[tuple[int, int, int]]:
    """(marker, payload offset, payload length) of every marker segment up to EOI, found as
    libjpeg-turbo finds them: fill, stuffed zeros, restart markers and entropy-coded data (or
    junk) are stepped over. Counts into ``walk`` what precedes the first SOS."""
    pos, end, scanning = 2, len(data), False
    while True:
        if pos < end and data[pos] == 0xFF:
            # A run starting right here: it may end in a stuffed zero or a restart marker.
            run_end = _NOT_FF.search(data, pos)
            if run_end is None:
                return
            run_start, marker_at = pos, run_end.start()
            if data[marker_at] == 0x00 or 0xD0 <= data[marker_at] <= 0xD7:
                pos = marker_at + 1
                continue
        else:
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                return
            marker_at = found.end() - 1
            # Where the run of 0xFF began (fill before the marker), without a byte loop; only
            # counted before the first scan, so entropy-coded data is never copied.
            run_start = (
                found.start() if scanning else pos + len(data[pos : found.start()].rstrip(b"\xff"))
            )
        if not scanning:
            walk.junk += run_start - pos
            walk.fill += marker_at - run_start - 1
            walk.segments += 1
            if walk.segments > _MAX_STRUCTURES:
                _refuse_structures("JPEG marker segments", walk.segments)
        marker = data[marker_at]
        if marker == 0xD9:
            yield marker, marker_at + 1, 0
            return
        if marker in _PARAMETERLESS:
            pos = marker_at + 1
            continue
        if marker_at + 3 > end:
            return
        length = _u16be(data, marker_at + 1)
        if length < 2:
            raise _Unreadable(f"marker 0x{marker:02X} at {marker_at} has length {length}")
        yield marker, marker_at + 3, length - 2
        scanning = scanning or marker == 0xDA
        pos = marker_at + 1 + length


def _jpeg(data: bytes) -> Estimate:
    frames: list[_Frame] = []
    scans: list[_Scan] = []
    walk = _JpegWalk()
    app_bytes = app_segments = exif_bytes = exif_copied = segment_bytes = 0
    for marker, at, length in _jpeg_segments(data, walk):
        if marker == 0xD9:
            break
        segment_bytes += 4 + length
        if marker in _SOF:
            payload = data[at : at + length]
            if len(payload) < 6:
                raise _Unreadable("short frame header")
            components = tuple(
                (
                    payload[6 + 3 * i],
                    max(1, payload[7 + 3 * i] >> 4),
                    max(1, payload[7 + 3 * i] & 15),
                )
                for i in range(payload[5])
            )
            frames.append(_Frame(marker, _u16be(payload, 3), _u16be(payload, 1), components))
        elif marker == 0xDA:
            payload = data[at : at + length]
            count = payload[0]
            ids = tuple(payload[1 + 2 * i] for i in range(count))
            start, end = payload[1 + 2 * count], payload[2 + 2 * count]
            scans.append(_Scan(ids, start, max(start, end)))
            if len(scans) > MAX_JPEG_SCANS:
                raise ImageRejected(
                    RejectReason.TOO_LARGE,
                    f"JPEG with more than {MAX_JPEG_SCANS} scans (each scan is another pass "
                    "over the whole image)",
                )
        elif (0xE0 <= marker <= 0xEF or marker == 0xFE) and not scans:
            # Pillow keeps every APP and COM segment (applist), joins the ICC chunks, and
            # concatenates the EXIF ones with += (a copy of the whole so far each time).
            app_bytes += length
            app_segments += 1
            if marker == 0xE1 and data.startswith(b"Exif\0\0", at):
                exif_copied += exif_bytes
                exif_bytes += length
    if not frames:
        raise _Unreadable("no frame header (SOF) before the end of the image")

    width = max(f.width for f in frames)
    height = max(f.height for f in frames)
    frame = max(frames, key=lambda f: len(f.components))
    if not frame.components:
        raise _Unreadable("a frame with no components")
    h_max = max(h for _, h, _ in frame.components)
    v_max = max(v for _, _, v in frame.components)
    # Blocks of each component, rounded up to whole MCUs as jdcoefct.c allocates them (a list:
    # component ids may repeat, and each component still gets its buffer).
    blocks = [
        (
            cid,
            _round_up(_ceil_div(_ceil_div(width * h, h_max), 8), h)
            * _round_up(_ceil_div(_ceil_div(height * v, v_max), 8), v),
        )
        for cid, h, v in frame.components
    ]
    progressive = any(f.marker in _PROGRESSIVE for f in frames)
    lossless = any(f.marker in _LOSSLESS for f in frames)
    multi_scan = (
        progressive
        or len(scans) > 1
        or any(len(s.components) < len(frame.components) for s in scans)
    )

    decoding = 0
    cpu = walk.segments * _PY_STRUCTURE_S + walk.junk * _PY_JUNK_S + walk.fill * _PY_FILL_S
    cpu += exif_copied * _MEMCPY_BYTE_S + (len(data) - segment_bytes) * _JPEG_ENTROPY_BYTE_S
    if multi_scan:
        # jdcoefct.c: a whole-image array of JBLOCKs (64 2-byte coefficients) per component,
        # sized at full resolution whatever the output scale; jddiffct.c keeps 4-byte
        # differences per sample for lossless files.
        per_block = 64 * 4 if lossless else 64 * 2
        decoding += sum(n for _, n in blocks) * per_block
        for scan in scans:
            scan_blocks = sum(n for cid, n in blocks if cid in scan.components)
            band = scan.end - scan.start + 1
            cpu += _JPEG_SCAN_S + scan_blocks * (_JPEG_BLOCK_S + band * _JPEG_COEF_S)
    else:
        # One pass over every block, even at 1/8 scale (a huge baseline frame costs its blocks).
        cpu += sum(n for _, n in blocks) * (_JPEG_BLOCK_S + 64 * _JPEG_COEF_S)
    # Row buffers of the output pass at full scale (jdmainct.c's context rows, the upsampler's):
    # a few bytes a column per component and sample row, counted as 6.
    decoding += width * v_max * 8 * len(frame.components) * 6
    held = 3 * app_bytes + app_segments * _PY_OBJECT_BYTES + 2 * exif_bytes
    note = "progressive" if progressive else "multi-scan" if multi_scan else "baseline"
    note += f", {len(scans)} scan" + ("s" if len(scans) != 1 else "")
    return Estimate(
        format="JPEG",
        size=(width, height),
        mode=_JPEG_MODES.get(len(frame.components), "CMYK"),
        scalable=not lossless,
        decoding=decoding,
        held=held,
        cpu=cpu,
        note=note,
    )


# --- PNG -----------------------------------------------------------------------------------

_PNG_CHANNELS: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Chunks Pillow's PngStream handles (the rest, if ancillary and private, it keeps).
_PNG_KNOWN: Final = frozenset(
    {
        b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"pHYs",
        b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"acTL", b"fcTL", b"fdAT", b"iCCP",
    }
)  # fmt: skip


def _png(data: bytes) -> Estimate:
    pos, end = 8, len(data)
    header: bytes | None = None
    key_colour = False
    chunks = private = kept = text = compressed_text = 0
    while pos + 8 <= end:
        length, kind = _u32be(data, pos), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        chunks += 1
        if chunks > _MAX_STRUCTURES:
            _refuse_structures("PNG chunks", chunks)
        if kind == b"IHDR":
            header = body
        elif kind == b"tRNS":
            key_colour = True
        elif kind == b"tEXt":
            text += length
        elif kind in (b"zTXt", b"iCCP"):
            compressed_text += 1
        elif kind == b"iTXt":
            keyword_end = body.find(b"\0")
            if 0 <= keyword_end < len(body) - 1 and body[keyword_end + 1]:
                compressed_text += 1
            else:
                text += length
        elif kind == b"eXIf":
            kept += 2 * length  # the raw block and the tag data getexif() copies out of it
        elif kind not in _PNG_KNOWN and kind[1:2].islower():
            kept += length + _PY_OBJECT_BYTES  # Pillow's private_chunks
            private += 1
        if kind == b"IEND":
            break
    if header is None or len(header) < 13:
        raise _Unreadable("no image header (IHDR)")
    width, height = _u32be(header, 0), _u32be(header, 4)
    depth, colour = header[8], header[9]
    mode = PngImagePlugin._MODES.get((depth, colour), ("RGBA", ""))[0]
    # Decompressed text (up to MAX_TEXT_CHUNK a chunk, MAX_TEXT_MEMORY in all), as bytes and str.
    text_bytes = min(
        text + compressed_text * PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY
    )
    row = _ceil_div(width * depth * _PNG_CHANNELS.get(colour, 4), 8) + 1
    return Estimate(
        format="PNG",
        size=(width, height),
        mode=mode,
        key_colour=key_colour and mode in ("L", "RGB", "P"),
        decoding=2 * row + 256 * 1024,  # ZipDecode's current and previous rows, zlib's window
        held=kept + 2 * text_bytes + chunks * _PY_OBJECT_BYTES // 4,
        cpu=chunks * _PY_STRUCTURE_S + private * _PY_KEPT_CHUNK_S,
        note=f"{depth}-bit {mode}" + (" with tRNS" if key_colour else ""),
    )


# --- GIF -----------------------------------------------------------------------------------


def _gif_blocks(data: bytes, pos: int) -> tuple[list[bytes], int]:
    """The data sub-blocks starting at ``pos``, and the offset after their terminator."""
    blocks = []
    while pos < len(data):
        size = data[pos]
        pos += 1
        if size == 0:
            break
        blocks.append(data[pos : pos + size])
        pos += size
    return blocks, pos


def _gif(data: bytes) -> Estimate:
    screen = _u16le(data, 6), _u16le(data, 8)
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    palette = bool(flags & 0x80)
    disposal, transparency, sub_blocks, comments = 0, False, 0, 0
    extent: tuple[int, int, int, int] | None = None
    while pos < len(data):
        introducer = data[pos]
        if introducer == 0x21 and pos + 1 < len(data):
            label = data[pos + 1]
            blocks, pos = _gif_blocks(data, pos + 2)
            sub_blocks += len(blocks) + 1
            if sub_blocks > _MAX_STRUCTURES:
                _refuse_structures("GIF extension blocks", sub_blocks)
            if label == 0xF9 and blocks and len(blocks[0]) >= 4:
                transparency = transparency or bool(blocks[0][0] & 1)
                disposal = max(disposal, (blocks[0][0] >> 2) & 7)
            elif label == 0xFE:
                comments += sum(len(b) for b in blocks)
        elif introducer == 0x2C:
            if pos + 10 > len(data):
                raise _Unreadable("truncated image descriptor")
            x0, y0 = _u16le(data, pos + 1), _u16le(data, pos + 3)
            extent = (x0, y0, x0 + _u16le(data, pos + 5), y0 + _u16le(data, pos + 7))
            palette = palette or bool(data[pos + 9] & 0x80)
            break
        else:
            break  # the trailer, or junk: Pillow finds no image either
    if extent is None:
        raise _Unreadable("no image descriptor")
    # A frame reaching past the logical screen grows the image (GifImageFile._seek).
    size = max(screen[0], extent[2]), max(screen[1], extent[3])
    frame_pixels = (extent[2] - extent[0]) * (extent[3] - extent[1])
    # Disposal 2 or 3 makes a fill of the frame's extent while opening, kept with the image.
    dispose = frame_pixels if disposal >= 2 else 0
    return Estimate(
        format="GIF",
        size=size,
        mode="P" if palette else "L",
        key_colour=transparency,
        held=dispose + 2 * comments + sub_blocks * 64,
        cpu=sub_blocks * _PY_STRUCTURE_S,
        note=f"frame {extent[2] - extent[0]}x{extent[3] - extent[1]}"
        + (f" in a {screen[0]}x{screen[1]} screen" if size != screen else ""),
    )


# --- WebP ----------------------------------------------------------------------------------


def _riff_chunks(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, payload offset, payload size) of the RIFF chunks in data[pos:end]."""
    while pos + 8 <= end:
        fourcc, size = data[pos : pos + 4], _u32le(data, pos + 4)
        yield fourcc, pos + 8, size
        pos += 8 + size + (size & 1)


def _webp_bitstream(data: bytes, fourcc: bytes, pos: int) -> tuple[int, int, bool]:
    """(width, height, lossless) from a VP8 or VP8L chunk's header."""
    if fourcc == b"VP8 ":
        if data[pos + 3 : pos + 6] != b"\x9d\x01\x2a":
            raise _Unreadable("VP8 key frame without its start code")
        return _u16le(data, pos + 6) & 0x3FFF, _u16le(data, pos + 8) & 0x3FFF, False
    if data[pos] != 0x2F:
        raise _Unreadable("VP8L chunk without its signature")
    bits = _u32le(data, pos + 1)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, True


def _webp(data: bytes) -> Estimate:
    canvas: tuple[int, int] | None = None
    frame: tuple[int, int, bool] | None = None
    alpha = False
    end = min(len(data), 8 + _u32le(data, 4))
    for fourcc, pos, size in _riff_chunks(data, 12, end):
        if fourcc == b"VP8X":
            alpha = alpha or bool(data[pos] & 0x10)
            canvas = _u24le(data, pos + 4) + 1, _u24le(data, pos + 7) + 1
        elif fourcc in (b"VP8 ", b"VP8L") and frame is None:
            frame = _webp_bitstream(data, fourcc, pos)
            if fourcc == b"VP8L":
                alpha = alpha or bool(_u32le(data, pos + 1) >> 28 & 1)
        elif fourcc == b"ALPH":
            alpha = True
        elif fourcc == b"ANMF" and frame is None:
            for inner, inner_pos, _ in _riff_chunks(data, pos + 16, pos + size):
                if inner in (b"VP8 ", b"VP8L"):
                    frame = _webp_bitstream(data, inner, inner_pos)
                    break
                if inner == b"ALPH":
                    alpha = True
    if frame is None:
        raise _Unreadable("no VP8 or VP8L bitstream")
    width, height = canvas or frame[:2]
    canvas_pixels = width * height
    frame_pixels = frame[0] * frame[1]
    # libwebp's WebPAnimDecoder: the current and the previous canvas, RGBA; Pillow's get_next()
    # copies the canvas into a bytes object that its BytesIO keeps; WebPDataCopy keeps the file.
    held = 12 * canvas_pixels + len(data)
    # Decoding the first frame: VP8L's ARGB pixel buffer; a lossy frame's alpha plane and the
    # 32-bit buffer its lossless alpha stream may need. Opening also copies the file twice.
    decoding = (4 if frame[2] else 5 if alpha else 0) * frame_pixels + 2 * len(data)
    decoding += width * 64 * 4  # VP8's per-macroblock-row caches
    return Estimate(
        format="WEBP",
        size=(width, height),
        mode="RGBA" if alpha else "RGB",
        decoding=decoding,
        held=held,
        stream_held=0,  # libwebp decodes the file in place, scaled, row by row
        note=("lossless" if frame[2] else "lossy") + (", alpha" if alpha else ""),
    )


# --- TIFF ----------------------------------------------------------------------------------

_TIFF_TYPE_SIZES: Final = {
    1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8,
    17: 8, 18: 8,
}  # fmt: skip
_TIFF_KEPT_AS_BYTES: Final = frozenset({1, 2, 7})  # BYTE, ASCII, UNDEFINED
_TIFF_RATIONALS: Final = frozenset({5, 10})
_TIFF_SUB_IFDS: Final = (0x8769, 0x8825, 0xA005)  # Exif, GPS, Interop: loaded by load_end
# Bytes a decoded sample of these codecs takes in the codec's own buffers, beside the tile:
# JPEG (old and new): coefficient buffers if the tile's JPEG is progressive; WebP: libwebp's
# RGBA output and its ARGB working buffer; LZMA, ZSTD: dictionary/window pages touched.
_TIFF_CODEC_BYTES: Final = {6: 2.5, 7: 2.5, 50001: 8.0, 34925: 1.0, 50000: 1.0}


_TIFF_NEEDED: Final = frozenset({256, 257, 258, 259, 262, 277, 278, 284, 322, 323})
_TIFF_BLOCKS: Final = frozenset({273, 324})  # StripOffsets, TileOffsets: their count matters
_TIFF_UNPACK: Final = {3: "H", 4: "I", 8: "h", 9: "i", 13: "I", 16: "Q"}
# Tags TiffImageFile._setup unpacks into Python values (the rest stay raw bytes unless asked
# for): the ones above, FillOrder, Orientation, SampleFormat, ExtraSamples, resolutions and
# their unit, the strip and tile tables, the colour map.
_TIFF_UNPACKED: Final = _TIFF_NEEDED | {266, 274, 339, 338, 282, 283, 296, 273, 279, 324, 325, 320}


@dataclass
class _Ifd:
    values: dict[int, tuple[int, ...]]
    cost: int = 0  # bytes of what Pillow makes of the tags: raw data, unpacked values
    cpu: float = 0.0  # seconds it takes to unpack them
    entries: int = 0


def _tiff_ifd(data: bytes, offset: int, order: str, big: bool, unpack_all: bool = False) -> _Ifd:
    """The tags of one IFD that size the decode, and what Pillow's reading of them costs
    (``unpack_all``: every tag is unpacked, as Exif.get_ifd does for the sub-IFDs)."""
    count_format, entry_size, inline = ("Q", 20, 8) if big else ("H", 12, 4)
    (entries,) = struct.unpack_from(order + count_format, data, offset)
    if entries > _MAX_STRUCTURES:
        _refuse_structures("TIFF tags", entries)
    ifd = _Ifd(values={}, entries=entries)
    pos = offset + (8 if big else 2)
    for _ in range(entries):
        tag, kind, count = struct.unpack_from(order + ("HHQ" if big else "HHI"), data, pos)
        value_pos = pos + (12 if big else 8)
        pos += entry_size
        size = _TIFF_TYPE_SIZES.get(kind, 0)
        if not size:
            continue  # Pillow skips unknown types
        if size * count > inline:
            (value_pos,) = struct.unpack_from(order + ("Q" if big else "I"), data, value_pos)
        # Pillow reads what the file holds (_safe_read) and warns about the rest.
        count = max(0, min(size * count, len(data) - value_pos)) // size
        ifd.cost += 2 * size * count + _PY_OBJECT_BYTES  # the raw data, and getexif()'s copy
        if kind not in _TIFF_KEPT_AS_BYTES and (unpack_all or tag in _TIFF_UNPACKED):
            rational = kind in _TIFF_RATIONALS
            ifd.cost += count * (_PY_RATIONAL_BYTES if rational else _PY_NUMBER_BYTES)
            ifd.cpu += count * (_PY_RATIONAL_S if rational else _PY_NUMBER_S)
        letter = _TIFF_UNPACK.get(kind)
        if tag in _TIFF_BLOCKS:
            ifd.values[tag] = (count,)
        elif letter and count and (tag in _TIFF_NEEDED or tag in _TIFF_SUB_IFDS):
            keep = min(count, 4)
            ifd.values[tag] = struct.unpack_from(order + letter * keep, data, value_pos)
    return ifd


def _tiff(data: bytes) -> Estimate:
    order = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack_from(order + "H", data, 2)
    big = magic == 43
    (first,) = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)
    ifd = _tiff_ifd(data, first, order, big)
    values = ifd.values
    tag_cost, tag_cpu = ifd.cost, ifd.cpu
    for sub in _TIFF_SUB_IFDS:  # TiffImageFile.load_end loads these through getexif()
        if values.get(sub):
            with contextlib.suppress(struct.error, IndexError):  # Pillow skips it too
                sub_ifd = _tiff_ifd(data, values[sub][0], order, big, unpack_all=True)
                tag_cost, tag_cpu = tag_cost + sub_ifd.cost, tag_cpu + sub_ifd.cpu

    def first_value(tag: int, default: int) -> int:
        found = values.get(tag)
        return found[0] if found else default

    width, height = first_value(256, 0), first_value(257, 0)
    compression = first_value(259, 1)
    photometric = first_value(262, 0)
    samples = max(1, first_value(277, 1))
    bits = values.get(258) or (1,)
    bits_per_sample = max(bits)
    planar = first_value(284, 1)
    tiled = 322 in values or 324 in values
    if tiled:
        block_w, block_h = first_value(322, width), first_value(323, height)
    else:
        block_w, block_h = width, min(first_value(278, height) or height, height)
    blocks = first_value(324 if tiled else 273, 0)
    planes = samples if planar == 2 else 1
    block_bytes = _ceil_div(block_w * bits_per_sample * samples // planes, 8) * block_h

    mode = _tiff_mode(photometric, samples, bits_per_sample)
    decoding = 0
    cpu = (ifd.entries + blocks) * _PY_STRUCTURE_S + tag_cpu
    held = tag_cost
    if compression != 1:
        # libtiff (TiffDecode.c) reads one tile or strip at a time into a buffer of its
        # declared size; YCbCr without JPEG goes through TIFFRGBAImage (4 bytes a pixel).
        decoding = block_bytes + int(
            block_w * block_h * samples * _TIFF_CODEC_BYTES.get(compression, 0.0)
        )
        if photometric == 6 and compression != 7:
            decoding += 2 * block_h * width * 4 + block_bytes
        decoding += 512 * 1024  # a codec's state (zlib, LZW tables)
    else:
        held += blocks * 2 * _PY_OBJECT_BYTES  # Pillow's own tile list, one per strip or tile
        cpu += blocks * 3 * _PY_STRUCTURE_S  # ImageFile.load seeks, reads, decodes each
    note = f"{'tiles' if tiled else 'strips'} of {block_w}x{block_h}, compression {compression}"
    return Estimate(
        format="TIFF",
        size=(width, height),
        mode=mode,
        decoding=decoding,
        held=held,
        cpu=cpu,
        note=note,
    )


def _tiff_mode(photometric: int, samples: int, bits: int) -> str:
    """The costliest mode Pillow's OPEN_INFO can give for this photometric, samples and bits."""
    if photometric in (0, 1, 4):
        if samples >= 2:
            return "RGBa"  # LA / La, 4 bytes a pixel like RGBa
        return "1" if bits == 1 else "L" if bits <= 8 else "I;16" if bits <= 16 else "F"
    if photometric == 3:
        return "PA" if samples >= 2 else "P"
    if photometric == 2:
        return "RGBa" if samples >= 4 else "RGB"
    if photometric == 5:
        return "CMYK"
    return "LAB"  # YCbCr (decoded to RGB), CIELab and anything else: 4 bytes and a conversion


# --- BMP -----------------------------------------------------------------------------------


def _bmp(data: bytes) -> Estimate:
    header = _u32le(data, 14)
    if header == 12:
        width, height, bits, compression = _u16le(data, 18), _u16le(data, 20), _u16le(data, 24), 0
    elif header in (40, 52, 56, 64, 108, 124):
        width, raw_height = _u32le(data, 18), _u32le(data, 22)
        height = 2**32 - raw_height if data[25] == 0xFF else raw_height  # top-down rows
        bits, compression = _u16le(data, 28), _u32le(data, 30)
    else:
        raise _Unreadable(f"unsupported BMP header size {header}")
    pixels = width * height
    mode = "P" if bits <= 8 else "RGBA" if bits == 32 else "RGB"
    rle = compression in (1, 2)
    # BmpRleDecoder (pure Python): a bytearray grown to the image, its bytes() copy, then the
    # raw decoder; Python-level work for every pixel.
    return Estimate(
        format="BMP",
        size=(width, height),
        mode=mode,
        decoding=int(2.2 * pixels) if rle else 0,
        cpu=pixels * _PY_RLE_PIXEL_S if rle else 0.0,
        note=f"{bits}-bit" + (", run-length coded" if rle else ""),
    )


# --- AVIF ----------------------------------------------------------------------------------


def _boxes(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, payload end) of the ISOBMFF boxes in data[pos:end]."""
    while pos + 8 <= end:
        size, kind = _u32be(data, pos), data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise _Unreadable(f"box {kind!r} at {pos} has size {size}")
        yield kind, pos + header, min(pos + size, end)
        pos += size


class _Bits:
    """MSB-first bit reader for the AV1 sequence header."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            value = value << 1 | (byte >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return value

    def uvlc(self) -> int:
        zeros = 0
        while not self.read(1):
            zeros += 1
            if zeros >= 32:
                return 2**32 - 1
        return self.read(zeros) + (1 << zeros) - 1


def _leb128(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise _Unreadable("leb128 longer than 8 bytes")


def _av1_frame_bound(obus: bytes) -> tuple[int, int] | None:
    """The largest frame an AV1 stream's sequence header allows (dav1d obu.c read_frame_size:
    max_width, or 2**width_n_bits when a frame may override its size), None without one."""
    pos = 0
    while pos < len(obus):
        header = obus[pos]
        kind, extension, has_size = header >> 3 & 15, header >> 2 & 1, header >> 1 & 1
        pos += 1 + extension
        if has_size:
            size, pos = _leb128(obus, pos)
        else:
            size = len(obus) - pos
        if kind == 1:
            return _av1_sequence_bound(obus[pos : pos + size])
        pos += size
    return None


def _av1_sequence_bound(payload: bytes) -> tuple[int, int]:
    bits = _Bits(payload)
    bits.read(3)  # seq_profile
    bits.read(1)  # still_picture
    reduced = bits.read(1)
    if reduced:
        bits.read(5)
    else:
        decoder_model = 0
        delay_length = 0
        if bits.read(1):  # timing_info_present_flag
            bits.read(64)
            if bits.read(1):
                bits.uvlc()
            decoder_model = bits.read(1)
            if decoder_model:
                delay_length = bits.read(5) + 1
                bits.read(32 + 5 + 5)
        display_model = bits.read(1)
        for _ in range(bits.read(5) + 1):
            bits.read(12)
            if bits.read(5) > 7:
                bits.read(1)
            if decoder_model and bits.read(1):
                bits.read(2 * delay_length + 1)
            if display_model and bits.read(1):
                bits.read(4)
    width_bits, height_bits = bits.read(4) + 1, bits.read(4) + 1
    max_width, max_height = bits.read(width_bits) + 1, bits.read(height_bits) + 1
    if reduced:
        return max_width, max_height
    return max(max_width, 1 << width_bits), max(max_height, 1 << height_bits)


def _avif(data: bytes) -> Estimate:
    return _heif_family(data, "AVIF")


def _heif(data: bytes) -> Estimate:
    """HEIC (HEVC in HEIF, read through pillow-heif's libheif): the same item structure as
    AVIF, with hvcC for the chroma format and depth. No HEVC bitstream bound is parsed: libheif
    refuses an image whose decoded size differs from its ispe, so ispe and the grid bound it.
    The per-tile cost is AVIF's, measured with dav1d, taken for libde265 as well."""
    return _heif_family(data, "HEIF")


def _heif_family(data: bytes, format_: str) -> Estimate:
    """AVIF and HEIF: ISOBMFF items (ispe, grid, pixi, auxC alpha) with an AV1 or HEVC codec."""
    sizes: list[tuple[int, int]] = []  # every ispe, grid output and AV1 frame bound
    av1_items: set[int] = set()
    coded_items: set[int] = set()  # HEVC items: tiles, but no bitstream bound is parsed
    grid_items: set[int] = set()
    locations: dict[int, list[tuple[int, int]]] = {}
    idat = b""
    deep = alpha = high_depth = chroma_full = False
    tracks = 0

    def walk(pos: int, end: int) -> None:
        nonlocal idat, alpha, high_depth, chroma_full, tracks, deep
        for kind, start, stop in _boxes(data, pos, end):
            if kind == b"meta":
                walk(start + 4, stop)
            elif kind in (b"iprp", b"ipco", b"moov", b"trak", b"mdia", b"minf", b"stbl"):
                tracks += kind == b"trak"
                walk(start, stop)
            elif kind == b"stsd":
                walk(start + 8, stop)
            elif kind == b"av01":  # a track's sample entry: width, height, then boxes
                sizes.append((_u16be(data, start + 24), _u16be(data, start + 26)))
                walk(start + 78, stop)
            elif kind == b"ispe":
                sizes.append((_u32be(data, start + 4), _u32be(data, start + 8)))
            elif kind == b"av1C":
                flags = data[start + 2]
                high_depth = high_depth or bool(flags & 0x60)
                chroma_full = chroma_full or not flags & 0x0C
                bound = _av1_frame_bound(data[start + 4 : stop])
                if bound:
                    sizes.append(bound)
            elif kind == b"hvcC":  # chroma_format_idc at byte 16, bit depth minus 8 at 17
                chroma_full = chroma_full or data[start + 16] & 0x03 == 3
                high_depth = high_depth or bool(data[start + 17] & 0x07)
            elif kind == b"auxC" and b"alpha" in data[start:stop]:
                alpha = True
            elif kind == b"iinf":
                version = data[start]
                first = start + 4 + (4 if version else 2)
                for entry, entry_start, _ in _boxes(data, first, stop):
                    if entry == b"infe" and data[entry_start] >= 2:
                        wide = data[entry_start] >= 3
                        item = (_u32be if wide else _u16be)(data, entry_start + 4)
                        kind_at = entry_start + (8 if wide else 6) + 2
                        item_type = data[kind_at : kind_at + 4]
                        if item_type == b"av01":
                            av1_items.add(item)
                        elif item_type in (b"hvc1", b"hev1"):
                            coded_items.add(item)
                        elif item_type == b"grid":
                            grid_items.add(item)
            elif kind == b"iloc":
                locations.update(_iloc(data, start, stop))
            elif kind == b"idat":
                idat = data[start:stop]
            elif kind == b"pixi":
                deep = deep or any(b > 8 for b in data[start + 5 : start + 5 + data[start + 4]])

    walk(0, len(data))
    for item in av1_items:
        payload = b"".join(data[o : o + n] for o, n in locations.get(item, []))
        bound = _av1_frame_bound(payload) if payload else None
        if bound:
            sizes.append(bound)
    tiles = max(1, len(av1_items) + len(coded_items))
    for item in grid_items:
        grid = b"".join(data[o : o + n] for o, n in locations.get(item, [])) or idat
        if len(grid) >= 8:
            rows, columns = grid[2] + 1, grid[3] + 1
            sizes.append(struct.unpack_from(">II" if grid[1] & 1 else ">HH", grid, 4))
            tiles = max(tiles, rows * columns)
    if not sizes:
        raise _Unreadable("no image size (ispe)")
    width = max(w for w, _ in sizes)
    height = max(h for _, h in sizes)
    pixels = width * height
    # libavif's YUV planes (and the AV1 decoder's frame, as large or scaled to it): per pixel,
    # 1.5 samples for 4:2:0 or 3 for 4:4:4, 2 bytes a sample above 8 bits; alpha another plane.
    sample = 2 if high_depth or deep else 1
    # (plus a third of a byte for dav1d's padded, aligned pictures)
    yuv = (3.0 if chroma_full else 1.5) * sample + (sample if alpha else 0) + 0.3
    rgb = 4 if alpha else 3
    # Held while the pipeline runs: the YUV planes (twice for one item: dav1d's picture and
    # libavif's copy scaled to ispe; a grid's tiles are copied into one image), the file (the
    # decoder's copy) and Pillow's bytes copy of the RGB pixels. While decoding,
    # avifRGBImage's pixels live beside that bytes copy.
    copies = 1 if grid_items else 2
    held = int(copies * yuv * pixels) + len(data) + rgb * pixels + tiles * _AVIF_TILE_BYTES
    return Estimate(
        format=format_,
        size=(width, height),
        mode="RGBA" if alpha else "RGB",
        decoding=rgb * pixels + _DAV1D_CONTEXT_BYTES,
        held=held,
        cpu=tiles * _AVIF_TILE_S + tracks * _PY_STRUCTURE_S,
        note=f"{'grid of ' + str(tiles) + ' tiles, ' if grid_items else ''}"
        f"{'4:4:4' if chroma_full else '4:2:0'}, {8 * sample}-bit",
    )


def _iloc(data: bytes, start: int, stop: int) -> dict[int, list[tuple[int, int]]]:
    """Item id -> (offset, length) extents of an ItemLocationBox (construction method 0)."""
    version = data[start]
    pos = start + 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 15
    base_size, index_size = data[pos + 1] >> 4, (data[pos + 1] & 15) if version else 0
    pos += 2
    if version < 2:
        count, pos = _u16be(data, pos), pos + 2
    else:
        count, pos = _u32be(data, pos), pos + 4
    if count > _MAX_STRUCTURES:
        _refuse_structures("AVIF item locations", count)

    def read(size: int) -> int:
        nonlocal pos
        value = int.from_bytes(data[pos : pos + size], "big") if size else 0
        pos += size
        return value

    found: dict[int, list[tuple[int, int]]] = {}
    for _ in range(count):
        item = read(2 if version < 2 else 4)
        method = read(2) & 15 if version else 0
        read(2)  # data_reference_index
        base = read(base_size)
        extents = []
        for _ in range(read(2)):
            read(index_size)
            offset, length = read(offset_size), read(length_size)
            extents.append((base + offset, length))
        if method == 0:
            found[item] = extents
        if pos > stop:
            raise _Unreadable("iloc box overruns its size")
    return found


ESTIMATORS: Final[dict[str, Estimator]] = {
    "JPEG": _jpeg,
    "PNG": _png,
    "GIF": _gif,
    "WEBP": _webp,
    "TIFF": _tiff,
    "BMP": _bmp,
    "AVIF": _avif,
    "HEIF": _heif,
}
"""Pillow format name -> estimator. Register one here for every format thumbnail reads."""
