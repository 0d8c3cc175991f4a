"""Issue 14, device client: only the function's own answer removes a reading from the spool, and
credentials never leave for another origin. The real client over real HTTP on 127.0.0.1, through
a server that misbehaves as captive portals, proxies and intermediaries do, in front of the real
ingest handler and moto.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.function_url import serve_in_thread, serving
from handlers import ingest
from handlers.common.errors import InvalidReading
from handlers.device import cli as device_cli
from handlers.device import transport
from handlers.device.sender import (
    CONFIGURATION,
    EXIT_CONFIG,
    EXIT_REFUSED,
    EXIT_SENT,
    EXIT_SPOOLED,
    NOT_THE_FUNCTION,
    UNAVAILABLE,
    ReadingClient,
)
from handlers.device.spool import Spool
from handlers.device.transport import Misconfigured
from handlers.readings.schema import Reading
from tests.aws.conftest import ReadingsTable

PASSED_HEADERS = ("content-type", "x-request-id", "retry-after")


@dataclass
class Scripted:
    """One answer the misbehaving server gives instead of the function's."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    cut: bool = False  # announce the whole body, send half, close


@dataclass
class Origin:
    """A server: what it was asked (method, path, headers), and what it answers."""

    url: str = ""
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    script: Scripted | None = None  # None: forward to upstream (a transparent network)
    cut_forwarded: bool = False  # forward, but cut the function's answer short
    upstream: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with origin.lock:
                origin.seen.append((self.command, self.path, dict(self.headers.items())))
            if origin.script is not None:
                s = origin.script
                self._answer(s.status, s.headers, s.body, cut=s.cut)
                return
            forwarded = urllib.request.Request(
                origin.upstream + self.path,
                data=body if self.command == "POST" else None,
                method=self.command,
                headers={"content-type": self.headers.get("content-type", "")},
            )
            try:
                with urllib.request.urlopen(forwarded, timeout=30) as response:
                    status, answer, headers = response.status, response.read(), response.headers
            except urllib.error.HTTPError as exc:
                status, answer, headers = exc.code, exc.read(), exc.headers
            passed = {k: v for k, v in headers.items() if k.lower() in PASSED_HEADERS}
            self._answer(status, passed, answer, cut=origin.cut_forwarded)

        do_GET = do_POST = _serve

        def _answer(self, status: int, headers: dict[str, str], body: bytes, cut: bool) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if cut else body)
            if cut:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def origin(upstream: str = "") -> Iterator[Origin]:
    served = Origin(upstream=upstream)
    with serve_in_thread(_handler(served)) as url:
        served.url = url
        yield served


@pytest.fixture
def function_url(readings_table: ReadingsTable) -> Iterator[str]:
    with serving(lambda event: ingest.handler(event, None)) as url:
        yield url


@pytest.fixture
def network(function_url: str) -> Iterator[Origin]:
    """What the device talks to: passes to the real function until given a script."""
    with origin(function_url) as served:
        yield served


@pytest.fixture
def elsewhere() -> Iterator[Origin]:
    """Another origin (another port): a login page; it must never see the device's requests."""
    with origin() as served:
        served.script = Scripted(
            200, {"content-type": "text/html"}, b"<html><form>Log in to the Wi-Fi</form></html>"
        )
        yield served


def reading(minute: int) -> Reading:
    return Reading(f"2026-11-21T08:{minute // 60:02d}:{minute % 60:02d}Z", True, 20.5, 20)


def device(url: str, tmp_path: Path, **options: Any) -> ReadingClient:
    settings = {"timeout": 2.0, "max_attempts": 1, "sign": False, **options}
    return ReadingClient(url, spool_path=tmp_path / f"{uuid.uuid4().hex}.sqlite3", **settings)


def spooled(client: ReadingClient, count: int) -> ReadingClient:
    for minute in range(count):
        client.spool.add(reading(minute))
    return client


HTML = {"content-type": "text/html; charset=utf-8"}
STAND_INS = {
    "captive-portal-302": lambda to: Scripted(302, {"location": f"{to}/login"}),
    "redirect-307": lambda to: Scripted(307, {"location": f"{to}/"}),
    "proxy-200-html": lambda to: Scripted(200, HTML, b"<html>Welcome to Free Wi-Fi</html>"),
    "intermediary-400-page": lambda to: Scripted(400, HTML, b"<h1>400 Bad Request</h1>"),
    "intermediary-413-page": lambda to: Scripted(413, HTML, b"<h1>413 Too Large</h1>"),
    "gateway-400-json": lambda to: Scripted(
        400, {"content-type": "application/json"}, b'{"message": "Bad Request"}'
    ),
    "201-without-request-id": lambda to: Scripted(
        201, {"content-type": "application/json"}, b'{"stored": 50, "request_id": "x"}'
    ),
}


