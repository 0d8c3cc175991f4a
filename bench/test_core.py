"""Core benchmarks: every method on every generated image, grouped per image.

    make bench     (pytest bench/ --benchmark-only)

Durations come from pytest-benchmark; peak memory from a fresh subprocess per (method, image),
stored in each benchmark's extra_info.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.methods import JPEG_ONLY, METHODS, available
from devstack import samples

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 15


def peak_rss(method: str, image: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", method, image],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    measured: dict[str, float] = json.loads(result.stdout)
    return measured


@pytest.mark.parametrize("image", list(samples.SPECS))
@pytest.mark.parametrize("method", list(METHODS))
def test_thumbnail(benchmark: BenchmarkFixture, method: str, image: str) -> None:
    spec = samples.SPECS[image]
    if not available(method):
        pytest.skip(f"{method} is not installed (pip install -e '.[bench]')")
    if method in JPEG_ONLY and spec.kind != "photo":
        pytest.skip(f"{method} decodes JPEG only")
    data = samples.load(image)
    function = METHODS[method]
    benchmark.group = image
    benchmark.extra_info.update(
        method=method, image=image, bytes=len(data), **peak_rss(method, image)
    )
    cpu_ms: list[float] = []

    def timed(data: bytes) -> bytes:
        # CPU time of all threads: what Lambda's CPU share scales (pyvips uses several threads).
        started = time.process_time()
        result = function(data)
        cpu_ms.append((time.process_time() - started) * 1000)
        return result

    benchmark.pedantic(timed, args=(data,), rounds=ROUNDS, iterations=1, warmup_rounds=2)  # type: ignore[no-untyped-call]
    benchmark.extra_info["cpu_ms"] = statistics.median(cpu_ms[2:])  # without the warm-up
