"""JPEG's marker grammar: where a file's segments are, and its frame and scan headers. No Pillow.

A JPEG is a run of marker segments. Each starts with 0xFF, any number of 0xFF fill bytes, then
the marker code; all but SOI, EOI, TEM and the restart markers RST0-7 carry a two-byte
big-endian length that counts itself and the payload. A scan header (SOS) is followed by its
entropy-coded data, in which a 0xFF byte is sent as 0xFF 0x00 (a stuffed zero) and restart
markers sit without a length; the data ends at the first other marker.

Two readers share this grammar. ``walk`` reads a whole buffer as libjpeg-turbo does, stepping
over junk, fill, stuffed zeros, restart markers and entropy-coded data, and records what it
found in a ``Layout`` (handlers.imaging.budget sizes the decode from it). The DC-prefix scanner
(handlers.imaging.progressive) reads a growing buffer strictly with ``next_code``,
``code_after_fill`` and ``fill_start``, and can fast-forward over a ``Layout`` instead of
reading the bytes again. Entropy-coded data is searched with one compiled pattern (a 0xFF
followed by anything but a stuffed zero, a restart marker or more fill), never a byte at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, NamedTuple

__all__ = [
    "APP2",
    "APPN",
    "COM",
    "DHT",
    "DQT",
    "DRI",
    "EOI",
    "FRAMES",
    "LOSSLESS",
    "PARAMETERLESS",
    "PROGRESSIVE",
    "RECORDED_SEGMENTS",
    "SOF2",
    "SOF_CODES",
    "SOI",
    "SOS",
    "Buffer",
    "FrameHeader",
    "Layout",
    "ScanHeader",
    "Segment",
    "TooManyMarkers",
    "code_after_fill",
    "fill_start",
    "next_code",
    "walk",
]

Buffer = bytes | bytearray | memoryview

TEM: Final = 0x01
SOF2: Final = 0xC2  # progressive, Huffman-coded
DHT: Final = 0xC4
JPG: Final = 0xC8
DAC: Final = 0xCC
SOI: Final = 0xD8
EOI: Final = 0xD9
SOS: Final = 0xDA
DQT: Final = 0xDB
DRI: Final = 0xDD
DHP: Final = 0xDE
APP2: Final = 0xE2  # ICC profiles, and the multi-picture (MPO) index
COM: Final = 0xFE

# The start-of-frame markers SOF0-SOF15 (C4, C8 and CC are DHT, JPG and DAC, not frames) ...
SOF_CODES: Final = frozenset(range(0xC0, 0xD0)) - {DHT, JPG, DAC}
# ... and what Pillow reads as a frame header: DHP too.
FRAMES: Final = SOF_CODES | {DHP}
PROGRESSIVE: Final = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
LOSSLESS: Final = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
APPN: Final = frozenset(range(0xE0, 0xF0))
# Markers with no length: libjpeg-turbo steps over TEM and a repeated SOI.
PARAMETERLESS: Final = frozenset({TEM, SOI})

# A marker: the last 0xFF of a run followed by a byte that is not a stuffed zero, a restart
# marker or more fill. A two-byte pattern with a literal first byte, so the search runs at C
# speed over entropy-coded data (a lookbehind with a possessive run takes 70 ms on a 5 MB photo,
# twice the whole decode; this takes 3 ms).
_MARKER: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_NOT_FF: Final = re.compile(rb"[^\xff]")

RECORDED_SEGMENTS: Final = 1024
"""Segments a ``Layout`` records; the walk counts on past them. A reader fast-forwarding over the
layout reads the bytes from there on (a photo's DC scans end within its first few dozen)."""


def next_code(data: Buffer, pos: int) -> int | None:
    """The offset of the next marker code from ``pos`` on, reading it as entropy-coded data (or
    junk): stuffed zeros, restart markers and fill are stepped over. None if the buffer holds
    none."""
    found = _MARKER.search(data, pos)
    return None if found is None else found.end() - 1


def code_after_fill(data: Buffer, pos: int) -> int | None:
    """The offset of the first byte from ``pos`` on that is not 0xFF: after a marker's 0xFF, its
    code. None if the buffer ends inside the fill."""
    found = _NOT_FF.search(data, pos)
    return None if found is None else found.start()


def fill_start(data: Buffer, code: int, floor: int) -> int:
    """Where the run of 0xFF before the marker code at ``code`` begins, not before ``floor``: the
    end of the entropy-coded data that precedes the marker."""
    start = code - 1
    while start > floor and data[start - 1] == 0xFF:
        start -= 1
    return start


class FrameHeader(NamedTuple):
    """A start-of-frame segment (B.2.2): sample precision, size, and each component's id and
    horizontal and vertical sampling factors as written."""

    marker: int
    precision: int
    width: int
    height: int
    components: tuple[tuple[int, int, int], ...]  # (id, h, v) of each

    @classmethod
    def parse(cls, marker: int, payload: Buffer) -> FrameHeader:
        """Raises ValueError for a header too short for its size, IndexError for one too short
        for the components it declares."""
        if len(payload) < 6:
            raise ValueError("short frame header")
        components = tuple(
            (payload[6 + 3 * i], payload[7 + 3 * i] >> 4, payload[7 + 3 * i] & 15)
            for i in range(payload[5])
        )
        height, width = payload[1] << 8 | payload[2], payload[3] << 8 | payload[4]
        return cls(marker, payload[0], width, height, components)


class ScanHeader(NamedTuple):
    """A start-of-scan segment (B.2.3): the components it codes, the band of coefficients
    (spectral selection ``start``-``end``) and the successive approximation byte (Ah << 4 | Al;
    0 when the header is cut short before it)."""

    components: tuple[int, ...]
    start: int  # Ss
    end: int  # Se
    approximation: int

    @classmethod
    def parse(cls, payload: Buffer) -> ScanHeader:
        """Raises IndexError for a header too short for the components it declares."""
        count = payload[0]
        ids = tuple(payload[1 + 2 * i] for i in range(count))
        start, end = payload[1 + 2 * count], payload[2 + 2 * count]
        approximation = payload[3 + 2 * count] if len(payload) > 3 + 2 * count else 0
        return cls(ids, start, end, approximation)


Segment = tuple[int, int, int, bool]
"""One marker segment the walk found: its marker; the offset of its code (its 0xFF, and any fill,
are before it; the payload starts 3 bytes after it); the payload's length, after the length field
(0 for EOI); and whether it is clean: found where a strict reading expects it, right after the
previous segment (fill allowed) or after a scan's entropy-coded data, with no junk, stuffed zero,
stray restart marker, TEM or repeated SOI stepped over to reach it. A plain tuple: a walk makes
one for every segment of the file."""


class TooManyMarkers(ValueError):
    """The walk met more marker segments before the first scan than its caller's limit."""

    def __init__(self, count: int) -> None:
        super().__init__(f"more than {count - 1:,} JPEG marker segments")
        self.count = count


@dataclass
class Layout:
    """What ``walk`` found: the marker segments in file order (the first ``RECORDED_SEGMENTS``),
    and what precedes the first scan as Pillow's Python header loop meets it."""

    segments: list[Segment] = field(default_factory=list)
    junk: int = 0  # bytes between segments, which Pillow reads one at a time
    fill: int = 0  # extra 0xFF bytes before a marker, each its own turn of Pillow's loop
    markers: int = 0  # markers before the first scan (the first scan's included)


def walk(data: Buffer, layout: Layout, max_markers: int) -> Iterator[Segment]:
    """Every marker segment up to EOI, found as libjpeg-turbo finds them, recorded into
    ``layout`` as they are yielded. Stops at EOI or where the buffer ends (a segment cut short
    is not yielded). Raises ``TooManyMarkers`` past ``max_markers`` markers before the first scan,
    ValueError for a length under 2."""
    pos, end = 2, len(data)
    scanning = False  # past the first scan: junk and fill are no longer counted
    in_data = False  # right after a scan header: in its entropy-coded data
    clean = True  # nothing stepped over since the last segment but entropy-coded data and fill
    recorded, room = layout.segments, RECORDED_SEGMENTS
    while (found := _next_marker(data, pos, scanning)) is not None:
        code, run_start, pos, stepped = found
        clean = clean and (in_data or not stepped)
        if not scanning:
            layout.junk += run_start - pos
            layout.fill += code - run_start - 1
            layout.markers += 1
            if layout.markers > max_markers:
                raise TooManyMarkers(layout.markers)
        marker = data[code]
        if marker in PARAMETERLESS:
            clean, pos = False, code + 1
            continue
        if marker == EOI:
            length = 2
        elif code + 3 > end:
            return  # cut short
        else:
            length = data[code + 1] << 8 | data[code + 2]
            if length < 2:
                raise ValueError(f"marker 0x{marker:02X} at {code} has length {length}")
        segment = (marker, code, length - 2, clean)
        if room:
            recorded.append(segment)
            room -= 1
        yield segment
        if marker == EOI:
            return
        in_data = marker == SOS
        scanning = scanning or in_data
        clean, pos = True, code + 1 + length


def _next_marker(data: Buffer, pos: int, scanning: bool) -> tuple[int, int, int, bool] | None:
    """The next marker from ``pos``: its code's offset, where the run of 0xFF before it starts,
    where the bytes before that run start (past any stuffed zero or restart marker stepped over,
    as Pillow's header loop counts them), and whether anything but fill was stepped over. The run
    start is only looked for before the first scan, so entropy-coded data is never copied."""
    end, stepped = len(data), False
    while pos < end and data[pos] == 0xFF:
        # A run starting right here: it may end in a stuffed zero or a restart marker.
        found = _NOT_FF.search(data, pos)
        if found is None:
            return None
        code = found.start()
        if data[code] != 0x00 and not 0xD0 <= data[code] <= 0xD7:
            return code, pos, pos, stepped
        pos, stepped = code + 1, True
    found = _MARKER.search(data, pos)
    if found is None:
        return None
    code = found.end() - 1
    return code, code - 1 if scanning else _run_start(data, pos, code - 1), pos, True


def _run_start(data: Buffer, pos: int, last: int) -> int:
    """Where the run of 0xFF ending at ``last`` begins, not before ``pos``."""
    return pos + len(bytes(data[pos:last]).rstrip(b"\xff"))
