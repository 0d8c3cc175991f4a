"""What a function's runtime costs before it sees any image: peak and resident memory and CPU of
each piece (interpreter, awslambdaric, botocore, Pillow, the handler, each client, the first call
of each), every level measured in a fresh process, with botocore's whole data and with the
trimmed data the images ship (infra/botocore_models.py).

    python -m infra.runtime_cost                       this Python (the venv), both functions
    python -m infra.runtime_cost --image IMAGE resize  inside a built image (podman, as its user)
    python -m infra.runtime_cost --trace               which botocore data files each step loads
    python -m infra.runtime_cost --cold [--image IMAGE [--official-base]] FUNCTION
                                                       cold starts: Init and the first invocation

--cold starts the function as Lambda does, --repeat times: its runtime client (in an image, the
image's own entrypoint, under podman) against a Runtime API in this process, with one event (an
upload of a 1024x768 JPEG for resize, a posted reading for ingest) whose AWS calls go to the
answering server below. Init is what Lambda reports as Init Duration: from the runtime's start
(in an image, a timestamp taken just before the entrypoint is executed, a second after podman
started the container, so the container's start, reported apart, is not counted) to its first
GET /next; its CPU is read while that request is held. The first invocation is the event handed
out to its answer. Median and least of each. --official-base: the image as on the official
python base, which ships the standard library without bytecode (the stand-in base's deleted
first, what the image compiled itself kept).

Level N runs steps 1..N in a new process and reports its VmHWM and VmRSS at the end (a piece's
memory is the difference between its level and the one before), and the CPU and wall time of
each step as it ran (time.process_time, perf_counter; the interpreter: the CPU it had
used when the probe began). Each level runs --repeat times, whole and trimmed data in turn;
memory is the median, a step's time the least of every run that made it (this machine is shared:
the least is the step's own cost, the rest is waiting). The first calls go over real HTTP to a
small server in this process answering what each operation expects (AWS_ENDPOINT_URL points at
it; in an image, through --network=host), with fake credentials.

Not product code and never in an image: the probe is handed to the image's Python as -c.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from infra import botocore_models
from infra.functions import BY_NAME
from infra.podman import ensure_podman_conf

logger = logging.getLogger(__name__)

ROOT: Final = Path(__file__).resolve().parent.parent

# What each step does, in the probe below; the order is the function's: the runtime client and
# the handler's imports are the init phase; botocore's import (handlers.common.aws imports it
# with the first client), the clients and the first calls are the first invocation.
STEPS: Final[Mapping[str, tuple[str, ...]]] = {
    "resize": (
        "interpreter",
        "awslambdaric",
        "pillow",
        "handler",
        "botocore",
        "s3 client",
        "dynamodb client",
        "dynamodb call",
        "s3 call",
    ),
    "ingest": (
        "interpreter",
        "awslambdaric",
        "handler",
        "botocore",
        "dynamodb client",
        "dynamodb call",
    ),
}

# Run as ``python -c`` (3.11 in the venv and on the arm64 stand-in, 3.12 in the amd64 image).
# Arguments: function, number of steps, "trace" or "". Prints one JSON object.
_PROBE: Final = r"""
import sys, time
startup_cpu_ms = time.process_time() * 1000  # the interpreter's start, until this line
FUNCTION, UPTO, TRACE = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "trace"
STEPS = __STEPS__[FUNCTION][:UPTO]
loaded, current = [], ["interpreter"]

def traced():
    import botocore.loaders
    original = botocore.loaders.JSONFileLoader._load_file
    def load(self, full_path, open_method):
        data = original(self, full_path, open_method)
        if data is not None:
            import os
            loaded.append([current[0], full_path, os.path.getsize(full_path)])
        return data
    botocore.loaders.JSONFileLoader._load_file = load

