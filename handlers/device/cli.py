"""The thermostat's command line, ``thumbstat-client`` (also ``python -m handlers.device``): spool
and send readings to the ingest Function URL losing none (handlers.device.sender), and fetch the
read routes the same way, signed.

Output: ``send`` and ``flush`` print their report as one JSON line on stdout; every failure is one
line on stderr saying what to do, and the exit code is ``ExitCode`` (handlers.device.exits), the
table in docs/device-client.md. The help texts are plain text: they are read on a terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from handlers.common.errors import InvalidReading
from handlers.device.clock import BUILD_DATE
from handlers.device.exits import MEANING, ExitCode
from handlers.device.sender import (
    BUSY,
    CONFIGURATION,
    CONFIGURATION_STATUSES,
    NOT_THE_FUNCTION,
    SPOOL,
    UNAVAILABLE,
    FlushReport,
    ReadingClient,
)
from handlers.device.spool import DEFAULT_SPOOL, QUARANTINE_TABLE, SpoolUnwritable, spool_path
from handlers.device.transport import Answer, Misconfigured, Unavailable
from handlers.readings.schema import Reading, parse_reading

PROG = "thumbstat-client"


def _exit_codes() -> str:
    """ExitCode's meanings, wrapped for a terminal."""
    return "\n".join(
        textwrap.fill(
            meaning, width=96, initial_indent=f"  {code.value:<4}", subsequent_indent=" " * 6
        )
        for code, meaning in MEANING.items()
    )


