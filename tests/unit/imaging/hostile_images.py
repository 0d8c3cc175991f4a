"""Hostile images, built in the tests from real encoded files and hand-made headers.

Every function returns the bytes of one file. Small real images come from Pillow's encoders; their
headers are then rewritten (a JPEG frame header, an AVIF ``ispe``) or wrapped in hand-made
structures (GIF frames, TIFF tiles, an AVIF grid of one repeated tile, a BMP run-length stream) so
that a few hundred bytes declare gigabytes. Large honest images (PNG, WebP) are streamed, never
held as pixels, so building them costs little. Nothing here is committed as a binary.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator

from PIL import Image


def encoded(im: Image.Image, format_: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format_, **options)
    return buffer.getvalue()


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A small image with some detail, so encoders produce real coefficients and symbols."""
    grey = Image.linear_gradient("L")
    if mode == "L":
        return grey.resize(size)
    bands = (grey, grey.transpose(Image.Transpose.ROTATE_90), grey.point(lambda v: 255 - v))
    return Image.merge("RGB", bands).resize(size).convert(mode)


# --- JPEG --------------------------------------------------------------------------------


def _sof_offset(data: bytes) -> int:
    pos = 2
    while pos < len(data):
        marker, length = data[pos + 1], struct.unpack_from(">H", data, pos + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return pos
        pos += 2 + length
    raise ValueError("no SOF")


def jpeg_with_frame_size(data: bytes, size: tuple[int, int]) -> bytes:
    """A JPEG whose frame header declares ``size`` over the scans of a smaller image."""
    pos = _sof_offset(data)
    out = bytearray(data)
    struct.pack_into(">HH", out, pos + 5, size[1], size[0])
    return bytes(out)


def jpeg(
    size: tuple[int, int] = (64, 64), mode: str = "RGB", progressive: bool = True, **options: object
) -> bytes:
    return encoded(gradient(size, mode), "JPEG", quality=90, progressive=progressive, **options)


def jpeg_declaring(
    size: tuple[int, int], mode: str = "RGB", progressive: bool = True, subsampling: int = 2
) -> bytes:
    """64x64 of data under a frame header of ``size``."""
    return jpeg_with_frame_size(jpeg((64, 64), mode, progressive, subsampling=subsampling), size)


def jpeg_many_scans(
    scans: int, size: tuple[int, int] = (4096, 4096), refine: bool = False
) -> bytes:
    """A grey progressive JPEG followed by ``scans`` AC scans that each cover the whole image
    with end-of-band runs: a few bytes a scan, one pass over every block each (libjpeg-turbo
    only warns about the bogus progression)."""
    base = jpeg_with_frame_size(jpeg((64, 64), "L"), size)
    blocks = -(-size[0] // 8) * -(-size[1] // 8)
    # An AC table with one code, "0", for EOB14: a run of 2**14 + 14 extra bits of blocks.
    table = b"\x11" + bytes([1] + [0] * 15) + b"\xe0"
    dht = b"\xff\xc4" + struct.pack(">H", 2 + len(table)) + table
    bits = []
    remaining = blocks
    while remaining > 0:
        run = min(remaining, 2**15 - 1)
        bits.append("0" + format(run - 2**14, "014b") if run >= 2**14 else "")
        if run < 2**14:
            break
        remaining -= run
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    entropy = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    entropy = entropy.replace(b"\xff", b"\xff\x00")
    # Component 1, AC table 1, Ss=1, Se=63; Ah=Al=0 (first pass) or Ah=1, Al=0 (refinement,
    # which also visits every coefficient of every block in the run).
    sos = b"\xff\xda\x00\x08\x01\x01\x01\x01\x3f" + (b"\x10" if refine else b"\x00")
    body = base[:-2]  # drop EOI
    return body + dht + (sos + entropy) * scans + b"\xff\xd9"


def jpeg_with_segments(data: bytes, segment: bytes, count: int) -> bytes:
    """A JPEG with ``count`` copies of a marker segment (or junk bytes) inserted after its first
    segment."""
    first = 4 + struct.unpack_from(">H", data, 4)[0]
    return data[:first] + segment * count + data[first:]


def app_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", 2 + len(payload)) + payload


# --- PNG ---------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(
    size: tuple[int, int],
    depth: int = 8,
    colour: int = 2,
    trns: bytes | None = None,
    extra: Iterator[bytes] | None = None,
) -> bytes:
    """An honest PNG of ``size``: rows of a repeated pattern, deflated as they are generated."""
    width, height = size
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = b"\x00" + bytes(range(256)) * (-(-width * channels * depth // 8) // 256 + 1)
    row = row[: 1 + -(-width * channels * depth // 8)]
    compressor = zlib.compressobj(1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    out = [
        b"\x89PNG\r\n\x1a\n",
        png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)),
    ]
    if colour == 3:
        out.append(png_chunk(b"PLTE", bytes(range(256)) * 3))
    if trns is not None:
        out.append(png_chunk(b"tRNS", trns))
    out.extend(extra or ())
    out += [png_chunk(b"IDAT", idat), png_chunk(b"IEND", b"")]
    return b"".join(out)


def icc_profile(size: int) -> bytes:
    """A real sRGB profile, padded to ``size`` bytes (its header keeps the real length, as a
    profile with a large private tag or LUT does for the bytes a decoder copies)."""
    from PIL import ImageCms

    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile + random.Random(size).randbytes(size - len(profile))


def png_with_icc(size: tuple[int, int], icc: bytes, depth: int = 16) -> bytes:
    """An RGB PNG of ``depth`` bits carrying ``icc`` in its iCCP chunk."""
    chunk = png_chunk(b"iCCP", b"profile\0\0" + zlib.compress(icc, 1))
    return png(size, depth=depth, extra=iter([chunk]))


def png_header(
    size: tuple[int, int], depth: int = 8, colour: int = 2, trns: bytes | None = None
) -> bytes:
    """The chunks of ``png`` without the pixels: what the estimate reads, built in no time."""
    width, height = size
    out = [
        b"\x89PNG\r\n\x1a\n",
        png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)),
    ]
    if colour == 3:
        out.append(png_chunk(b"PLTE", bytes(range(256)) * 3))
    if trns is not None:
        out.append(png_chunk(b"tRNS", trns))
    return b"".join([*out, png_chunk(b"IDAT", b""), png_chunk(b"IEND", b"")])


def png_many_chunks(chunks: int, kind: bytes = b"prVt") -> bytes:
    """A small PNG carrying ``chunks`` empty private chunks (Pillow keeps each one)."""
    return png((16, 16), extra=iter([png_chunk(kind, b"")] * chunks))


def png_text_bomb(chunks: int) -> bytes:
    """A small PNG whose zTXt chunks each inflate to Pillow's MAX_TEXT_CHUNK (1 MB)."""
    bomb = b"k\0\0" + zlib.compress(bytes(2**20 - 1), 9)
    extra = (png_chunk(b"zTXt", bomb.replace(b"k\0", f"k{i}\0".encode(), 1)) for i in range(chunks))
    return png((16, 16), extra=extra)


# --- GIF ---------------------------------------------------------------------------------


def gif_frame(
    frame: tuple[int, int],
    screen: tuple[int, int] = (1, 1),
    disposal: int = 2,
    data: bool = False,
    transparent: bool = False,
) -> bytes:
    """A GIF whose first frame is ``frame`` in a ``screen`` canvas, disposal ``disposal``, and
    one pixel of LZW data (``data``: a full frame of it instead)."""
    width, height = frame
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + bytes(6)  # 2-colour table
    flags = disposal << 2 | transparent
    control = b"\x21\xf9\x04" + bytes([flags]) + b"\x00\x00\x00\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    if data:
        lzw = _gif_image_data(encoded(Image.new("P", frame, 1), "GIF"))
    else:
        lzw = b"\x02\x02\x4c\x01\x00"  # min code size 2: clear, index 0, end
    return header + control + descriptor + lzw + b"\x3b"


def _gif_image_data(gif: bytes) -> bytes:
    """The LZW code size and data sub-blocks of a GIF's first image."""
    flags = gif[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while gif[pos] == 0x21:  # extensions: label, then sub-blocks to a zero length
        pos += 2
        while gif[pos]:
            pos += 1 + gif[pos]
        pos += 1
    assert gif[pos] == 0x2C
    local = gif[pos + 9]
    pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
    end = pos + 1
    while gif[end]:
        end += 1 + gif[end]
    return gif[pos : end + 1]


def gif_with_comments(blocks: int) -> bytes:
    """A GIF whose first frame follows ``blocks`` 255-byte comment sub-blocks."""
    data = gif_frame((16, 16), (16, 16), disposal=0)
    comment = b"\x21\xfe" + (b"\xff" + bytes(255)) * blocks + b"\x00"
    start = data.index(b"\x21\xf9")
    return data[:start] + comment + data[start:]


# --- TIFF --------------------------------------------------------------------------------


def tiff(
    size: tuple[int, int],
    tile: tuple[int, int] | None = None,
    compression: int = 8,
    rows_per_strip: int | None = None,
    samples: int = 1,
    photometric: int = 1,
    data: bool = True,
) -> bytes:
    """A little-endian TIFF of ``size`` (8 bits a sample) with one tile of ``tile`` or strips,
    deflated (8) or raw (1): its data is one tile's worth (or one strip's) of zeros."""
    width, height = size
    if tile:
        block_w, block_h = tile
    else:
        block_w, block_h = width, rows_per_strip or height
    across, down = -(-width // block_w), -(-height // block_h)
    raw_size = min(block_w * block_h * samples, 64 * 2**20) if data else 16
    block = (
        zlib.compress(bytes(raw_size), 9)
        if compression == 8
        else bytes(block_w * min(block_h, height) * samples)
    )
    blocks = across * down
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, value bytes

    def add(tag: int, kind: int, values: list[int]) -> None:
        letter = {3: "H", 4: "I"}[kind]
        entries.append((tag, kind, len(values), struct.pack("<" + letter * len(values), *values)))

    add(256, 4, [width])
    add(257, 4, [height])
    add(258, 3, [8] * samples)
    add(259, 3, [compression])
    add(262, 3, [photometric])
    add(277, 3, [samples])
    if tile:
        add(322, 4, [block_w])
        add(323, 4, [block_h])
    else:
        add(278, 4, [block_h])
    header_size = 8
    data_offset = header_size
    offsets_tag, counts_tag = (324, 325) if tile else (273, 279)
    entries.sort()
    ifd_entries = len(entries) + 2
    ifd_size = 2 + 12 * ifd_entries + 4
    extra_offset = header_size + len(block) + ifd_size
    add(offsets_tag, 4, [data_offset] * blocks)
    add(counts_tag, 4, [len(block)] * blocks)
    entries.sort()
    ifd = struct.pack("<H", len(entries))
    extra = b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            ifd += struct.pack("<HHII", tag, kind, count, extra_offset + len(extra))
            extra += value
    ifd += b"\0\0\0\0"
    first_ifd = header_size + len(block)
    return b"II*\x00" + struct.pack("<I", first_ifd) + block + ifd + extra


def tiff_header(size: tuple[int, int], samples: int = 1, photometric: int = 1) -> bytes:
    return tiff(size, samples=samples, photometric=photometric, data=False)


def tiff_with_tag(size: tuple[int, int], tag: int, kind: int, count: int) -> bytes:
    """A raw TIFF carrying one extra tag of ``count`` values of TIFF type ``kind``."""
    base = tiff(size, compression=1)
    (first,) = struct.unpack_from("<I", base, 4)
    (entries,) = struct.unpack_from("<H", base, first)
    width = {3: 2, 4: 4, 5: 8}[kind]
    ifd = bytearray(base[first : first + 2 + 12 * entries])
    struct.pack_into("<H", ifd, 0, entries + 1)
    ifd += struct.pack("<HHII", tag, kind, count, 0)
    new_first = len(base)
    struct.pack_into("<I", ifd, len(ifd) - 4, new_first + len(ifd) + 4)
    out = bytearray(base) + ifd + b"\0\0\0\0" + bytes(width * count)
    struct.pack_into("<I", out, 4, new_first)
    return bytes(out)


# --- WebP --------------------------------------------------------------------------------


def webp(size: tuple[int, int], lossless: bool = False, alpha: bool = False) -> bytes:
    mode = "RGBA" if alpha else "RGB"
    im = gradient((64, 64), mode).resize(size, Image.Resampling.NEAREST)
    return encoded(im, "WEBP", lossless=lossless, quality=50, method=0)


def webp_with_icc(size: tuple[int, int], icc: bytes, lossless: bool = False) -> bytes:
    """A WebP (VP8X) carrying ``icc`` in its ICCP chunk."""
    im = gradient((64, 64)).resize(size, Image.Resampling.NEAREST)
    return encoded(im, "WEBP", lossless=lossless, quality=50, method=0, icc_profile=icc)


def webp_header(size: tuple[int, int], lossless: bool = False, alpha: bool = False) -> bytes:
    """A WebP's chunk headers without the bitstream: what the estimate reads."""
    width, height = size
    if lossless:
        bits = (width - 1) | (height - 1) << 14 | alpha << 28
        chunk = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits) + b"\0"
    else:
        frame = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
        chunk = b"VP8 " + struct.pack("<I", len(frame)) + frame
    if alpha and not lossless:
        vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x10\0\0\0"
        vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunk = vp8x + chunk
    payload = b"WEBP" + chunk
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def webp_with_canvas(data: bytes, canvas: tuple[int, int]) -> bytes:
    """A still WebP wrapped as extended (VP8X) with a larger declared canvas."""
    body = data[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (canvas[0] - 1).to_bytes(3, "little") + (canvas[1] - 1).to_bytes(3, "little")
    payload = b"WEBP" + vp8x + body
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


# --- BMP ---------------------------------------------------------------------------------


def bmp_rle(size: tuple[int, int], rle4: bool = True) -> bytes:
    """A run-length BMP of ``size``: every row one run of a colour, decoded by Pillow in Python
    (RLE4 runs pixel by pixel)."""
    width, height = size
    runs = bytearray()
    for _ in range(height):
        left = width
        while left:
            n = min(left, 254)
            runs += bytes([n, 0x12])
            left -= n
        runs += b"\x00\x00"  # end of line
    runs += b"\x00\x01"
    colours = 16 if rle4 else 256
    palette = b"".join(bytes([i, i, i, 0]) for i in range(colours))
    info = struct.pack(
        "<IiiHHIIiiII",
        40,
        width,
        height,
        1,
        4 if rle4 else 8,
        2 if rle4 else 1,
        len(runs),
        2835,
        2835,
        colours,
        0,
    )
    offset = 14 + len(info) + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(runs), 0, 0, offset)
    return header + info + palette + bytes(runs)


def bmp_real(size: tuple[int, int]) -> bytes:
    return encoded(gradient(size), "BMP")


def bmp_declaring(size: tuple[int, int], bits: int = 24) -> bytes:
    """An uncompressed BMP header declaring ``size`` over a few bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, size[0], size[1], 1, bits, 0, 0, 2835, 2835, 0, 0)
    offset = 14 + len(info)
    return b"BM" + struct.pack("<IHHI", offset + 64, 0, 0, offset) + info + bytes(64)


# --- AVIF --------------------------------------------------------------------------------


def avif(size: tuple[int, int] = (64, 64), alpha: bool = False) -> bytes:
    mode = "RGBA" if alpha else "RGB"
    return encoded(gradient(size, mode), "AVIF", quality=50, speed=10)


def avif_with_ispe(data: bytes, size: tuple[int, int]) -> bytes:
    """An AVIF with every ``ispe`` rewritten to say ``size``."""
    out = bytearray(data)
    pos = out.find(b"ispe")
    while pos >= 0:
        struct.pack_into(">II", out, pos + 8, *size)
        pos = out.find(b"ispe", pos + 4)
    return bytes(out)


def avif_declaring(size: tuple[int, int]) -> bytes:
    """A 64x64 AVIF whose ispe says ``size``: libavif scales the frame up to it."""
    return avif_with_ispe(avif(), size)


def corrupt_avif() -> bytes:
    """An AVIF whose AV1 data past the sequence header is scrambled: dav1d fails and Pillow
    raises RuntimeError."""
    data = bytearray(avif((256, 256)))
    start = data.index(b"mdat") + 4 + 20
    for i in range(start, len(data)):
        data[i] = (data[i] * 7 + 13) & 0xFF
    return bytes(data)


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + body)


def _avif_parts(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(av1C box, pixi box, AV1 payload) of a one-item AVIF from Pillow's encoder."""

    def find_box(kind: bytes) -> bytes:
        pos = data.index(kind) - 4
        return data[pos : pos + struct.unpack_from(">I", data, pos)[0]]

    iloc = find_box(b"iloc")
    offset, length = struct.unpack_from(">II", iloc, len(iloc) - 8)
    return find_box(b"av1C"), find_box(b"pixi"), data[offset : offset + length]


def avif_grid(
    tile: tuple[int, int], grid: tuple[int, int], output: tuple[int, int] | None = None
) -> bytes:
    """An AVIF grid of columns x rows copies of one encoded tile: a small file whose decoder
    builds the whole output image (``output``: the size the grid declares)."""
    columns, rows = grid
    output = output or (tile[0] * columns, tile[1] * rows)
    av1c, pixi, payload = _avif_parts(avif(tile))
    tiles = columns * rows
    ftyp = _box(b"ftyp", b"avif" + bytes(4) + b"avifmif1miaf")
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4) + b"pict" + bytes(12) + b"\0")
    pitm = _full_box(b"pitm", 0, 0, struct.pack(">H", 1))
    infe = [_full_box(b"infe", 2, 0, struct.pack(">HH", 1, 0) + b"grid\0")]
    infe += [
        _full_box(b"infe", 2, 1, struct.pack(">HH", 2 + i, 0) + b"av01\0") for i in range(tiles)
    ]
    iinf = _full_box(b"iinf", 0, 0, struct.pack(">H", 1 + tiles) + b"".join(infe))
    dimg = _box(
        b"dimg",
        struct.pack(">HH", 1, tiles) + b"".join(struct.pack(">H", 2 + i) for i in range(tiles)),
    )
    iref = _full_box(b"iref", 0, 0, dimg)
    ispe_tile = _full_box(b"ispe", 0, 0, struct.pack(">II", *tile))
    ispe_grid = _full_box(b"ispe", 0, 0, struct.pack(">II", *output))
    ipco = _box(b"ipco", ispe_tile + ispe_grid + av1c + pixi)
    entries = [struct.pack(">HB", 1, 2) + bytes([2, 4])]
    entries += [struct.pack(">HB", 2 + i, 3) + bytes([1, 0x83, 4]) for i in range(tiles)]
    ipma = _full_box(b"ipma", 0, 0, struct.pack(">I", 1 + tiles) + b"".join(entries))
    iprp = _box(b"iprp", ipco + ipma)
    grid_data = struct.pack(">BBBBHH", 0, 0, rows - 1, columns - 1, *output)

    def build(mdat_offset: int) -> bytes:
        locations = [struct.pack(">HHHII", 1, 0, 1, mdat_offset + 8, len(grid_data))]
        tile_at = mdat_offset + 8 + len(grid_data)
        locations += [
            struct.pack(">HHHII", 2 + i, 0, 1, tile_at, len(payload)) for i in range(tiles)
        ]
        iloc = _full_box(
            b"iloc", 0, 0, bytes([0x44, 0x00]) + struct.pack(">H", 1 + tiles) + b"".join(locations)
        )
        meta = _full_box(b"meta", 0, 0, hdlr + pitm + iloc + iinf + iref + iprp)
        return ftyp + meta

    head = build(0)
    head = build(len(head))
    return head + _box(b"mdat", grid_data + payload)


# --- HEIF metadata items ---------------------------------------------------------------------


def heif(size: tuple[int, int] = (64, 64)) -> bytes:
    """A small HEIC from pillow-heif's encoder (x265), with one Exif item. (Through its own API:
    registering its Pillow plugin here would change the options the pipeline registered.)"""
    import pillow_heif

    buffer = io.BytesIO()
    heif_file = pillow_heif.from_pillow(gradient(size))
    heif_file.save(buffer, format="HEIF", quality=50, exif=Image.Exif().tobytes())
    return buffer.getvalue()


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    """(type, whole box) of the boxes in data[start:end]."""
    found = []
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        found.append((kind, data[start : start + size]))
        start += size
    return found


def heif_with_metadata_items(count: int, region: int, kind: bytes = b"Exif") -> bytes:
    """A HEIC whose primary image carries ``count`` metadata items (``kind``: Exif or mime)
    whose one extent each points at one shared ``region`` of bytes: a file of ``region`` bytes
    for which libheif and pillow-heif hold ``count`` copies.

    The encoder's own meta box is blanked (a ``free`` box of its size, so the image's iloc
    offsets stay right) and a rewritten one follows a second mdat holding the region."""
    data = heif()
    top = dict(_children(data, 0, len(data)))
    meta = top[b"meta"]
    children = dict(_children(meta, 12, len(meta)))
    primary = struct.unpack_from(">H", children[b"pitm"], 12)[0]
    # The encoder's items: one extent each, in its iloc (version 0 or 1, 4-byte fields).
    iloc = children[b"iloc"]
    version, sizes = iloc[8], iloc[12:14]
    if sizes[0] != 0x44 or sizes[1] & 0xBF or version > 1:  # 4-byte offsets, lengths and bases
        raise ValueError(f"unexpected iloc layout {version} {sizes.hex()}")
    base_size = sizes[1] >> 4
    items, pos = [], 16
    for _ in range(struct.unpack_from(">H", iloc, 14)[0]):
        item = struct.unpack_from(">H", iloc, pos)[0]
        pos += 2 + (2 if version else 0) + 2
        base = struct.unpack_from(">I", iloc, pos)[0] if base_size else 0
        (extents,) = struct.unpack_from(">H", iloc, pos + base_size)
        pos += base_size + 2
        if extents != 1:
            raise ValueError("expected one extent per item")
        offset, length = struct.unpack_from(">II", iloc, pos)
        pos += 8
        items.append((item, base + offset, length))
    ids = [max(i for i, _, _ in items) + 1 + n for n in range(count)]
    region_at = len(data) + 8  # the second mdat's payload follows the file as encoded
    locations = [struct.pack(">HHHII", i, 0, 1, o, n) for i, o, n in items]
    locations += [struct.pack(">HHHII", i, 0, 1, region_at, region) for i in ids]
    new_iloc = _full_box(
        b"iloc",
        0,
        0,
        bytes([0x44, 0x00]) + struct.pack(">H", len(locations)) + b"".join(locations),
    )
    iinf = children[b"iinf"]
    old_entries = iinf[14:] if iinf[8] == 0 else iinf[16:]
    name = b"\0" if kind != b"mime" else b"\0application/rdf+xml\0"
    infe = b"".join(_full_box(b"infe", 2, 0, struct.pack(">HH", i, 0) + kind + name) for i in ids)
    new_iinf = _full_box(b"iinf", 1, 0, struct.pack(">I", len(items) + count) + old_entries + infe)
    cdsc = b"".join(_box(b"cdsc", struct.pack(">HHH", i, 1, primary)) for i in ids)
    new_iref = _full_box(b"iref", 0, 0, children.get(b"iref", b"")[12:] + cdsc)
    rebuilt = {b"iloc": new_iloc, b"iinf": new_iinf, b"iref": new_iref}
    body = b"".join(rebuilt.get(k, box) for k, box in _children(meta, 12, len(meta)))
    if b"iref" not in children:
        body += new_iref
    blank = _box(b"free", bytes(len(meta) - 8))
    head = data.replace(meta, blank, 1)
    return head + _box(b"mdat", bytes(region)) + _full_box(b"meta", 0, 0, body)
