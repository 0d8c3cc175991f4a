"""AV1: the largest frame a sequence header allows, for AVIF items and tracks.

dav1d sizes a frame from the sequence header (obu.c read_frame_size): ``max_width`` and
``max_height``, or, when a frame may override its size, anything up to 2**``width_n_bits``. The
estimate takes that bound, not a size the item claims.
"""

from __future__ import annotations

from handlers.imaging.budget.check import Unreadable

__all__ = ["frame_bound"]


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
    raise Unreadable("leb128 longer than 8 bytes")


def frame_bound(obus: bytes) -> tuple[int, int] | None:
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
            return _sequence_bound(obus[pos : pos + size])
        pos += size
    return None


def _sequence_bound(payload: bytes) -> tuple[int, int]:
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
