"""Lambda's limits on a local function process: a cgroup (v1) with its CPU share and memory size.

Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB, and kills it when
it reaches its memory size. ``Cgroup`` is a ``devstack.runtime`` launcher that starts the
runtime client in a cgroup of its own, made for that one execution environment:

- ``cpu.cfs_quota_us = cpu.cfs_period_us * memory_mb / 1769`` (for example 7,235 us of every
  100,000 at 128 MB); no quota once the share reaches every CPU this machine has;
- ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` where swap accounting exists,
  so the process cannot swap instead of dying) ``= memory_mb MiB``.

The memory size comes from the environment the function is given
(``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``), so the limits and what the function sees (its pixel budget
follows it) cannot disagree.

Max Memory Used is the cgroup's ``memory.max_usage_in_bytes``: the peak of everything charged to
the cgroup: the anonymous memory of every process and thread in it, the page cache of files its
processes read or map (the interpreter's shared libraries and ``.pyc`` files, as in Lambda) and
the kernel memory charged to it. A page already cached by another cgroup on this machine stays
charged there, so a file this machine read before counts less here than in a fresh Lambda
sandbox; the process's own peak RSS (VmHWM) is kept next to it for that reason.

Init. Lambda documents the CPU share for the function, not for its Init phase, and cold starts
of small Python functions are observed to run near full speed. So by default the quota is lifted
during Init and applied at the runtime client's first ``GET /next``; ``cap_init=True`` applies
it from the start. Either way Init's CPU time (``cpuacct.usage`` at that moment) is reported.

Out of memory: the kernel's ``oom_kill`` count in ``memory.oom_control``, or the process dying
by SIGKILL, means the function was killed at its memory size.

Where cgroups cannot be written (not root, cgroup v2 only), ``unavailable()`` says why and
callers fall back to the model (``bench/report.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from devstack.runtime import Interpreter, Launcher

logger = logging.getLogger(__name__)

FULL_VCPU_MB: Final = 1769  # "at 1,769 MB, a function has the equivalent of one vCPU"
ROOT: Final = Path("/sys/fs/cgroup")
CONTROLLERS: Final = ("cpu", "cpuacct", "memory")
MEMORY_SIZE: Final = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
MIB: Final = 2**20


def own_cgroup(controller: str, proc_cgroup: str | None = None) -> Path:
    """This process's cgroup for ``controller`` (v1): new cgroups are made inside it."""
    text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return ROOT / controller / path.lstrip("/")
    raise FileNotFoundError(f"no cgroup v1 {controller} hierarchy in /proc/self/cgroup")


def unavailable() -> str | None:
    """Why cgroup v1 limits cannot be set here, or None when they can."""
    for controller in CONTROLLERS:
        try:
            parent = own_cgroup(controller)
        except (OSError, FileNotFoundError) as exc:
            return str(exc)
        if not (parent / "cgroup.procs").exists():
            return f"{parent} is not a cgroup v1 {controller} hierarchy (cgroup v2 only?)"
        if not os.access(parent, os.W_OK):
            return f"{parent} is not writable (not root?)"
    return None


def quota_us(memory_mb: int, period_us: int, cpus: int | None = None) -> int:
    """Lambda's CPU share as a CFS quota; -1 (none) once it reaches every CPU here."""
    cpus = cpus or os.cpu_count() or 1
    quota = period_us * memory_mb // FULL_VCPU_MB
    return -1 if quota >= period_us * cpus else max(quota, 1000)  # the kernel's minimum: 1 ms


