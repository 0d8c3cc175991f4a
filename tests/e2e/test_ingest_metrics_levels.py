"""The ingest function's EMF metric lines under the real awslambdaric with Lambda's application
log level raised: they carry a level every ApplicationLogLevel keeps, and the container's first
invocation counts a ColdStart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.functions import INGEST
from tests import events
from tests.e2e.test_lambda_logs import run

# Lambda's application log levels, lowest first. With the JSON log format Lambda keeps a JSON
# line on stdout only when its "level" is at or above the function's ApplicationLogLevel.
LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def kept_by_lambda(lines: list[str], application_level: str) -> list[dict[str, Any]]:
    """The JSON lines Lambda's level filter lets through to CloudWatch Logs."""
    kept = []
    for text in lines:
        try:
            document = json.loads(text)
        except ValueError:
            continue
        level = document.get("level") if isinstance(document, dict) else None
        if level in LEVELS and LEVELS.index(level) >= LEVELS.index(application_level):
            kept.append(document)
    return kept


@pytest.mark.parametrize("application_level", ["WARN", "ERROR", "FATAL"])
def test_metric_lines_survive_a_raised_application_log_level(
    application_level: str, tmp_path: Path
) -> None:
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": application_level}
    health = events.function_url("GET", "/health")
    reports, lines = run(INGEST, [health, health], environment, tmp_path)
    metric_lines = [d for d in kept_by_lambda(lines, application_level) if "_aws" in d]
    assert len(metric_lines) == len(reports) == 2
    first, second = metric_lines
    assert first["ColdStart"] == 1
    assert first["FunctionName"] == second["FunctionName"] != ""  # the dimension of both
    names = [m["Name"] for m in first["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "ColdStart" in names
    assert "ColdStart" not in second  # a warm invocation counts no cold start
    # The INFO request lines are gone, as the level asks: only the metrics come through.
    assert not [d for d in kept_by_lambda(lines, application_level) if "_aws" not in d]
