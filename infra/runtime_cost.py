"""What a function's runtime costs before it sees any image: peak and resident memory and CPU of
each piece (interpreter, awslambdaric, botocore, Pillow, the handler, each client, the first call
of each), every level measured in a fresh process, with botocore's whole data and with the
trimmed data the images ship (infra/botocore_models.py).

    python -m infra.runtime_cost                       this Python (the venv), both functions
    python -m infra.runtime_cost --image IMAGE resize  inside a built image (podman, as its user)
    python -m infra.runtime_cost --trace               which botocore data files each step loads

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
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from infra import botocore_models
from infra.podman import ensure_podman_conf

logger = logging.getLogger(__name__)

ROOT: Final = Path(__file__).resolve().parent.parent

# What each step does, in the probe below; the order is the function's: the runtime client and
# the handler's imports are the init phase, the clients and first calls the first invocation.
STEPS: Final[Mapping[str, tuple[str, ...]]] = {
    "resize": (
        "interpreter",
        "awslambdaric",
        "botocore",
        "pillow",
        "handler",
        "s3 client",
        "dynamodb client",
        "dynamodb call",
        "s3 call",
    ),
    "ingest": (
        "interpreter",
        "awslambdaric",
        "botocore",
        "handler",
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
    """Each operation's expected answer: S3 by method, DynamoDB (JSON 1.0) an empty object."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(_OBJECT, {"ETag": '"e"', "Content-Type": "image/jpeg"})

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
def answering() -> Iterator[str]:
    """The answering server on 127.0.0.1, in a thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", help="measure inside this image (podman) instead of here")
    parser.add_argument("--repeat", type=int, default=5, help="processes per level (median)")
    parser.add_argument("--trace", action="store_true", help="list the data files loaded")
    parser.add_argument("functions", nargs="*", default=list(STEPS), metavar="FUNCTION")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    where = f"image {args.image}" if args.image else f"Python {sys.version.split()[0]} here"
    if args.image:
        ensure_podman_conf()  # podman's settings for these machines (infra/podman.py)
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
