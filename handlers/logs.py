"""Structured logging: one JSON object per line, one line per unit of work."""

from __future__ import annotations

import json
import logging
import os
from typing import Any


def get_logger(name: str) -> logging.Logger:
    """A module logger whose level follows LOG_LEVEL (default INFO).

    The Lambda runtime leaves the root logger at WARNING, which would hide the per-image lines.
    """
    logger = logging.getLogger(name)
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    return logger


def log_json(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, "%s", json.dumps({"event": event, **fields}, default=str))
