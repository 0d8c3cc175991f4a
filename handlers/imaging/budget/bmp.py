"""BMP: Pillow's pure-Python run-length decoder, which does Python-level work for every pixel.

Uncompressed BMPs decode in C at no cost beside the image; RLE4 and RLE8 go through
BmpRleDecoder, a bytearray grown to the image, its bytes() copy, then the raw decoder.
"""

from __future__ import annotations

from typing import Final

from handlers.imaging.budget.check import Estimate, Unreadable, u16le, u32le

__all__ = ["estimate"]

_PY_RLE_PIXEL_S: Final = 0.1e-6  # one pixel of Pillow's pure-Python BMP RLE decoder


def estimate(data: bytes) -> Estimate:
    header = u32le(data, 14)
    if header == 12:
        width, height, bits, compression = u16le(data, 18), u16le(data, 20), u16le(data, 24), 0
    elif header in (40, 52, 56, 64, 108, 124):
        width, raw_height = u32le(data, 18), u32le(data, 22)
        height = 2**32 - raw_height if data[25] == 0xFF else raw_height  # top-down rows
        bits, compression = u16le(data, 28), u32le(data, 30)
    else:
        raise Unreadable(f"unsupported BMP header size {header}")
    pixels = width * height
    mode = "P" if bits <= 8 else "RGBA" if bits == 32 else "RGB"
    rle = compression in (1, 2)
    # BmpRleDecoder (pure Python): a bytearray grown to the image, its bytes() copy, then the
    # raw decoder; Python-level work for every pixel.
    return Estimate(
        format="BMP",
        size=(width, height),
        mode=mode,
        decoding=int(2.2 * pixels) if rle else 0,
        cpu=pixels * _PY_RLE_PIXEL_S if rle else 0.0,
        note=f"{bits}-bit" + (", run-length coded" if rle else ""),
    )
