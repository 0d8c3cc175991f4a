"""The reads of ``python -m infra.reconcile``: the listings of the bucket (ListObjectsV2, 1,000
keys a page), the index (a parallel Scan, ``TotalSegments`` segments of 1 MB pages), and a
deployed stack's outputs and its resize function's environment.

The S3 and DynamoDB clients are the functions' own (``handlers.common.aws``: the same retries and
timeouts, ``AWS_ENDPOINT_URL`` honoured by botocore); the others are the tooling's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import botocore.session
from botocore.config import Config

from handlers.common import aws
from infra import outputs as stack_outputs
from infra.functions import RESIZE
from infra.reconcile_drift import ATTRIBUTES, Listed, Row

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient

# The outputs of infra/template.yaml that reconcile reads (tests/infra/test_reconcile.py checks
# the template declares them).
BUCKET_OUTPUT: Final = stack_outputs.BUCKET
TABLE_OUTPUT: Final = stack_outputs.INDEX_TABLE
QUEUE_OUTPUT: Final = stack_outputs.UPLOAD_QUEUE
FUNCTION_OUTPUT: Final = RESIZE.output

_CONFIG: Final = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)

MAX_THREADS: Final = 64  # segments beyond it wait for a thread

Progress = Callable[[int], None]  # called with how many more items were read


def _client(service: str) -> Any:
    return botocore.session.get_session().create_client(service, config=_CONFIG)


def sqs() -> SQSClient:
    return cast("SQSClient", _client("sqs"))


def cloudformation() -> CloudFormationClient:
    return cast("CloudFormationClient", _client("cloudformation"))


def lambda_() -> LambdaClient:
    return cast("LambdaClient", _client("lambda"))


def list_objects(bucket: str, prefix: str, progress: Progress) -> dict[str, Listed]:
    """Every object under ``prefix``, by key."""
    listed: dict[str, Listed] = {}
    pages = aws.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        contents = page.get("Contents", [])
        for obj in contents:
            key = obj["Key"]
            listed[key] = Listed(key, obj.get("ETag", "").strip('"'), obj.get("Size", 0))
        progress(len(contents))
    return listed


@dataclass
class Scanned:
    rows: list[Row]
    pages: int
    read_units: float  # as DynamoDB reports them consumed (0 where an emulator does not)


def scan(table: str, segments: int, progress: Progress, page_size: int | None = None) -> Scanned:
    """Every row of the index, ``segments`` Scan segments at once (eventually consistent reads:
    half the read units; a row written since is re-checked by the function a fix sends), pages
    of 1 MB or ``page_size`` rows."""
    with ThreadPoolExecutor(max_workers=min(segments, MAX_THREADS)) as pool:
        parts = list(
            pool.map(lambda s: _segment(table, s, segments, progress, page_size), range(segments))
        )
    rows = [row for part in parts for row in part.rows]
    return Scanned(rows, sum(p.pages for p in parts), sum(p.read_units for p in parts))


def _segment(
    table: str, segment: int, total: int, progress: Progress, page_size: int | None
) -> Scanned:
    names = {f"#a{i}": name for i, name in enumerate(ATTRIBUTES)}
    request: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
        "ReturnConsumedCapacity": "TOTAL",
    }
    if page_size:
        request["Limit"] = page_size
    rows: list[Row] = []
    pages, units = 0, 0.0
    for page in _pages(request):
        pages += 1
        units += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
        rows += [Row.from_item(item) for item in page.get("Items", [])]
        progress(len(page.get("Items", [])))
    return Scanned(rows, pages, units)


def _pages(request: dict[str, Any]) -> Iterator[Any]:
    client = aws.dynamodb()
    while True:
        page = client.scan(**request)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class Deployed:
    """What a deployed stack tells reconcile: its outputs, and the resize function's
    configuration (the environment the function reads its settings from)."""

    outputs: dict[str, str]
    environment: dict[str, str]


def deployed(stack: str) -> Deployed:
    described = cloudformation().describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    environment: dict[str, str] = {}
    if FUNCTION_OUTPUT in outputs:
        configuration = lambda_().get_function_configuration(FunctionName=outputs[FUNCTION_OUTPUT])
        environment = dict(configuration.get("Environment", {}).get("Variables", {}))
    return Deployed(outputs, environment)
