"""The cgroup launcher: Lambda's CPU share and memory limit on a local function process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import cgroups
from devstack.cgroups import Cgroup, own_cgroup, quota_us
from devstack.runtime import FunctionProcess, InvocationFailed

ROOT = Path(__file__).resolve().parents[2]
WHY_NOT = cgroups.unavailable()
needs_cgroups = pytest.mark.skipif(WHY_NOT is not None, reason=f"cgroups: {WHY_NOT}")


@pytest.mark.parametrize(
    ("memory_mb", "cpus", "expected"),
    [(128, 2, 7235), (1024, 2, 57885), (1769, 2, 100_000), (3538, 2, -1), (10240, 8, 578858)],
    ids=["128MB", "1024MB", "one-vcpu", "every-cpu-here", "10GB-on-8"],
)
def test_quota_is_lambdas_cpu_share(memory_mb: int, cpus: int, expected: int) -> None:
    assert quota_us(memory_mb, 100_000, cpus) == expected


def test_new_cgroups_nest_in_this_process_own() -> None:
    text = "4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/\n"
    assert own_cgroup("memory", text) == Path("/sys/fs/cgroup/memory/process_api/abc")
    # A joint hierarchy (cpu,cpuacct) is reached through each controller's link.
    assert own_cgroup("cpuacct", text) == Path("/sys/fs/cgroup/cpuacct")
    with pytest.raises(FileNotFoundError):
        own_cgroup("pids", text)


def process(handler: str, memory_mb: int, launcher: Cgroup) -> FunctionProcess:
    return FunctionProcess(
        "cgroup-fn",
        f"tests.e2e.cgroup_functions.{handler}",
        cwd=ROOT,
        memory_mb=memory_mb,
        timeout_s=60,
        launcher=launcher,
    )


@pytest.fixture
def launcher() -> Iterator[Cgroup]:
    made = Cgroup()
    yield made
    made.stopped()


@needs_cgroups
def test_limits_follow_the_memory_size_and_go_away(launcher: Cgroup) -> None:
    function = process("burn", 128, launcher)
    try:
        answer, cold = function.invoke({"cpu_ms": 20})
        assert answer["memory"] == "128"  # what the function sees is the limit it runs under
        limits = launcher.limits
        assert limits is not None
        memory, cpu = limits.paths["memory"], limits.paths["cpu"]
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(128 * 2**20)
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "7235"  # applied after Init
        assert cold.init_duration_ms is not None and cold.init_cpu_ms is not None
        assert cold.init_cpu_ms > 0 and cold.cpu_ms is not None and cold.cpu_ms >= 20
        # Max Memory Used is the cgroup's peak; the client's own VmHWM is kept beside it.
        assert 0 < cold.max_memory_used_mb <= 128 and cold.peak_rss_mb
        assert limits.throttled_ms() > 0  # 20 ms of CPU at 7% of a CPU cannot go unthrottled
    finally:
        function.close()
    assert launcher.limits is None
    assert not memory.exists() and not cpu.exists()


@needs_cgroups
def test_init_is_capped_when_asked() -> None:
    launcher = Cgroup(cap_init=True)
    function = process("burn", 128, launcher)
    try:
        _, cold = function.invoke({"cpu_ms": 1})
        assert launcher.limits is not None
        # Python's own start-up (tens of ms of CPU) at 7% of a CPU is throttled.
        assert launcher.limits.throttled_ms() > 0
        assert cold.init_cpu_ms is not None and cold.init_cpu_ms > 0
    finally:
        function.close()


@needs_cgroups
def test_a_function_over_its_memory_size_dies_out_of_memory(launcher: Cgroup) -> None:
    function = process("allocate", 128, launcher)
    try:
        _, small = function.invoke({"mb": 10})
        assert small.status == "ok"
        with pytest.raises(InvocationFailed) as caught:
            function.invoke({"mb": 200})
        assert caught.value.kind == "out of memory"
        report = caught.value.report
        assert report is not None and report.status == "out of memory"
        assert report.max_memory_used_mb >= 120
        assert "Status: out of memory" in report.line()
        assert function.reports[-1] is report
        _, again = function.invoke({"mb": 10})  # a fresh environment, as Lambda starts one
        assert again.init_duration_ms is not None and again.status == "ok"
    finally:
        function.close()
