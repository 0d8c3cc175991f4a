"""Handlers for the cgroup launcher's tests: light imports, so Init is quick under any quota."""

from __future__ import annotations

import time
from typing import Any

_ballast: list[bytearray] = []


def burn(event: Any, context: Any) -> Any:
    """Spin for ``cpu_ms`` of CPU time; the wall time it took and the memory size seen."""
    started, cpu = time.perf_counter(), time.process_time()
    while (time.process_time() - cpu) * 1000 < float(event["cpu_ms"]):
        pass
    return {"wall_ms": (time.perf_counter() - started) * 1000, "memory": context.memory_limit_in_mb}


def allocate(event: Any, context: Any) -> Any:
    block = bytearray(int(event["mb"]) * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    _ballast.append(block)
    return len(block)