def step(name):
    current[0] = name
    if name == "awslambdaric":
        import awslambdaric.bootstrap, awslambdaric.lambda_runtime_client
    elif name == "botocore":
        import botocore.session, botocore.config
        if TRACE:
            traced()
    elif name == "pillow":
        from PIL import (AvifImagePlugin, BmpImagePlugin, GifImagePlugin, Image, ImageFile,
                         JpegImagePlugin, PngImagePlugin, TiffImagePlugin, WebPImagePlugin)
        import pillow_heif
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    elif name == "handler":
        __import__("handlers." + FUNCTION)
    elif name == "s3 client":
        from handlers.common import aws
        aws.s3()
    elif name == "dynamodb client":
        from handlers.common import aws
        aws.dynamodb()
    elif name == "dynamodb call":
        from handlers.common import aws
        key = {"id": {"S": "k"}}
        if FUNCTION == "ingest":
            condition = "attribute_not_exists(id)"
            aws.dynamodb().put_item(TableName="t", Item=key, ConditionExpression=condition)
        else:
            aws.dynamodb().get_item(TableName="t", Key=key, ConsistentRead=True)
    elif name == "s3 call":
        from handlers.common import aws
        aws.s3().get_object(Bucket="b", Key="uploads/k.jpg")["Body"].read()

times = []
for name in STEPS:
    cpu, wall = time.process_time(), time.perf_counter()
    step(name)
    times.append([(time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000])
import json
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "hwm_kb": int(status["VmHWM"].split()[0]),
    "rss_kb": int(status["VmRSS"].split()[0]),
    "startup_cpu_ms": startup_cpu_ms,
    "times": times,
    "loaded": loaded,
}))
""".replace("__STEPS__", repr({name: list(steps) for name, steps in STEPS.items()}))

# GetObject's body: what a small download answers (the size does not matter to what is measured).
_OBJECT: Final = b"\xff\xd8" + b"\0" * 4094


class _Answers(BaseHTTPRequestHandler):
    """Each operation's expected answer: S3 by method, DynamoDB (JSON 1.0) an empty object.
    GetObject answers ``body`` (the cold starts set a real photo)."""

    protocol_version = "HTTP/1.1"
    body: bytes = _OBJECT

    def do_GET(self) -> None:
        self._answer(self.body, {"ETag": '"e"', "Content-Type": "image/jpeg"})

    def do_HEAD(self) -> None:
        self.send_response(200)
        for name, value in {"ETag": '"e"', "Content-Type": "image/jpeg"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(b"", {"ETag": '"e"'})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(b"{}", {"Content-Type": "application/x-amz-json-1.0"})

    def _answer(self, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def answering(body: bytes = _OBJECT) -> Iterator[str]:
    """The answering server on 127.0.0.1, in a thread; yields its URL. GetObject answers
    ``body``."""
    handler = type("Answers", (_Answers,), {"body": body})
    with serving(handler) as url:
        yield url


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a stopped function's
            super().handle_error(request, client_address)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 in a thread; yields its URL."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Level:
    step: str
    hwm_mb: float  # the process after steps 1..N: median
    rss_mb: float
    cpu_ms: float  # step N's own (the interpreter: its start-up): least
    wall_ms: float


_FAKE_AWS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _command(image: str | None, data_path: str | None, endpoint: str) -> list[str]:
    if image is None:
        return [sys.executable]
    data = [f"--env=AWS_DATA_PATH={data_path}"] if data_path else ["--unsetenv=AWS_DATA_PATH"]
    passed = [f"--env={name}={value}" for name, value in _FAKE_AWS.items()]
    return [
        "podman",
        "run",
        "--rm",
        "--pull=never",
        "--network=host",
        "--entrypoint=python",
        *data,
        *passed,
        f"--env=AWS_ENDPOINT_URL={endpoint}",
        image,
    ]


def probe(
    function: str,
    upto: int,
    *,
    endpoint: str,
    image: str | None = None,
    data_path: str | None = None,
    trace: bool = False,
) -> dict[str, Any]:
    """One fresh process running the function's first ``upto`` steps: its JSON report."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "PYTHONPATH"
    }
    environment.update(_FAKE_AWS, AWS_ENDPOINT_URL=endpoint, PYTHONPATH=str(ROOT))
    if data_path and image is None:
        environment["AWS_DATA_PATH"] = data_path
    command = [
        *_command(image, data_path, endpoint),
        "-c",
        _PROBE,
        function,
        str(upto),
        "trace" if trace else "",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=300, check=False
    )
    if result.returncode:
        raise RuntimeError(f"probe {function} {upto} failed:\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def levels(
    function: str,
    *,
    endpoint: str,
    repeat: int,
    image: str | None = None,
    data_paths: Sequence[str | None] = (None,),
) -> list[list[Level]]:
    """Per data path, each level's figures over ``repeat`` fresh processes: the median of the
    memory figures (which hardly vary), and the least CPU and wall time each step took in any
    process that ran it (what it takes when nothing else on the machine gets in its way). The
    data paths take turns, so a busy moment slows both alike."""
    steps = STEPS[function]
    reports: list[list[list[dict[str, Any]]]] = [[[] for _ in steps] for _ in data_paths]
    for upto in range(1, len(steps) + 1):
        for _ in range(repeat):
            for index, data_path in enumerate(data_paths):
                reports[index][upto - 1].append(
                    probe(function, upto, endpoint=endpoint, image=image, data_path=data_path)
                )
    found: list[list[Level]] = []
    for per_level in reports:
        every = [report for level in per_level for report in level]
        rows = []
        for number, step in enumerate(steps):
            timed = [report["times"][number] for report in every if len(report["times"]) > number]
            if number == 0:
                cpu, wall = min(report["startup_cpu_ms"] for report in every), 0.0
            else:
                cpu, wall = min(t[0] for t in timed), min(t[1] for t in timed)
            rows.append(
                Level(
                    step,
                    statistics.median(report["hwm_kb"] for report in per_level[number]) / 1024,
                    statistics.median(report["rss_kb"] for report in per_level[number]) / 1024,
                    cpu,
                    wall,
                )
            )
        found.append(rows)
    return found


