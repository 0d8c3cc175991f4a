"""Resources on moto's server for the handler tests, one fresh set per test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from devstack import moto_transactions
from handlers import resize
from infra import tables
from tests import events
from tests.aws.dynamodb_proxy import DynamoDBProxy
from tests.aws.dynamodb_proxy import running as dynamodb_proxy_running


@dataclass
class Bucket:
    """An upload bucket and index table, and helpers to upload and build the matching events."""

    name: str
    table: str
    s3: Any
    dynamodb: Any
    _sequence: Iterator[int] = field(default_factory=lambda: itertools.count(0x0055AED6DCD90281E5))

    def upload(self, key: str, data: bytes) -> dict[str, Any]:
        """Put an object and return the S3 record announcing it, as S3 would send it."""
        self.s3.put_object(Bucket=self.name, Key=key, Body=data)
        head = self.s3.head_object(Bucket=self.name, Key=key)
        return events.s3_record(
            self.name,
            key,
            etag=head["ETag"].strip('"'),
            size=head["ContentLength"],
            sequencer=f"{next(self._sequence):X}",
        )

    def row(self, key: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else tables.plain(item)

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(obj["Key"] for obj in listed.get("Contents", []))

    def rows(self) -> int:
        return int(self.dynamodb.scan(TableName=self.table, Select="COUNT")["Count"])


@pytest.fixture
def bucket(aws_env: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    s3 = boto3.client("s3")
    dynamodb = boto3.client("dynamodb")
    name, table = f"uploads-{unique}", f"image_metadata-{unique}"
    s3.create_bucket(Bucket=name)
    dynamodb.create_table(**tables.create_table_request(tables.IMAGE_INDEX, table))
    monkeypatch.setenv("INDEX_TABLE", table)
    resize.settings.cache_clear()
    yield Bucket(name, table, s3, dynamodb)
    resize.settings.cache_clear()


@pytest.fixture
def image(read_image: Callable[[str], bytes]) -> bytes:
    return read_image("Landscape_6.jpg")


@dataclass
class ReadingsTable:
    name: str
    dynamodb: Any

    def items(self) -> list[dict[str, Any]]:
        scanned = self.dynamodb.scan(TableName=self.name, ConsistentRead=True)
        return sorted(scanned["Items"], key=lambda item: item["Record_Date"]["S"])


@pytest.fixture
def readings_table(
    aws_env: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReadingsTable]:
    from handlers import ingest

    moto_transactions.install()  # batches are transactions: moto's, linear (the module says why)
    dynamodb = boto3.client("dynamodb")
    name = f"Shop_Thermostat-{unique}"
    dynamodb.create_table(**tables.create_table_request(tables.READINGS, name))
    monkeypatch.setenv("READINGS_TABLE", name)
    ingest.settings.cache_clear()
    yield ReadingsTable(name, dynamodb)
    ingest.settings.cache_clear()


@pytest.fixture
def dynamodb_proxy(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBProxy]:
    """Our DynamoDB client goes through the throttling proxy; the tests' own clients do not."""
    from handlers.common import aws

    with dynamodb_proxy_running(aws_env) as (proxy, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
        aws.clear()
        yield proxy
    aws.clear()
