"""JPEG (and MPO: Pillow decodes its first image): what libjpeg-turbo and Pillow's header loop
cost, read from the marker segments (handlers.imaging.jpeg).

A progressive (multi-scan) JPEG is decoded into whole-image coefficient buffers, 2 bytes a
coefficient of every component at full size whatever the draft scale, and each scan is one pass
over them; a lossless frame keeps 4-byte differences instead. A baseline frame is one pass over
every block, even at 1/8 scale. Pillow's Python header loop reads junk between segments a byte
at a time, each fill byte as its own turn, keeps every APP and COM segment and concatenates the
EXIF ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import jpeg
from handlers.imaging.budget.check import (
    MAX_STRUCTURES,
    PY_OBJECT_BYTES,
    PY_STRUCTURE_S,
    Estimate,
    Unreadable,
    ceil_div,
    refuse_structures,
    round_up,
)

__all__ = ["MAX_JPEG_SCANS", "estimate"]

MAX_JPEG_SCANS: Final = 256
"""libjpeg's default progression has 10 scans (6 for grey); each scan is another pass over the
coefficient buffers, and thousands of them (a few bytes each) are an attack, not a photograph."""

_MODES: Final = {1: "L", 3: "RGB", 4: "CMYK"}
_APP1: Final = 0xE1  # EXIF
_KEPT: Final = jpeg.APPN | {jpeg.COM}  # segments Pillow keeps

# Measured CPU costs (x86-64, CPython 3.11, Pillow 13, libjpeg-turbo).
_PY_JUNK_S: Final = 0.1e-6  # one byte of junk Pillow's JPEG header loop reads alone
_PY_FILL_S: Final = 1e-6  # ... one 0xFF fill byte (a longer turn of the same loop)
_MEMCPY_BYTE_S: Final = 0.2e-9  # one byte copied by repeated bytes concatenation
_SCAN_S: Final = 5e-6  # libjpeg-turbo: starting one scan
_BLOCK_S: Final = 10e-9  # ... one block of one component visited by a scan
_COEF_S: Final = 0.2e-9  # ... one coefficient of the band a scan codes or refines
_ENTROPY_BYTE_S: Final = 10e-9  # ... one byte of Huffman-coded data


@dataclass
class _Read:
    """What the walk gathered: frame and scan headers, and the segments Pillow keeps."""

    frames: list[jpeg.FrameHeader] = field(default_factory=list)
    scans: list[jpeg.ScanHeader] = field(default_factory=list)
    app_bytes: int = 0  # APPn and COM payloads before the first scan
    app_segments: int = 0
    exif_bytes: int = 0
    exif_copied: int = 0  # bytes copied by Pillow's repeated concatenation of EXIF segments
    segment_bytes: int = 0  # bytes of marker segments (the rest is entropy-coded data or junk)


def estimate(data: bytes) -> Estimate:
    """The JPEG estimate, carrying the segments it was read from (``Estimate.jpeg``)."""
    layout = jpeg.Layout()
    read = _read(data, layout)
    if not read.frames:
        raise Unreadable("no frame header (SOF) before the end of the image")
    width = max(f.width for f in read.frames)
    height = max(f.height for f in read.frames)
    frame = max(read.frames, key=lambda f: len(f.components))
    if not frame.components:
        raise Unreadable("a frame with no components")
    components = [(cid, max(1, h), max(1, v)) for cid, h, v in frame.components]
    blocks = _blocks(width, height, components)
    progressive = any(f.marker in jpeg.PROGRESSIVE for f in read.frames)
    lossless = any(f.marker in jpeg.LOSSLESS for f in read.frames)
    multi_scan = (
        progressive
        or len(read.scans) > 1
        or any(len(s.components) < len(components) for s in read.scans)
    )
    cpu = layout.markers * PY_STRUCTURE_S + layout.junk * _PY_JUNK_S + layout.fill * _PY_FILL_S
    cpu += read.exif_copied * _MEMCPY_BYTE_S + (len(data) - read.segment_bytes) * _ENTROPY_BYTE_S
    decoding, cpu = _coefficients(read.scans, blocks, lossless, multi_scan, cpu)
    # Row buffers of the output pass at full scale (jdmainct.c's context rows, the upsampler's):
    # a few bytes a column per component and sample row, counted as 6.
    v_max = max(v for _, _, v in components)
    decoding += width * v_max * 8 * len(components) * 6
    held = 3 * read.app_bytes + read.app_segments * PY_OBJECT_BYTES + 2 * read.exif_bytes
    return Estimate(
        format="JPEG",
        size=(width, height),
        mode=_MODES.get(len(components), "CMYK"),
        scalable=not lossless,
        decoding=decoding,
        held=held,
        cpu=cpu,
        note=_note(progressive, multi_scan, len(read.scans)),
        jpeg=layout,
    )


def _note(progressive: bool, multi_scan: bool, scans: int) -> str:
    kind = "progressive" if progressive else "multi-scan" if multi_scan else "baseline"
    return f"{kind}, {scans} scan" + ("s" if scans != 1 else "")


def _read(data: bytes, layout: jpeg.Layout) -> _Read:
    """Walk the segments up to EOI into ``layout``, gathering what sizes the decode."""
    read = _Read()
    try:
        for marker, code, length, _ in jpeg.walk(data, layout, MAX_STRUCTURES):
            if marker == jpeg.EOI:
                break
            read.segment_bytes += 4 + length
            if marker in _KEPT:
                # Pillow keeps every APP and COM segment (applist), joins the ICC chunks, and
                # concatenates the EXIF ones with += (a copy of the whole so far each time).
                if not read.scans:
                    read.app_bytes += length
                    read.app_segments += 1
                    if marker == _APP1 and data.startswith(b"Exif\0\0", code + 3):
                        read.exif_copied += read.exif_bytes
                        read.exif_bytes += length
            elif marker in jpeg.FRAMES or marker == jpeg.SOS:
                _header(data[code + 3 : code + 3 + length], marker, read)
                if marker == jpeg.SOS and _single_scan(read):
                    break
    except jpeg.TooManyMarkers as exc:
        refuse_structures("JPEG marker segments", exc.count)
    return read


def _single_scan(read: _Read) -> bool:
    """The first scan of a sequential frame, with every component: libjpeg-turbo then decodes
    in one pass without coefficient buffers (jdinput.c's has_multiple_scans is False) and stops
    with an error at any later SOS, so nothing past this scan can cost memory and the walk need
    not search the entropy-coded data for markers."""
    frames = read.frames
    return (
        len(read.scans) == 1
        and len(frames) == 1
        and frames[0].marker not in jpeg.PROGRESSIVE | jpeg.LOSSLESS
        and len(read.scans[0].components) >= len(frames[0].components) > 0
    )


def _header(payload: bytes, marker: int, read: _Read) -> None:
    """Read a frame or a scan header."""
    if marker != jpeg.SOS:
        read.frames.append(jpeg.FrameHeader.parse(marker, payload))
        return
    read.scans.append(jpeg.ScanHeader.parse(payload))
    if len(read.scans) > MAX_JPEG_SCANS:
        raise ImageRejected(
            RejectReason.TOO_LARGE,
            f"JPEG with more than {MAX_JPEG_SCANS} scans (each scan is another pass "
            "over the whole image)",
        )


def _blocks(
    width: int, height: int, components: list[tuple[int, int, int]]
) -> list[tuple[int, int]]:
    """Blocks of each component, rounded up to whole MCUs as jdcoefct.c allocates them (a list:
    component ids may repeat, and each component still gets its buffer)."""
    h_max = max(h for _, h, _ in components)
    v_max = max(v for _, _, v in components)
    return [
        (
            cid,
            round_up(ceil_div(ceil_div(width * h, h_max), 8), h)
            * round_up(ceil_div(ceil_div(height * v, v_max), 8), v),
        )
        for cid, h, v in components
    ]


def _coefficients(
    scans: list[jpeg.ScanHeader],
    blocks: list[tuple[int, int]],
    lossless: bool,
    multi_scan: bool,
    cpu: float,
) -> tuple[int, float]:
    """Bytes of the coefficient buffers, and ``cpu`` plus the passes over the blocks."""
    if not multi_scan:
        # One pass over every block, even at 1/8 scale (a huge baseline frame costs its blocks).
        return 0, cpu + sum(n for _, n in blocks) * (_BLOCK_S + 64 * _COEF_S)
    # jdcoefct.c: a whole-image array of JBLOCKs (64 2-byte coefficients) per component, sized
    # at full resolution whatever the output scale; jddiffct.c keeps 4-byte differences per
    # sample for lossless files.
    per_block = 64 * 4 if lossless else 64 * 2
    for scan in scans:
        scan_blocks = sum(n for cid, n in blocks if cid in scan.components)
        band = max(scan.start, scan.end) - scan.start + 1
        cpu += _SCAN_S + scan_blocks * (_BLOCK_S + band * _COEF_S)
    return sum(n for _, n in blocks) * per_block, cpu
