"""The client side of a peer worker: one long-lived process, one request at a time over pipes.

A worker is started once, so a timed call measures the thumbnail and the round trip, not the
start of Node.js or of a binary. Requests are lines; a body follows the line that gives its length:

    load <n>\\n<n bytes>   the image, sent once      ->  ok <cpu_us> 0\\n
    run <max_size>\\n      one thumbnail             ->  ok <cpu_us> <n>\\n<n bytes of JPEG>
    noop\\n                the round trip alone      ->  ok <cpu_us> 0\\n

A request the worker cannot serve gets ``err <message>\\n``. ``cpu_us`` is the worker's own
process CPU time (user and system, all its threads) for that request. Closing its input ends it.

Errors, as raised here:

    RuntimeError
    ├── WorkerError   the worker answered ``err``: it is still running
    └── WorkerDied    it exited or closed its output: its exit status and last stderr lines
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

STDERR_TAIL = 2000  # characters of the worker's stderr quoted when it dies


class WorkerError(RuntimeError):
    """The worker refused a request and is still running."""


class WorkerDied(RuntimeError):
    """The worker is gone: it exited, crashed or closed its output."""


@dataclass(frozen=True)
class Reply:
    body: bytes
    cpu_s: float  # the worker's process CPU time for the request


class Worker:
    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        # A file, not a pipe, so a chatty worker never blocks; it lives as long as the worker.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
            env=None if env is None else dict(env),
        )
        self._loaded: bytes | None = None
        logger.debug("started %s worker, pid %d: %s", name, self._process.pid, command)

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def load(self, data: bytes) -> None:
        """Send the image, unless this very object was the last sent (bytes are immutable and
        the reference is kept, so identity means the same content)."""
        if data is not self._loaded:
            self._loaded = None
            self.request(f"load {len(data)}", data)
            self._loaded = data

    def run(self, max_size: int) -> Reply:
        return self.request(f"run {max_size}")

    def noop(self) -> Reply:
        return self.request("noop")

    def request(self, line: str, body: bytes = b"") -> Reply:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        try:
            stdin.write(line.encode("ascii") + b"\n")
            stdin.write(body)
            stdin.flush()
        except (BrokenPipeError, ValueError) as exc:  # ValueError: the pipe was closed here
            raise self._died(f"while sending {line.split()[0]!r}") from exc
        header = stdout.readline()
        if not header.endswith(b"\n"):
            raise self._died(f"before answering {line.split()[0]!r}")
        status, _, rest = header.decode("ascii", "replace").rstrip("\n").partition(" ")
        if status == "err":
            raise WorkerError(f"{self.name} worker: {rest}")
        try:
            if status != "ok":
                raise ValueError(status)
            cpu_us, length = (int(word) for word in rest.split())
        except ValueError:
            raise self._died(f"after a malformed reply {header[:200]!r}") from None
        reply = stdout.read(length)
        if len(reply) != length:
            raise self._died(f"{len(reply)} bytes into a {length}-byte reply")
        return Reply(reply, cpu_us / 1_000_000)

    def max_rss_mb(self) -> float:
        """The worker's peak RSS so far (VmHWM): its runtime, the image and the thumbnail."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for entry in status.splitlines():
            if entry.startswith("VmHWM:"):
                return int(entry.split()[1]) / 1024
        raise RuntimeError(f"no VmHWM in /proc/{self.pid}/status")

    def close(self, timeout_s: float = 5.0) -> None:
        """End the worker: close its input, wait, and kill it if it does not leave."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # it is gone already
                self._process.stdin.close()
        try:
            self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def _died(self, when: str) -> WorkerDied:
        try:
            code = self._process.wait(5)
        except subprocess.TimeoutExpired:  # it closed its output but lives on: end it
            self._process.kill()
            code = self._process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace")[-STDERR_TAIL:].strip()
        exit_status = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        message = f"the {self.name} worker (pid {self.pid}) died {when}: {exit_status}"
        return WorkerDied(message + (f"; its stderr ended with:\n{stderr}" if stderr else ""))
