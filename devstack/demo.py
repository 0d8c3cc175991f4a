"""The main job, on the embedded stack: no Docker, no AWS account.

    make demo    upload sample images and post readings, wait, print what happened
    make up      the same stack, left running, with commands to try

Images are uploaded to the bucket; S3 notifies the queue; the router invokes resize (under the
real awslambdaric) with SQS batches; thumbnails and index rows appear. Readings go through the
device client to the local Function URL of ingest: a simulated shop thermostat since yesterday's
midnight, every two minutes, offline for 40 minutes yesterday afternoon. The summaries of both
days are printed, and yesterday's chart is written next to the functions' log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.endpoints import EndpointUnreachable
from devstack.ports import PortTaken
from devstack.resources import SOURCE_PREFIX, THUMBNAIL_PREFIX
from devstack.runtime import Report
from devstack.stack import EmbeddedStack, embedded
from handlers.common import aws
from handlers.device.sender import ReadingClient
from handlers.index.settings import ResizeSettings
from handlers.readings.schema import Reading
from infra import reconcile, tables
from infra.functions import RESIZE

# Sample uploads: generated photos and screenshots (devstack/samples.py), a key with spaces, and a
# file that is not an image (it gets a "rejected" row, not a retry loop).
SAMPLES = {
    "cat.jpg": "cat-2mb",
    "holiday photos/beach 1.jpg": "photo-12mp",
    "camera/IMG_0001.jpg": "photo-24mp",
    "screenshots/desktop 4k.png": "screenshot-4k",
    "screenshots/dialog.png": "screenshot-small",
}
NOT_AN_IMAGE = "notes/not-an-image.jpg"
# The demo asks for several renditions (the deployed default is one 200 px auto thumbnail).
DEMO_RENDITIONS = "200:auto,200:webp,800:webp,1600:avif"
DELETED = "screenshots/dialog.png"  # deleted after indexing: its renditions go, its row stays
# What `make image-check` builds from the Dockerfiles.
IMAGES = {name: f"localhost/thumbstat-{name}:check-amd64" for name in ("resize", "ingest")}


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def upload_samples(stack: EmbeddedStack) -> list[str]:
    from devstack import samples  # generated on first use, then cached

    s3 = aws.s3()
    keys = []
    for name, spec in SAMPLES.items():
        data = samples.load(spec)
        key = SOURCE_PREFIX + name
        s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=data)
        out(f"  uploaded s3://{stack.resources.bucket}/{key} ({len(data) / 1e6:.1f} MB)")
        keys.append(key)
    key = SOURCE_PREFIX + NOT_AN_IMAGE
    s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=b"shopping list: milk, eggs\n")
    out(f"  uploaded s3://{stack.resources.bucket}/{key} (not an image)")
    return [*keys, key]


def local_zone() -> tuple[str, tzinfo]:
    """This machine's IANA zone (TZ, or where /etc/localtime points), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    if os.path.islink("/etc/localtime"):
        candidates.append(os.path.realpath("/etc/localtime").partition("zoneinfo/")[2])
    for name in filter(None, candidates):
        try:
            return name, ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return "UTC", UTC


def simulated_thermostat(start: datetime, until: datetime, zone: tzinfo) -> list[Reading]:
    """A shop thermostat every two minutes: 64 from 06:00 to 22:00 and 58 at night, heating on
    below the setpoint minus 0.5 and off above it plus 0.5; offline 13:10-13:50 on the first day.
    Timestamps carry the local offset, as the device sends them."""
    readings: list[Reading] = []
    temperature, heating = 60.0, False
    at = start
    while at <= until:
        local = at.astimezone(zone)
        setpoint = 64 if clock(6) <= local.time() < clock(22) else 58
        heating = temperature < setpoint - 0.5 or (heating and temperature <= setpoint + 0.5)
        temperature += 0.35 if heating else -0.12
        offline = local.date() == start.astimezone(zone).date() and (
            clock(13, 10) <= local.time() < clock(13, 50)
        )
        if not offline:
            readings.append(Reading(local.isoformat(), heating, round(temperature, 1), setpoint))
        at += timedelta(minutes=2)
    return readings


