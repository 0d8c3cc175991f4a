"""A quick side-by-side of methods, peers included, in one process and one run.

    python -m bench.peers.compare [--rounds 7] [--methods tuned,pyvips,sharp,rust-image]

Every method makes each (image, size) thumbnail twice to warm up, then ``--rounds`` times, the
methods taking turns (the order rotating each round) so a busy machine slows them alike. Prints a
Markdown table of medians: wall time, and CPU time (this process's for Python methods, the
worker's own for peers), then each peer's no-op round trip.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from bench.methods import METHODS, unavailable
from bench.peers import PEERS
from devstack import samples

IMAGES = ("photo-12mp", "photo-24mp", "photo-12mp-progressive", "screenshot-4k", "screenshot-1440p")
SIZES = (200, 1024)
WARM_UP = 2


def timed(method: str, data: bytes, max_size: int) -> tuple[float, float, int]:
    """Wall and CPU seconds of one thumbnail, and its size in bytes."""
    function = METHODS[method]
    started, cpu_started = time.perf_counter(), time.process_time()
    out = function(data, max_size)  # type: ignore[call-arg]
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peer = PEERS.get(method)
    if peer is not None:
        assert peer.last_cpu_s is not None
        cpu = peer.last_cpu_s
    return wall, cpu, len(out)


def compare(methods: list[str], images: Sequence[str], rounds: int) -> None:
    print("| image | max | " + " | ".join(f"{m} wall / CPU ms" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for image in images:
        data = samples.load(image)
        for max_size in SIZES:
            walls: dict[str, list[float]] = {m: [] for m in methods}
            cpus: dict[str, list[float]] = {m: [] for m in methods}
            for method in methods:
                for _ in range(WARM_UP):
                    timed(method, data, max_size)
            for turn in range(rounds):
                for method in methods[turn % len(methods) :] + methods[: turn % len(methods)]:
                    wall, cpu, _ = timed(method, data, max_size)
                    walls[method].append(wall * 1000)
                    cpus[method].append(cpu * 1000)
            cells = [
                f"{statistics.median(walls[m]):.1f} / {statistics.median(cpus[m]):.1f}"
                for m in methods
            ]
            print(f"| {image} | {max_size} | " + " | ".join(cells) + " |", flush=True)
    print()
    for method in methods:
        if method in PEERS:
            overhead_us = PEERS[method].ipc_overhead_s(rounds=1000) * 1e6
            print(
                f"{method}: no-op round trip (IPC overhead per call), median {overhead_us:.1f} µs"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--methods", default="tuned,pyvips,sharp,rust-image")
    parser.add_argument("--images", default=",".join(IMAGES))
    args = parser.parse_args()
    methods = []
    for method in args.methods.split(","):
        reason = unavailable(method)
        if reason is None:
            methods.append(method)
        else:
            print(f"skipping {method}: {reason}")
    compare(methods, args.images.split(","), args.rounds)


if __name__ == "__main__":
    main()
