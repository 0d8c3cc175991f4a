"""The functions' log lines under the real awslambdaric, in both of Lambda's log formats: one JSON
object per line with the facts at the top level, the level, the timestamp and the invocation's
request id; Lambda's application log level honoured over LOG_LEVEL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.runtime import FunctionProcess, Report
from infra import tables
from infra.functions import INGEST, RESIZE, Function
from tests import events

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ["JSON", "Text"]  # AWS_LAMBDA_LOG_FORMAT as Lambda sets it
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def run(
    function: Function, events_: list[Any], environment: Mapping[str, str], tmp_path: Path
) -> tuple[list[Report], list[str]]:
    """Invoke ``function`` under awslambdaric with each event; its reports and stdout lines."""
    log = tmp_path / f"{function.name}.log"
    with log.open("wb") as sink:
        process = FunctionProcess(
            f"logs-{function.name}",
            function.handler,
            environment={**function.environment, **environment},
            memory_mb=function.memory_mb,
            timeout_s=30,
            cwd=ROOT,
            log=sink,
        )
        try:
            reports = [process.invoke(event)[1] for event in events_]
        finally:
            process.close()
    return reports, log.read_text().splitlines()


def ours(lines: list[str]) -> Iterator[dict[str, Any]]:
    """The lines written by handlers/ (not the runtime's, not the EMF metrics)."""
    for text in lines:
        if '"logger": "handlers' in text:
            yield json.loads(text)  # the whole line is the object: fails on a text prefix


@pytest.mark.parametrize("log_format", FORMATS)
def test_ingest_request_line_has_its_facts_at_the_top_level(
    log_format: str, tmp_path: Path
) -> None:
    [report], lines = run(
        INGEST,
        [events.function_url("GET", "/health")],
        {"AWS_LAMBDA_LOG_FORMAT": log_format},
        tmp_path,
    )
    [line] = [line for line in ours(lines) if line["message"] == "request"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert line["level"] == "INFO"
    assert line["logger"] == "handlers.ingest"
    assert line["requestId"] == report.request_id
    assert TIMESTAMP.fullmatch(line["timestamp"]), line["timestamp"]
    assert isinstance(line["ms"], float)


@pytest.mark.parametrize("log_format", FORMATS)
def test_resize_failure_line_carries_the_exception(
    log_format: str, tmp_path: Path, aws_env: str, unique: str
) -> None:
    record = events.s3_record(f"missing-{unique}", "uploads/x.jpg", etag="", size=10, sequencer="1")
    table = f"image_metadata-{unique}"
    boto3.client("dynamodb").create_table(**tables.create_table_request(tables.IMAGE_INDEX, table))
    [report], lines = run(
        RESIZE,
        [events.sqs_event(events.s3_event(record))],
        {"AWS_LAMBDA_LOG_FORMAT": log_format, "INDEX_TABLE": table},
        tmp_path,
    )
    [line] = [line for line in ours(lines) if line["level"] == "ERROR"]
    assert line["message"] == "resize failed; message message-0 will be retried"
    assert line["errorType"] == "NoSuchBucket"
    assert line["requestId"] == report.request_id
    assert any("get_object" in frame for frame in line["stackTrace"])


@pytest.mark.parametrize(
    "levels",
    [
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "ERROR", "LOG_LEVEL": "DEBUG"},
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "FATAL"},
        {"AWS_LAMBDA_LOG_FORMAT": "Text", "LOG_LEVEL": "error"},
    ],
    ids=["lambda-level-wins", "lambda-fatal", "log-level-alone"],
)
def test_a_higher_level_drops_the_info_lines(levels: dict[str, str], tmp_path: Path) -> None:
    _, lines = run(INGEST, [events.function_url("GET", "/health")], levels, tmp_path)
    assert list(ours(lines)) == []
    assert any('"_aws"' in text for text in lines)  # the metrics line is not a log line


def test_lambda_debug_level_lets_info_through_over_log_level(tmp_path: Path) -> None:
    levels = {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "TRACE",
        "LOG_LEVEL": "ERROR",
    }
    _, lines = run(INGEST, [events.function_url("GET", "/health")], levels, tmp_path)
    assert [line["message"] for line in ours(lines)] == ["request"]
