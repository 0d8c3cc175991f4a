"""The Embedded Metric Format line (handlers.readings.metrics): counts read from the answer, one
line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.readings import metrics
from handlers.readings.history import Document
from handlers.readings.metrics import Counts


@pytest.mark.parametrize(
    ("method", "status", "body", "expected"),
    [
        ("POST", 201, {"stored": 1}, Counts(1, 0, 0)),
        ("POST", 200, {"stored": 0, "duplicate": True}, Counts(0, 1, 0)),
        (
            "POST",
            409,
            {"stored": 2, "duplicates": [0, 2], "conflicts": [3, 5], "failed": []},
            Counts(2, 2, 2),
        ),
        ("POST", 409, {"error": "another reading is stored for ..."}, Counts(0, 0, 1)),
        (
            "POST",
            422,
            {
                "error": "invalid reading",
                "details": {"[1].temperature": "x", "[1].on": "y", "[4].x": "z"},
            },
            Counts(0, 0, 2),
        ),
        (
            "POST",
            422,
            {"error": "invalid reading", "details": {"temperature": "x"}},
            Counts(0, 0, 1),
        ),
        ("POST", 400, {"error": "the body is not valid JSON"}, Counts(0, 0, 1)),
        ("POST", 413, {"error": "the body is over 262,144 bytes"}, Counts(0, 0, 1)),
        (
            "POST",
            503,
            {"stored": 20, "duplicates": [], "conflicts": [], "failed": [3]},
            Counts(20, 0, 0),
        ),
        ("POST", 500, {"error": "The reading was not saved"}, Counts(0, 0, 0)),
        ("GET", 200, {"readings": [], "stored": 5}, Counts(0, 0, 0)),
        ("GET", 200, Document("image/svg+xml", "<svg/>"), Counts(0, 0, 0)),
    ],
    ids=[
        "stored",
        "duplicate",
        "batch-mixed",
        "conflict",
        "batch-invalid-indexes",
        "invalid",
        "not-json",
        "too-large",
        "throttled-partly",
        "storage-error",
        "get",
        "chart",
    ],
)
def test_counts_come_from_the_answer(method: str, status: int, body: Any, expected: Counts) -> None:
    assert metrics.counts(method, status, body) == expected


def test_the_line_is_an_emf_document() -> None:
    text = metrics.line(
        "thumbstat-ingest-Abc", Counts(3, 1, 2), timestamp_ms=1700000000123, status=201
    )
    assert "\n" not in text
    document = json.loads(text)
    assert document == {
        "level": "FATAL",
        "_aws": {
            "Timestamp": 1700000000123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "thumbstat",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "ReadingsStored", "Unit": "Count"},
                        {"Name": "Duplicates", "Unit": "Count"},
                        {"Name": "Rejected", "Unit": "Count"},
                    ],
                }
            ],
        },
        "FunctionName": "thumbstat-ingest-Abc",
        "ReadingsStored": 3,
        "Duplicates": 1,
        "Rejected": 2,
        "status": 201,
    }


def test_emit_writes_one_line_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.emit('{"a":1}')
    assert capsys.readouterr().out == '{"a":1}\n'


def test_a_cold_start_adds_the_cold_start_metric() -> None:
    document = json.loads(metrics.line("f", Counts(), timestamp_ms=1, cold=True))
    [definition] = document["_aws"]["CloudWatchMetrics"]
    assert {"Name": "ColdStart", "Unit": "Count"} in definition["Metrics"]
    assert definition["Dimensions"] == [["FunctionName"]]
    assert (document["ColdStart"], document["FunctionName"]) == (1, "f")
    warm = json.loads(metrics.line("f", Counts(), timestamp_ms=1))
    assert "ColdStart" not in warm
    assert "ColdStart" not in {m["Name"] for m in warm["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_cold_start_is_true_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_cold", True)  # as a fresh container's import leaves it
    assert [metrics.cold_start() for _ in range(3)] == [True, False, False]


# Lambda's application log levels, lowest first; with the JSON log format a line is kept when
# its level is at or above the function's ApplicationLogLevel.
APPLICATION_LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


@pytest.mark.parametrize("application_level", APPLICATION_LOG_LEVELS)
def test_the_metrics_level_is_kept_at_every_application_log_level(application_level: str) -> None:
    level = json.loads(metrics.line("f", Counts(), timestamp_ms=1))["level"]
    assert APPLICATION_LOG_LEVELS.index(level) >= APPLICATION_LOG_LEVELS.index(application_level)
