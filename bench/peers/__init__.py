"""Thumbnailers outside Python, measured beside the Python methods: each a persistent worker.

    sharp       sharp (Node.js, libvips), one thread and no cache: sharp.concurrency(1),
                sharp.cache(false); rotate, resize inside max x max without enlargement, JPEG q85
    rust-image  the original project's own approach: Rust's image 0.24, load_from_memory,
                .thumbnail(max, max), JpegEncoder::new_with_quality(.., 85); one thread

Each is started once per process and kept (protocol.py), so a timed call is one thumbnail plus a
pipe round trip, which ``Peer.ipc_overhead_s()`` measures with a no-op request. ``last_cpu_s`` is
the worker's own CPU time for the last thumbnail, ``max_rss_mb()`` its peak RSS (VmHWM), runtime
included. Workers end when the Python process does (atexit).
"""

from __future__ import annotations

import atexit
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.peers import build
from bench.peers.protocol import Reply, Worker, WorkerDied, WorkerError

__all__ = ["PEERS", "Peer", "PeerUnavailable", "Reply", "WorkerDied", "WorkerError"]


class PeerUnavailable(RuntimeError):
    """A peer's tool is missing here; the message says what to install."""


@dataclass
class Peer:
    name: str
    unavailable: Callable[[], str | None]  # why it cannot run here (what to install), or None
    command: Callable[[], list[str]]  # builds on demand, then the worker's command line
    last_cpu_s: float | None = None
    _worker: Worker | None = field(default=None, repr=False)

    def worker(self) -> Worker:
        """The running worker, started (and built) on first use and again after a death."""
        if self._worker is None or not self._worker.alive():
            reason = self.unavailable()
            if reason is not None:
                raise PeerUnavailable(reason)
            if self._worker is not None:
                self._worker.close()
            self._worker = Worker(self.name, self.command())
        return self._worker

    def thumbnail(self, data: bytes, max_size: int) -> bytes:
        worker = self.worker()
        try:
            worker.load(data)
            reply = worker.run(max_size)
        except WorkerDied:
            self._worker = None  # the next call starts a fresh one
            raise
        self.last_cpu_s = reply.cpu_s
        return reply.body

    def max_rss_mb(self) -> float:
        return self.worker().max_rss_mb()

    def ipc_overhead_s(self, rounds: int = 200) -> float:
        """The median wall time of a no-op request: what each timed call adds to the thumbnail."""
        worker = self.worker()
        worker.noop()
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            worker.noop()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


PEERS: dict[str, Peer] = {
    "sharp": Peer("sharp", build.sharp_unavailable, build.sharp_command),
    "rust-image": Peer("rust-image", build.rust_unavailable, build.rust_command),
}


@atexit.register
def _close_all() -> None:
    for peer in PEERS.values():
        peer.close()
