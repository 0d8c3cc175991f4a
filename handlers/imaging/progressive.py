"""Where a progressive JPEG's DC scans end: the bytes a 1/8-scale decode needs. No Pillow, no AWS.

At 1/8 scale libjpeg-turbo turns each 8x8 block into one pixel, from the block's DC coefficient
alone. A progressive JPEG sends coefficients band by band, and its first scan (or first few) are
usually the DC of every component: libjpeg-turbo's and libvips's default scripts open with one
DC scan of all components (at about 7% of a photo's bytes); other scripts send luma's DC, then
each chroma's. Those bytes, then an EOI marker, are a complete progressive JPEG whose 1/8-scale
decode differs from the whole file's only in the AC detail a 1/8 decode averages away.

``PrefixScanner`` walks the head of a file as it arrives and answers, at each step:

- ``NEED_MORE``: nothing decided yet, feed more bytes;
- ``INELIGIBLE`` (with the reason): decode the whole file. Anything but a Huffman-coded
  progressive frame (SOF2) of 8-bit samples with 1, 3 or 4 components, any scan before every
  component's DC is in that is not a first DC scan (``Ss = Se = 0``, ``Ah = 0``), a multi-picture
  (MPO) file, junk between segments, an unknown marker, or a frame the caller's ``wanted`` test
  refuses;
- ``COMPLETE`` with ``end``: the offset where the entropy-coded data of the scan that completes
  the DC of every component ends (the first byte of the next marker, fill bytes included), so
  ``head[:end] + EOI`` is the file to decode.

The segments before the scans (EXIF orientation, ICC profile, Adobe transform) are all kept, so
the prefix decodes to the size, mode and colours of the whole file. The markers are read with
handlers.imaging.jpeg's grammar; a caller that has already walked the file's segments (the decode
budget's JPEG estimate carries them as ``.jpeg``) passes that ``Layout`` to ``scan``, which then
reads no entropy-coded data itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers.imaging import jpeg

__all__ = ["EOI", "Frame", "Head", "PrefixScanner", "Status", "closed", "closing", "scan"]

EOI: Final = b"\xff\xd9"

# Every other start-of-frame marker: baseline, extended, lossless, and every arithmetic-coded or
# hierarchical frame.
_OTHER_SOF: Final = jpeg.SOF_CODES - {jpeg.SOF2}
# Segments that may sit before and between scans without changing what the DC scans decode to:
# Huffman and quantisation tables, the restart interval, APPn and comments.
_SKIPPABLE: Final = frozenset({jpeg.DHT, jpeg.DQT, jpeg.DRI, jpeg.COM, *jpeg.APPN})
_READ: Final = frozenset({jpeg.SOF2, jpeg.SOS, jpeg.APP2})  # payloads read, not skipped
_EXPECTED: Final = _READ | _SKIPPABLE
_COMPONENTS: Final = frozenset({1, 3, 4})  # grey, YCbCr/RGB, CMYK/YCCK: what Pillow decodes

# closing(): DRI with no restart interval, and AC table 0 holding EOB0..EOB14 as 4-bit codes.
_DRI_NONE: Final = b"\xff\xdd\x00\x04\x00\x00"
_EOB_CODES: Final = b"\x10" + bytes([0, 0, 0, 15] + [0] * 12) + bytes(range(0, 0xF0, 16))
_EOB_TABLE: Final = b"\xff\xc4" + (2 + len(_EOB_CODES)).to_bytes(2, "big") + _EOB_CODES

Buffer = bytes | bytearray | memoryview


class Status(StrEnum):
    NEED_MORE = "need-more"
    INELIGIBLE = "ineligible"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Frame:
    """The progressive frame's header: what the caller decides eligibility on."""

    width: int
    height: int
    components: tuple[int, ...]  # component ids, in frame order
    sampling: tuple[tuple[int, int], ...] = ()  # each component's (h, v) sampling factors

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def blocks(self) -> tuple[int, ...]:
        """The 8x8 blocks of each component in a scan of it alone (A.2.2: no MCU padding)."""
        h_max = max(h for h, _ in self.sampling)
        v_max = max(v for _, v in self.sampling)
        return tuple(
            _ceil_div(_ceil_div(self.width * h, h_max), 8)
            * _ceil_div(_ceil_div(self.height * v, v_max), 8)
            for h, v in self.sampling
        )


@dataclass(frozen=True)
class Head:
    """What the head read so far says."""

    status: Status
    frame: Frame | None = None  # once the frame header has been read
    end: int = 0  # COMPLETE: where the DC scans' entropy-coded data ends
    reason: str = ""  # INELIGIBLE: why
    scans: int = 0  # the scans read so far


