"""The ingest function's batch write rate: one POST of N readings through the ingest handler,
its resend (every reading a duplicate), and the same readings as one conditional PutItem each,
against moto's server in another process, so the CPU measured is the function's alone.

python -m bench.ingest_batch [--readings 2000]

Lambda gives a function memory/1,769 MB of a vCPU, so the CPU time measured on one full core is
modelled at 128 and 256 MB by that share (docs/ingest.md, "Batch size and timeout").
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from devstack.cgroups import FULL_VCPU_MB

MEMORY_SIZES = (128, 256)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server (transactions made linear, as the embedded stack runs it) in a process of
    its own; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "from devstack import moto_transactions; moto_transactions.install(); "
        f"from moto.server import main; main(['-p', '{port}'])"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port)).close()
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def readings(count: int, year: int = 2026) -> list[dict[str, Any]]:
    """``count`` readings a minute apart."""
    return [
        {
            "record_date": f"{year}-{1 + i // 40320:02d}-{1 + i // 1440 % 28:02d}"
            f"T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            "thermostat_on": i % 2 == 0,
            "temperature": 20.5,
            "thermostat_value": 20,
        }
        for i in range(count)
    ]


def measured(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``run``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=2000, help="readings in the batch")
    count = parser.parse_args().readings
    with moto_server() as endpoint:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        from devstack.resources import create_resources
        from handlers import ingest
        from handlers.readings import store
        from handlers.readings.schema import parse_reading

        table = create_resources().readings_table  # the table ingest writes by default

        def post(body: list[dict[str, Any]]) -> None:
            event = {
                "version": "2.0",
                "rawPath": "/",
                "headers": {"content-type": "application/json"},
                "body": json.dumps(body),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "http": {"method": "POST", "path": "/"},
                },
            }
            with contextlib.redirect_stdout(io.StringIO()):  # the function's log lines
                answer = ingest.handler(event, None)
            assert answer["statusCode"] in (200, 201), answer

        post(readings(1))  # warm: the client made, the models loaded
        batch = readings(count)
        parsed = [parse_reading(reading) for reading in readings(count, 2027)]  # other keys
        runs = {
            "one POST, transactions of 100": lambda: post(batch),
            "its resend (all duplicates)": lambda: post(batch),
            "one PutItem each": lambda: [store.put_reading(table, r) for r in parsed],
        }
        print(f"{count} readings; CPU of the function's process on one full core, and modelled")
        print(f"{'path':32} {'wall s':>7} {'CPU s':>7} {'ms/reading':>10}", end="")
        print("".join(f" {f'{mb} MB: s, /s':>17}" for mb in MEMORY_SIZES))
        for name, run in runs.items():
            wall, cpu = measured(run)
            modelled = "".join(
                f" {cpu * FULL_VCPU_MB / mb:8.1f} {count / (cpu * FULL_VCPU_MB / mb):8.0f}"
                for mb in MEMORY_SIZES
            )
            print(f"{name:32} {wall:7.2f} {cpu:7.3f} {cpu / count * 1000:10.3f}{modelled}")


if __name__ == "__main__":
    main()
