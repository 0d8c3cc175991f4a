"""The device side: post thermostat readings to the ingest Function URL, losing none.

Every reading is validated with the function's own schema (handlers.readings.schema: a reading the
table
could not store is refused here, before it is spooled), written to a durable local spool (SQLite,
0600 in a folder created 0700), then the spool is sent oldest first, in batches.

Only the function's own answer removes a reading from the spool: a JSON object whose
``request_id`` matches the ``x-request-id`` header the function sets. A reading leaves when that
answer says it is stored (or was already), or refuses it as invalid or conflicting (logged).
Anything else keeps every reading for the next ``send`` or ``flush``, and the report says why:
network errors, timeouts, 429 and 5xx (retried first, with backoff), a cut-short body, and any
answer that is not the function's (a captive portal's redirect or login page, a proxy's 200 HTML,
an intermediary's 400 or 413 page). Redirects are never followed, so a signed request goes to
the configured origin only.

Requests are signed with SigV4 (service ``lambda``) through botocore when AWS credentials are
configured, as an IAM-auth Function URL needs; signing is refused over plain ``http://`` except to
loopback (127.0.0.0/8, ::1, localhost). The read routes are fetched the same way, signed too:

    python -m handlers.device.client send --temperature 65.2 --on --setpoint 64 [--url URL]
    python -m handlers.device.client flush [--url URL]
    python -m handlers.device.client pending
    python -m handlers.device.client summary --day 2026-11-21 [--tz Europe/London] [--gap-minutes
    15]
    python -m handlers.device.client summary --from 2026-11-01 --to 2026-11-30
    python -m handlers.device.client chart --day 2026-11-21 --out day.svg [--tz Europe/London]

Exit codes of ``send`` and ``flush``, for a cron job to act on:

    0   every reading is sent: the spool is empty
    1   the function refused some readings for good (invalid, or a different reading is stored
        at that time): they were dropped and logged; the rest were sent or stay spooled
    2   usage: bad arguments, or the reading given to ``send`` is invalid (nothing spooled)
    75  readings stay spooled for later (EX_TEMPFAIL): the function unreachable or busy, or
        something else answered; the next send or flush retries
    78  readings stay spooled, and retrying will not help until the configuration changes
        (EX_CONFIG): 401/403/404, or signing refused over plain HTTP
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import logging
import os
import re
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from functools import cached_property
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

from handlers.common.errors import InvalidReading
from handlers.common.retry import full_jitter
from handlers.readings.schema import Reading, parse_reading

logger = logging.getLogger(__name__)

DEFAULT_SPOOL: Final = Path.home() / ".local" / "state" / "thumbstat" / "spool.sqlite3"
_REGION_IN_URL: Final = re.compile(r"\.lambda-url\.([a-z0-9-]+)\.on\.aws")
_INDEXED_FIELD: Final = re.compile(r"\[(\d+)\]\.")

EXIT_SENT: Final = 0
EXIT_REFUSED: Final = 1
EXIT_SPOOLED: Final = 75  # sysexits.h EX_TEMPFAIL
EXIT_CONFIG: Final = 78  # sysexits.h EX_CONFIG
# Problems a flush can stop at; every one of them keeps the readings spooled.
UNAVAILABLE: Final = "unavailable"
NOT_THE_FUNCTION: Final = "not-the-function"
CONFIGURATION: Final = "configuration"
_CONFIGURATION_STATUSES: Final = frozenset({401, 403, 404})


class Unavailable(Exception):
    """The function could not be reached, or answered 429/5xx, after every attempt."""


class Misconfigured(Exception):
    """The client refuses to send as configured (credentials over plain HTTP, a URL that is not
    http(s)); retrying will not help."""


@dataclass
class FlushReport:
    sent: int = 0
    dropped: list[str] = field(default_factory=list)  # record_date: why
    pending: int = 0
    error: str | None = None
    problem: str | None = None  # UNAVAILABLE, NOT_THE_FUNCTION or CONFIGURATION, with error

    def stop(self, problem: str, error: str) -> None:
        self.problem, self.error = problem, error

    @property
    def exit_code(self) -> int:
        """The command's exit status (module docstring)."""
        if self.dropped:
            return EXIT_REFUSED
        if self.pending:
            return EXIT_CONFIG if self.problem == CONFIGURATION else EXIT_SPOOLED
        return EXIT_SENT


