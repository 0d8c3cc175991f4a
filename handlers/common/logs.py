"""Structured logging: one JSON object per line, one line per unit of work.

Under a Lambda runtime (``AWS_LAMBDA_RUNTIME_API`` set) the ``handlers`` loggers write their own
lines to stdout, in the shape of Powertools' Logger and Lambda's JSON log format: the facts at the
top level beside ``timestamp``, ``level``, ``logger``, ``message`` and ``requestId``, and for an
exception ``errorType``, ``errorMessage`` and ``stackTrace``. They do so whatever the function's
log format (``AWS_LAMBDA_LOG_FORMAT``): awslambdaric's JSON formatter would put the facts in a
string (``"message": "{\\"event\\": ...}"``) and its text formatter has no place for them.
Powertools' Logger itself is not used: it adds 15 to 50 ms to a cold start on a 2-core machine.

The level is Lambda's (``AWS_LAMBDA_LOG_LEVEL``, the function's application log level) over
``LOG_LEVEL``, INFO without either. Outside Lambda the records propagate to the host's logging
(pytest, the device client), their message the same JSON object.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final, ParamSpec, TypeVar

LOG_LEVEL: Final = "LOG_LEVEL"
AWS_LAMBDA_LOG_LEVEL: Final = "AWS_LAMBDA_LOG_LEVEL"  # set by Lambda from ApplicationLogLevel
_RUNTIME_API: Final = "AWS_LAMBDA_RUNTIME_API"  # set in every Lambda execution environment
PACKAGE: Final = "handlers"
# Lambda's level names that logging does not know.
_LAMBDA_NAMES: Final = {"TRACE": "DEBUG", "FATAL": "CRITICAL"}
# The attribute carrying a line's facts from log_json to the formatter.
_FIELDS: Final = "thumbstat_fields"

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

P = ParamSpec("P")
R = TypeVar("R")


def level_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The level the functions log at: AWS_LAMBDA_LOG_LEVEL, else LOG_LEVEL, else INFO."""
    env = os.environ if environ is None else environ
    for name in (AWS_LAMBDA_LOG_LEVEL, LOG_LEVEL):
        raw = env.get(name, "").strip().upper()
        if raw:
            value = logging.getLevelName(_LAMBDA_NAMES.get(raw, raw))
            if not isinstance(value, int):
                raise ValueError(f"{name}={raw!r} is not a log level")
            return value
    return logging.INFO


def get_logger(name: str) -> logging.Logger:
    """A module logger; the ``handlers`` package logger above it holds the level and, under a
    Lambda runtime, the handler (so the loggers of handlers/ that use ``logging.getLogger``
    follow it too)."""
    _configure()
    return logging.getLogger(name)


@functools.cache
def _configure() -> None:
    package = logging.getLogger(PACKAGE)
    # The Lambda runtime leaves the root logger at WARNING, which would hide the per-image lines.
    package.setLevel(level_from_env())
    if os.environ.get(_RUNTIME_API):
        package.addHandler(_StdoutHandler())
        package.propagate = False  # else awslambdaric's handler on the root prints them again


def log_json(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        facts = {"event": event, **fields}
        logger.log(level, "%s", _Facts(facts), extra={_FIELDS: facts})


def lambda_context(handler: Callable[P, R]) -> Callable[P, R]:
    """Decorate a Lambda handler so its lines carry the invocation's ``requestId`` (Powertools'
    ``inject_lambda_context``, without the rest)."""

    @functools.wraps(handler)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        context = args[1] if len(args) > 1 else kwargs.get("context")
        token = _request_id.set(getattr(context, "aws_request_id", None))
        try:
            return handler(*args, **kwargs)
        finally:
            _request_id.reset(token)

    return wrapped


class _Facts:
    """A line's facts as the message: formatted only if a host handler prints it."""

    def __init__(self, facts: Mapping[str, Any]) -> None:
        self.facts = facts

    def __str__(self) -> str:
        return json.dumps(self.facts, default=str)


def line(record: logging.LogRecord) -> dict[str, Any]:
    """The JSON object of one record, as written under a Lambda runtime."""
    document: dict[str, Any] = {
        "timestamp": _timestamp(record.created),
        "level": record.levelname,
        "logger": record.name,
    }
    facts: Mapping[str, Any] | None = getattr(record, _FIELDS, None)
    document["message"] = facts["event"] if facts else record.getMessage()
    request_id = _request_id.get()
    if request_id:
        document["requestId"] = request_id
    if record.exc_info and record.exc_info[0] is not None:
        kind, error, trace = record.exc_info
        document["errorType"] = kind.__name__
        document["errorMessage"] = str(error)
        document["stackTrace"] = traceback.format_tb(trace)
    for key, value in (facts or {}).items():
        document.setdefault(key, value)  # the line's own keys win over a fact's
    return document


def _timestamp(created: float) -> str:
    """RFC 3339 in UTC with milliseconds, as Lambda writes it (and needs, to filter by level)."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


class _StdoutHandler(logging.Handler):
    """One line per record on stdout, looked up at each write (awslambdaric replaces it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = json.dumps(line(record), default=str, ensure_ascii=False)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)
