"""A local Lambda execution environment: the Runtime API, and a function process behind it.

``FunctionProcess`` starts ``python -m awslambdaric HANDLER`` (or any command speaking the
Runtime API, such as a container) against its own Runtime API server on 127.0.0.1, hands it one
event at a time, and measures each invocation as Lambda does: Init Duration (start to the first
``GET /next``), Duration (event handed out to answer), Billed Duration (rounded up to the
millisecond) and Max Memory Used (the process's peak RSS). A launcher that measures the
environment itself (``Measuring``: ``devstack.cgroups.Cgroup``, Lambda's CPU share and memory
limit) supplies Max Memory Used, Init's CPU time and out-of-memory deaths instead.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any, Final, Protocol, runtime_checkable

from devstack.function_url import serve_in_thread

logger = logging.getLogger(__name__)

_PREFIX: Final = "/2018-06-01/runtime"
_POLL: Final = 0.05  # seconds between checks that the process is still alive


class InvocationFailed(Exception):
    """The function answered with an error, crashed, timed out or failed to start."""

    def __init__(self, kind: str, detail: Any, report: Report | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.report = kind, detail, report


@dataclass
class Report:
    """One invocation's figures, the REPORT line of CloudWatch Logs."""

    function: str
    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None  # set on a cold start only
    status: str = "ok"  # or "error", "timeout", "out of memory"
    init_cpu_ms: float | None = None  # a cold start: Init's CPU time
    peak_rss_mb: int | None = None  # the runtime client's own VmHWM, beside a cgroup's figure
    cpu_ms: float | None = None  # CPU time the invocation used (not Init's)
    note: str = ""  # what the invocation carried, for people reading a table of reports

    @property
    def billed_duration_ms(self) -> int:
        return max(1, math.ceil(self.duration_ms))

    def line(self) -> str:
        text = (
            f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Billed Duration: {self.billed_duration_ms} ms\t"
            f"Memory Size: {self.memory_size_mb} MB\tMax Memory Used: {self.max_memory_used_mb} MB"
        )
        if self.init_duration_ms is not None:
            text += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
        return text if self.status == "ok" else f"{text}\tStatus: {self.status}"


@dataclass
class _Invocation:
    request_id: str
    body: bytes
    deadline_ms: int
    handed_out: float = 0.0
    answered: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    answer: bytes = b""
    error: dict[str, Any] | None = None


class _RuntimeState:
    """What the Runtime API server shares with its FunctionProcess."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self.pending: queue.Queue[_Invocation | None] = queue.Queue()
        self.current: dict[str, _Invocation] = {}
        self.first_next: float | None = None
        self.on_first_next: Any = None  # called in the server thread at the first GET /next
        self.init_cpu_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self.ready = threading.Event()


def _handler_class(state: _RuntimeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != f"{_PREFIX}/invocation/next":
                return self._answer(404, b'{"errorMessage": "not found"}')
            if state.first_next is None:
                state.first_next = time.perf_counter()
                if state.on_first_next is not None:
                    state.init_cpu_ms = state.on_first_next()
                state.ready.set()
            invocation = state.pending.get()
            if invocation is None:  # shutting down
                return self._answer(410, b"{}")
            invocation.handed_out = time.perf_counter()
            state.current[invocation.request_id] = invocation
            self._answer(
                200,
                invocation.body,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": state.function_arn,
                    "Lambda-Runtime-Trace-Id": _trace_id(),
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            parts = self.path.removeprefix(_PREFIX).strip("/").split("/")
            if parts == ["init", "error"]:
                state.init_error = _json_or_text(body)
                state.ready.set()
                return self._answer(202, b"{}")
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                invocation = state.current.pop(parts[1], None)
                if invocation is None:
                    return self._answer(400, b'{"errorMessage": "unknown request id"}')
                invocation.answered = time.perf_counter()
                if parts[2] == "response":
                    invocation.answer = body
                else:
                    invocation.error = _json_or_text(body)
                invocation.done.set()
                return self._answer(202, b"{}")
            self._answer(404, b'{"errorMessage": "not found"}')

        def _answer(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the function process went away (stopped, crashed)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def _json_or_text(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"errorMessage": body.decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"errorMessage": parsed}


class Launcher(Protocol):
    """How a function's runtime client is started."""

    def command(self, handler: str, environment: Mapping[str, str]) -> Sequence[str]:
        """The command line; ``environment`` is the Lambda environment (Runtime API address,
        function name, memory size and the function's own variables)."""
        ...

    def runtime_pid(self, process: subprocess.Popen[bytes]) -> int | None:
        """The host pid of the runtime client, for its peak memory."""
        ...

    def stopped(self) -> None:
        """The process was stopped: release what the launch held."""
        ...