def table(function: str, full: Sequence[Level], trimmed: Sequence[Level]) -> list[str]:
    """Markdown rows, whole botocore data -> trimmed: the memory after each step (the step's
    own in brackets), and each step's own CPU and wall time."""
    lines = [
        f"{function}: VmHWM / VmRSS MB after the step (the step's own), median; CPU and wall ms "
        "of the step (the interpreter: its start-up CPU), least; whole botocore data -> trimmed",
        "",
        "| step | VmHWM MB | VmRSS MB | CPU ms | wall ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    previous: tuple[Level, Level] | None = None
    for before, after in zip(full, trimmed, strict=True):
        pair = (before, after)

        def memory(
            attribute: str,
            pair: tuple[Level, Level] = pair,
            prior_pair: tuple[Level, Level] | None = previous,
        ) -> str:
            text = " -> ".join(f"{getattr(level, attribute):.1f}" for level in pair)
            if prior_pair is not None:
                deltas = (
                    getattr(level, attribute) - getattr(prior, attribute)
                    for level, prior in zip(pair, prior_pair, strict=True)
                )
                text += " (" + " -> ".join(f"{delta:+.1f}" for delta in deltas) + ")"
            return text

        def own(attribute: str, pair: tuple[Level, Level] = pair) -> str:
            return " -> ".join(f"{getattr(level, attribute):.0f}" for level in pair)

        lines.append(
            f"| {before.step} | {memory('hwm_mb')} | {memory('rss_mb')} | {own('cpu_ms')} | "
            f"{own('wall_ms')} |"
        )
        previous = pair
    total_cpu = " -> ".join(
        f"{sum(level.cpu_ms for level in levels):.0f}" for levels in (full, trimmed)
    )
    lines.append(f"| all | | | {total_cpu} | |")
    return lines


def trace(function: str, *, endpoint: str, image: str | None, data_path: str | None) -> list[str]:
    """Which data files each step loads, and their size on disk."""
    report = probe(
        function,
        len(STEPS[function]),
        endpoint=endpoint,
        image=image,
        data_path=data_path,
        trace=True,
    )
    return [f"  {step:16} {path} ({size:,} bytes)" for step, path, size in report["loaded"]]


# The Runtime API's paths, and the one event of each function's cold start.
_RUNTIME: Final = "/2018-06-01/runtime"
_READING: Final = {
    "record_date": "2022-02-03T13:22:22",
    "thermostat_on": True,
    "temperature": "65",
    "thermostat_value": "64",
}
_UPLOAD_KEY: Final = "uploads/cold-start.jpg"


def cold_event(function: str, size: int) -> dict[str, Any]:
    """The first event: a posted reading (Function URL, payload 2.0), or an upload of ``size``
    bytes under the default source prefix (an S3 notification, as delivered directly)."""
    if function == "ingest":
        return {
            "version": "2.0",
            "rawPath": "/",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/"}, "requestId": "cold"},
            "body": json.dumps(_READING),
            "isBase64Encoded": False,
        }
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
            "object": {"key": _UPLOAD_KEY, "size": size, "eTag": "e", "sequencer": "01"},
        },
    }
    return {"Records": [record]}