@dataclass
class Limits:
    """One execution environment's cgroup, in each controller."""

    memory_mb: int
    paths: dict[str, Path]
    quota_us: int

    @classmethod
    def create(cls, memory_mb: int, cap_cpu: bool) -> Limits:
        name = f"thumbstat-{uuid.uuid4().hex[:12]}"
        paths = {c: own_cgroup(c) / name for c in CONTROLLERS}
        made = cls(memory_mb, {}, -1)
        try:
            for controller, path in paths.items():
                # cpu and cpuacct are one hierarchy on many machines (cpu,cpuacct, linked twice)
                if not any(path.resolve() == p.resolve() for p in made.paths.values()):
                    path.mkdir()
                made.paths[controller] = path
            period = int(_read(paths["cpu"] / "cpu.cfs_period_us"))
            made.quota_us = quota_us(memory_mb, period)
            if cap_cpu:
                made.cap_cpu()
            memory = paths["memory"]
            limit = str(memory_mb * MIB)
            (memory / "memory.limit_in_bytes").write_text(limit)  # before memsw: memsw >= it
            if (memory / "memory.memsw.limit_in_bytes").exists():
                (memory / "memory.memsw.limit_in_bytes").write_text(limit)
            (memory / "memory.swappiness").write_text("0")
        except BaseException:
            made.remove()
            raise
        return made

    def cap_cpu(self) -> None:
        (self.paths["cpu"] / "cpu.cfs_quota_us").write_text(str(self.quota_us))

    def cpu_ms(self) -> float:
        """CPU time of every process in the cgroup so far."""
        return int(_read(self.paths["cpuacct"] / "cpuacct.usage")) / 1e6

    def max_memory_used_mb(self) -> int:
        return -(-int(_read(self.paths["memory"] / "memory.max_usage_in_bytes")) // MIB)

    def oom_kills(self) -> int:
        for line in _read(self.paths["memory"] / "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def throttled_ms(self) -> float:
        for line in _read(self.paths["cpu"] / "cpu.stat").splitlines():
            key, _, value = line.partition(" ")
            if key == "throttled_time":
                return int(value) / 1e6
        return 0.0

    def pids(self) -> list[int]:
        path = self.paths.get("memory")
        return [int(p) for p in _read(path / "cgroup.procs").split()] if path else []

    def remove(self, timeout_s: float = 5.0) -> None:
        """Kill what is left in the cgroup (SIGTERM, then SIGKILL), then remove it."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            deadline = time.monotonic() + timeout_s
            while (pids := self.pids()) and time.monotonic() < deadline:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):  # it has just exited
                        os.kill(pid, sig)
                time.sleep(0.05)
        for controller, path in list(self.paths.items()):
            _rmdir(path)
            del self.paths[controller]


def _rmdir(path: Path, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return  # a joint hierarchy's second name for a cgroup already removed
        except OSError:
            if time.monotonic() > deadline:  # the last exit can take a moment to leave it
                logger.warning("could not remove %s", path)
                return
            time.sleep(0.05)


def _read(path: Path) -> str:
    return path.read_text().strip()


@dataclass
class Cgroup:
    """A Launcher: ``inner``'s command (the interpreter by default) in a cgroup with the CPU
    quota and memory limit of the memory size in its environment."""

    inner: Launcher = field(default_factory=Interpreter)
    cap_init: bool = False
    limits: Limits | None = field(default=None, init=False)  # the running environment's
    # What the last execution environment measured, after it stopped (the cgroup is gone).
    last_oom_kills: int = field(default=0, init=False)

    def command(self, handler: str, environment: Mapping[str, str]) -> Sequence[str]:
        self.stopped()  # a previous environment's cgroup, if any
        self.limits = Limits.create(int(environment[MEMORY_SIZE]), cap_cpu=self.cap_init)
        joins = " && ".join(
            f"echo $$ > {shlex.quote(str(path / 'cgroup.procs'))}"
            for path in self.limits.paths.values()
        )
        # The shell joins the cgroups, then becomes the runtime client (same pid): nothing of
        # the function runs outside its limits.
        inner = self.inner.command(handler, environment)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh", *inner]

    def runtime_pid(self, process: subprocess.Popen[bytes]) -> int | None:
        return self.inner.runtime_pid(process)

    def initialized(self) -> float | None:
        """At the first ``GET /next``: Init's CPU time, ms; the quota applies from now on."""
        if self.limits is None:
            return None
        spent = self.limits.cpu_ms()
        if not self.cap_init:
            self.limits.cap_cpu()
        return spent

    def cpu_ms(self) -> float | None:
        return self.limits.cpu_ms() if self.limits else None

    def max_memory_used_mb(self) -> int | None:
        return self.limits.max_memory_used_mb() if self.limits else None

    def out_of_memory(self, returncode: int | None) -> bool:
        """Was the process killed at its memory size?"""
        kills = self.limits.oom_kills() if self.limits else self.last_oom_kills
        return kills > 0 or returncode == -signal.SIGKILL

    def stopped(self) -> None:
        self.inner.stopped()
        if self.limits is not None:
            self.last_oom_kills = self.limits.oom_kills()
            self.limits.remove()
            self.limits = None
