"""The device client against a flaky network in front of the real ingest handler and moto."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from devstack.function_url import serve_in_thread, serving
from handlers import ingest
from handlers.device.sender import EXIT_SENT, EXIT_SPOOLED, ReadingClient
from handlers.readings import store as readings_store
from handlers.readings.schema import Reading
from tests.aws.conftest import ReadingsTable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def function_url(readings_table: ReadingsTable) -> Iterator[str]:
    with serving(lambda event: ingest.handler(event, None)) as url:
        yield url


class Faults:
    """What the network does to the next requests: one fault per request, then it recovers."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.queue: list[str] = []
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def next(self) -> str:
        with self.lock:
            fault = self.queue.pop(0) if self.queue else "pass"
            self.seen.append(fault)
            return fault


PASSED_HEADERS = ("content-type", "x-request-id", "retry-after")


@contextmanager
def flaky(upstream: str) -> Iterator[tuple[Faults, str]]:
    faults = Faults(upstream)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            fault = faults.next()
            if fault == "reset":  # connection dropped before any answer
                self.close_connection = True
                self.connection.close()
                return
            if fault in ("503", "429"):
                self._answer(int(fault), b'{"error": "busy"}', {"retry-after": "0"})
                return
            forwarded = urllib.request.Request(
                faults.upstream + self.path,
                data=body,
                method="POST",
                headers={"content-type": self.headers.get("content-type", "")},
            )
            try:
                with urllib.request.urlopen(forwarded, timeout=30) as response:
                    status, answer, headers = response.status, response.read(), response.headers
            except urllib.error.HTTPError as exc:
                status, answer, headers = exc.code, exc.read(), exc.headers
            if fault == "slow":  # stored upstream, but the answer comes too late
                time.sleep(1.0)
            # A transparent network: the function's own headers (its request id) pass through.
            passed = {k: v for k, v in headers.items() if k.lower() in PASSED_HEADERS}
            self._answer(status, answer, passed)

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in {**headers, "content-length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as url:
        yield faults, url


def reading(minute: int) -> Reading:
    return Reading(f"2026-11-21T08:{minute:02d}:00+01:00", minute % 2 == 0, 60.5 + minute, 64)


def client(url: str, tmp_path: Path) -> ReadingClient:
    return ReadingClient(
        url,
        spool_path=tmp_path / "spool.sqlite3",
        timeout=0.5,
        max_attempts=2,
        backoff=0.01,
        sign=False,
    )


def test_every_reading_arrives_exactly_once_after_the_network_recovers(
    function_url: str, readings_table: ReadingsTable, tmp_path: Path
) -> None:
    with flaky(function_url) as (faults, url):
        device = client(url, tmp_path)
        faults.queue = ["503", "reset", "slow", "429", "reset", "503", "slow", "reset"]
        reports = [device.send(reading(minute)) for minute in range(6)]
        assert any(report.error for report in reports)  # some sends met the outage
        assert len(faults.queue) == 0  # every fault was met

        final = device.flush()

    assert (final.pending, final.dropped, final.error) == (0, [], None)
    stored = [readings_store.from_item(item) for item in readings_table.items()]
    assert sorted(stored, key=lambda r: r.record_date) == [reading(m) for m in range(6)]


def test_a_long_backlog_goes_in_batches_oldest_first(
    function_url: str, readings_table: ReadingsTable, tmp_path: Path
) -> None:
    device = ReadingClient(
        function_url, spool_path=tmp_path / "spool.sqlite3", batch_size=20, sign=False
    )
    for minute in range(50):
        device.spool.add(reading(minute))
    report = device.flush()
    assert (report.sent, report.pending) == (50, 0)
    assert len(readings_table.items()) == 50


def test_invalid_readings_are_quarantined_and_the_rest_sent(
    function_url: str, readings_table: ReadingsTable, tmp_path: Path
) -> None:
    device = client(function_url, tmp_path)
    device.spool.add(reading(1))
    device.spool.add(Reading("2026-11-21T08:02:00Z", True, 500.0, 64))  # out of range
    device.spool.add(reading(3))
    report = device.flush()
    assert (report.sent, report.pending, len(report.dropped), len(report.quarantined)) == (
        2,
        0,
        0,
        1,
    )
    assert "2026-11-21T08:02:00Z" in report.quarantined[0]
    assert len(readings_table.items()) == 2


def test_the_spool_survives_a_restart_of_the_client_process(
    function_url: str, readings_table: ReadingsTable, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.sqlite3"
    down = "http://127.0.0.1:9"  # discard port: refused

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "handlers.device.client",
                "--spool",
                str(spool),
                "--no-sign",
                "--timeout",
                "1",
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )

    for minute, temperature in ((1, "65.2"), (2, "66.0")):
        queued = cli(
            "--url",
            down,
            "send",
            "--temperature",
            temperature,
            "--on",
            "--setpoint",
            "64",
            "--date",
            f"2026-11-21T08:0{minute}:00+01:00",
        )
        assert queued.returncode == EXIT_SPOOLED, queued.stderr  # spooled for later
    assert cli("pending").stdout.strip() == "2"

    flushed = cli("--url", function_url, "flush")
    assert flushed.returncode == EXIT_SENT, flushed.stderr
    assert cli("pending").stdout.strip() == "0"
    temperatures = sorted(item["Temperature"]["N"] for item in readings_table.items())
    assert temperatures == ["65.2", "66.0"]


def test_requests_are_signed_for_lambda_when_credentials_are_configured(
    aws_env: str, tmp_path: Path
) -> None:
    seen: list[dict[str, str]] = []

    def record(event: dict[str, Any]) -> dict[str, object]:
        seen.append(event["headers"])
        request_id = event["requestContext"]["requestId"]  # answered as the function answers
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-request-id": request_id},
            "body": json.dumps({"stored": 1, "request_id": request_id}),
        }

    with serving(record) as url:
        device = ReadingClient(url, spool_path=tmp_path / "spool.sqlite3", region="eu-west-2")
        assert device.send(reading(1)).sent == 1

    authorization = seen[0]["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-2/lambda/aws4_request" in authorization
    assert "x-amz-date" in seen[0] and "x-amz-security-token" in seen[0]


def test_region_is_read_from_the_function_url_host(aws_env: str, tmp_path: Path) -> None:
    device = ReadingClient(
        "https://abc123.lambda-url.ap-southeast-2.on.aws/", spool_path=tmp_path / "spool.sqlite3"
    )
    headers = device.transport.headers(b"{}")
    assert "/ap-southeast-2/lambda/aws4_request" in headers["Authorization"]
