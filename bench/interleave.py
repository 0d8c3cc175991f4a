"""Methods timed in turns on one image at one size, so a noisy machine slows them alike.

Every method makes the thumbnail ``warm_up`` times, then ``rounds`` times, the methods taking
turns in an order that rotates each round (round 0: a, b, c; round 1: b, c, a; ...): a burst of
load from a neighbour lands on every method, not on whichever ran during it.

Each call gives its wall time and its CPU time: this process's (every thread) for a method that
runs in Python, the worker's own for a peer in a worker process (bench.peers: sharp,
rust-image), so neither the pipe round trip nor time spent waiting for the CPU counts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.methods import METHODS
from bench.peers import PEERS


@dataclass
class Timings:
    """One method's calls at one (image, size), in the order they ran; milliseconds."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


@dataclass
class Interleaved:
    timings: dict[str, Timings]  # the timed rounds of every method that made the thumbnail
    outputs: dict[str, bytes]  # each method's first thumbnail
    failed: dict[str, str]  # method -> why its first call failed (it was left out)


def timed(method: str, data: bytes, max_size: int) -> tuple[float, float, bytes]:
    """Wall and CPU seconds of one thumbnail (module docstring: whose CPU), and the thumbnail."""
    function = METHODS[method]
    started, cpu_started = time.perf_counter(), time.process_time()
    out = function(data, max_size)  # type: ignore[call-arg]  # every method takes a size
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peer = PEERS.get(method)
    if peer is not None:
        assert peer.last_cpu_s is not None  # set by every thumbnail the worker made
        cpu = peer.last_cpu_s
    return wall, cpu, out


def interleaved(
    methods: Sequence[str], data: bytes, max_size: int, rounds: int, warm_up: int = 1
) -> Interleaved:
    """Time ``methods`` in turns (module docstring). A method whose first call raises is left
    out, with the error's first line in ``failed``: a peer that cannot read the format, an
    image the tuned core rejects."""
    outputs: dict[str, bytes] = {}
    failed: dict[str, str] = {}
    for method in methods:
        try:
            outputs[method] = timed(method, data, max_size)[2]
        except Exception as exc:  # whatever the library raises: reported, not fatal
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            failed[method] = f"{type(exc).__name__}: {lines[0][:200]}"
            continue
        for _ in range(warm_up - 1):
            timed(method, data, max_size)
    running = [m for m in methods if m not in failed]
    timings = {m: Timings() for m in running}
    for turn in range(rounds):
        shift = turn % len(running) if running else 0
        for method in running[shift:] + running[:shift]:
            wall, cpu, _ = timed(method, data, max_size)
            timings[method].wall_ms.append(wall * 1000)
            timings[method].cpu_ms.append(cpu * 1000)
    return Interleaved(timings, outputs, failed)
