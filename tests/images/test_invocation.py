"""Each built image invoked end to end: its own entrypoint (``python -m awslambdaric``) in a
container, against the project's Runtime API (devstack/runtime.py) and moto's server, with real
event payloads. Cold start and Max Memory Used are recorded for the summary, not asserted."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from devstack import samples
from devstack.containers import Container
from devstack.runtime import FunctionProcess, Report
from handlers.index import settings as resize_settings
from handlers.readings import settings as ingest_settings
from handlers.readings.schema import parse_reading
from infra import tables
from infra.functions import INGEST, RESIZE, Function
from tests import events

pytestmark = pytest.mark.image

# Generous: the first invocation includes starting the container (and qemu on arm64). It is also
# the deadline the function sees.
TIMEOUT_S = 180.0


@contextmanager
def running(
    function: Function, image: str, environment: Mapping[str, str]
) -> Iterator[FunctionProcess]:
    """The image as a Lambda execution environment at the function's deployed memory size, with
    its deployed environment and this test's resource names. Its output goes to the test's
    captured output, shown when the test fails."""
    process = FunctionProcess(
        f"image-{function.name}",
        function.handler,
        environment={**function.environment, **environment},
        memory_mb=function.memory_mb,
        timeout_s=TIMEOUT_S,
        launcher=Container(image),
    )
    try:
        yield process
    finally:
        process.close()


def check_and_report(image: str, cold: Report, warm: Report, report: Callable[..., None]) -> None:
    assert cold.init_duration_ms is not None and cold.init_duration_ms > 0
    assert warm.init_duration_ms is None  # the same container served the second invocation
    assert warm.max_memory_used_mb >= cold.max_memory_used_mb > 0  # the container's peak RSS
    report(
        image,
        init_duration_ms=round(cold.init_duration_ms),  # container start included
        cold_duration_ms=round(cold.duration_ms),
        warm_duration_ms=round(warm.duration_ms),
        max_memory_used_mb=warm.max_memory_used_mb,
        memory_size_mb=warm.memory_size_mb,
    )


def test_resize_image_thumbnails_and_indexes_uploads(
    built_image: Callable[[Function], str],
    aws_env: str,
    unique: str,
    read_image: Callable[[str], bytes],
    report: Callable[..., None],
) -> None:
    image = built_image(RESIZE)
    bucket, table = f"uploads-{unique}", f"image_metadata-{unique}"
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(**tables.create_table_request(tables.IMAGE_INDEX, table))
    prefix = RESIZE.environment[resize_settings.SOURCE_PREFIX]
    uploads = {
        f"{prefix}cat.jpg": samples.load("cat-2mb"),
        f"{prefix}flowers.jpeg": read_image("flowers.jpeg"),
        # libvips' streamed decodes, and pillow-heif loaded on first use, inside the image.
        f"{prefix}dialog.png": read_image("with-alpha.png"),
        f"{prefix}photo.webp": read_image("4.webp"),
        f"{prefix}rotated.avif": read_image("pitm.avif"),
    }
    notifications = []
    for sequencer, (key, data) in enumerate(uploads.items(), start=1):
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        head = s3.head_object(Bucket=bucket, Key=key)
        record = events.s3_record(
            bucket,
            key,
            etag=head["ETag"].strip('"'),
            size=head["ContentLength"],
            sequencer=str(sequencer),
        )
        notifications.append(events.sqs_event(events.s3_event(record)))

    with running(RESIZE, image, {resize_settings.INDEX_TABLE: table}) as process:
        outcomes = [process.invoke(event) for event in notifications]

    assert [answer for answer, _ in outcomes] == [{"batchItemFailures": []}] * len(uploads)
    max_size = resize_settings.ResizeSettings.from_env(RESIZE.environment).renditions[0].size
    for key in uploads:
        row = tables.plain(dynamodb.get_item(TableName=table, Key={"id": {"S": key}})["Item"])
        assert row["status"] == "ok", row
        assert max(int(row["width"]), int(row["height"])) <= max_size
        thumbnail = s3.head_object(Bucket=row["thumbnail-bucket"], Key=row["thumbnail-path"])
        assert thumbnail["ContentType"] == row["content-type"]
        assert thumbnail["ContentLength"] == int(row["bytes"])
    check_and_report(image, outcomes[0][1], outcomes[-1][1], report)


def test_ingest_image_stores_readings_and_reads_them_back(
    built_image: Callable[[Function], str],
    aws_env: str,
    unique: str,
    report: Callable[..., None],
) -> None:
    image = built_image(INGEST)
    table = f"Shop_Thermostat-{unique}"
    boto3.client("dynamodb").create_table(**tables.create_table_request(tables.READINGS, table))
    post = events.load("function-url-post")
    posted = parse_reading(json.loads(post["body"]))
    get = events.function_url("GET", "/readings", query={"day": posted.record_day})

    with running(INGEST, image, {ingest_settings.READINGS_TABLE: table}) as process:
        stored, cold = process.invoke(post)
        listed, warm = process.invoke(get)

    assert stored["statusCode"] == 201, stored
    assert json.loads(stored["body"])["stored"] == 1
    assert listed["statusCode"] == 200, listed
    body: dict[str, Any] = json.loads(listed["body"])
    assert body["readings"] == [posted.to_json()]
    check_and_report(image, cold, warm, report)
