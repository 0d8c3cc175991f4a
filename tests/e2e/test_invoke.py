"""Local invoke with your own event: the RIE-compatible invoke endpoint the stack serves per
function (real HTTP, the real awslambdaric behind it), and ``python -m devstack.invoke``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.invoke import PATH
from devstack.stack import EmbeddedStack, embedded
from handlers.common import aws
from infra import tables
from tests import events
from tests.conftest import IMAGES

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"


@pytest.fixture(scope="module")
def stack(module_moto: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    log = tmp_path_factory.mktemp("logs") / "functions.log"
    with (
        log.open("wb") as sink,
        embedded(endpoint=module_moto, invoke_port=0, log=sink) as running,
    ):
        yield running


def post(url: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_each_function_has_its_own_invoke_endpoint(stack: EmbeddedStack) -> None:
    assert set(stack.invoke_urls) == {"resize", "ingest"}
    assert len({url.split("/")[2] for url in stack.invoke_urls.values()}) == 2  # two ports
    assert all(url.endswith(PATH) for url in stack.invoke_urls.values())


def test_an_event_file_posted_to_ingest_is_answered_by_the_function(
    stack: EmbeddedStack,
) -> None:
    before = len(stack.functions["ingest"].reports)
    status, _, answer = post(
        stack.invoke_urls["ingest"], (EVENTS / "function-url-get.json").read_bytes()
    )
    assert status == 200
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["readings"] == []  # GET /readings?day=2022-02-03
    assert len(stack.functions["ingest"].reports) == before + 1


def test_an_s3_event_posted_to_resize_thumbnails_the_object(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    s3, key = aws.s3(), "uploads/invoked/flowers.jpeg"
    data = read_image("flowers.jpeg")
    etag = s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=data)["ETag"].strip('"')
    event = events.s3_event(
        events.s3_record(
            stack.resources.bucket, key, etag=etag, size=len(data), sequencer="00FFFFFFFFFFFFFFFF"
        )
    )
    status, headers, answer = post(stack.invoke_urls["resize"], json.dumps(event).encode())
    assert (status, answer) == (200, None)  # a direct S3 invocation answers nothing
    assert "X-Amz-Function-Error" not in headers
    row = aws.dynamodb().get_item(TableName=stack.resources.index_table, Key={"id": {"S": key}})
    assert tables.plain(row["Item"])["thumbnail-path"] == "thumbnails/200/invoked/flowers.jpeg.jpg"


def test_a_failing_invocation_answers_lambdas_error_document(stack: EmbeddedStack) -> None:
    broken = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}
    status, headers, answer = post(stack.invoke_urls["resize"], json.dumps(broken).encode())
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    assert answer["errorType"] == "Unreadable" and "stackTrace" in answer


def test_a_wrong_path_or_body_is_refused(stack: EmbeddedStack) -> None:
    base = stack.invoke_urls["ingest"].removesuffix(PATH)
    assert post(base + "/2015-03-31/functions/other/invocations", b"{}")[0] == 404
    status, _, answer = post(stack.invoke_urls["ingest"], b"{not json")
    assert status == 400 and answer["errorType"] == "InvalidRequestContentException"


def invoke_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "devstack.invoke", *args],
        cwd=ROOT,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_prints_the_answer_then_the_report_line(stack: EmbeddedStack) -> None:
    """A fresh execution environment against the endpoint given (the stack's moto, which has
    the readings table): a cold start, reported as Lambda does."""
    result = invoke_cli(
        "ingest", "tests/events/function-url-get.json", "--endpoint", stack.endpoint
    )
    assert result.returncode == 0, result.stderr
    answer, report = _split(result.stdout)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["readings"] == []
    assert report.startswith("REPORT RequestId: ")
    assert "\tMemory Size: 128 MB\t" in report and "\tInit Duration: " in report


def test_the_cli_exits_1_with_the_error_when_the_function_fails() -> None:
    broken = json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]})
    result = invoke_cli("resize", "-", stdin=broken)
    answer, report = _split(result.stdout)
    assert result.returncode == 1
    assert answer["errorType"] == "Unreadable"
    assert report.startswith("REPORT RequestId: ") and report.endswith("\tStatus: error")


def test_the_cli_never_touches_the_row_of_a_real_upload(stack: EmbeddedStack) -> None:
    """A hand-written event with a sequencer from nowhere: the function runs on a copy under
    invoked/, and the real key's row and renditions are left alone."""
    s3, key = aws.s3(), "uploads/real/flowers.jpeg"
    s3.put_object(
        Bucket=stack.resources.bucket, Key=key, Body=(IMAGES / "flowers.jpeg").read_bytes()
    )
    etag = s3.head_object(Bucket=stack.resources.bucket, Key=key)["ETag"].strip('"')
    table = stack.resources.index_table
    before = _settled_row(table, key)  # the stack's own resize indexed the upload
    record = events.s3_record(
        stack.resources.bucket, key, etag=etag, size=1, sequencer="FFFFFFFFFFFFFFFFFFFF"
    )
    result = invoke_cli(
        "resize", "-", "--endpoint", stack.endpoint, stdin=json.dumps(events.s3_event(record))
    )

    assert result.returncode == 0, result.stderr
    copy = "uploads/invoked/real/flowers.jpeg"
    assert f"copied to s3://{stack.resources.bucket}/{copy}" in result.stderr
    assert f"row {copy}: status=ok" in result.stderr
    assert _settled_row(table, key) == before


def _settled_row(table: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        item = aws.dynamodb().get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True)
        row = tables.plain(item.get("Item") or {})
        if row.get("status") == "ok" and "lease" not in row:
            return row
        time.sleep(0.2)
    raise AssertionError(f"{key} was never indexed")


def test_the_cli_names_an_unreachable_endpoint() -> None:
    result = invoke_cli("ingest", "tests/events/function-url-get.json", "--endpoint", _closed())
    assert result.returncode == 2
    assert "nothing answers at" in result.stderr


def _split(stdout: str) -> tuple[Any, str]:
    """The CLI's output: the answer's JSON, then the REPORT line."""
    body, _, report = stdout.rstrip("\n").rpartition("\n")
    return json.loads(body), report


def _closed() -> str:
    from devstack.ports import free_port

    return f"http://127.0.0.1:{free_port()}"
