"""``python -m infra.reconcile`` against each real emulator (``-m localstack``, ``-m ministack``):
S3's own notifications render an upload, drift is planted, reconcile finds it, and ``--fix``
repairs it through the queue (the router runs resize for the synthetic event) and the emulator's
deletes (LocalStack 4.14 answers a conditional DeleteObject 501: the fallback compares the ETag
first).

The session's emulator is shared with other modules: only this test's keys are judged."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from devstack.stack import EmbeddedStack
from handlers.common import aws
from handlers.index.settings import RENDITIONS
from infra import reconcile
from infra.functions import RESIZE
from tests import flow


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = reconcile.main([*argv, "--json", "--examples", "100000"])
    return code, json.loads(capsys.readouterr().out)


def _ours(document: dict[str, Any], keys: set[str]) -> dict[str, set[str]]:
    found = {kind: set(entry["examples"]) & keys for kind, entry in document["drift"].items()}
    return {kind: hits for kind, hits in found.items() if hits}


def test_reconcile_finds_and_fixes_drift_on_localstack(
    stack: EmbeddedStack, read_image: Callable[[str], bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, bucket, run = aws.s3(), stack.resources.bucket, uuid.uuid4().hex[:8]
    key = f"uploads/reconcile-{run}/photo one.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=read_image("flowers.jpeg"))
    rendition = flow.settled(stack, key)["thumbnail-path"]
    aws.dynamodb().delete_item(TableName=stack.resources.index_table, Key={"id": {"S": key}})
    stray = f"thumbnails/200/reconcile-{run}/stray.jpg.jpg"
    s3.put_object(Bucket=bucket, Key=stray, Body=b"stray")
    ours = {key, rendition, stray}
    argv = ["--bucket", bucket, "--renditions", RESIZE.environment[RENDITIONS]]

    code, document = _run(capsys, argv)
    assert code == 1
    assert _ours(document, ours) == {
        "source-without-row": {key},
        "orphan-rendition": {rendition, stray},
    }

    code, document = _run(capsys, [*argv, "--fix", "--queue-url", stack.resources.queue_url])
    assert set(document["fixes"]["deleted"]) >= {rendition, stray}
    assert flow.settled(stack, key)["thumbnail-path"] == rendition
    deadline = time.monotonic() + 60
    while _ours(_run(capsys, argv)[1], ours):
        assert time.monotonic() < deadline, "reconcile still finds the planted drift"
        time.sleep(0.5)
    assert s3.head_object(Bucket=bucket, Key=rendition)["ContentLength"] > 0