@pytest.mark.parametrize("stand_in", list(STAND_INS), ids=list(STAND_INS))
def test_only_the_functions_own_answer_removes_readings(
    network: Origin,
    elsewhere: Origin,
    readings_table: ReadingsTable,
    tmp_path: Path,
    stand_in: str,
) -> None:
    """Was: 50 of 50 reported sent and deleted (portal, 200 HTML), or dropped as refused by the
    function (400, 413 pages)."""
    client = spooled(device(network.url, tmp_path), 50)
    network.script = STAND_INS[stand_in](elsewhere.url)

    report = client.flush()
    assert (report.sent, report.dropped, report.pending) == (0, [], 50)
    assert report.problem == NOT_THE_FUNCTION
    assert "not the function's answer" in str(report.error)
    assert "50 readings stay spooled" in str(report.error)
    assert report.exit_code == EXIT_SPOOLED
    assert elsewhere.seen == []  # no redirect followed

    network.script = None  # the network recovers
    report = client.flush()
    assert (report.sent, report.pending, report.exit_code) == (50, 0, EXIT_SENT)
    assert len(readings_table.items()) == 50


def test_a_2xx_cut_short_keeps_the_readings_and_raises_nothing(
    network: Origin, readings_table: ReadingsTable, tmp_path: Path
) -> None:
    """Was: http.client.IncompleteRead out of flush (exit 1)."""
    client = spooled(device(network.url, tmp_path), 20)
    network.cut_forwarded = True
    report = client.flush()  # the function stored them; its answer did not arrive whole
    assert (report.sent, report.pending, report.problem) == (0, 20, UNAVAILABLE)
    assert "IncompleteRead" in str(report.error)
    assert len(readings_table.items()) == 20

    network.cut_forwarded = False
    assert client.flush().sent == 20  # resent: answered as duplicates, so removed
    assert len(readings_table.items()) == 20


def test_a_signed_request_is_never_redirected_to_another_origin(
    aws_env: str, network: Origin, elsewhere: Origin, tmp_path: Path
) -> None:
    """Was: the 302 followed with Authorization, X-Amz-Date and X-Amz-Security-Token."""
    client = spooled(device(network.url, tmp_path, sign=None, region="us-east-1"), 3)
    for code in (301, 302, 303, 307, 308):
        network.script = Scripted(code, {"location": f"{elsewhere.url}/steal"})
        assert client.flush().pending == 3
        assert client.get("/summary", {"day": "2026-11-21"})[0] == code
    assert elsewhere.seen == []
    assert all("Authorization" in headers for _, _, headers in network.seen)


@pytest.mark.parametrize(
    ("url", "may"),
    [
        ("https://abc.lambda-url.eu-west-1.on.aws/", True),
        ("http://127.0.0.1:8080/", True),
        ("http://127.9.9.9/", True),
        ("http://localhost:8080/", True),
        ("http://[::1]:8080/", True),
        ("http://192.0.2.10/", False),
        ("http://abc.lambda-url.eu-west-1.on.aws/", False),
        ("http://127.0.0.1.example.com/", False),
        ("http://localhost.example.com/", False),
    ],
)
def test_credentials_go_over_https_or_to_loopback_only(
    aws_env: str, tmp_path: Path, url: str, may: bool
) -> None:
    client = device(url, tmp_path, sign=None)
    if may:
        assert "Authorization" in client.transport.headers(b"{}")
        return
    with pytest.raises(Misconfigured, match="refusing to sign"):
        client.transport.headers(b"{}")
    assert "Authorization" not in device(url, tmp_path, sign=False).transport.headers(b"{}")


def test_signing_over_plain_http_keeps_the_readings_and_says_what_to_do(
    aws_env: str, tmp_path: Path
) -> None:
    # TEST-NET-1: were a request attempted, the report would say timed out, not refused.
    client = spooled(device("http://192.0.2.10/", tmp_path, sign=None), 2)
    report = client.flush()
    assert (report.pending, report.problem, report.exit_code) == (2, CONFIGURATION, EXIT_CONFIG)
    assert "https://" in str(report.error) and "--no-sign" in str(report.error)


def test_a_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    report = spooled(device("file:///etc/passwd", tmp_path), 1).flush()
    assert (report.pending, report.problem) == (1, CONFIGURATION)