class PrefixScanner:
    """An incremental scan of one file's head. Call ``advance`` with everything received so far
    (the same buffer, grown); each call resumes where the last one stopped, so the whole walk is
    linear in the bytes it reads. Once the answer is INELIGIBLE or COMPLETE it stays so.

    ``wanted`` is asked once, when the frame header has been read (before any scan): False makes
    the file INELIGIBLE, so a caller whose renditions need more than a 1/8-scale decode stops
    scanning at the header.

    The first ``advance`` may be given the ``jpeg.Layout`` of a walk over the same bytes: the
    scanner then fast-forwards over the segments it records, taking each marker's offset from it
    instead of searching the bytes, and searches the bytes itself only past the first segment the
    layout found somewhere a strict reading would not have (or past its last), so the answer is
    the same.
    """

    def __init__(self, wanted: Callable[[Frame], bool] | None = None) -> None:
        self._wanted = wanted
        self._pos = 0  # the next byte to read
        self._in_data = False  # inside a scan's entropy-coded data
        self._data_start = 0  # where that data began
        self._frame: Frame | None = None
        self._covered: set[int] = set()  # components whose DC has been sent
        self._scans = 0
        self._head = Head(Status.NEED_MORE)

    @property
    def head(self) -> Head:
        return self._head

    def advance(self, data: Buffer, layout: jpeg.Layout | None = None) -> Head:
        if self._head.status is Status.NEED_MORE:
            self._head = self._step(data, layout)
        return self._head

    def _answer(self, status: Status, reason: str = "", end: int = 0) -> Head:
        return Head(status, self._frame, end=end, reason=reason, scans=self._scans)

    def _refuse(self, reason: str) -> Head:
        return self._answer(Status.INELIGIBLE, reason)

    def _step(self, data: Buffer, layout: jpeg.Layout | None) -> Head:
        if self._pos == 0:
            if len(data) < 2:
                return self._answer(Status.NEED_MORE)
            if data[0] != 0xFF or data[1] != jpeg.SOI:
                return self._refuse("not a JPEG (no SOI)")
            self._pos = 2
            answer = self._replay(data, layout) if layout is not None else None
            if answer is not None:
                return answer
        while True:
            code = self._next_code(data)
            if isinstance(code, Head):
                return code
            answer = self._at_marker(data, code)
            if answer is not None:
                return answer

    def _next_code(self, data: Buffer) -> int | Head:
        """The offset of the next marker's code, or the answer when there is none yet: at the
        end of a scan's entropy-coded data, or right where the last segment ended."""
        if self._in_data:
            code = jpeg.next_code(data, self._pos)
            if code is None:
                # The last byte may be the 0xFF of a marker still to come: look again there.
                self._pos = max(self._pos, len(data) - 1)
                return self._answer(Status.NEED_MORE)
            return code
        # A marker segment: 0xFF, optional fill, the marker, then (mostly) a length.
        if self._pos >= len(data):
            return self._answer(Status.NEED_MORE)
        if data[self._pos] != 0xFF:
            return self._refuse(f"bytes between segments at {self._pos}")
        code = jpeg.code_after_fill(data, self._pos + 1)
        return self._answer(Status.NEED_MORE) if code is None else code

    def _replay(self, data: Buffer, layout: jpeg.Layout) -> Head | None:
        """Fast-forward over the segments ``layout`` recorded, from the first, up to an answer or
        the first segment a strict reading would not have found where the layout did."""
        for marker, code, _, clean in layout.segments:
            if not clean or code >= len(data) or data[code] != marker:
                return None
            answer = self._at_marker(data, code)
            if answer is not None:
                return answer
        return None

    def _at_marker(self, data: Buffer, at: int) -> Head | None:
        """The marker whose code is at ``at``, reached from ``self._pos``: the end of a scan's
        data, then a segment to read or step over. An answer, or None to read on."""
        if self._in_data:
            end = jpeg.fill_start(data, at, self._data_start)  # fill belongs to the marker
            self._in_data = False
            self._pos = end
            if self._frame is not None and self._covered.issuperset(self._frame.components):
                return self._answer(Status.COMPLETE, end=end)
        marker, size = data[at], len(data)
        if marker in _OTHER_SOF:
            return self._refuse(f"SOF{marker - 0xC0}: not a Huffman-coded progressive frame")
        if marker not in _EXPECTED:
            return self._refuse(f"marker 0x{marker:02X} at {at} before every DC is in")
        if at + 3 > size:
            return self._answer(Status.NEED_MORE)
        length = data[at + 1] << 8 | data[at + 2]
        if length < 2:
            return self._refuse(f"marker 0x{marker:02X} at {at} has length {length}")
        after = at + 1 + length
        if marker in _READ:
            if after > size:
                return self._answer(Status.NEED_MORE)
            refused = self._segment(marker, bytes(data[at + 3 : after]))
            if refused is not None:
                return refused
        self._pos = after
        if marker == jpeg.SOS:
            self._in_data = True
            self._data_start = after
        return None

    def _segment(self, marker: int, payload: bytes) -> Head | None:
        """Read a frame header, a scan header or an APP2 segment; an INELIGIBLE answer or None."""
        if marker == jpeg.APP2:
            return self._refuse("a multi-picture (MPO) file") if payload[:4] == b"MPF\0" else None
        if marker == jpeg.SOF2:
            return self._read_frame(payload)
        return self._read_scan(payload)

    def _read_frame(self, payload: bytes) -> Head | None:
        if self._frame is not None:
            return self._refuse("a second frame header")
        if len(payload) < 6:
            return self._refuse("a short frame header")
        precision, count = payload[0], payload[5]
        if precision != 8:
            return self._refuse(f"{precision}-bit samples")
        if count not in _COMPONENTS or len(payload) != 6 + 3 * count:
            return self._refuse(f"a frame header with {count} components")
        header = jpeg.FrameHeader.parse(jpeg.SOF2, payload)
        frame = Frame(
            header.width,
            header.height,
            tuple(cid for cid, _, _ in header.components),
            tuple((h, v) for _, h, v in header.components),
        )
        refused = _frame_refusal(frame)
        if refused:
            return self._refuse(refused)
        self._frame = frame
        if self._wanted is not None and not self._wanted(self._frame):
            return self._refuse("the renditions need more than a 1/8-scale decode")
        return None

    def _read_scan(self, payload: bytes) -> Head | None:
        self._scans += 1
        if self._frame is None:
            return self._refuse("a scan before the frame header")
        count = payload[0] if payload else 0
        if not 1 <= count <= 4 or len(payload) != 4 + 2 * count:
            return self._refuse(f"a scan header with {count} components")
        header = jpeg.ScanHeader.parse(payload)
        if header.start != 0 or header.end != 0:
            return self._refuse(
                f"scan {self._scans} codes coefficients {header.start}-{header.end} before "
                "every DC is in"
            )
        if header.approximation >> 4:
            return self._refuse(f"scan {self._scans} refines DC before every component has it")
        for cid in header.components:
            if cid not in self._frame.components or cid in self._covered:
                return self._refuse(f"scan {self._scans} repeats or invents component {cid}")
            self._covered.add(cid)
        return None