@runtime_checkable
class Measuring(Protocol):
    """A launcher that measures the execution environment itself, as Lambda does."""

    def initialized(self) -> float | None:
        """Called at the first ``GET /next``: Init's CPU time in ms (Init has ended)."""
        ...

    def max_memory_used_mb(self) -> int | None:
        """The environment's peak memory so far."""
        ...

    def out_of_memory(self, returncode: int | None) -> bool:
        """Whether the process that ended with ``returncode`` was killed at its memory size."""
        ...

    def cpu_ms(self) -> float | None:
        """CPU time of the whole environment so far."""
        ...


class _Died(Exception):
    def __init__(self, code: int | None, phase: str) -> None:
        super().__init__(f"the process exited with {code} during {phase}")
        self.code, self.phase = code, phase


@dataclass
class Interpreter:
    """``python -m awslambdaric HANDLER`` on this machine (``-S`` etc. in ``flags``)."""

    python: str = sys.executable
    flags: Sequence[str] = ()

    def command(self, handler: str, environment: Mapping[str, str]) -> Sequence[str]:
        return [self.python, *self.flags, "-m", "awslambdaric", handler]

    def runtime_pid(self, process: subprocess.Popen[bytes]) -> int | None:
        return process.pid

    def stopped(self) -> None:
        pass


