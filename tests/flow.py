"""The upload flow every local backend is tested with (tests/e2e on moto, tests/localstack on
LocalStack and MiniStack): the same uploads, and one way to wait for their index rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from devstack import resources
from devstack.stack import EmbeddedStack
from handlers.common import aws
from infra import tables


def upload_samples(stack: EmbeddedStack, read_image: Callable[[str], bytes]) -> set[str]:
    """Two photos, a file no decoder reads, and a key outside the notification's prefix.
    Returns the keys that must get a row."""
    uploads = {
        "uploads/holiday/beach day.jpg": read_image("Landscape_6.jpg"),
        "uploads/flowers.jpeg": read_image("flowers.jpeg"),
        "uploads/drawing.svg": read_image("check.svg"),
        "elsewhere/ignored.jpg": read_image("flowers.jpeg"),  # outside the notification's prefix
    }
    for key, data in uploads.items():
        aws.s3().put_object(Bucket=stack.resources.bucket, Key=key, Body=data)
    return {key for key in uploads if key.startswith(resources.SOURCE_PREFIX)}


def rows_for(
    stack: EmbeddedStack,
    done: Callable[[dict[str, dict[str, Any]]], bool],
    timeout_s: float = 90,
) -> dict[str, dict[str, Any]]:
    """The index rows by id, once ``done`` holds for them (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        items = aws.dynamodb().scan(TableName=stack.resources.index_table)["Items"]
        rows = {row["id"]: row for row in map(tables.plain, items)}
        if done(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.25)


def all_settled(keys: set[str]) -> Callable[[dict[str, dict[str, Any]]], bool]:
    """Every one of ``keys`` has a row that no event is changing (no lease, not pending): a row
    appears, as ``pending``, the moment an event takes its lease, before it is rendered."""

    def done(rows: dict[str, dict[str, Any]]) -> bool:
        return all(key in rows and "lease" not in rows[key] for key in keys)

    return done


def settled(
    stack: EmbeddedStack, key: str, status: str = "ok", timeout_s: float = 90
) -> dict[str, Any]:
    """The row of ``key`` once it has ``status`` and no event is changing it (no lease)."""

    def done(rows: dict[str, dict[str, Any]]) -> bool:
        row = rows.get(key, {})
        return row.get("status") == status and "lease" not in row

    return rows_for(stack, done, timeout_s).get(key, {})