def _frame_refusal(frame: Frame) -> str:
    """Why a progressive frame (8-bit, 1, 3 or 4 components) can have no DC prefix, or ""."""
    if len(set(frame.components)) != len(frame.components):
        return "repeated component ids"
    if not all(1 <= h <= 4 and 1 <= v <= 4 for h, v in frame.sampling):
        return f"sampling factors {frame.sampling}"
    if frame.width == 0 or frame.height == 0:
        return f"a {frame.width}x{frame.height} frame (height from DNL)"
    return ""


def closing(frame: Frame) -> bytes:
    """What follows the DC scans to make them a complete file that decodes fast: for each
    component, one AC scan declaring every coefficient zero (end-of-band runs, a few bytes), then
    EOI. Without it libjpeg-turbo, seeing AC coefficients not yet sent, smooths every block
    (estimating the low ACs from the neighbouring DCs: jdcoefct.c's decompress_smooth_data),
    which more than doubles a 1/8-scale decode and moves it away from the whole file's, whose
    1/8-scale decode (a 1x1 IDCT) uses the DC alone. The restart interval is reset first: these
    scans carry no restart markers."""
    scans = [_DRI_NONE, _EOB_TABLE]
    for cid, blocks in zip(frame.components, frame.blocks(), strict=True):
        bits = []
        while blocks > 0:  # EOBr: a run of 2**r + (r extra bits) blocks, at most 32767
            run = min(blocks, 2**15 - 1)
            r = run.bit_length() - 1
            bits.append(f"{r:04b}" + (f"{run - (1 << r):0{r}b}" if r else ""))
            blocks -= run
        stream = "".join(bits)
        stream += "1" * (-len(stream) % 8)  # padded with ones (F.1.2.3)
        entropy = int(stream, 2).to_bytes(len(stream) // 8, "big").replace(b"\xff", b"\xff\x00")
        # One component, Huffman tables DC 0 / AC 0, Ss=1, Se=63, Ah=Al=0.
        scans.append(b"\xff\xda\x00\x08\x01" + bytes([cid]) + b"\x00\x01\x3f\x00" + entropy)
    return b"".join(scans) + EOI


def closed(data: bytes | bytearray, head: Head) -> bytes:
    """The file to decode: ``data`` up to the end of its DC scans, then ``closing``."""
    if head.status is not Status.COMPLETE or head.frame is None:
        raise ValueError(f"the DC scans are not complete: {head.status}")
    return bytes(data[: head.end]) + closing(head.frame)


def scan(
    data: Buffer,
    wanted: Callable[[Frame], bool] | None = None,
    layout: jpeg.Layout | None = None,
) -> Head:
    """The answer for a whole buffer at once. ``layout``: what a walk of the same bytes found
    (the decode budget's ``Estimate.jpeg``), so that its segments are not searched for again."""
    return PrefixScanner(wanted).advance(data, layout)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