def test_the_spool_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """Was: 0644 in a 0755 folder."""
    path = tmp_path / "state" / "thumbstat" / "spool.sqlite3"
    previous = os.umask(0)
    try:
        spool = Spool(path)
        spool.add(reading(1))
        spool.add(reading(2))
    finally:
        os.umask(previous)
    files = [path, *path.parent.glob("spool.sqlite3-*")]
    assert {p.name for p in files} >= {"spool.sqlite3", "spool.sqlite3-wal"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    spool.close()

    loose = tmp_path / "loose.sqlite3"
    loose.touch(mode=0o644)
    os.chmod(loose, 0o644)
    Spool(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_an_unstorable_reading_is_refused_before_it_is_spooled(tmp_path: Path) -> None:
    client = device("http://127.0.0.1:9/", tmp_path)
    with pytest.raises(InvalidReading, match="1e-130"):
        client.send(Reading("2026-11-21T08:00:00Z", True, 1e-200, 20))
    assert len(client.spool) == 0


def test_an_unstorable_reading_already_spooled_does_not_block_the_rest(
    function_url: str, readings_table: ReadingsTable, tmp_path: Path
) -> None:
    """Was: 0 of the 100 readings behind it sent, flush after flush (500 for the batch)."""
    client = device(function_url, tmp_path)
    client.spool.add(Reading("2026-11-21T07:59:00Z", True, 1e-200, 20))  # an older client's
    spooled(client, 100)
    report = client.flush()
    assert (report.sent, len(report.quarantined), report.pending) == (100, 1, 0)
    assert "2026-11-21T07:59:00Z" in report.quarantined[0]
    assert report.exit_code == EXIT_REFUSED  # set aside for good: cron is told
    assert len(readings_table.items()) == 100


def cli(capsys: pytest.CaptureFixture[str], spool: Path, *args: str) -> tuple[int, str]:
    """The command in this process: its exit code and its report (the last line of stdout;
    the function served in this process writes its metric lines there too)."""
    code = device_cli.main(["--spool", str(spool), "--no-sign", "--timeout", "1", *args])
    return code, (capsys.readouterr().out.strip().splitlines() or [""])[-1]


def test_exit_codes_a_cron_job_can_act_on(
    function_url: str,
    readings_table: ReadingsTable,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "full_jitter", lambda attempt, base: 0.0)  # no waits
    spool = tmp_path / "spool.sqlite3"
    send = ["send", "--on", "--setpoint", "20"]
    at = ["--date", "2026-11-21T08:00:00Z"]

    down = ["--url", "http://127.0.0.1:9/"]  # refused: spooled for later
    assert cli(capsys, spool, *down, *send, "--temperature", "20", *at)[0] == EXIT_SPOOLED
    with pytest.raises(SystemExit) as usage:  # invalid: never spooled
        cli(capsys, spool, *down, *send, "--temperature", "1e-200", *at)
    assert usage.value.code == 2

    def forbidden(event: dict[str, Any]) -> dict[str, Any]:  # the Function URL's IAM check
        return {"statusCode": 403, "body": '{"Message": "Forbidden"}'}

    with serving(forbidden) as url:
        code, out = cli(capsys, spool, "--url", url, "flush")
    assert (code, json.loads(out)["problem"]) == (EXIT_CONFIG, CONFIGURATION)

    assert cli(capsys, spool, "--url", function_url, "flush")[0] == EXIT_SENT
    conflicting = ["--temperature", "25", *at]  # a different reading at the stored time
    code, out = cli(capsys, spool, "--url", function_url, *send, *conflicting)
    assert (code, len(json.loads(out)["dropped"])) == (EXIT_REFUSED, 1)
    assert len(readings_table.items()) == 1


# --- Generated: whatever answers, a reading leaves the spool only on the function's word.

STATUSES = [200, 201, 204, 301, 302, 303, 307, 400, 401, 403, 404, 409, 413, 422, 429, 500, 503]
answer_bodies = st.one_of(
    st.sampled_from([b"", b"<html>Sign in</html>", b'{"message": "Forbidden"}', b"[" * 5000]),
    st.fixed_dictionaries(
        {
            "stored": st.integers(0, 3),
            "conflicts": st.lists(st.integers(-1, 5), max_size=3),
            "details": st.dictionaries(
                st.sampled_from(["[0].temperature", "[9].x", "x"]), st.text()
            ),
        }
    ).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=50),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=st.sampled_from(STATUSES),
    content_type=st.sampled_from(["application/json", "text/html", ""]),
    body=answer_bodies,
    request_id=st.sampled_from(
        ["absent", "in the header only", "in the body only", "different", "matching"]
    ),
    cut=st.booleans(),
)
def test_an_answer_without_the_functions_request_id_never_removes_a_reading(
    network: Origin,
    tmp_path: Path,
    status: int,
    content_type: str,
    body: bytes,
    request_id: str,
    cut: bool,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    if request_id in ("in the header only", "different", "matching"):
        headers["x-request-id"] = "req-1"
    if request_id in ("in the body only", "different", "matching") and body.startswith(b"{"):
        answer = json.loads(body)
        answer["request_id"] = "req-2" if request_id == "different" else "req-1"
        body = json.dumps(answer).encode()
    network.script = Scripted(status, headers, body, cut=cut)
    client = spooled(device(network.url, tmp_path), 3)

    report = client.flush()  # never raises
    assert report.sent + len(report.dropped) + report.pending == 3
    own = request_id == "matching" and body.startswith(b"{") and not cut
    if not own:
        assert (report.sent, report.dropped, report.pending) == (0, [], 3)
        assert report.exit_code in (EXIT_SPOOLED, EXIT_CONFIG)
    client.close()
