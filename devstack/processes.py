"""Stopping a server the local stack started in a session of its own (the emulators)."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress


def stop_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, up to ``timeout_s`` for it to stop by itself, then its whole process group is
    killed (what it started too: LocalStack's DynamoDB Local JVM)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout_s)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