def post_readings(stack: EmbeddedStack, spool: Path, zone: tzinfo) -> tuple[str, str]:
    """Yesterday and today so far, spooled while "offline", then sent with a live reading.
    Returns yesterday and today (local dates)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    today = now.astimezone(zone).date()
    midnight = datetime.combine(today - timedelta(days=1), clock(), zone).astimezone(UTC)
    *backlog, live = simulated_thermostat(midnight, now, zone)
    # Signed, as the thermostat signs: the Function URL checks AWS_IAM auth, and this process
    # holds the stack's local credentials.
    client = ReadingClient(stack.function_url, spool_path=spool, sign=True)
    try:
        for reading in backlog:
            client.spool.add(reading)
        report = client.send(live)
    finally:
        client.close()
    out(
        f"  sent {report.sent} readings ({report.pending} left in the spool): every 2 minutes "
        f"since {midnight.astimezone(zone):%Y-%m-%d %H:%M}, offline 13:10-13:50 that day"
    )
    return (today - timedelta(days=1)).isoformat(), today.isoformat()


def wait_for_index(
    stack: EmbeddedStack, keys: list[str], since: str, timeout_s: float = 180
) -> None:
    """Wait for a row per key processed since ``since`` (ISO time, UTC): on an endpoint that
    was already running (ENDPOINT=), rows of earlier runs must not count."""
    dynamodb = aws.dynamodb()
    deadline = time.monotonic() + timeout_s
    done = 0
    while time.monotonic() < deadline:
        items = dynamodb.scan(
            TableName=stack.resources.index_table,
            ProjectionExpression="id, #at",
            ExpressionAttributeNames={"#at": "processed-at"},
        )["Items"]
        rows = sum(
            1
            for item in items
            if item["id"]["S"] in keys and item.get("processed-at", {}).get("S", "") >= since
        )
        if rows != done:
            done = rows
            sys.stdout.write(f"\r  indexed {done}/{len(keys)}")
            sys.stdout.flush()
        if done >= len(keys):
            out()
            return
        time.sleep(0.25)
    out()
    raise SystemExit(f"timed out: {done} of {len(keys)} images indexed after {timeout_s:.0f} s")


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join("  " + line.rstrip() for line in lines)


def show_index(stack: EmbeddedStack) -> None:
    items = aws.dynamodb().scan(TableName=stack.resources.index_table)["Items"]
    rows = [
        ["id", "status", "thumbnail-path", "size", "renditions", "thumbhash", "colour", "source"]
    ]
    for item in sorted(items, key=lambda i: i["id"]["S"]):
        value = tables.plain(item)
        rows.append(
            [
                value["id"],
                value["status"] + (f" ({value['reason']})" if "reason" in value else ""),
                value.get("thumbnail-path", "-"),
                f"{value['width']}x{value['height']}" if "width" in value else "-",
                _renditions(item),
                value.get("thumbhash", "-"),
                value.get("dominant-color", "-"),
                f"{value.get('source-format', '?')} {value.get('source-width', '?')}x"
                f"{value.get('source-height', '?')}"
                if "source-format" in value
                else "-",
            ]
        )
    out(table(rows))


def _renditions(item: dict[str, Any]) -> str:
    listed = item.get("renditions", {}).get("M", {})
    return (
        " ".join(
            f"{name}={entry['M']['width']['N']}x{entry['M']['height']['N']}"
            for name, entry in listed.items()
        )
        or "-"
    )


def delete_one(stack: EmbeddedStack) -> None:
    """Delete an upload; wait until its row says deleted and its event is done (no lease held);
    list what is left of it."""
    key = SOURCE_PREFIX + DELETED
    aws.s3().delete_object(Bucket=stack.resources.bucket, Key=key)
    out(f"  deleted s3://{stack.resources.bucket}/{key}")
    deadline = time.monotonic() + 60
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=stack.resources.index_table, Key={"id": {"S": key}}, ConsistentRead=True
            )
            .get("Item")
        )
        row = tables.plain(item) if item else {}
        if row.get("status") == "deleted" and "lease" not in row:
            break
        time.sleep(0.25)
    left = [k for k in _thumbnails(stack) if k.split("/", 2)[2].startswith(DELETED)]
    out(f"  row: status={row.get('status')} deleted-at={row.get('deleted-at')}")
    out(f"  renditions left under thumbnails/: {len(left)}")


def _thumbnails(stack: EmbeddedStack) -> list[str]:
    pages = (
        aws.s3()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=stack.resources.bucket, Prefix=THUMBNAIL_PREFIX)
    )
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _reconciled(stack: EmbeddedStack) -> reconcile.Report:
    """``python -m infra.reconcile``'s check, with the settings the stack's resize runs with."""
    settings = ResizeSettings.from_env(stack.functions[RESIZE.name].environment)
    return reconcile.check(
        reconcile.scope_of(settings, stack.resources.bucket), settings.index_table
    )


def disagreements(stack: EmbeddedStack) -> list[str]:
    """Where the bucket, the renditions and the index disagree: one line per finding."""
    return reconcile.problems(_reconciled(stack))


def check_agreement(stack: EmbeddedStack) -> int:
    """Print whether the bucket and the index agree; return how many things disagree."""
    report = _reconciled(stack)
    problems = reconcile.problems(report)
    for line in problems:
        out(f"  {line}")
    if not problems:
        out(f"  they agree: {report.renditions} renditions, each named by its row")
    return len(problems)


def show_readings(stack: EmbeddedStack, day: str) -> None:
    status, _, data = ReadingClient(stack.function_url, sign=True, timeout=30).get(
        "/readings", {"day": day, "limit": "1000"}
    )
    page = json.loads(data)
    if status != 200:
        raise SystemExit(f"GET /readings answered {status}: {page}")
    readings = page["readings"]
    out(f"  GET /readings?day={day}: {len(readings)} readings, oldest and newest:")
    rows = [["record_date", "thermostat_on", "temperature", "thermostat_value"]]
    for reading in [*readings[:3], *readings[-2:]]:
        rows.append([str(reading[k]) for k in rows[0]])
    out(table(rows))


def _hours(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole // 60}:{whole % 60:02d}"


def show_summaries(stack: EmbeddedStack, days: tuple[str, str], zone: str) -> dict[str, Any]:
    client = ReadingClient(stack.function_url, sign=True, timeout=30)
    query = {"from": days[0], "to": days[1], "tz": zone}
    status, _, data = client.get("/summary", query)
    answer: dict[str, Any] = json.loads(data)
    if status != 200:
        raise SystemExit(f"GET /summary answered {status}: {answer}")
    out(f"  GET /summary?from={days[0]}&to={days[1]}&tz={zone} (gaps over 15 minutes):")
    rows = [["day", "count", "min", "max", "mean", "setpoints", "heating", "share", "gaps"]]
    for day in answer["days"]:
        share = day["heating_share"]
        rows.append(
            [
                day["day"],
                str(day["count"]),
                str(day["temperature_min"]),
                str(day["temperature_max"]),
                str(day["temperature_mean"]),
                ", ".join(map(str, day["setpoints"])),
                _hours(day["heating_minutes"]),
                "-" if share is None else f"{share:.0%}",
                "; ".join(f"{g['from'][11:16]}-{g['to'][11:16]}" for g in day["gaps"]) or "-",
            ]
        )
    out(table(rows))
    return answer


def write_chart(stack: EmbeddedStack, day: str, zone: str, directory: Path) -> Path:
    client = ReadingClient(stack.function_url, sign=True, timeout=30)
    status, content_type, data = client.get("/chart", {"day": day, "tz": zone})
    if status != 200 or content_type != "image/svg+xml":
        raise SystemExit(f"GET /chart answered {status} {content_type}: {data[:200]!r}")
    path = directory / f"chart-{day}.svg"
    path.write_bytes(data)
    out(f"  GET /chart?day={day}&tz={zone}: {path} ({len(data) / 1000:.1f} kB of SVG)")
    return path


def show_reports(stack: EmbeddedStack) -> None:
    rows = [
        [
            "function",
            "event",
            "start",
            "Init Duration",
            "Duration",
            "Billed Duration",
            "Memory Size",
            "Max Memory Used",
        ]
    ]
    reports: list[Report] = [r for f in stack.functions.values() for r in f.reports]
    for report in reports:
        rows.append(
            [
                report.function,
                report.note,
                "cold" if report.init_duration_ms is not None else "warm",
                f"{report.init_duration_ms:.0f} ms" if report.init_duration_ms is not None else "-",
                f"{report.duration_ms:.1f} ms",
                f"{report.billed_duration_ms} ms",
                f"{report.memory_size_mb} MB",
                f"{report.max_memory_used_mb} MB",
            ]
        )
    out(table(rows))


def try_commands(stack: EmbeddedStack, day: str) -> str:
    endpoint, bucket, url = stack.endpoint, stack.resources.bucket, stack.function_url
    return f"""
