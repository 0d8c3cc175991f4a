"""Peak memory of one thumbnail in a fresh interpreter, like a cold Lambda's Max Memory Used.

python -m bench.peak_rss METHOD IMAGE   ->  {"max_rss_mb": ..., "added_mb": ...}

METHOD is one of bench.methods.METHODS, or ``renditions:SPEC`` (a RENDITIONS value) for
make_renditions with that spec. For a peer that runs in a worker process (bench.peers: sharp,
rust-image) the figures are that worker's VmHWM, its own runtime (Node.js, the Rust binary)
included, and not this interpreter's: like with like.
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def max_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
    from the parent across fork and exec, so a child of a big pytest process would report the
    parent's peak and every increase below it would read as zero."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(
    function: Callable[[bytes], T], data: bytes, peak: Callable[[], float] = max_rss_mb
) -> tuple[T, dict[str, float]]:
    """Run ``function(data)``; its result and the peak RSS (read by ``peak``) it reached and
    added."""
    before = peak()
    result = function(data)
    after = peak()
    return result, {"max_rss_mb": round(after, 1), "added_mb": round(after - before, 1)}


def function_for(method: str) -> Callable[[bytes], object]:
    if method.startswith("renditions:"):
        from handlers.imaging import make_renditions, parse

        specs = parse(method.removeprefix("renditions:"))
        return lambda data: make_renditions(data, specs)
    from bench.methods import METHODS

    return METHODS[method]


def in_fresh_process(method: str, image: str) -> dict[str, float]:
    """What ``python -m bench.peak_rss METHOD IMAGE`` prints, run from the project's root."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", method, image],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    measured: dict[str, float] = json.loads(result.stdout)
    return measured


def main(method: str, image: str) -> None:
    # Imported here, not at the top: a process that only reads its peak (tests/unit's hostile
    # runner, which models the function's own baseline) must not pay for numpy and the methods.
    from devstack import samples

    function = function_for(method)
    # Warm up the decoders' and encoders' own memory on a small image of the same kind (the
    # floor decodes JPEG only).
    warm_up = "screenshot-small" if image.startswith("screenshot") else "cat-2mb"
    function(samples.load(warm_up))
    from bench.peers import PEERS

    # A worker's peak (the warm-up started it), or this interpreter's.
    peak = PEERS[method].max_rss_mb if method in PEERS else max_rss_mb
    _, memory = measure(function, samples.load(image), peak)
    print(json.dumps(memory))


if __name__ == "__main__":
    main(*sys.argv[1:3])
