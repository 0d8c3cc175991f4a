"""WebP method and AVIF speed: encode milliseconds against bytes, measured.

    python -m bench.encoders [--size 1024]     (writes bench/results/encoders.json)

On the grainy 12 MP photo and the 4K screenshot, resized once to SIZE px, each setting is encoded
5 times (median ms); the quality, PSNR against the resized pixels and bytes are reported, next to
JPEG at JPEG_QUALITY's default. handlers.imaging.encode.ENCODER_SETTINGS is chosen from this
table.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from devstack import samples
from handlers.imaging import fit_within

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("JPEG", {"quality": 85, "optimize": True}),
    *[("WEBP", {"quality": 80, "method": m}) for m in range(7)],
    *[("AVIF", {"quality": 60, "speed": s}) for s in (4, 6, 8, 10)],
    ("AVIF", {"quality": 50, "speed": 8}),
    ("AVIF", {"quality": 70, "speed": 8}),
]


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    return float(10 * np.log10(255**2 / float(((x - y) ** 2).mean())))


def measure(size: int) -> list[dict[str, Any]]:
    rows = []
    for image in ("photo-12mp", "screenshot-4k"):
        source = Image.open(io.BytesIO(samples.load(image))).convert("RGB")
        pixels = source.resize(fit_within(source.size, size), Image.Resampling.LANCZOS)
        for out_format, options in SETTINGS:
            times, data = [], b""
            for _ in range(5):
                buffer = io.BytesIO()
                started = time.perf_counter()
                pixels.save(buffer, out_format, **options)
                times.append((time.perf_counter() - started) * 1000)
                data = buffer.getvalue()
            decoded = Image.open(io.BytesIO(data))
            row = {
                "image": image,
                "size": f"{pixels.width}x{pixels.height}",
                "format": out_format,
                "options": options,
                "ms": round(statistics.median(times), 1),
                "bytes": len(data),
                "psnr": round(psnr(decoded, pixels), 2),
            }
            rows.append(row)
            sys.stdout.write(
                f"{image:14s} {row['size']:10s} {out_format:4s} {json.dumps(options):38s} "
                f"{row['ms']:7.1f} ms {row['bytes']:8d} B  {row['psnr']:.2f} dB\n"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    rows = measure(args.size)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "encoders.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