DESCRIPTION = f"""\
Spool thermostat readings and send them to the ingest Function URL, losing none; fetch a day's
summary or chart. Requests are signed with SigV4 when AWS credentials are configured (https://,
or plain http:// to this machine only). "python -m handlers.device" is the same command.

examples:
  {PROG} send --temperature 65.2 --on --setpoint 64
  {PROG} flush
  {PROG} summary --day 2026-11-21 --tz Europe/London
  {PROG} chart --day 2026-11-21 --out day.svg

exit codes:
{_exit_codes()}"""


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors on one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def now_rfc3339() -> str:
    """Local time with its offset, as the original device sent it (plus the offset)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("THUMBSTAT_URL"),
        help="the ingest Function URL (default: $THUMBSTAT_URL)",
    )
    parser.add_argument(
        "--spool", help=f"the spool file (default: $THUMBSTAT_SPOOL or {DEFAULT_SPOOL})"
    )
    parser.add_argument("--no-sign", action="store_true", help="never sign requests")
    parser.add_argument("--profile", help="the AWS profile to sign with (default: $AWS_PROFILE)")
    parser.add_argument(
        "--region", help="the region to sign for (default: the URL's, else the profile's)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds per request attempt (5)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every attempt")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    send = commands.add_parser(
        "send",
        help="spool one reading and send all pending",
        description="Spool one reading "
        "and send everything pending, oldest first. Prints the report as JSON.",
    )
    send.add_argument("--temperature", required=True, help="degrees, as the thermostat reads")
    state = send.add_mutually_exclusive_group(required=True)
    state.add_argument("--on", dest="thermostat_on", action="store_true", help="the heating is on")
    state.add_argument(
        "--off", dest="thermostat_on", action="store_false", help="the heating is off"
    )
    send.add_argument("--setpoint", required=True, help="the thermostat value (0 to 65535)")
    send.add_argument("--date", help="RFC 3339 timestamp (default: now, local time)")
    commands.add_parser(
        "flush",
        help="send all pending readings",
        description="Send every spooled reading, oldest first. Prints the report as JSON.",
    )
    commands.add_parser(
        "pending",
        help="count the readings waiting in the spool",
        description="Print how many readings wait in the spool.",
    )
    summary = commands.add_parser(
        "summary",
        help="print the summary of a day or days",
        description="Print a day's figures: readings, temperatures, setpoints, heating minutes "
        "and share, gaps.",
    )
    summary.add_argument("--day", help="YYYY-MM-DD")
    summary.add_argument("--from", dest="first", help="first day of a range, YYYY-MM-DD")
    summary.add_argument("--to", dest="last", help="last day of a range (at most 31 days)")
    summary.add_argument("--json", action="store_true", help="print the function's JSON answer")
    chart = commands.add_parser(
        "chart",
        help="save a day's chart as SVG",
        description="Save a day's chart as an SVG file; prints the file and its size as JSON.",
    )
    chart.add_argument("--day", required=True, help="YYYY-MM-DD")
    chart.add_argument("--out", required=True, type=Path, help="the SVG file to write")
    for reader in (summary, chart):
        reader.add_argument("--tz", help="IANA time zone of the days and labels (default: UTC)")
        reader.add_argument("--gap-minutes", help="silences longer than this are gaps (15)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    usage = build_parser()
    args = usage.parse_args(argv)
    # The library logs what happened; the command says it once, on stderr, below.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(message)s",
    )
    if args.command != "pending" and not args.url:
        usage.error("give the Function URL with --url or THUMBSTAT_URL")
    if args.command == "summary" and not (args.day or (args.first and args.last)):
        usage.error("give --day, or --from and --to")
    client = ReadingClient(
        args.url or "http://unused",
        spool_path=args.spool,
        timeout=args.timeout,
        sign=False if args.no_sign else None,
        region=args.region,
        profile=args.profile,
    )
    try:
        if args.command in ("summary", "chart"):
            return _fetch(client, args)
        if args.command == "pending":
            return _pending(client)
        reading = _reading(usage, args) if args.command == "send" else None
        report = client.send(reading) if reading else client.flush()
    finally:
        client.close()
    sys.stdout.write(json.dumps(report.__dict__) + "\n")
    for line in advice(report, spool_path(args.spool)):
        sys.stderr.write(f"{PROG}: {line}\n")
    return report.exit_code


def advice(report: FlushReport, spool: Path) -> list[str]:
    """One line per failure in the report, each saying what to do."""
    lines = []
    if report.moved_aside:
        lines.append(
            f"the spool was damaged: moved aside to {report.moved_aside} (kept for inspection), "
            "a fresh spool started; sqlite3 FILE .recover reads back what it held"
        )
    if report.quarantined:
        lines.append(
            f"quarantined {_count(len(report.quarantined), 'spooled row')} holding no valid "
            f"reading, in the {QUARANTINE_TABLE} table of {spool} ({report.quarantined[0]}): "
            "inspect them there"
        )
    if report.dropped:
        lines.append(
            f"the function refused {_count(len(report.dropped), 'reading')} for good, "
            f"dropped ({report.dropped[0]}): check the device's readings"
        )
    if report.clock_suspect:
        lines.append(
            f"{_count(report.clock_suspect, 'reading')} taken while the clock was obviously wrong "
            f"(before {BUILD_DATE:%Y-%m-%d}, or earlier than a reading already taken): kept, "
            "flagged clock_suspect; check the clock (NTP)"
        )
    if not report.kept:
        lines.append(
            f"the reading was NOT kept: the spool cannot be written ({report.unspooled}) and "
            f"the function did not take it ({report.error}); free space for {spool} (or fix its "
            "permissions), then retry"
        )
        return lines
    if report.unspooled:
        lines.append(
            f"the spool cannot be written ({report.unspooled}): this reading was sent directly "
            f"and stored; free space for {spool} (or fix its permissions) before the "
            "function is next unreachable"
        )
        return lines
    pending = f"{_count(report.pending, 'reading')} spooled"
    if report.problem == BUSY:
        lines.append(f"{report.error}: {pending}, for that run or the next")
    elif report.problem == UNAVAILABLE:
        lines.append(f"the function could not be reached ({report.error}): {pending}; retry")
    elif report.problem == NOT_THE_FUNCTION:
        lines.append(
            f"something other than the function answered ({report.error}): check the "
            "network (a captive portal, a proxy) and the URL; readings stay spooled"
        )
    elif report.problem == CONFIGURATION:
        lines.append(f"{report.error}: {pending}; fix the URL, the profile, credentials or region")
    elif report.problem == SPOOL:
        lines.append(
            f"the spool cannot be used ({report.error}): {pending}; free space or fix permissions"
        )
    return lines


def _pending(client: ReadingClient) -> int:
    try:
        count = len(client.spool)
    except SpoolUnwritable as exc:
        sys.stderr.write(
            f"{PROG}: the spool cannot be opened ({exc}): free space or fix permissions, retry\n"
        )
        return ExitCode.TEMPFAIL
    sys.stdout.write(f"{count}\n")
    if client.spool.moved_aside:
        for line in advice(FlushReport(moved_aside=str(client.spool.moved_aside)), Path()):
            sys.stderr.write(f"{PROG}: {line}\n")
        return ExitCode.SET_ASIDE
    return ExitCode.SENT


def _reading(usage: argparse.ArgumentParser, args: argparse.Namespace) -> Reading:
    """The reading ``send`` was given; an invalid one is a usage error (exit 2)."""
    try:
        return parse_reading(
            {
                "record_date": args.date or now_rfc3339(),
                "thermostat_on": args.thermostat_on,
                "temperature": args.temperature,
                "thermostat_value": args.setpoint,
            }
        )
    except InvalidReading as exc:
        usage.error(str(exc))


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
        answer = client.transport.get(f"/{args.command}", query)
    except Unavailable as exc:
        return _fail(ExitCode.TEMPFAIL, f"the function could not be reached ({exc}): retry later")
    except Misconfigured as exc:
        return _fail(ExitCode.CONFIG, f"{exc}: fix the URL, the profile, credentials or region")
    return _show(answer, args)


def _show(answer: Answer, args: argparse.Namespace) -> int:
    """The exit code for the function's answer to a summary or chart, after saying it."""
    wording = answer.json().get("error") or answer.json().get("Message") or answer.describe()
    if answer.status in CONFIGURATION_STATUSES:
        return _fail(
            ExitCode.CONFIG,
            f"refused: {answer.status}: {wording}; fix the URL, the profile, credentials or region",
        )
    own = answer.from_function() if answer.content_type == "application/json" else None
    if args.command == "chart" and answer.status == 200 and _is_chart(answer):
        args.out.write_bytes(answer.body)
        sys.stdout.write(json.dumps({"chart": str(args.out), "bytes": len(answer.body)}) + "\n")
        return ExitCode.SENT
    if own is None:
        return _fail(
            ExitCode.TEMPFAIL,
            f"something other than the function answered ({answer.describe()}): check the "
            "network (a captive portal, a proxy) and the URL, then retry",
        )
    if answer.status != 200:
        return _fail(
            ExitCode.SET_ASIDE, f"the function refused the request: {answer.status}: {wording}"
        )
    if args.command == "chart":  # the function's JSON where an SVG was asked for
        return _fail(ExitCode.TEMPFAIL, f"expected an SVG chart, got {answer.describe()}: retry")
    if args.json:
        sys.stdout.write(json.dumps(own, indent=2) + "\n")
    else:
        sys.stdout.write(summary_text(own))
    return ExitCode.SENT


