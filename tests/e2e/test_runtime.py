"""The local Lambda runtime: the real awslambdaric against this project's Runtime API."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from devstack.runtime import FunctionProcess, Interpreter, InvocationFailed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def function(request: pytest.FixtureRequest) -> Iterator[FunctionProcess]:
    process = FunctionProcess(
        "test-fn",
        f"tests.e2e.functions.{request.param}",
        cwd=ROOT,
        memory_mb=256,
        timeout_s=10,
    )
    yield process
    process.close()


@pytest.mark.parametrize("function", ["echo"], indirect=True)
def test_cold_then_warm_invocations_are_reported_like_lambda(function: FunctionProcess) -> None:
    answer, cold = function.invoke({"n": 1})
    assert answer["event"] == {"n": 1} and answer["memory"] == "256"
    assert answer["request_id"] == cold.request_id
    answer, warm = function.invoke({"n": 2})
    assert answer["event"] == {"n": 2}

    assert cold.init_duration_ms is not None and cold.init_duration_ms > 0
    assert warm.init_duration_ms is None
    assert warm.billed_duration_ms >= warm.duration_ms > 0
    assert cold.max_memory_used_mb > 10
    line = cold.line()
    assert line.startswith(f"REPORT RequestId: {cold.request_id}\tDuration: ")
    assert "\tMemory Size: 256 MB\tMax Memory Used: " in line and "\tInit Duration: " in line


@pytest.mark.parametrize("function", ["allocate"], indirect=True)
def test_max_memory_used_is_the_process_peak(function: FunctionProcess) -> None:
    _, before = function.invoke({"mb": 1})
    _, after = function.invoke({"mb": 80})
    assert after.max_memory_used_mb >= before.max_memory_used_mb + 70


@pytest.mark.parametrize("function", ["fail"], indirect=True)
def test_handler_error_is_reported_with_its_type(function: FunctionProcess) -> None:
    with pytest.raises(InvocationFailed) as caught:
        function.invoke({})
    assert caught.value.kind == "error"
    assert caught.value.detail["errorType"] == "ValueError"
    assert caught.value.report is not None and caught.value.report.status == "error"


@pytest.mark.parametrize("function", ["missing_handler"], indirect=True)
def test_init_error_is_reported(function: FunctionProcess) -> None:
    with pytest.raises(InvocationFailed) as caught:
        function.invoke({})
    assert caught.value.kind == "init"
    assert caught.value.detail["errorType"] == "Runtime.HandlerNotFound"


@pytest.mark.parametrize("function", ["crash"], indirect=True)
def test_crash_is_reported_and_the_next_start_is_cold(function: FunctionProcess) -> None:
    with pytest.raises(InvocationFailed, match="exited with 3"):
        function.invoke({})
    with pytest.raises(InvocationFailed, match="exited with 3"):
        function.invoke({})  # a fresh process, not a hang


@pytest.mark.parametrize("function", ["sleep"], indirect=True)
def test_timeout_stops_the_process(function: FunctionProcess) -> None:
    function.timeout_s = 1
    with pytest.raises(InvocationFailed) as caught:
        function.invoke({"seconds": 30})
    assert caught.value.kind == "timeout"
    assert caught.value.report is not None and caught.value.report.status == "timeout"
    function.timeout_s = 10
    answer, report = function.invoke({"seconds": 0})
    assert answer == "woke up" and report.init_duration_ms is not None  # cold again


def test_a_runtime_that_never_asks_for_work_times_out(tmp_path: Path) -> None:
    class Silent(Interpreter):
        def command(self, handler: str, environment: Mapping[str, str]) -> Sequence[str]:
            return [sys.executable, "-c", "import time; time.sleep(60)"]

    process = FunctionProcess("silent", "unused.handler", launcher=Silent(), timeout_s=1)
    try:
        with pytest.raises(InvocationFailed, match="no GET /next"):
            process.invoke({})
    finally:
        process.close()
