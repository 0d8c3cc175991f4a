"""Core benchmarks: every method on every generated image, grouped per image.

    make bench     (pytest bench/ --benchmark-only)

Durations come from pytest-benchmark; peak memory from a fresh subprocess per (method, image),
stored in each benchmark's extra_info. For the peers in worker processes (sharp, rust-image) the
CPU time and the peak memory are the worker's own, and ``ipc_ms`` is what the pipe round trip
adds to each timed call (a no-op request's median), so they compare like with like.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.methods import METHODS, reads, unavailable
from bench.peak_rss import in_fresh_process
from bench.peers import PEERS
from devstack import samples

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 15


@pytest.mark.parametrize("image", list(samples.SPECS))
@pytest.mark.parametrize("method", list(METHODS))
def test_thumbnail(benchmark: BenchmarkFixture, method: str, image: str) -> None:
    spec = samples.SPECS[image]
    reason = unavailable(method)
    if reason is not None:
        pytest.skip(reason)
    if not reads(method, spec.kind):
        pytest.skip(f"{method} does not read {spec.kind} images")
    data = samples.load(image)
    function = METHODS[method]
    peer = PEERS.get(method)
    if peer is not None:
        # Built (on first use) and started here, where a build error shows, not in peak_rss's
        # subprocess; then the round trip every timed call pays on top of the thumbnail.
        benchmark.extra_info["ipc_ms"] = peer.ipc_overhead_s() * 1000
    benchmark.group = image
    benchmark.extra_info.update(
        method=method, image=image, bytes=len(data), **in_fresh_process(method, image)
    )
    cpu_ms: list[float] = []

    def timed(data: bytes) -> bytes:
        # CPU time of all threads: what Lambda's CPU share scales. A worker's is its own.
        started = time.process_time()
        result = function(data)
        used = time.process_time() - started if peer is None else peer.last_cpu_s
        assert used is not None  # set by every thumbnail the worker made
        cpu_ms.append(used * 1000)
        return result

    benchmark.pedantic(timed, args=(data,), rounds=ROUNDS, iterations=1, warmup_rounds=2)  # type: ignore[no-untyped-call]
    benchmark.extra_info["cpu_ms"] = statistics.median(cpu_ms[2:])  # without the warm-up
