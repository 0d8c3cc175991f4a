"""AVIF and HEIF: ISOBMFF items decoded by libavif (AV1) or libheif (HEVC).

libavif scales the AV1 frame to the ``ispe`` size (or a grid's output size), and keeps its YUV
planes while Pillow copies the RGB pixels twice. The size is the largest of every ``ispe``, grid
output size and AV1 frame bound (the largest frame the sequence header allows): an estimate may
refuse a file its decoder would have managed, never the reverse. Each grid tile sets up its own
decoder.

HEIC (HEVC in HEIF, read through pillow-heif's libheif) has the same item structure, with hvcC
for the chroma format and depth. No HEVC bitstream bound is parsed: libheif refuses an image
whose decoded size differs from its ispe, so ispe and the grid bound it. The per-tile cost is
AVIF's, measured with dav1d, taken for libde265 as well.

Metadata items (Exif, XMP in ``mime`` items, anything that is not an image item) are read whole
by the decoders: libheif copies each item's bytes and pillow-heif copies them again, all of them
before the image is decoded, whether or not thumbstat uses them. Their extents may all point at one
region of the file, so their bytes are counted per item, not per region of the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from handlers.imaging.budget.av1 import frame_bound
from handlers.imaging.budget.check import (
    MAX_STRUCTURES,
    PY_STRUCTURE_S,
    Estimate,
    Unreadable,
    refuse_structures,
    u16be,
    u32be,
)
from handlers.imaging.limits import ICC_COPIES, MAX_ICC_BYTES

__all__ = ["estimate_avif", "estimate_heif"]

_TILE_S: Final = 50e-6  # libavif: setting up one grid tile's AV1 decoder
_TILE_BYTES: Final = 16 * 1024  # ... and what each tile keeps
# ... and the AV1 decoder itself, whatever the size: dav1d's frame threads and picture pools
# (measured: a 4096x800 grid of 4 tiles peaked 60 MB over the baseline, 37 MB estimated without).
_DAV1D_CONTEXT_BYTES: Final = 24 * 2**20

# Copies the decoders hold of each metadata item's bytes (libheif's read, pillow-heif's bytes;
# measured: 16.4 MB more peak per 8 MB item, whatever the count).
_METADATA_COPIES: Final = 2
# Item types that are images (or derive one): every other item is metadata, read whole.
_NOTED_METADATA_BYTES: Final = 2**20  # said in a rejection's detail past this
_IMAGE_ITEMS: Final = frozenset({b"av01", b"hvc1", b"hev1", b"grid", b"iden", b"iovl"})

# Boxes holding only boxes, read through.
_CONTAINERS: Final = frozenset({b"iprp", b"ipco", b"moov", b"trak", b"mdia", b"minf", b"stbl"})


@dataclass
class _Items:
    """What the boxes say about the image items and their properties."""

    sizes: list[tuple[int, int]] = field(default_factory=list)  # ispe, grid, AV1 frame bounds
    av1_items: set[int] = field(default_factory=set)
    coded_items: set[int] = field(default_factory=set)  # HEVC: tiles, but no bitstream bound
    grid_items: set[int] = field(default_factory=set)
    metadata_items: set[int] = field(default_factory=set)  # Exif, mime (XMP), ...: read whole
    locations: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    idat: bytes = b""
    deep: bool = False  # pixi: more than 8 bits a channel
    alpha: bool = False
    high_depth: bool = False  # the codec configuration's depth is over 8 bits
    chroma_full: bool = False  # 4:4:4
    tracks: int = 0
    icc: int = 0  # bytes of the largest colr ICC profile (prof, rICC)

    def item(self, data: bytes, item: int) -> bytes:
        """An item's bytes, from its iloc extents."""
        return b"".join(data[o : o + n] for o, n in self.locations.get(item, []))

    def metadata_bytes(self, data: bytes) -> int:
        """The bytes of every metadata item, as its extents say (clamped to the file: a decoder
        refuses an extent past the end), counted once per item even where extents overlap."""
        return sum(
            max(0, min(length, len(data) - offset))
            for item in self.metadata_items
            for offset, length in self.locations.get(item, [])
        )