def _is_chart(answer: Answer) -> bool:
    """The function's SVG: an SVG carrying the request id the function sets on every answer."""
    return answer.content_type == "image/svg+xml" and bool(answer.request_id)


def _fail(code: ExitCode, line: str) -> int:
    sys.stderr.write(f"{PROG}: {line}\n")
    return code


def summary_text(answer: dict[str, Any]) -> str:
    """The function's summary answer for a person: each figure with its unit."""
    zone = answer.get("tz", "UTC")
    lines = []
    for day in answer.get("days", []):
        count = day.get("count", 0)
        lines.append(f"{day.get('day')} ({zone}): {_count(count, 'reading')}")
        if count:
            lines.append(
                f"  temperature {_number(day['temperature_min'])}° to "
                f"{_number(day['temperature_max'])}°, mean {_number(day['temperature_mean'])}°"
            )
            setpoints = ", ".join(str(value) for value in day.get("setpoints", []))
            lines.append(f"  setpoint {setpoints}")
        share = day.get("heating_share")
        lines.append(
            f"  heating {_number(day.get('heating_minutes', 0))} minutes of "
            f"{_number(day.get('known_minutes', 0))} known minutes"
            + (f" ({_number(round(share * 100, 1))}%)" if share is not None else "")
        )
        gaps = day.get("gaps", [])
        over = f"over {_number(answer.get('gap_minutes', 15))} minutes"
        if not gaps:
            lines.append(f"  no gaps {over}")
        for gap in gaps:
            lines.append(
                f"  gap {over}: {gap['from'][11:16]} to {gap['to'][11:16]} "
                f"({_number(gap['minutes'])} minutes)"
            )
    return "".join(f"{line}\n" for line in lines)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _number(value: float | int | None) -> str:
    """12, 12.5, 12.25: no trailing zeros; '?' for a figure the answer lacks."""
    if value is None:
        return "?"
    return f"{value:.2f}".rstrip("0").rstrip(".")
