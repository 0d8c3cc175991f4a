"""Thumbnail files in a fresh interpreter set up like the resize function, one JSON line each.

python -m tests.unit.imaging.hostile_runner FILE...
(AWS_LAMBDA_FUNCTION_MEMORY_SIZE set by the caller)

A file over the function's MAX_INPUT_BYTES is refused by its size, unread, as the function
refuses it by the event's size before any download.

The interpreter imports the handler, builds its AWS clients and thumbnails a JPEG and a PNG
(which loads libvips), as a warm function has, and tops its resident memory up to the real
function's measured baseline with libvips, so the peak it reports is the
figure to hold against the memory size. Before each file it returns freed heap to the kernel
and resets the peak (``/proc/self/clear_refs``), so one interpreter measures many files; what
an earlier file leaves behind only makes a later peak read higher.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path

from bench.peak_rss import max_rss_mb
from handlers.imaging.limits import RUNTIME_BASELINE_MB, VIPS_RESIDENT_MB


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _reset_peak() -> None:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def main(paths: list[str]) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from handlers import resize
    from handlers.common import aws
    from handlers.imaging import ImageRejected, OutputFormat, RenditionSpec, make_renditions

    aws.s3()
    aws.dynamodb()
    config = resize.settings()
    # One ``auto`` rendition of the function's first size.
    specs = (RenditionSpec(config.renditions[0].size, OutputFormat.AUTO),)
    # A warm function that has seen a JPEG and a PNG: libvips' libraries are loaded.
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "images"
    for warm_up in ("Landscape_1.jpg", "with-alpha.png"):
        make_renditions((fixtures / warm_up).read_bytes(), specs, placeholder=False)
    target_mb = RUNTIME_BASELINE_MB + VIPS_RESIDENT_MB
    ballast = bytearray(max(0, int((target_mb - _resident_mb()) * 2**20)))
    baseline = _resident_mb()

    for path in paths:
        _reset_peak()
        size = Path(path).stat().st_size
        if size > config.max_input_bytes:  # the function refuses it by the event's size
            _report(path, "rejected:too-large", f"{size:,} bytes", baseline, _resident_mb(), 0.0)
            continue
        data = Path(path).read_bytes()
        before = _resident_mb()
        started = time.process_time()
        try:
            thumb = make_renditions(
                data,
                specs,
                quality=config.jpeg_quality,
                max_pixels=config.max_pixels,
                placeholder=False,
            ).default
            outcome, detail = "ok", f"{thumb.width}x{thumb.height} {thumb.format}"
        except ImageRejected as rejected:
            outcome, detail = f"rejected:{rejected.reason}", rejected.detail
        except Exception as exc:  # reported, and failed by the test
            outcome, detail = f"raised:{type(exc).__name__}", str(exc)
        _report(path, outcome, detail, baseline, before, time.process_time() - started)
        del data
    del ballast


def _report(
    path: str, outcome: str, detail: str, baseline: float, before: float, cpu: float
) -> None:
    line = {
        "file": Path(path).name,
        "outcome": outcome,
        "detail": detail[:300],
        "peak_mb": round(max_rss_mb(), 1),
        "baseline_mb": round(baseline, 1),
        "before_mb": round(before, 1),
        "cpu_s": round(cpu, 2),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
