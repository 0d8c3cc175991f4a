"""Handlers that misbehave on purpose, for the local runtime's tests."""

from __future__ import annotations

import os
import time
from typing import Any

_ballast: list[bytearray] = []


def echo(event: Any, context: Any) -> Any:
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "memory": context.memory_limit_in_mb,
    }


def fail(event: Any, context: Any) -> Any:
    raise ValueError("this handler always fails")


def crash(event: Any, context: Any) -> Any:
    os._exit(3)  # as an out-of-memory kill would end it


def sleep(event: Any, context: Any) -> Any:
    time.sleep(float(event["seconds"]))
    return "woke up"


def allocate(event: Any, context: Any) -> Any:
    block = bytearray(int(event["mb"]) * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
    _ballast.append(block)
    return len(block)
