"""The embedded stack end to end: moto's server over HTTP, the router, and both functions
under the real awslambdaric, driven as a user drives it (S3 uploads, the device client)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.function_url import NONE
from devstack.stack import EmbeddedStack, embedded
from handlers.common import aws
from handlers.device.sender import ReadingClient
from handlers.readings.schema import Reading
from tests import flow


@pytest.fixture(scope="module")
def function_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "functions.log"


@pytest.fixture(scope="module")
def stack(function_log: Path) -> Iterator[EmbeddedStack]:
    # NONE: these tests post unsigned (sign=False) and read with plain urllib; the AWS_IAM
    # default is tested in test_function_url_auth.py.
    with function_log.open("wb") as sink, embedded(log=sink, function_url_auth=NONE) as running:
        yield running


def test_uploads_become_thumbnails_and_index_rows(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    s3 = aws.s3()
    expected = flow.upload_samples(stack, read_image)

    rows = flow.rows_for(stack, flow.all_settled(expected), timeout_s=60)

    assert set(rows) == {
        "uploads/holiday/beach day.jpg",
        "uploads/flowers.jpeg",
        "uploads/drawing.svg",
    }
    assert rows["uploads/drawing.svg"]["status"] == "rejected"
    assert (
        rows["uploads/holiday/beach day.jpg"]["thumbnail-path"]
        == "thumbnails/200/holiday/beach day.jpg.jpg"
    )
    listed = s3.list_objects_v2(Bucket=stack.resources.bucket, Prefix="thumbnails/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "thumbnails/200/flowers.jpeg.jpg",
        "thumbnails/200/holiday/beach day.jpg.jpg",
    ]
    resize = stack.functions["resize"].reports
    assert resize[0].init_duration_ms is not None  # a cold start, measured
    assert all(r.memory_size_mb == 256 and r.max_memory_used_mb > 0 for r in resize)


def test_readings_posted_by_the_device_client_are_stored_and_listed(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    client = ReadingClient(stack.function_url, spool_path=tmp_path / "spool.sqlite3", sign=False)
    readings = [
        Reading(f"2026-11-21T09:{m:02d}:00+01:00", m % 2 == 0, 60 + m, 64) for m in range(5)
    ]
    for reading in readings[:-1]:
        client.spool.add(reading)
    report = client.send(readings[-1])
    assert (report.sent, report.pending) == (5, 0)

    url = f"{stack.function_url}/readings?day=2026-11-21"
    with urllib.request.urlopen(url, timeout=30) as response:
        page = json.loads(response.read())
    assert page["readings"] == [r.to_json() for r in readings]
    ingest = stack.functions["ingest"].reports
    assert ingest[0].init_duration_ms is not None and ingest[-1].init_duration_ms is None


def test_summary_chart_and_metrics_through_the_runtime(
    stack: EmbeddedStack, function_log: Path, tmp_path: Path
) -> None:
    client = ReadingClient(stack.function_url, spool_path=tmp_path / "spool.sqlite3", sign=False)
    for minute in range(0, 60, 5):
        client.spool.add(
            Reading(f"2026-11-23T08:{minute:02d}:00+01:00", minute < 30, 19 + minute / 10, 20)
        )
    assert client.flush().sent == 12

    query = {"day": "2026-11-23", "tz": "Europe/Paris"}
    status, content_type, data = client.get("/summary", query)
    assert (status, content_type) == (200, "application/json")
    [day] = json.loads(data)["days"]
    # Six heating-on readings five minutes apart; the last reading holds for the 15-minute cap.
    assert (day["count"], day["heating_minutes"], day["known_minutes"]) == (12, 30.0, 70.0)

    status, content_type, svg = client.get("/chart", query)
    assert (status, content_type) == (200, "image/svg+xml")
    assert b"12 readings" in svg and b"2026-11-23 (Europe/Paris)" in svg

    # Under the real runtime client the metric lines reach the log bare, one line each, and so
    # do logging's lines, as JSON objects of their own (handlers/common/logs.py).
    lines = function_log.read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    metric_lines = [line for line in parsed if "_aws" in line]
    assert {"ReadingsStored": 12, "Duplicates": 0, "Rejected": 0}.items() <= next(
        m for m in metric_lines if m["ReadingsStored"] == 12
    ).items()
    assert {m["FunctionName"] for m in metric_lines} == {"thumbstat-ingest"}
    logged = [json.loads(line) for line in lines if line.startswith('{"timestamp"')]
    assert any(line["message"] == "chart" and line["level"] == "INFO" for line in logged)
