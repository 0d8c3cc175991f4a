"""Progressive JPEGs to 200 px, side by side in one run: tuned from the DC scans (what the resize
function does), tuned from the whole file (the same core with the DC-scan cut off), and pyvips on
one thread.

python -m bench.progressive [--rounds N]

Images: the bench's photo-12mp-progressive and a held-out 24 MP progressive photo generated with
another seed (cached beside the samples). For each: median (min-max) ms over interleaved rounds,
the fraction of the object's bytes each method needs (the resize function's download, read as
``handlers.index.objects.read`` reads it), PSNR of its thumbnail against tuned's whole-file
one, and the peak RSS a fresh process adds while it holds the input and thumbnails it.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.methods import pyvips_thumbnail, tuned
from bench.peak_rss import max_rss_mb
from devstack import samples
from handlers.imaging import parse, pipeline
from handlers.index import objects

SPECS = parse("200:auto")
HELD_OUT = samples.Spec(
    "photo-24mp-progressive-held-out", "photo", 6000, 4000, progressive=True, seed=2424
)
METHODS = ("tuned-dc-prefix", "tuned-whole-file", "pyvips")


def held_out_path() -> Path:
    path = samples.cache_dir() / f"{HELD_OUT.name}-seed{HELD_OUT.seed}.jpg"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(samples.photo(HELD_OUT))
        tmp.replace(path)
    return path


def images() -> dict[str, Path]:
    return {
        "photo-12mp-progressive": samples.path_for("photo-12mp-progressive"),
        "photo-24mp-progressive (held out)": held_out_path(),
    }


def _whole_file(data: bytes) -> bytes:
    original = pipeline.dc_prefix
    pipeline.dc_prefix = lambda data, specs: None
    try:
        return tuned(data)
    finally:
        pipeline.dc_prefix = original


def _pyvips(data: bytes) -> bytes:
    import pyvips

    pyvips.concurrency_set(1)
    return pyvips_thumbnail(data)


FUNCTIONS: dict[str, Callable[[bytes], bytes]] = {
    "tuned-dc-prefix": tuned,
    "tuned-whole-file": _whole_file,
    "pyvips": _pyvips,
}


def downloaded(method: str, path: Path) -> bytes:
    """What the method holds of the object: the resize function's streamed read for tuned (its
    DC scans and the rest of the last chunk), the whole file otherwise."""
    if method == "tuned-dc-prefix":
        with path.open("rb") as body:
            return objects.read(body, SPECS)
    return path.read_bytes()


def psnr(a: bytes, b: bytes) -> float:
    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.float64)
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * float(np.log10(255**2 / mse))


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def peak(method: str, path: Path) -> None:
    """In a fresh process: warm up, then the RSS added while holding the input and thumbnailing
    it (VmHWM reset first, as tests/unit/imaging/hostile_runner does)."""
    function = FUNCTIONS[method]
    function(samples.load("photo-12mp"))  # warm up decoders, encoders, libvips's caches
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    before = _resident_mb()
    function(downloaded(method, path))
    print(
        json.dumps({"peak_mb": round(max_rss_mb(), 1), "added_mb": round(max_rss_mb() - before, 1)})
    )


def measure_peak(method: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.progressive", "--peak", method, str(path)],
        cwd=Path(__file__).resolve().parents[1],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def run(rounds: int) -> str:
    lines = [
        "| image | method | median (min-max) ms | x pyvips | bytes needed | PSNR vs whole-file dB "
        "| peak RSS added MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, path in images().items():
        data = path.read_bytes()
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        outputs = {m: FUNCTIONS[m](data) for m in METHODS}  # warm-up round, and the outputs
        for _ in range(rounds):
            for method in METHODS:  # interleaved: the machine's noise hits every method alike
                started = time.perf_counter()
                FUNCTIONS[method](data)
                times[method].append((time.perf_counter() - started) * 1000)
        vips = statistics.median(times["pyvips"])
        for method in METHODS:
            median = statistics.median(times[method])
            needed = len(downloaded(method, path)) / len(data)
            quality = psnr(outputs[method], outputs["tuned-whole-file"])
            rss = measure_peak(method, path)
            lines.append(
                f"| {name} ({len(data) / 2**20:.1f} MB) | {method} | {median:.1f} "
                f"({min(times[method]):.1f}-{max(times[method]):.1f}) | {median / vips:.2f} "
                f"| {needed:.1%} | {'-' if quality == float('inf') else f'{quality:.1f}'} "
                f"| {rss['added_mb']:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--peak", nargs=2, metavar=("METHOD", "IMAGE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        peak(args.peak[0], Path(args.peak[1]))
        return
    sys.stdout.write(run(args.rounds) + "\n")


if __name__ == "__main__":
    main()
