"""PNG: the zlib decoder's rows, and what Pillow's Python chunk loop makes of the chunks.

Pillow decodes a PNG row by row (ZipDecode keeps the current and previous rows and zlib its
window), so the decode itself costs little beside the image; what varies is the chunk loop in
Python, the private chunks it copies and keeps, the text it decompresses, the ICC profile, and the
pipeline's mode conversions (16-bit grey, key-colour transparency through tRNS).

The iCCP chunk is read whole before it is inflated, by Pillow (``ImageFile.safe_read``) and by
libvips' libspng alike (measured: a 40 MB chunk of an incompressible profile took 42 MB more peak
in ``thumbnail_buffer``, a 200 MB profile of zeros in a 0.9 MB chunk took nothing), whether the
profile is then honoured or dropped: the chunk's length counts once, as Pillow's reader holds it
(handlers.imaging.decode inflates the compressed stream from a view of the chunk), and a profile
the pipeline honours (up to MAX_ICC_BYTES) ICC_COPIES times more.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

from PIL import PngImagePlugin

from handlers.imaging.budget.check import (
    MAX_STRUCTURES,
    PY_OBJECT_BYTES,
    PY_STRUCTURE_S,
    Estimate,
    Unreadable,
    ceil_div,
    refuse_structures,
    u32be,
)
from handlers.imaging.limits import ICC_COPIES, MAX_ICC_BYTES

__all__ = ["estimate", "icc_size"]

_PY_KEPT_CHUNK_S: Final = 5e-6  # one chunk Pillow handles in Python, copies and keeps

_CHANNELS: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Chunks Pillow's PngStream handles (the rest, if ancillary and private, it keeps).
_KNOWN: Final = frozenset(
    {
        b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"pHYs",
        b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"acTL", b"fcTL", b"fdAT", b"iCCP",
    }
)  # fmt: skip


@dataclass
class _Chunks:
    """What the chunks up to IEND hold that costs memory or time."""

    header: bytes | None = None
    key_colour: bool = False
    chunks: int = 0
    private: int = 0  # private ancillary chunks Pillow keeps
    kept: int = 0  # bytes of those and of eXIf
    text: int = 0  # bytes of uncompressed text
    compressed_text: int = 0  # compressed text chunks (zTXt, compressed iTXt)
    icc: int = 0  # bytes of the ICC profile the decode keeps (none past MAX_ICC_BYTES)
    icc_chunk: int = 0  # bytes of the iCCP chunk, which either decoder reads whole


def estimate(data: bytes) -> Estimate:
    found = _chunks(data)
    header = found.header
    if header is None or len(header) < 13:
        raise Unreadable("no image header (IHDR)")
    width, height = u32be(header, 0), u32be(header, 4)
    depth, colour = header[8], header[9]
    mode = PngImagePlugin._MODES.get((depth, colour), ("RGBA", ""))[0]
    # Decompressed text (up to MAX_TEXT_CHUNK a chunk, MAX_TEXT_MEMORY in all), as bytes and str.
    text_bytes = min(
        found.text + found.compressed_text * PngImagePlugin.MAX_TEXT_CHUNK,
        PngImagePlugin.MAX_TEXT_MEMORY,
    )
    row = ceil_div(width * depth * _CHANNELS.get(colour, 4), 8) + 1
    return Estimate(
        format="PNG",
        size=(width, height),
        mode=mode,
        key_colour=found.key_colour and mode in ("L", "RGB", "P"),
        decoding=2 * row + 256 * 1024,  # ZipDecode's current and previous rows, zlib's window
        held=found.kept
        + 2 * text_bytes
        + ICC_COPIES * found.icc
        + _ICC_CHUNK_COPIES * found.icc_chunk
        + found.chunks * PY_OBJECT_BYTES // 4,
        cpu=found.chunks * PY_STRUCTURE_S + found.private * _PY_KEPT_CHUNK_S,
        note=f"{depth}-bit {mode}" + (" with tRNS" if found.key_colour else ""),
    )


def icc_size(body: bytes | memoryview) -> int:
    """The bytes of the profile an iCCP chunk holds, as handlers.imaging.decode inflates it: 0 when
    it is dropped (damaged, or over MAX_ICC_BYTES). Inflated in slices, from a view of the chunk:
    neither the profile nor the compressed stream is ever copied whole."""
    body = memoryview(body)
    name_end = bytes(body[:_KEYWORD_BYTES]).find(b"\0")
    if name_end < 0 or bytes(body[name_end + 1 : name_end + 2]) != b"\0":
        return 0  # Pillow refuses an unknown compression method outright
    inflate, size = zlib.decompressobj(), 0
    pos = name_end + 2
    try:
        while size <= MAX_ICC_BYTES and not inflate.eof and pos < len(body):
            out = inflate.decompress(body[pos : pos + _INFLATE_SLICE], _INFLATE_SLICE)
            size += len(out)
            # What the output limit left unconsumed is fed again (it is under a slice long).
            while inflate.unconsumed_tail and size <= MAX_ICC_BYTES:
                size += len(inflate.decompress(inflate.unconsumed_tail, _INFLATE_SLICE))
            pos += _INFLATE_SLICE
    except zlib.error:
        return 0
    return size if size <= MAX_ICC_BYTES else 0


_INFLATE_SLICE: Final = 256 * 1024
# Copies of the iCCP chunk while it is read: the chunk alone (handlers.imaging.decode inflates a
# view of it; libspng, on the streaming path, holds the chunk once).
_ICC_CHUNK_COPIES: Final = 1
_KEYWORD_BYTES: Final = 81  # a PNG keyword (1 to 79 bytes), its NUL and one byte more


def _chunks(data: bytes) -> _Chunks:
    found = _Chunks()
    pos, end = 8, len(data)
    view = memoryview(data)  # a chunk's body is read in place: it may be most of the file
    while pos + 8 <= end:
        length, kind = u32be(data, pos), data[pos + 4 : pos + 8]
        body = view[pos + 8 : pos + 8 + length]
        pos += 12 + length
        found.chunks += 1
        if found.chunks > MAX_STRUCTURES:
            refuse_structures("PNG chunks", found.chunks)
        _count(kind, body, length, found)
        if kind == b"IEND":
            break
    return found


def _count(kind: bytes, body: memoryview, length: int, found: _Chunks) -> None:
    if kind == b"IHDR":
        found.header = bytes(body)
    elif kind == b"tRNS":
        found.key_colour = True
    elif kind == b"tEXt":
        found.text += length
    elif kind == b"zTXt":
        found.compressed_text += 1
    elif kind == b"iCCP":
        found.icc = icc_size(body)
        found.icc_chunk = length
    elif kind == b"iTXt":
        head = bytes(body[:_KEYWORD_BYTES])  # a keyword is 1-79 bytes, then its NUL
        keyword_end = head.find(b"\0")
        if 0 <= keyword_end < min(len(body), _KEYWORD_BYTES) - 1 and head[keyword_end + 1]:
            found.compressed_text += 1
        else:
            found.text += length
    elif kind == b"eXIf":
        found.kept += 2 * length  # the raw block and the tag data getexif() copies out of it
    elif kind not in _KNOWN and kind[1:2].islower():
        found.kept += length + PY_OBJECT_BYTES  # Pillow's private_chunks
        found.private += 1
