"""TIFF: libtiff reads a whole tile or strip at its declared size, whatever the image's size.

A compressed TIFF is decoded one tile or strip at a time into a buffer of the size its tags
declare, beside the codec's own buffers; an uncompressed one is read by Pillow, which keeps a
tile list entry per strip or tile. Every tag Pillow unpacks into Python values (and the Exif,
GPS and Interop sub-IFDs load_end reads through getexif()) costs objects and time.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from typing import Final

from handlers.imaging.budget.check import (
    MAX_STRUCTURES,
    PY_OBJECT_BYTES,
    PY_STRUCTURE_S,
    Estimate,
    ceil_div,
    refuse_structures,
)

__all__ = ["estimate"]

# Measured costs of what Pillow makes of a tag's values (x86-64, CPython 3.11, Pillow 13).
_PY_NUMBER_S: Final = 0.05e-6  # one tag value unpacked into an int
_PY_RATIONAL_S: Final = 3e-6  # ... or into an IFDRational
_PY_NUMBER_BYTES: Final = 40  # a tag value unpacked into a tuple of ints
_PY_RATIONAL_BYTES: Final = 200  # ... or of IFDRational objects

_TYPE_SIZES: Final = {
    1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8,
    17: 8, 18: 8,
}  # fmt: skip
_KEPT_AS_BYTES: Final = frozenset({1, 2, 7})  # BYTE, ASCII, UNDEFINED
_RATIONALS: Final = frozenset({5, 10})
_SUB_IFDS: Final = (0x8769, 0x8825, 0xA005)  # Exif, GPS, Interop: loaded by load_end
# Bytes a decoded sample of these codecs takes in the codec's own buffers, beside the tile:
# JPEG (old and new): coefficient buffers if the tile's JPEG is progressive; WebP: libwebp's
# RGBA output and its ARGB working buffer; LZMA, ZSTD: dictionary/window pages touched.
_CODEC_BYTES: Final = {6: 2.5, 7: 2.5, 50001: 8.0, 34925: 1.0, 50000: 1.0}


_NEEDED: Final = frozenset({256, 257, 258, 259, 262, 277, 278, 284, 322, 323})
_BLOCKS: Final = frozenset({273, 324})  # StripOffsets, TileOffsets: their count matters
_UNPACK: Final = {3: "H", 4: "I", 8: "h", 9: "i", 13: "I", 16: "Q"}
# Tags TiffImageFile._setup unpacks into Python values (the rest stay raw bytes unless asked
# for): the ones above, FillOrder, Orientation, SampleFormat, ExtraSamples, resolutions and
# their unit, the strip and tile tables, the colour map.
_UNPACKED: Final = _NEEDED | {266, 274, 339, 338, 282, 283, 296, 273, 279, 324, 325, 320}


@dataclass
class _Ifd:
    values: dict[int, tuple[int, ...]]
    cost: int = 0  # bytes of what Pillow makes of the tags: raw data, unpacked values
    cpu: float = 0.0  # seconds it takes to unpack them
    entries: int = 0

    def first(self, tag: int, default: int) -> int:
        found = self.values.get(tag)
        return found[0] if found else default


@dataclass(frozen=True)
class _Layout:
    """How the pixels are stored: in tiles or strips of ``block`` pixels."""

    tiled: bool
    block: tuple[int, int]
    blocks: int  # how many
    block_bytes: int  # the declared size of one


def estimate(data: bytes) -> Estimate:
    order = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack_from(order + "H", data, 2)
    big = magic == 43
    (first,) = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)
    ifd = _ifd(data, first, order, big)
    tag_cost, tag_cpu = _with_sub_ifds(data, ifd, order, big)

    width, height = ifd.first(256, 0), ifd.first(257, 0)
    compression = ifd.first(259, 1)
    photometric = ifd.first(262, 0)
    samples = max(1, ifd.first(277, 1))
    bits = ifd.values.get(258) or (1,)
    layout = _layout(ifd, width, height, samples, max(bits))

    mode = _mode(photometric, samples, max(bits))
    decoding = 0
    cpu = (ifd.entries + layout.blocks) * PY_STRUCTURE_S + tag_cpu
    held = tag_cost
    if compression != 1:
        decoding = _codec_bytes(layout, width, samples, compression, photometric)
    else:
        held += layout.blocks * 2 * PY_OBJECT_BYTES  # Pillow's own tile list, one per block
        cpu += layout.blocks * 3 * PY_STRUCTURE_S  # ImageFile.load seeks, reads, decodes each
    block_w, block_h = layout.block
    kind = "tiles" if layout.tiled else "strips"
    return Estimate(
        format="TIFF",
        size=(width, height),
        mode=mode,
        decoding=decoding,
        held=held,
        cpu=cpu,
        note=f"{kind} of {block_w}x{block_h}, compression {compression}",
    )


def _with_sub_ifds(data: bytes, ifd: _Ifd, order: str, big: bool) -> tuple[int, float]:
    """What the tags cost, the sub-IFDs TiffImageFile.load_end loads through getexif() too."""
    tag_cost, tag_cpu = ifd.cost, ifd.cpu
    for sub in _SUB_IFDS:
        if ifd.values.get(sub):
            with contextlib.suppress(struct.error, IndexError):  # Pillow skips it too
                sub_ifd = _ifd(data, ifd.values[sub][0], order, big, unpack_all=True)
                tag_cost, tag_cpu = tag_cost + sub_ifd.cost, tag_cpu + sub_ifd.cpu
    return tag_cost, tag_cpu


def _layout(ifd: _Ifd, width: int, height: int, samples: int, bits_per_sample: int) -> _Layout:
    tiled = 322 in ifd.values or 324 in ifd.values
    if tiled:
        block_w, block_h = ifd.first(322, width), ifd.first(323, height)
    else:
        block_w, block_h = width, min(ifd.first(278, height) or height, height)
    planes = samples if ifd.first(284, 1) == 2 else 1
    block_bytes = ceil_div(block_w * bits_per_sample * samples // planes, 8) * block_h
    blocks = ifd.first(324 if tiled else 273, 0)
    return _Layout(tiled, (block_w, block_h), blocks, block_bytes)


def _codec_bytes(
    layout: _Layout, width: int, samples: int, compression: int, photometric: int
) -> int:
    """libtiff (TiffDecode.c) reads one tile or strip at a time into a buffer of its declared
    size; YCbCr without JPEG goes through TIFFRGBAImage (4 bytes a pixel)."""
    block_w, block_h = layout.block
    decoding = layout.block_bytes + int(
        block_w * block_h * samples * _CODEC_BYTES.get(compression, 0.0)
    )
    if photometric == 6 and compression != 7:
        decoding += 2 * block_h * width * 4 + layout.block_bytes
    return decoding + 512 * 1024  # a codec's state (zlib, LZW tables)


def _ifd(data: bytes, offset: int, order: str, big: bool, unpack_all: bool = False) -> _Ifd:
    """The tags of one IFD that size the decode, and what Pillow's reading of them costs
    (``unpack_all``: every tag is unpacked, as Exif.get_ifd does for the sub-IFDs)."""
    count_format, entry_size = ("Q", 20) if big else ("H", 12)
    (entries,) = struct.unpack_from(order + count_format, data, offset)
    if entries > MAX_STRUCTURES:
        refuse_structures("TIFF tags", entries)
    ifd = _Ifd(values={}, entries=entries)
    pos = offset + (8 if big else 2)
    for _ in range(entries):
        _entry(data, pos, order, big, unpack_all, ifd)
        pos += entry_size
    return ifd


def _entry(data: bytes, pos: int, order: str, big: bool, unpack_all: bool, ifd: _Ifd) -> None:
    """One IFD entry at ``pos``: what Pillow makes of it, and its values if they size the
    decode."""
    tag, kind, count = struct.unpack_from(order + ("HHQ" if big else "HHI"), data, pos)
    value_pos = pos + (12 if big else 8)
    size = _TYPE_SIZES.get(kind, 0)
    if not size:
        return  # Pillow skips unknown types
    if size * count > (8 if big else 4):
        (value_pos,) = struct.unpack_from(order + ("Q" if big else "I"), data, value_pos)
    # Pillow reads what the file holds (_safe_read) and warns about the rest.
    count = max(0, min(size * count, len(data) - value_pos)) // size
    ifd.cost += 2 * size * count + PY_OBJECT_BYTES  # the raw data, and getexif()'s copy
    if kind not in _KEPT_AS_BYTES and (unpack_all or tag in _UNPACKED):
        rational = kind in _RATIONALS
        ifd.cost += count * (_PY_RATIONAL_BYTES if rational else _PY_NUMBER_BYTES)
        ifd.cpu += count * (_PY_RATIONAL_S if rational else _PY_NUMBER_S)
    _keep(data, value_pos, order, tag, kind, count, ifd)


def _keep(data: bytes, pos: int, order: str, tag: int, kind: int, count: int, ifd: _Ifd) -> None:
    """Keep the values of a tag that sizes the decode: the count of a block table, the first
    values of the others."""
    letter = _UNPACK.get(kind)
    if tag in _BLOCKS:
        ifd.values[tag] = (count,)
    elif letter and count and (tag in _NEEDED or tag in _SUB_IFDS):
        keep = min(count, 4)
        ifd.values[tag] = struct.unpack_from(order + letter * keep, data, pos)


def _mode(photometric: int, samples: int, bits: int) -> str:
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
