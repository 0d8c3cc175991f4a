"""handlers/common/logs.py: the level the functions log at, and the shape of a line."""

from __future__ import annotations

import logging
import sys

import pytest

from handlers.common import logs


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, logging.INFO),
        ({"LOG_LEVEL": "debug"}, logging.DEBUG),
        ({"AWS_LAMBDA_LOG_LEVEL": "ERROR", "LOG_LEVEL": "DEBUG"}, logging.ERROR),
        ({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, logging.WARNING),
        ({"AWS_LAMBDA_LOG_LEVEL": "TRACE", "LOG_LEVEL": "ERROR"}, logging.DEBUG),
        ({"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, logging.CRITICAL),
        ({"AWS_LAMBDA_LOG_LEVEL": "", "LOG_LEVEL": "WARNING"}, logging.WARNING),
    ],
    ids=["default", "log-level", "lambda-wins", "warn", "trace", "fatal", "empty-lambda"],
)
def test_lambda_level_wins_over_log_level(environ: dict[str, str], expected: int) -> None:
    assert logs.level_from_env(environ) == expected


def test_an_unknown_level_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL='LOUD' is not a log level"):
        logs.level_from_env({"LOG_LEVEL": "loud"})


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.getLogger("handlers.test").makeRecord(
        "handlers.test", logging.WARNING, __file__, 1, message, args, None, extra=extra
    )
    made.created = 1700000000.25
    return made


def test_facts_are_top_level_beside_the_lines_own_keys() -> None:
    facts = {"event": "resize", "key": "uploads/a.jpg", "level": "not the level", "ms": {"a": 1}}
    line = logs.line(record("%s", "ignored", thumbstat_fields=facts))
    assert line == {
        "timestamp": "2023-11-14T22:13:20.250Z",
        "level": "WARNING",
        "logger": "handlers.test",
        "message": "resize",
        "event": "resize",
        "key": "uploads/a.jpg",
        "ms": {"a": 1},
    }


def test_a_plain_record_with_an_exception() -> None:
    try:
        raise KeyError("gone")
    except KeyError:
        made = record("lost %s", "it")
        made.exc_info = sys.exc_info()
    line = logs.line(made)
    assert line["message"] == "lost it"
    assert (line["errorType"], line["errorMessage"]) == ("KeyError", "'gone'")
    assert "test_a_plain_record_with_an_exception" in "".join(line["stackTrace"])


def test_the_request_id_is_set_for_the_invocation_only() -> None:
    class Context:
        aws_request_id = "8f507cfc-xmpl"

    @logs.lambda_context
    def handler(event: object, context: object = None) -> str | None:
        return logs.line(record("x")).get("requestId")

    assert handler({}, Context()) == "8f507cfc-xmpl"
    assert handler({}) is None
    assert "requestId" not in logs.line(record("after"))
