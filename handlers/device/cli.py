"""The thermostat's command line: spool and send readings to the ingest Function URL, losing none
(handlers.device.sender), and fetch the read routes the same way, signed too:

    python -m handlers.device send --temperature 65.2 --on --setpoint 64 [--url URL]
    python -m handlers.device flush [--url URL]
    python -m handlers.device pending
    python -m handlers.device summary --day 2026-11-21 [--tz Europe/London] [--gap-minutes 15]
    python -m handlers.device summary --from 2026-11-01 --to 2026-11-30
    python -m handlers.device chart --day 2026-11-21 --out day.svg [--tz Europe/London]

(``python -m handlers.device.client`` is the same command.) Requests are signed with SigV4 when
AWS credentials are configured, over https:// or to loopback only (handlers.device.transport).

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
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from handlers.common.errors import InvalidReading
from handlers.device.sender import ReadingClient
from handlers.device.spool import DEFAULT_SPOOL
from handlers.device.transport import Misconfigured, Unavailable
from handlers.readings.schema import Reading, parse_reading


def now_rfc3339() -> str:
    """Local time with its offset, as the original device sent it (plus the offset)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m handlers.device",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    usage = build_parser()
    args = usage.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    if args.command != "pending" and not args.url:
        usage.error("give the Function URL with --url or THUMBSTAT_URL")
    if args.command == "summary" and not (args.day or (args.first and args.last)):
        usage.error("give --day, or --from and --to")
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
        report = client.send(_reading(usage, args)) if args.command == "send" else client.flush()
    finally:
        client.close()
    sys.stdout.write(json.dumps(report.__dict__) + "\n")
    return report.exit_code  # module docstring: 0 sent, 1 refused, 75 spooled, 78 configuration


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
        sys.stderr.write(f"the function could not be reached: {exc}\n")
        return 1
    except Misconfigured as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if answer.status != 200:
        error = answer.json().get("error", "")
        sys.stderr.write(f"the function answered {answer.status}: {error}\n")
        return 1
    if args.command == "summary":
        sys.stdout.write(json.dumps(answer.json(), indent=2) + "\n")
        return 0
    if answer.content_type != "image/svg+xml":
        sys.stderr.write(f"expected an SVG chart, got {answer.content_type}\n")
        return 1
    args.out.write_bytes(answer.body)
    sys.stdout.write(json.dumps({"chart": str(args.out), "bytes": len(answer.body)}) + "\n")
    return 0