class FunctionProcess:
    """One function in one execution environment: invocations are served one at a time."""

    def __init__(
        self,
        name: str,
        handler: str,
        *,
        environment: Mapping[str, str] | None = None,
        memory_mb: int = 128,
        timeout_s: float = 30.0,
        launcher: Launcher | None = None,
        cwd: Path | None = None,
        log: IO[bytes] | None = None,
    ) -> None:
        self.name, self.handler = name, handler
        self.environment = dict(environment or {})
        self.memory_mb, self.timeout_s = memory_mb, timeout_s
        self.launcher = launcher or Interpreter()
        self.cwd, self.log = cwd, log
        self.reports: list[Report] = []
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._state: _RuntimeState | None = None
        self._server: Any = None
        self._started = 0.0

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}"

    def _start(self) -> None:
        self._state = _RuntimeState(self.arn)
        self._state.on_first_next = (
            self.launcher.initialized if isinstance(self.launcher, Measuring) else self._cpu_ms
        )
        self._server = serve_in_thread(_handler_class(self._state))
        url = self._server.__enter__()
        api = url.removeprefix("http://")
        lambda_environment = {
            **self.environment,
            "AWS_LAMBDA_RUNTIME_API": api,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "_HANDLER": self.handler,
        }
        self._started = time.perf_counter()
        self._process = subprocess.Popen(
            list(self.launcher.command(self.handler, lambda_environment)),
            env={**os.environ, **lambda_environment},
            cwd=self.cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log else None,
        )

    def invoke(self, event: Any) -> tuple[Any, Report]:
        """Invoke with ``event``; the function's answer and the invocation's report.

        Raises InvocationFailed when the function errors, crashes, times out or cannot start.
        """
        with self._lock:
            cold = self._process is None or self._process.poll() is not None
            if cold:
                self._stop_process()
                self._start()
            assert self._state is not None and self._process is not None
            invocation = _Invocation(
                request_id=str(uuid.uuid4()),
                body=json.dumps(event).encode(),
                deadline_ms=int((time.time() + self.timeout_s) * 1000),
            )
            cpu_before = None if cold else self._cpu_ms()
            self._state.pending.put(invocation)
            init_ms = None
            try:
                if cold:
                    if not self._wait(self._state.ready, self.timeout_s, "init"):
                        self._stop_process()
                        raise InvocationFailed("timeout", f"no GET /next within {self.timeout_s} s")
                    if self._state.init_error is not None:
                        self._stop_process()
                        raise InvocationFailed("init", self._state.init_error)
                    assert self._state.first_next is not None
                    init_ms = (self._state.first_next - self._started) * 1000
                    cpu_before = self._state.init_cpu_ms
                finished = self._wait(invocation.done, self.timeout_s, "invoke")
            except _Died as died:
                # Lambda reports a function killed at its memory size with a REPORT line too.
                report = self._report(invocation, False, init_ms, cpu_before)
                if died.phase == "init":
                    report.init_duration_ms = (time.perf_counter() - self._started) * 1000
                oom = isinstance(self.launcher, Measuring) and self.launcher.out_of_memory(
                    died.code
                )
                report.status = "out of memory" if oom else "crash"
                self.reports.append(report)
                logger.info("%s %s", self.name, report.line())
                self._stop_process()
                raise InvocationFailed(report.status, str(died), report) from None
            report = self._report(invocation, finished, init_ms, cpu_before)
            if not finished:
                report.status = "timeout"
                self.reports.append(report)
                self._stop_process()
                raise InvocationFailed("timeout", f"{self.timeout_s:.0f} s", report)
            self.reports.append(report)
            logger.info("%s %s", self.name, report.line())
            if invocation.error is not None:
                report.status = "error"
                raise InvocationFailed("error", invocation.error, report)
            return (json.loads(invocation.answer) if invocation.answer else None), report

    def _report(
        self,
        invocation: _Invocation,
        finished: bool,
        init_ms: float | None,
        cpu_before: float | None,
    ) -> Report:
        assert self._state is not None
        ended = invocation.answered if finished else time.perf_counter()
        cpu_after = self._cpu_ms()
        peak_rss = self._peak_rss_mb()
        measured = (
            self.launcher.max_memory_used_mb() if isinstance(self.launcher, Measuring) else None
        )
        return Report(
            function=self.name,
            request_id=invocation.request_id,
            duration_ms=(ended - (invocation.handed_out or ended)) * 1000,
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=measured if measured is not None else peak_rss,
            init_duration_ms=init_ms,
            init_cpu_ms=self._state.init_cpu_ms if init_ms is not None else None,
            peak_rss_mb=peak_rss if measured is not None else None,
            cpu_ms=(
                cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
            ),
        )

    def _cpu_ms(self) -> float | None:
        """CPU time of the environment so far: the launcher's figure, else the runtime client's
        user + system time (in clock ticks, 10 ms on most machines)."""
        if isinstance(self.launcher, Measuring):
            return self.launcher.cpu_ms()
        assert self._process is not None
        pid = self.launcher.runtime_pid(self._process)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() if pid else []
        except OSError:
            return None
        if len(fields) < 13:
            return None
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def _wait(self, done: threading.Event, timeout_s: float, phase: str) -> bool:
        """Wait for ``done`` while the process lives; False on timeout, raises _Died if it
        died."""
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        while not done.wait(_POLL):
            if self._process.poll() is not None:
                raise _Died(self._process.returncode, phase)
            if time.monotonic() > deadline:
                return False
        return True

    def _peak_rss_mb(self) -> int:
        """VmHWM of the runtime client's process: Lambda's Max Memory Used is the peak of the
        execution environment so far."""
        assert self._process is not None
        pid = self.launcher.runtime_pid(self._process)
        try:
            status = Path(f"/proc/{pid}/status").read_text() if pid else ""
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
        return 0

    def _stop_process(self) -> None:
        if self._process is not None:
            self.launcher.stopped()  # a container first: its client then exits by itself
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        self._process = None
        if self._state is not None:
            self._state.pending.put(None)  # release a /next still waiting
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None

    def close(self) -> None:
        with self._lock:
            self._stop_process()
