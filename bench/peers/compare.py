"""A quick side-by-side of methods, peers included, in one process and one run.

    python -m bench.peers.compare [--rounds 7] [--methods tuned,pyvips,sharp,rust-image]

Every method makes each (image, size) thumbnail twice to warm up, then ``--rounds`` times, the
methods taking turns (bench/interleave.py: the order rotating each round) so a busy machine slows
them alike. Prints a Markdown table of medians: wall time, and CPU time (this process's for Python
methods, the worker's own for peers), then each peer's no-op round trip. ``python -m
bench.classes`` does the same for every input class and size, into JSON for the report.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

from bench.interleave import interleaved
from bench.methods import unavailable
from bench.peers import PEERS
from devstack import samples

IMAGES = ("photo-12mp", "photo-24mp", "photo-12mp-progressive", "screenshot-4k", "screenshot-1440p")
SIZES = (200, 1024)
WARM_UP = 2


def compare(methods: list[str], images: Sequence[str], rounds: int) -> None:
    print("| image | max | " + " | ".join(f"{m} wall / CPU ms" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for image in images:
        data = samples.load(image)
        for max_size in SIZES:
            measured = interleaved(methods, data, max_size, rounds, WARM_UP)
            cells = []
            for method in methods:
                timings = measured.timings.get(method)
                if timings is None:
                    cells.append(measured.failed[method])
                    continue
                wall, cpu = statistics.median(timings.wall_ms), statistics.median(timings.cpu_ms)
                cells.append(f"{wall:.1f} / {cpu:.1f}")
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
