"""WebP: libwebp's animation decoder, through which Pillow decodes every WebP.

WebPAnimDecoder keeps two RGBA canvases (the current and the previous), and Pillow hands the
frame over as a third copy; opening copies the file twice more. A streaming decode (libvips) keeps
none of those: libwebp decodes the file in place, scaled, row by row; but libvips holds the ICCP,
EXIF and XMP chunks four times over at its peak, where Pillow copies them out once. A profile the
pipeline honours (up to MAX_ICC_BYTES) is parsed by lcms too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from handlers.imaging.budget.check import Estimate, Unreadable, u16le, u24le, u32le
from handlers.imaging.limits import ICC_COPIES, MAX_ICC_BYTES

__all__ = ["estimate"]


@dataclass
class _Chunks:
    """What the RIFF chunks say: the canvas (VP8X), the first frame and whether there is alpha."""

    canvas: tuple[int, int] | None = None
    frame: tuple[int, int, bool] | None = None  # width, height, lossless
    alpha: bool = False
    metadata: int = 0  # bytes of the ICCP, EXIF and XMP chunks, each copied out whole
    icc: int = 0  # bytes of the ICC profile


_METADATA_CHUNKS = frozenset({b"ICCP", b"EXIF", b"XMP "})
# Copies of the metadata chunks a streaming decode holds at its peak: libvips' thumbnail_buffer
# opens the file twice (the header, then the shrunk load), each keeping the chunks as blobs, and
# handlers.imaging.vips copies the profile out (measured: 81 MB of peak for a 20 MB ICCP chunk,
# 13 MB for 3 MB).
_VIPS_METADATA_COPIES = 4


def estimate(data: bytes) -> Estimate:
    found = _read(data)
    frame = found.frame
    if frame is None:
        raise Unreadable("no VP8 or VP8L bitstream")
    alpha = found.alpha
    width, height = found.canvas or frame[:2]
    canvas_pixels = width * height
    frame_pixels = frame[0] * frame[1]
    # libwebp's WebPAnimDecoder: the current and the previous canvas, RGBA; Pillow's get_next()
    # copies the canvas into a bytes object that its BytesIO keeps; WebPDataCopy keeps the file.
    held = 12 * canvas_pixels + len(data)
    honoured = ICC_COPIES * found.icc if found.icc <= MAX_ICC_BYTES else 0
    held += found.metadata + honoured
    # Decoding the first frame: VP8L's ARGB pixel buffer; a lossy frame's alpha plane and the
    # 32-bit buffer its lossless alpha stream may need. Opening also copies the file twice.
    decoding = (4 if frame[2] else 5 if alpha else 0) * frame_pixels + 2 * len(data)
    caches = width * 64 * 4  # VP8's per-macroblock-row caches
    decoding += caches
    return Estimate(
        format="WEBP",
        size=(width, height),
        mode="RGBA" if alpha else "RGB",
        decoding=decoding,
        held=held,
        # libwebp decodes the file in place, scaled, row by row; libvips copies the metadata
        stream_held=_VIPS_METADATA_COPIES * found.metadata + honoured,
        stream_decoding=len(data) + caches,  # pyvips' blob of the file, and the caches
        note=("lossless" if frame[2] else "lossy") + (", alpha" if alpha else ""),
    )


def _read(data: bytes) -> _Chunks:
    found = _Chunks()
    end = min(len(data), 8 + u32le(data, 4))
    for fourcc, pos, size in _riff_chunks(data, 12, end):
        if fourcc == b"VP8X":
            found.alpha = found.alpha or bool(data[pos] & 0x10)
            found.canvas = u24le(data, pos + 4) + 1, u24le(data, pos + 7) + 1
        elif fourcc in (b"VP8 ", b"VP8L") and found.frame is None:
            found.frame = _bitstream(data, fourcc, pos)
            if fourcc == b"VP8L":
                found.alpha = found.alpha or bool(u32le(data, pos + 1) >> 28 & 1)
        elif fourcc == b"ALPH":
            found.alpha = True
        elif fourcc in _METADATA_CHUNKS:
            available = max(0, min(size, end - pos))  # libwebp refuses a chunk past the end
            found.metadata += available
            found.icc = available if fourcc == b"ICCP" else found.icc
        elif fourcc == b"ANMF" and found.frame is None:
            _animation_frame(data, pos, size, found)
    return found


def _animation_frame(data: bytes, pos: int, size: int, found: _Chunks) -> None:
    """The first frame of an animation: its bitstream, and alpha before it."""
    for inner, inner_pos, _ in _riff_chunks(data, pos + 16, pos + size):
        if inner in (b"VP8 ", b"VP8L"):
            found.frame = _bitstream(data, inner, inner_pos)
            return
        if inner == b"ALPH":
            found.alpha = True


def _riff_chunks(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, payload offset, payload size) of the RIFF chunks in data[pos:end]."""
    while pos + 8 <= end:
        fourcc, size = data[pos : pos + 4], u32le(data, pos + 4)
        yield fourcc, pos + 8, size
        pos += 8 + size + (size & 1)


def _bitstream(data: bytes, fourcc: bytes, pos: int) -> tuple[int, int, bool]:
    """(width, height, lossless) from a VP8 or VP8L chunk's header."""
    if fourcc == b"VP8 ":
        if data[pos + 3 : pos + 6] != b"\x9d\x01\x2a":
            raise Unreadable("VP8 key frame without its start code")
        return u16le(data, pos + 6) & 0x3FFF, u16le(data, pos + 8) & 0x3FFF, False
    if data[pos] != 0x2F:
        raise Unreadable("VP8L chunk without its signature")
    bits = u32le(data, pos + 1)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, True
