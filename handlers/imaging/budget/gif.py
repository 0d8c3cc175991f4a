"""GIF: a frame larger than its canvas, its disposal area, and the extension blocks before it.

Pillow opens a GIF by reading up to its first image descriptor: every extension block on the way
is a turn of a Python loop, comments are kept, and a frame reaching past the logical screen grows
the image (GifImageFile._seek). A frame whose disposal method is 2 or 3 has its disposal area (a
fill of the frame's extent) allocated while opening, and kept with the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.imaging.budget.check import (
    MAX_STRUCTURES,
    PY_STRUCTURE_S,
    Estimate,
    Unreadable,
    refuse_structures,
    u16le,
)

__all__ = ["estimate"]


@dataclass
class _Head:
    """What the blocks before the first image descriptor say."""

    palette: bool
    disposal: int = 0
    transparency: bool = False
    sub_blocks: int = 0
    comments: int = 0  # bytes of comment extensions
    extent: tuple[int, int, int, int] | None = None  # the first frame's (x0, y0, x1, y1)


def estimate(data: bytes) -> Estimate:
    screen = u16le(data, 6), u16le(data, 8)
    flags = data[10]
    head = _read(data, 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0), bool(flags & 0x80))
    extent = head.extent
    if extent is None:
        raise Unreadable("no image descriptor")
    # A frame reaching past the logical screen grows the image (GifImageFile._seek).
    size = max(screen[0], extent[2]), max(screen[1], extent[3])
    frame_pixels = (extent[2] - extent[0]) * (extent[3] - extent[1])
    # Disposal 2 or 3 makes a fill of the frame's extent while opening, kept with the image.
    dispose = frame_pixels if head.disposal >= 2 else 0
    return Estimate(
        format="GIF",
        size=size,
        mode="P" if head.palette else "L",
        key_colour=head.transparency,
        held=dispose + 2 * head.comments + head.sub_blocks * 64,
        cpu=head.sub_blocks * PY_STRUCTURE_S,
        note=f"frame {extent[2] - extent[0]}x{extent[3] - extent[1]}"
        + (f" in a {screen[0]}x{screen[1]} screen" if size != screen else ""),
    )


def _read(data: bytes, pos: int, palette: bool) -> _Head:
    """The extension blocks from ``pos`` up to the first image descriptor, and that."""
    head = _Head(palette)
    while pos < len(data):
        introducer = data[pos]
        if introducer == 0x21 and pos + 1 < len(data):
            label = data[pos + 1]
            blocks, pos = _blocks(data, pos + 2)
            _extension(label, blocks, head)
        elif introducer == 0x2C:
            if pos + 10 > len(data):
                raise Unreadable("truncated image descriptor")
            x0, y0 = u16le(data, pos + 1), u16le(data, pos + 3)
            head.extent = (x0, y0, x0 + u16le(data, pos + 5), y0 + u16le(data, pos + 7))
            head.palette = head.palette or bool(data[pos + 9] & 0x80)
            break
        else:
            break  # the trailer, or junk: Pillow finds no image either
    return head


def _extension(label: int, blocks: list[bytes], head: _Head) -> None:
    head.sub_blocks += len(blocks) + 1
    if head.sub_blocks > MAX_STRUCTURES:
        refuse_structures("GIF extension blocks", head.sub_blocks)
    if label == 0xF9 and blocks and len(blocks[0]) >= 4:  # graphic control
        head.transparency = head.transparency or bool(blocks[0][0] & 1)
        head.disposal = max(head.disposal, (blocks[0][0] >> 2) & 7)
    elif label == 0xFE:  # comment
        head.comments += sum(len(b) for b in blocks)


def _blocks(data: bytes, pos: int) -> tuple[list[bytes], int]:
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