@dataclass(frozen=True)
class Answer:
    """What came back over HTTP, from the function or from whatever stood in its way."""

    status: int
    content_type: str
    body: bytes
    request_id: str = ""  # the x-request-id header
    location: str = ""  # the Location header of a redirect (never followed)

    def from_function(self) -> dict[str, Any] | None:
        """The function's JSON answer, or None when something else answered: the function sets
        ``x-request-id`` and the same ``request_id`` in its JSON body, on every answer."""
        if not self.request_id:
            return None
        parsed = _json(self.body)
        return parsed if parsed.get("request_id") == self.request_id else None

    def describe(self) -> str:
        text = f"HTTP {self.status} ({self.content_type or 'no content type'})"
        if self.location:
            text += f" redirecting to {self.location[:200]} (not followed)"
        return text


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would resend the Authorization and X-Amz-* headers to
    wherever it points (and turn a POST into a GET). The 3xx is answered as it is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Spool:
    """A durable FIFO of readings waiting to be sent."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        # Readings and their times are the owner's business: the folder, when created here, is
        # 0700 (its parents get the defaults, as mkdir -p); the file is created 0600 and
        # tightened to it if found looser. SQLite creates -wal and -shm with the file's mode.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a reading survives a power cut
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " body TEXT NOT NULL, queued_at REAL NOT NULL)"
        )

    def add(self, reading: Reading) -> None:
        """Spool as it is (``ReadingClient.send`` validates first)."""
        self._db.execute(
            "INSERT INTO spool (body, queued_at) VALUES (?, ?)",
            (json.dumps(reading.to_json()), time.time()),
        )

    def oldest(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self._db.execute("SELECT id, body FROM spool ORDER BY id LIMIT ?", (limit,))
        return [(row_id, json.loads(body)) for row_id, body in rows]

    def delete(self, ids: Sequence[int]) -> None:
        self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class ReadingClient:
    def __init__(
        self,
        url: str,
        *,
        spool_path: Path | str | None = None,
        timeout: float = 5.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        batch_size: int = 500,
        sign: bool | None = None,
        region: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self._spool_path = spool_path
        self.timeout, self.max_attempts = timeout, max_attempts
        self.backoff, self.max_backoff = backoff, max_backoff
        self.batch_size = batch_size
        self._sign, self._region = sign, region
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirects)

    @cached_property
    def spool(self) -> Spool:
        """Opened on first use: fetching a summary or a chart needs no spool."""
        return Spool(self._spool_path or os.environ.get("THUMBSTAT_SPOOL") or DEFAULT_SPOOL)

    def send(self, reading: Reading) -> FlushReport:
        """Validate and spool the reading, then send everything pending, oldest first.

        Raises InvalidReading, spooling nothing, for a reading the function would refuse.
        """
        self.spool.add(parse_reading(reading.to_json()))
        return self.flush()

    def flush(self) -> FlushReport:
        report = FlushReport()
        batch_size = self.batch_size
        while rows := self.spool.oldest(batch_size):
            ids = [row_id for row_id, _ in rows]
            bodies = [body for _, body in rows]
            try:
                answer = self._post(bodies[0] if len(bodies) == 1 else bodies)
            except Unavailable as exc:
                report.stop(UNAVAILABLE, str(exc))
                break
            except Misconfigured as exc:
                report.stop(CONFIGURATION, str(exc))
                break
            status = answer.status
            if status == 413 and len(rows) > 1:
                # Whoever refused the size, smaller batches drop nothing.
                batch_size = max(1, len(rows) // 2)
                continue
            own = answer.from_function()
            if own is None:
                problem = CONFIGURATION if status in _CONFIGURATION_STATUSES else NOT_THE_FUNCTION
                report.stop(
                    problem,
                    f"{answer.describe()} is not the function's answer (no matching request "
                    f"id): the {len(self.spool)} readings stay spooled",
                )
                logger.warning("%s", report.error)
                break
            if 200 <= status < 300 or status in (400, 409, 413, 422):
                refused = self._refused(status, own, len(rows))
                for index in refused:
                    why = f"{bodies[index].get('record_date')}: {status} {own.get('error')}"
                    logger.warning(
                        "dropping reading the function refused: %s %s",
                        why,
                        own.get("details", ""),
                    )
                    report.dropped.append(why)
                if status == 422 and refused != set(range(len(rows))):
                    self.spool.delete([ids[i] for i in refused])
                    continue  # resend the valid rest
                self.spool.delete(ids)
                report.sent += len(rows) - len(refused)
                continue
            # 401, 403, 404, ...: a configuration problem; the readings stay.
            report.stop(CONFIGURATION, f"the function answered {status}: {own.get('error', own)}")
            break
        report.pending = len(self.spool)
        return report

    @staticmethod
    def _refused(status: int, answer: dict[str, Any], count: int) -> set[int]:
        """Which of the sent readings the function refused for good."""
        if 200 <= status < 300:
            return set()
        if count > 1 and status == 409:
            conflicts = answer.get("conflicts", [])
            return {i for i in conflicts if isinstance(i, int) and 0 <= i < count}
        if count > 1 and status == 422:
            indexes = {
                int(m.group(1))
                for key in answer.get("details", {})
                if (m := _INDEXED_FIELD.match(key))
            }
            return {i for i in indexes if i < count} or set(range(count))
        return set(range(count))

    def get(self, path: str, query: Mapping[str, str]) -> tuple[int, str, bytes]:
        """GET a read route (``/summary``, ``/chart``, ``/readings``), signed as ``send`` is:
        the status, content type and body. Raises Unavailable as ``send`` would retry, and
        Misconfigured as ``send`` would refuse."""
        url = self.url + path.lstrip("/")
        if query:
            url += "?" + urlencode(query, quote_via=quote)  # %20, not +: SigV4's encoding
        answer = self._request("GET", url, b"")
        return answer.status, answer.content_type, answer.body

    def _post(self, payload: Any) -> Answer:
        return self._request("POST", self.url, json.dumps(payload).encode())

    def _request(self, method: str, url: str, body: bytes) -> Answer:
        problem = "no attempt"
        for attempt in range(self.max_attempts):
            retry_after: float | None = None
            request = urllib.request.Request(
                url,
                data=body if method == "POST" else None,
                method=method,
                headers=self._headers(body, method, url),  # raises Misconfigured
            )
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    return _answer(response.status, response.headers, response.read())
            except urllib.error.HTTPError as exc:
                with exc:
                    try:
                        data = exc.read()
                    except (http.client.HTTPException, OSError) as cut:
                        data, problem = None, f"HTTP {exc.code}, then {type(cut).__name__}"
                if data is not None:
                    if exc.code != 429 and exc.code < 500:
                        return _answer(exc.code, exc.headers, data)
                    problem = f"HTTP {exc.code}"
                    retry_after = _seconds(exc.headers.get("retry-after"))
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # Refused, reset, timed out; or a body cut short (IncompleteRead): the function
                # may have stored the readings, and resending them is answered "duplicate".
                problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            logger.info("attempt %d of %d failed: %s", attempt + 1, self.max_attempts, problem)
            if attempt + 1 < self.max_attempts:
                delay = retry_after or full_jitter(attempt, self.backoff)
                self._sleep(min(delay, self.max_backoff))
        raise Unavailable(f"{problem} after {self.max_attempts} attempts")

    def _headers(self, body: bytes, method: str = "POST", url: str | None = None) -> dict[str, str]:
        target = url or self.url
        if urlsplit(target).scheme not in ("http", "https"):
            raise Misconfigured(f"{target[:100]!r}: the Function URL must be https:// (or http://)")
        headers = {"content-type": "application/json"} if method == "POST" else {}
        if self._sign is False:
            return headers
        import botocore.session  # only devices that sign pay for botocore's import
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = botocore.session.get_session()
        credentials = session.get_credentials()
        if credentials is None:
            if self._sign:
                raise Unavailable("signing was asked for but no AWS credentials are configured")
            self._sign = False  # look once, not on every request
            return headers
        if not _may_carry_credentials(target):
            raise Misconfigured(
                f"refusing to sign a request to {urlsplit(target).netloc} over plain HTTP: "
                "credentials go over https:// only (or to loopback); use the https:// URL, or "
                "--no-sign for a URL without IAM auth"
            )
        match = _REGION_IN_URL.search(self.url)
        region = (
            self._region
            or (match.group(1) if match else None)
            or session.get_config_variable("region")
            or "us-east-1"
        )
        request = AWSRequest(method=method, url=target, data=body, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
        return dict(request.headers.items())

    def close(self) -> None:
        if "spool" in self.__dict__:
            self.spool.close()


def _may_carry_credentials(url: str) -> bool:
    """https://, or http:// to this machine (the local stack, the tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _answer(status: int, headers: Message, body: bytes) -> Answer:
    return Answer(
        status,
        headers.get_content_type() if headers.get("content-type") else "",
        body,
        request_id=str(headers.get("x-request-id") or ""),
        location=str(headers.get("location") or ""),
    )


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return {"error": data[:200].decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"answer": parsed}


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def now_rfc3339() -> str:
    """Local time with its offset, as the original device sent it (plus the offset)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handlers.device.client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("THUMBSTAT_URL"),
        help="the ingest Function URL (default: $THUMBSTAT_URL)",
    )
    parser.add_argument(
        "--spool", help=f"spool file (default: $THUMBSTAT_SPOOL or {DEFAULT_SPOOL})"
    )
    parser.add_argument("--no-sign", action="store_true", help="never sign requests")
    parser.add_argument("--timeout", type=float, default=5.0)
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="spool one reading and send all pending")
    send.add_argument("--temperature", required=True)
    state = send.add_mutually_exclusive_group(required=True)
    state.add_argument("--on", dest="thermostat_on", action="store_true")
    state.add_argument("--off", dest="thermostat_on", action="store_false")
    send.add_argument("--setpoint", required=True, help="the thermostat value (0-65535)")
    send.add_argument("--date", help="RFC 3339 timestamp (default: now, local time)")
    commands.add_parser("flush", help="send all pending readings")
    commands.add_parser("pending", help="count the readings waiting in the spool")
    summary = commands.add_parser("summary", help="print the summary of a day or days (JSON)")
    summary.add_argument("--day", help="YYYY-MM-DD")
    summary.add_argument("--from", dest="first", help="first day of a range, YYYY-MM-DD")
    summary.add_argument("--to", dest="last", help="last day of a range (at most 31 days)")
    chart = commands.add_parser("chart", help="save a day's chart as SVG")
    chart.add_argument("--day", required=True, help="YYYY-MM-DD")
    chart.add_argument("--out", required=True, type=Path, help="the SVG file to write")
    for reader in (summary, chart):
        reader.add_argument("--tz", help="IANA time zone of the days and labels (default: UTC)")
        reader.add_argument("--gap-minutes", help="silences longer than this are gaps (15)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    if args.command != "pending" and not args.url:
        parser.error("give the Function URL with --url or THUMBSTAT_URL")
    if args.command == "summary" and not (args.day or (args.first and args.last)):
        parser.error("give --day, or --from and --to")
    client = ReadingClient(
        args.url or "http://unused",
        spool_path=args.spool,
        timeout=args.timeout,
        sign=False if args.no_sign else None,
    )
    try:
        if args.command in ("summary", "chart"):
            return _fetch(client, args)
        if args.command == "pending":
            sys.stdout.write(f"{len(client.spool)}\n")
            return 0
        if args.command == "send":
            try:
                reading = parse_reading(
                    {
                        "record_date": args.date or now_rfc3339(),
                        "thermostat_on": args.thermostat_on,
                        "temperature": args.temperature,
                        "thermostat_value": args.setpoint,
                    }
                )
            except InvalidReading as exc:
                parser.error(str(exc))
            report = client.send(reading)
        else:
            report = client.flush()
    finally:
        client.close()
    sys.stdout.write(json.dumps(report.__dict__) + "\n")
    return report.exit_code  # module docstring: 0 sent, 1 refused, 75 spooled, 78 configuration


def _fetch(client: ReadingClient, args: argparse.Namespace) -> int:
    """summary and chart: GET the route, signed; print the summary or save the chart."""
    given = {
        "day": args.day,
        "from": getattr(args, "first", None),
        "to": getattr(args, "last", None),
        "tz": args.tz,
        "gap_minutes": args.gap_minutes,
    }
    query = {name: value for name, value in given.items() if value}
    try:
        status, content_type, data = client.get(f"/{args.command}", query)
    except Unavailable as exc:
        sys.stderr.write(f"the function could not be reached: {exc}\n")
        return 1
    except Misconfigured as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if status != 200:
        sys.stderr.write(f"the function answered {status}: {_json(data).get('error', '')}\n")
        return 1
    if args.command == "summary":
        sys.stdout.write(json.dumps(_json(data), indent=2) + "\n")
        return 0
    if content_type != "image/svg+xml":
        sys.stderr.write(f"expected an SVG chart, got {content_type}\n")
        return 1
    args.out.write_bytes(data)
    sys.stdout.write(json.dumps({"chart": str(args.out), "bytes": len(data)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