def estimate_avif(data: bytes) -> Estimate:
    return _estimate(data, "AVIF")


def estimate_heif(data: bytes) -> Estimate:
    return _estimate(data, "HEIF")


def _estimate(data: bytes, format_: str) -> Estimate:
    """AVIF and HEIF: ISOBMFF items (ispe, grid, pixi, auxC alpha) with an AV1 or HEVC codec."""
    items = _Items()
    _walk(data, 0, len(data), items)
    _item_bounds(data, items)
    tiles = _grid_tiles(data, items)
    if not items.sizes:
        raise Unreadable("no image size (ispe)")
    width = max(w for w, _ in items.sizes)
    height = max(h for _, h in items.sizes)
    pixels = width * height
    # libavif's YUV planes (and the AV1 decoder's frame, as large or scaled to it): per pixel,
    # 1.5 samples for 4:2:0 or 3 for 4:4:4, 2 bytes a sample above 8 bits; alpha another plane.
    sample = 2 if items.high_depth or items.deep else 1
    # (plus a third of a byte for dav1d's padded, aligned pictures)
    yuv = (3.0 if items.chroma_full else 1.5) * sample + (sample if items.alpha else 0) + 0.3
    rgb = 4 if items.alpha else 3
    # Held while the pipeline runs: the YUV planes (twice for one item: dav1d's picture and
    # libavif's copy scaled to ispe; a grid's tiles are copied into one image), the file (the
    # decoder's copy) and Pillow's bytes copy of the RGB pixels. While decoding,
    # avifRGBImage's pixels live beside that bytes copy.
    copies = 1 if items.grid_items else 2
    metadata = items.metadata_bytes(data)
    held = int(copies * yuv * pixels) + len(data) + rgb * pixels + tiles * _TILE_BYTES
    held += _METADATA_COPIES * metadata
    # The decoder's copy of a colr profile, and lcms's where the pipeline honours it.
    held += items.icc * (1 + (ICC_COPIES if items.icc <= MAX_ICC_BYTES else 0))
    grid = f"grid of {tiles} tiles, " if items.grid_items else ""
    read_whole = f", {len(items.metadata_items)} metadata items of {metadata:,} bytes"
    return Estimate(
        format=format_,
        size=(width, height),
        mode="RGBA" if items.alpha else "RGB",
        decoding=rgb * pixels + _DAV1D_CONTEXT_BYTES,
        held=held,
        cpu=tiles * _TILE_S + items.tracks * PY_STRUCTURE_S,
        note=f"{grid}{'4:4:4' if items.chroma_full else '4:2:0'}, {8 * sample}-bit"
        + (read_whole if metadata > _NOTED_METADATA_BYTES else ""),
    )


def _item_bounds(data: bytes, items: _Items) -> None:
    """Add the frame bound of every AV1 item's sequence header to ``items.sizes``."""
    for item in items.av1_items:
        payload = items.item(data, item)
        bound = frame_bound(payload) if payload else None
        if bound:
            items.sizes.append(bound)


def _grid_tiles(data: bytes, items: _Items) -> int:
    """The tiles the decoders set up: every coded item, or a grid's rows times columns; each
    grid's output size is added to ``items.sizes``."""
    tiles = max(1, len(items.av1_items) + len(items.coded_items))
    for item in items.grid_items:
        grid = items.item(data, item) or items.idat
        if len(grid) >= 8:
            rows, columns = grid[2] + 1, grid[3] + 1
            items.sizes.append(struct.unpack_from(">II" if grid[1] & 1 else ">HH", grid, 4))
            tiles = max(tiles, rows * columns)
    return tiles


def _walk(data: bytes, pos: int, end: int, items: _Items) -> None:
    for kind, start, stop in _boxes(data, pos, end):
        if kind == b"meta":
            _walk(data, start + 4, stop, items)
        elif kind in _CONTAINERS:
            items.tracks += kind == b"trak"
            _walk(data, start, stop, items)
        elif kind == b"stsd":
            _walk(data, start + 8, stop, items)
        elif kind == b"av01":  # a track's sample entry: width, height, then boxes
            items.sizes.append((u16be(data, start + 24), u16be(data, start + 26)))
            _walk(data, start + 78, stop, items)
        else:
            _property(data, kind, start, stop, items)