The stack stays up until Ctrl-C. Try:
  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=thumbstat-local \\
         AWS_SECRET_ACCESS_KEY=thumbstat-local AWS_DEFAULT_REGION=us-east-1
  aws s3 cp my-photo.jpg s3://{bucket}/{SOURCE_PREFIX}my-photo.jpg
  aws s3 ls s3://{bucket}/thumbnails/ --recursive
  aws dynamodb scan --table-name {stack.resources.index_table}
  python -m handlers.device.client --url {url} send --temperature 65.2 --on --setpoint 64
  curl --aws-sigv4 aws:amz:us-east-1:lambda --user thumbstat-local:thumbstat-local \
       '{url}/readings?day={day}'
  curl --aws-sigv4 aws:amz:us-east-1:lambda --user thumbstat-local:thumbstat-local \
       '{url}/summary?day={day}'
  python -m handlers.device.client --url {url} chart --day {day} --out chart.svg
(The Function URL checks AWS_IAM auth, as deployed: requests signed with the credentials above.)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stay-up", action="store_true", help="keep the stack running")
    parser.add_argument(
        "--port", type=int, default=0, help="the ingest Function URL's port (default: any free one)"
    )
    parser.add_argument("--moto-port", type=int, default=0)
    parser.add_argument(
        "--endpoint",
        help="use this endpoint, already running (LocalStack: http://127.0.0.1:4566), instead of"
        " starting moto's server",
    )
    parser.add_argument(
        "--invoke-port",
        type=int,
        help="serve each function's RIE invoke endpoint from this port on (0: any free ports)",
    )
    parser.add_argument(
        "--images",
        action="store_true",
        help="run the functions as the images make image-check built (podman)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    workdir = Path(tempfile.mkdtemp(prefix="thumbstat-demo-"))
    log_path = workdir / "functions.log"
    with ExitStack() as scope:
        log = scope.enter_context(log_path.open("wb"))
        try:
            stack = scope.enter_context(
                embedded(
                    endpoint=args.endpoint,
                    moto_port=args.moto_port,
                    url_port=args.port,
                    invoke_port=args.invoke_port,
                    images=IMAGES if args.images else None,
                    log=log,
                    environment={"resize": {"RENDITIONS": DEMO_RENDITIONS}},
                )
            )
        except (PortTaken, EndpointUnreachable) as exc:
            raise SystemExit(f"devstack.demo: {exc}") from None
        out(
            f"Embedded stack: {stack.backend} at {stack.endpoint}, ingest Function URL at "
            f"{stack.function_url}; functions run under awslambdaric (logs: {log_path})"
        )
        for name, url in stack.invoke_urls.items():
            out(f"  {name}: invoke with an event: curl -d @EVENT.json {url}")
        since = datetime.now(UTC).isoformat(timespec="milliseconds")
        out("\n1. Uploading sample images")
        keys = upload_samples(stack)
        out("\n2. Posting thermostat readings with the device client")
        zone_name, zone = local_zone()
        yesterday, day = post_readings(stack, workdir / "spool.sqlite3", zone)
        out("\n3. Waiting for thumbnails")
        wait_for_index(stack, keys, since)
        out(f"\n4. image_metadata (aws dynamodb scan --table-name {stack.resources.index_table})")
        show_index(stack)
        out(f"\n5. Deleting an upload (RENDITIONS={DEMO_RENDITIONS})")
        delete_one(stack)
        out("\n   The bucket against the index")
        disagreements = check_agreement(stack)
        out(f"\n6. {stack.resources.readings_table}")
        show_readings(stack, day)
        out("\n7. Summaries and chart")
        show_summaries(stack, (yesterday, day), zone_name)
        write_chart(stack, yesterday, zone_name, workdir)
        out("\n8. REPORT lines, as CloudWatch Logs shows them")
        show_reports(stack)
        if disagreements:
            out(f"\nmake demo: FAILED: {disagreements} renditions disagree with the index")
            return 1
        if args.stay_up:
            out(try_commands(stack, day))
            logging.getLogger("devstack.runtime").setLevel(logging.INFO)  # a REPORT per invoke
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                out("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
