"""An ICC profile for the colour an HEIF ``nclx`` box describes, so it converts to sRGB like any
embedded profile (LittleCMS, through ``handlers.imaging.colour.to_srgb``). Pure Python, no
Pillow.

An ``nclx`` box names colour primaries and a transfer function by their ITU-T H.273 codes instead
of carrying a profile. Primaries 1 (BT.709, sRGB's) and 2 (unspecified) need no conversion; others
(Display P3 is 12, BT.2020 is 9) get a matrix/TRC display profile built from the chromaticities
the box gives (adapted to D50 with Bradford, as ICC requires). The transfer becomes the sRGB curve
for the SDR codes (1, 6, 13, 14, 15), linear for 8 and gamma 2.2 / 2.8 for 4 / 5; PQ and HLG (16,
18) are HDR, which libheif has already brought to 8 bits, and are treated like SDR.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

_SRGB_PRIMARIES: Final = (1, 2)
_D50: Final = (0.9642, 1.0, 0.8249)
_BRADFORD: Final = (
    (0.8951, 0.2664, -0.1614),
    (-0.7502, 1.7135, 0.0367),
    (0.0389, -0.0685, 1.0296),
)
_GAMMA: Final = {4: 2.2, 5: 2.8, 8: 1.0}
Matrix = tuple[tuple[float, ...], ...]


def icc_for(nclx: Mapping[str, Any] | None) -> bytes | None:
    """The profile of an nclx description (pillow-heif's ``info["nclx_profile"]``), or None when
    the pixels are sRGB already (or the description is unusable)."""
    if not nclx or nclx.get("color_primaries") in _SRGB_PRIMARIES:
        return None
    try:
        chromaticities = tuple(
            float(nclx[f"color_primary_{name}_{axis}"])
            for name in ("red", "green", "blue", "white")
            for axis in ("x", "y")
        )
    except (KeyError, TypeError, ValueError):
        return None
    if any(not 0 < value < 1 for value in chromaticities):
        return None
    return _profile(chromaticities, int(nclx.get("transfer_characteristics", 13)))


@lru_cache(maxsize=8)
def _profile(chromaticities: tuple[float, ...], transfer: int) -> bytes:
    rx, ry, gx, gy, bx, by, wx, wy = chromaticities
    columns = [_xyz(rx, ry), _xyz(gx, gy), _xyz(bx, by)]
    white = _xyz(wx, wy)
    primaries = _transpose(tuple(columns))
    scale = _apply(_inverse(primaries), white)
    to_xyz = tuple(tuple(primaries[r][c] * scale[c] for c in range(3)) for r in range(3))
    adapt = _adaptation(white)
    colorants = _transpose(_multiply(adapt, to_xyz))  # one row per red, green, blue colorant
    tags = [
        (b"desc", _desc("thumbstat nclx")),
        (b"wtpt", _xyz_tag(_D50)),
        (b"rXYZ", _xyz_tag(colorants[0])),
        (b"gXYZ", _xyz_tag(colorants[1])),
        (b"bXYZ", _xyz_tag(colorants[2])),
        (b"rTRC", _curve(transfer)),
        (b"gTRC", _curve(transfer)),
        (b"bTRC", _curve(transfer)),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, blobs = b"", b""
    for signature, blob in tags:
        padded = blob + b"\0" * (-len(blob) % 4)
        entries += signature + struct.pack(">II", offset + len(blobs), len(blob))
        blobs += padded
    size = offset + len(blobs)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\0" * 4, 0x02100000, b"mntr", b"RGB ", b"XYZ ")
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in _D50)
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + entries + blobs


def _xyz(x: float, y: float) -> tuple[float, float, float]:
    return x / y, 1.0, (1 - x - y) / y


def _adaptation(white: tuple[float, float, float]) -> Matrix:
    source = _apply(_BRADFORD, white)
    target = _apply(_BRADFORD, _D50)
    gains = tuple(
        tuple(target[r] / source[r] if r == c else 0.0 for c in range(3)) for r in range(3)
    )
    return _multiply(_inverse(_BRADFORD), _multiply(gains, _BRADFORD))


def _multiply(a: Matrix, b: Matrix) -> Matrix:
    return tuple(
        tuple(sum(a[r][k] * b[k][c] for k in range(3)) for c in range(3)) for r in range(3)
    )


def _apply(m: Matrix, v: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = (sum(m[r][k] * v[k] for k in range(3)) for r in range(3))
    return x, y, z


def _transpose(m: Matrix) -> Matrix:
    return tuple(tuple(m[r][c] for r in range(3)) for c in range(3))


def _inverse(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: tuple[float, ...]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _desc(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0, 0)  # no Unicode description
        + struct.pack(">HB", 0, 0)  # no ScriptCode description
        + b"\0" * 67
    )


def _curve(transfer: int) -> bytes:
    if transfer in _GAMMA:
        gamma = round(_GAMMA[transfer] * 256)
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, gamma)
    points = 1024
    table = [round(_srgb_to_linear(i / (points - 1)) * 65535) for i in range(points)]
    return b"curv\0\0\0\0" + struct.pack(f">I{points}H", points, *table)


def _srgb_to_linear(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
