"""Every rendition size: each method on each image at 200, 400, 800, 1024 and 1600 px, timed, with
its quality.

    make bench-sizes     (pytest bench/test_sizes.py --benchmark-only)

Methods are whatever ``bench.methods.METHODS`` holds, called as ``method(data, max_size)``; one
that is not available here is skipped with its reason, and one that does not read a sample's
kind (bench.methods.KINDS) skips it.
Durations come from pytest-benchmark (medians of ROUNDS after one warm-up round); CPU time of all
threads is in each benchmark's ``extra_info``.

Quality (``extra_info["psnr_db"]``, bench/quality.py): the PSNR of the method's output, decoded
back, against a reference made from the same source at the output's own width and height: a full
Pillow decode turned as its EXIF orientation says, resized with LANCZOS in 8-bit sRGB (not in
linear light), both composited over black where they have alpha, compared as 8-bit RGB:
``10 * log10(255^2 / MSE)``. A method ignoring EXIF orientation has no PSNR (``oriented`` is
false); the floor makes no image. bench/report.py gives each method's PSNR and its difference
from pyvips'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench import methods, quality
from bench.methods import METHODS, reads
from devstack import samples
from handlers.imaging import ImageRejected

SIZES = (200, 400, 800, 1024, 1600)
ROUNDS = 5


def why_unavailable(method: str) -> str | None:
    """Why ``method`` cannot run here, or None. Uses the methods module's own reason when it
    gives one (``why_unavailable``/``unavailable_reason``), else its ``available``."""
    for name in ("why_unavailable", "unavailable_reason"):
        reason = getattr(methods, name, None)
        if callable(reason):
            why = reason(method)
            return str(why) if why else None
    if not methods.available(method):
        module = getattr(methods, "OPTIONAL", {}).get(method, method)
        return (
            f"{method} is not available here ({module} is not installed: pip install -e '.[bench]')"
        )
    return None


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}px" for s in SIZES])
@pytest.mark.parametrize("image", list(samples.SPECS))
@pytest.mark.parametrize("method", list(METHODS))
def test_size(benchmark: BenchmarkFixture, method: str, image: str, size: int) -> None:
    why = why_unavailable(method)
    if why:
        pytest.skip(why)
    spec = samples.SPECS[image]
    if not reads(method, spec.kind):
        pytest.skip(f"{method} does not read {spec.kind} images")
    data = samples.load(image)
    # Every method takes (data, max_size); METHODS' type names only the first argument.
    function = cast(Callable[[bytes, int], bytes], METHODS[method])
    try:
        first = function(data, size)  # the warm-up round, and the output whose quality is measured
    except ImageRejected as rejected:
        pytest.skip(f"{method} rejects {image}: {rejected}")
    benchmark.group = f"{image} {size}px"
    benchmark.extra_info.update(
        method=method, image=image, size=size, bytes=len(data), held_out=spec.held_out
    )
    cpu_ms: list[float] = []

    def timed(data: bytes, size: int) -> bytes:
        started = time.process_time()
        result = function(data, size)
        cpu_ms.append((time.process_time() - started) * 1000)
        return result

    benchmark.pedantic(timed, args=(data, size), rounds=ROUNDS, iterations=1, warmup_rounds=0)  # type: ignore[no-untyped-call]
    benchmark.extra_info["cpu_ms"] = sorted(cpu_ms)[len(cpu_ms) // 2]
    benchmark.extra_info["out_bytes"] = len(first)
    if first:  # the floor decodes only
        measured = quality.measure(data, first)
        benchmark.extra_info.update(
            psnr_db=None if measured.psnr_db is None else round(measured.psnr_db, 3),
            out_size=[measured.width, measured.height],
            oriented=measured.oriented,
        )