def photo() -> bytes:
    """A 1024x768 JPEG (Pillow is a development dependency; this runs on the host)."""
    from io import BytesIO

    from PIL import Image

    gradient = Image.linear_gradient("L").resize((1024, 768))
    out = BytesIO()
    Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient)).save(
        out, "JPEG", quality=85
    )
    return out.getvalue()


@dataclass
class _Cold:
    """One cold start, as the Runtime API saw it (perf_counter seconds, CPU ms)."""

    event: bytes
    read_cpu_ms: Any  # () -> the runtime's CPU ms so far, called while a request is held
    first_next: float = 0.0
    init_cpu_ms: float = 0.0
    handed_out: float = 0.0
    answered: float = 0.0
    invocation_cpu_ms: float = 0.0
    answer: bytes = b""
    error: bytes = b""
    done: threading.Event = dataclasses.field(default_factory=threading.Event)


def _runtime_api(state: _Cold) -> type[BaseHTTPRequestHandler]:
    class RuntimeApi(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if state.first_next:  # the second GET /next: the cold start is over
                state.done.wait(60)
                return self._answer(410, b"{}")
            state.first_next = time.perf_counter()
            state.init_cpu_ms = state.read_cpu_ms()
            state.handed_out = time.perf_counter()
            self._answer(
                200,
                state.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": str(uuid.uuid4()),
                    "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 300) * 1000)),
                    "Lambda-Runtime-Invoked-Function-Arn": (
                        "arn:aws:lambda:us-east-1:123456789012:function:cold-start"
                    ),
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path.endswith("/response"):
                state.answered = time.perf_counter()
                state.invocation_cpu_ms = state.read_cpu_ms() - state.init_cpu_ms
                state.answer = body
            else:  # an init or invocation error
                state.answered = time.perf_counter()
                state.error = body or b"error"
            self._answer(202, b"{}")
            state.done.set()

        def _answer(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    return RuntimeApi


def _cpu_ms(pid: int) -> float:
    """The process's user + system CPU time (its threads' too), in ms (clock ticks: 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ColdStart:
    container_ms: float  # podman run to the runtime's start (0 here)
    init_ms: float  # the runtime's start to its first GET /next: Init Duration
    init_cpu_ms: float
    invocation_ms: float  # the first event handed out to its answer: Duration
    invocation_cpu_ms: float
    answer: str
    log: list[str]  # the function's log lines


_STAMP: Final = "cold-start-runtime-start "


# What an image would be on the official python base, which ships its standard library without
# bytecode: the stand-in base's (timestamp-checked) bytecode deleted, what the image compiled
# itself (unchecked hashes) kept.
_STRIP_STDLIB: Final = (
    "import os, sysconfig\n"
    'for folder, _, names in os.walk(sysconfig.get_path("stdlib")):\n'
    "    for name in names:\n"
    "        path = os.path.join(folder, name)\n"
    '        if name.endswith(".pyc") and open(path, "rb").read(8)[4:8] == bytes(4):\n'
    "            os.remove(path)\n"
)
_AS_USER: Final = "exec setpriv --reuid=10001 --regid=10001 --clear-groups"


def cold_start(
    function: str,
    *,
    endpoint: str,
    event: Mapping[str, Any],
    image: str | None = None,
    official_base: bool = False,
) -> ColdStart:
    """One cold start of ``function`` and its first invocation of ``event``; ``official_base``:
    of ``image`` as it would be on the official python base (no standard library bytecode but
    what the image compiled itself)."""
    pid: list[int] = []
    state = _Cold(json.dumps(event).encode(), lambda: _cpu_ms(pid[0]))
    with serving(_runtime_api(state)) as api:
        lambda_env = {
            **_FAKE_AWS,
            **BY_NAME[function].environment,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_LAMBDA_RUNTIME_API": api.removeprefix("http://"),
            "AWS_LAMBDA_FUNCTION_NAME": f"thumbstat-{function}",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(BY_NAME[function].memory_mb),
            "_HANDLER": BY_NAME[function].handler,
        }
        name = f"thumbstat-cold-{uuid.uuid4().hex[:12]}"
        if image is None:
            environment = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith("AWS_") and key != "PYTHONPATH"
            }
            environment.update(lambda_env, PYTHONPATH=str(ROOT))
            command = [sys.executable, "-m", "awslambdaric", BY_NAME[function].handler]
        else:
            environment = dict(os.environ)
            inspect = ["podman", "image", "inspect", "--format", "{{json .Config.Entrypoint}}"]
            entrypoint = json.loads(
                subprocess.run(
                    [*inspect, image],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=60,
                ).stdout
            )
            # The image's own entrypoint and command, exec'd by a shell that first writes the time
            # (as the image's user; official_base: as root, to delete bytecode first). It waits a
            # second before: podman's own work after starting a container is not Init's.
            script = f'sleep 1; echo "{_STAMP}$(date +%s.%N)" >&2; exec "$@"'
            user = []
            if official_base:
                user = ["--user=0"]
                script = f"python -c '{_STRIP_STDLIB}'; {script.replace('exec', _AS_USER)}"
            command = [
                "podman",
                "run",
                "--rm",
                f"--name={name}",
                "--pull=never",
                "--network=host",
                *user,
                *(f"--env={key}={value}" for key, value in lambda_env.items()),
                "--entrypoint=/bin/sh",
                image,
                "-c",
                script,
                "sh",
                *entrypoint,
                BY_NAME[function].handler,
            ]
        launched_at, launched = time.time(), time.perf_counter()
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if image is None else subprocess.PIPE,
            text=True,
        )
        try:
            if image is None:
                pid.append(process.pid)
            else:
                pid.append(_container_pid(name))
            if not state.done.wait(300):
                raise RuntimeError(f"{function}: no answer within 300 s")
        finally:
            if image is not None:
                subprocess.run(
                    ["podman", "rm", "--force", "--time=0", "--ignore", name],
                    capture_output=True,
                    check=False,
                    timeout=60,
                )
            process.terminate()
            stdout, stderr = process.communicate(timeout=60)
    output = f"{stdout}{stderr or ''}"
    if state.error:
        raise RuntimeError(f"{function}: {state.error.decode(errors='replace')}\n{output[-3000:]}")
    started = launched
    if image is not None:
        stamps = [line for line in output.splitlines() if line.startswith(_STAMP)]
        started = launched + float(stamps[0].removeprefix(_STAMP)) - launched_at
    return ColdStart(
        container_ms=(started - launched) * 1000,
        init_ms=(state.first_next - started) * 1000,
        init_cpu_ms=state.init_cpu_ms,
        invocation_ms=(state.answered - state.handed_out) * 1000,
        invocation_cpu_ms=state.invocation_cpu_ms,
        answer=state.answer.decode(errors="replace"),
        log=[line for line in output.splitlines() if '"msg"' in line or "outcome" in line],
    )


def _container_pid(name: str) -> int:
    """The host pid of the container's first process, once it runs (its CPU is the runtime's:
    the shell execs the entrypoint)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["podman", "inspect", "--format", "{{.State.Pid}}", name],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        ).stdout.strip()
        if found.isdigit() and found != "0":
            return int(found)
        time.sleep(0.02)
    raise RuntimeError(f"container {name} did not start")


def cold_table(function: str, where: str, starts: Sequence[ColdStart]) -> list[str]:
    """Markdown rows: each figure's median and least over the cold starts."""

    def figure(values: Sequence[float]) -> str:
        return f"{statistics.median(values):.0f} ({min(values):.0f})"

    rows = [
        f"{function}, {where}: {len(starts)} cold starts, median (least) ms",
        "",
        "| container start | Init | Init CPU | first invocation | its CPU |",
        "| --- | --- | --- | --- | --- |",
        "| "
        + " | ".join(
            figure([getattr(start, name) for start in starts])
            for name in (
                "container_ms",
                "init_ms",
                "init_cpu_ms",
                "invocation_ms",
                "invocation_cpu_ms",
            )
        )
        + " |",
    ]
    return [*rows, f"answer: {starts[-1].answer[:300]}", *starts[-1].log]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", help="measure inside this image (podman) instead of here")
    parser.add_argument("--repeat", type=int, default=5, help="processes per level (median)")
    parser.add_argument("--trace", action="store_true", help="list the data files loaded")
    parser.add_argument(
        "--cold", action="store_true", help="cold starts: Init and the first invocation"
    )
    parser.add_argument(
        "--official-base",
        action="store_true",
        help="--cold --image: as on the official python base (no standard library bytecode)",
    )
    parser.add_argument(
        "--out", type=Path, help="--cold: also write the tables (markdown) to this file"
    )
    parser.add_argument("functions", nargs="*", default=list(STEPS), metavar="FUNCTION")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    where = f"image {args.image}" if args.image else f"Python {sys.version.split()[0]} here"
    if args.image:
        ensure_podman_conf()  # podman's settings for these machines (infra/podman.py)
    if args.cold:
        upload = photo()
        tables: list[str] = []
        with answering(upload) as endpoint:
            for function in args.functions:
                event = cold_event(function, len(upload))
                starts = [
                    cold_start(
                        function,
                        endpoint=endpoint,
                        event=event,
                        image=args.image,
                        official_base=args.official_base,
                    )
                    for _ in range(args.repeat)
                ]
                base = ", as on the official base" if args.official_base else ""
                lines = cold_table(function, where + base, starts)
                for line in lines:
                    logger.info("%s", line)
                logger.info("")
                tables += [line for line in lines if not line.startswith(("answer:", "{"))]
                tables.append("")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text("\n".join(tables) + "\n")
        return 0
    with answering() as endpoint:
        for function in args.functions:
            # In an image, its own trimmed data (the Dockerfile's AWS_DATA_PATH); here, the
            # data generated for this checkout's handlers and this botocore.
            trimmed_path = (
                botocore_models.IMAGE_DATA_PATH
                if args.image
                else str(botocore_models.ensure_cached())
            )
            if args.trace:
                for label, path in (("whole data", None), ("trimmed", trimmed_path)):
                    logger.info("%s, %s, %s:", function, where, label)
                    for line in trace(
                        function, endpoint=endpoint, image=args.image, data_path=path
                    ):
                        logger.info("%s", line)
                continue
            measured = levels(
                function,
                endpoint=endpoint,
                repeat=args.repeat,
                image=args.image,
                data_paths=(None, trimmed_path),
            )
            logger.info("%s, %s (%d processes per level and data):", function, where, args.repeat)
            for line in table(function, *measured):
                logger.info("%s", line)
            logger.info("")
    return 0


if __name__ == "__main__":
    sys.exit(main())