def _property(data: bytes, kind: bytes, start: int, stop: int, items: _Items) -> None:
    """A box that is not a container: an item property, the item table or its data."""
    read = _PROPERTIES.get(kind)
    if read is not None:
        read(data, start, stop, items)


def _ispe(data: bytes, start: int, stop: int, items: _Items) -> None:
    items.sizes.append((u32be(data, start + 4), u32be(data, start + 8)))


def _av1c(data: bytes, start: int, stop: int, items: _Items) -> None:
    flags = data[start + 2]
    items.high_depth = items.high_depth or bool(flags & 0x60)
    items.chroma_full = items.chroma_full or not flags & 0x0C
    bound = frame_bound(data[start + 4 : stop])
    if bound:
        items.sizes.append(bound)


def _hvcc(data: bytes, start: int, stop: int, items: _Items) -> None:
    # chroma_format_idc at byte 16, bit depth minus 8 at 17
    items.chroma_full = items.chroma_full or data[start + 16] & 0x03 == 3
    items.high_depth = items.high_depth or bool(data[start + 17] & 0x07)


def _auxc(data: bytes, start: int, stop: int, items: _Items) -> None:
    if b"alpha" in data[start:stop]:
        items.alpha = True


def _iloc_box(data: bytes, start: int, stop: int, items: _Items) -> None:
    items.locations.update(_iloc(data, start, stop))


def _idat(data: bytes, start: int, stop: int, items: _Items) -> None:
    items.idat = data[start:stop]


def _colr(data: bytes, start: int, stop: int, items: _Items) -> None:
    if data[start : start + 4] in (b"prof", b"rICC"):
        items.icc = max(items.icc, stop - start - 4)


def _pixi(data: bytes, start: int, stop: int, items: _Items) -> None:
    items.deep = items.deep or any(b > 8 for b in data[start + 5 : start + 5 + data[start + 4]])


def _item_infos(data: bytes, start: int, stop: int, items: _Items) -> None:
    """An ItemInfoBox: which items are AV1, HEVC or grids."""
    version = data[start]
    first = start + 4 + (4 if version else 2)
    for entry, entry_start, _ in _boxes(data, first, stop):
        if entry == b"infe" and data[entry_start] >= 2:
            wide = data[entry_start] >= 3
            item = (u32be if wide else u16be)(data, entry_start + 4)
            kind_at = entry_start + (8 if wide else 6) + 2
            item_type = data[kind_at : kind_at + 4]
            if item_type == b"av01":
                items.av1_items.add(item)
            elif item_type in (b"hvc1", b"hev1"):
                items.coded_items.add(item)
            elif item_type == b"grid":
                items.grid_items.add(item)
            if item_type not in _IMAGE_ITEMS:
                items.metadata_items.add(item)


_PROPERTIES: Final[dict[bytes, Callable[[bytes, int, int, _Items], None]]] = {
    b"ispe": _ispe,
    b"av1C": _av1c,
    b"hvcC": _hvcc,
    b"auxC": _auxc,
    b"iinf": _item_infos,
    b"iloc": _iloc_box,
    b"idat": _idat,
    b"pixi": _pixi,
    b"colr": _colr,
}


def _boxes(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, payload end) of the ISOBMFF boxes in data[pos:end]."""
    while pos + 8 <= end:
        size, kind = u32be(data, pos), data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise Unreadable(f"box {kind!r} at {pos} has size {size}")
        yield kind, pos + header, min(pos + size, end)
        pos += size


def _iloc(data: bytes, start: int, stop: int) -> dict[int, list[tuple[int, int]]]:
    """Item id -> (offset, length) extents of an ItemLocationBox (construction method 0)."""
    version = data[start]
    pos = start + 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 15
    base_size, index_size = data[pos + 1] >> 4, (data[pos + 1] & 15) if version else 0
    pos += 2
    if version < 2:
        count, pos = u16be(data, pos), pos + 2
    else:
        count, pos = u32be(data, pos), pos + 4
    if count > MAX_STRUCTURES:
        refuse_structures("AVIF item locations", count)

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
            raise Unreadable("iloc box overruns its size")
    return found
