"""Encode one photo-like image and print the peak RSS the encode added, in bytes.

python -m tests.unit.imaging.encoder_peak FORMAT WIDTH HEIGHT
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

from PIL import Image

from handlers.imaging.encode import encode
from tests.conftest import IMAGES


def _hwm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def main(out_format: str, width: int, height: int) -> None:
    with Image.open(IMAGES / "Landscape_1.jpg") as photo:
        im = photo.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    encode(im.resize((16, 16)), out_format, 85, None)  # the codec's library loaded
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    before = _hwm_bytes()
    encode(im, out_format, 85, None)
    sys.stdout.write(f"{_hwm_bytes() - before}\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
