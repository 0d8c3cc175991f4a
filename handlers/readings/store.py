"""Readings in DynamoDB: the item shape, conditional writes that tell new, resent and conflicting
readings apart exactly (also under concurrency), day queries.

The item keeps the original table's attribute names and types (Thermostat_On a "true"/"false"
string, numbers as N). With a retention (``RETENTION_DAYS``), written items carry the TTL
attribute (handlers.readings.retention).

Every write is a PutItem conditional on the key being free, with
``ReturnValuesOnConditionCheckFailure=ALL_OLD``: a failed condition carries the item that holds
the key, so one round trip decides stored / duplicate (identical) / conflict (different), and
no other writer can slip in between a read and a write. A batch runs these puts on a few
threads (the client is thread-safe); it never reads first and never writes unconditionally, so
a 201 means stored, and each reading's outcome in a batch is what the table holds. The ingest
role needs ``dynamodb:PutItem`` and ``dynamodb:Query`` only.

Every botocore error is translated here, once, into StorageThrottled or StorageError, keeping
the cause chained for the log; nothing DynamoDB says travels further.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import aws
from handlers.common.errors import DuplicateReading, StorageError, StorageThrottled
from handlers.common.retry import full_jitter
from handlers.readings import retention
from handlers.readings.schema import Reading
from handlers.readings.table import READINGS_EXPIRES_AT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

_THROTTLING: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
# Conditional puts in flight for one batch: DynamoDB answers each in a few milliseconds, so a
# 1,000-reading backlog takes about a second; botocore's pool holds 10 connections.
_WRITERS: Final = 8
# Rounds of puts for a batch: botocore retries each throttled put itself (standard mode), then
# the readings still throttled go again after a jittered pause, as the old batch path retried
# its UnprocessedItems (~1.6 s of backoff in all over the rounds), then they are reported failed.
BATCH_ROUNDS: Final = 6


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _THROTTLING:
            raise StorageThrottled(f"{action}: throttled") from exc
        raise StorageError(f"{action} failed") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{action} failed") from exc


def to_item(reading: Reading) -> dict[str, dict[str, str]]:
    return {
        "Record_Day": {"S": reading.record_day},
        "Record_Date": {"S": reading.record_date},
        "Thermostat_On": {"S": "true" if reading.thermostat_on else "false"},
        "Temperature": {"N": repr(reading.temperature)},
        "Thermostat_Value": {"N": str(reading.thermostat_value)},
    }


def from_item(item: Mapping[str, Mapping[str, str]]) -> Reading:
    return Reading(
        record_date=item["Record_Date"]["S"],
        thermostat_on=item["Thermostat_On"]["S"] == "true",
        temperature=float(item["Temperature"]["N"]),
        thermostat_value=int(item["Thermostat_Value"]["N"]),
    )


def put_reading(table: str, reading: Reading, retention_days: int = 0) -> bool:
    """Store one reading. True if new, False if the same reading was already stored.

    Raises DuplicateReading when a different reading holds the same Record_Date.
    """
    held = _put(aws.dynamodb(), table, reading, retention_days)
    if held is None:
        return True
    if held != reading:
        raise DuplicateReading(f"another reading is stored for {reading.record_date}")
    return False


def _put(
    client: DynamoDBClient, table: str, reading: Reading, retention_days: int
) -> Reading | None:
    """Write the reading unless its key is taken: None if written, else the reading that holds
    the key (from the failed condition itself)."""
    with _translated("PutItem"):
        try:
            client.put_item(
                TableName=table,
                Item=_item(reading, retention_days),
                ConditionExpression="attribute_not_exists(Record_Date)",
                # The failed condition carries the stored item: one round trip, and no window
                # for it to change between a put and a get.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except client.exceptions.ConditionalCheckFailedException as exc:
            failed: Mapping[str, Any] = exc.response
            stored = failed.get("Item")
            if stored is None:
                # Only a backend ignoring ALL_OLD answers so; guessing "duplicate" could drop
                # a conflicting reading unreported.
                raise StorageError("PutItem: the failed condition returned no item") from exc
    return from_item(stored)


@dataclass
class BatchResult:
    """Indexes into the request's list of readings, by outcome."""

    stored: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


_THROTTLED: Final = object()  # a put still throttled after botocore's retries


def put_batch(table: str, readings: Sequence[Reading], retention_days: int = 0) -> BatchResult:
    """Store many readings, each by its own conditional put, and report every index exactly:

    - stored: this request wrote it;
    - duplicates: the table holds this very reading (written earlier, or by an earlier index);
    - conflicts: the table holds a different reading under its Record_Date;
    - failed: still throttled after every round; the table does not hold it (send it again).

    A Record_Date repeated within the batch is written once, by its first index; the repeats
    are judged against what the table then holds. Any other storage error raises StorageError
    (after every put has finished): the device resends, and what was stored answers duplicate.
    """
    first_index: dict[str, int] = {}
    for index, reading in enumerate(readings):
        first_index.setdefault(reading.record_date, index)
    unique = list(first_index.values())
    client = aws.dynamodb()  # made here: botocore builds clients one thread at a time

    def write(index: int) -> object:
        try:
            return _put(client, table, readings[index], retention_days)
        except StorageThrottled:
            return _THROTTLED

    # map() returns in order and raises the first StorageError; the pool's exit waits for the
    # puts still running, so none outlives the answer.
    held_at: dict[int, object] = {}
    pending = unique
    with ThreadPoolExecutor(max_workers=max(1, min(_WRITERS, len(unique)))) as pool:
        for round_ in range(BATCH_ROUNDS):
            if round_:
                logger.info("%d puts still throttled (round %d)", len(pending), round_ + 1)
                time.sleep(full_jitter(round_ - 1, 0.05))
            held_at.update(zip(pending, pool.map(write, pending), strict=True))
            pending = [index for index in pending if held_at[index] is _THROTTLED]
            if not pending:
                break
    held_by_key = {readings[index].record_date: (index, held_at[index]) for index in unique}

    result = BatchResult()
    for index, reading in enumerate(readings):
        first, held = held_by_key[reading.record_date]
        if held is _THROTTLED:
            result.failed.append(index)
            continue
        if held is None:  # the first index wrote it
            if index == first:
                result.stored.append(index)
                continue
            held = readings[first]
        (result.duplicates if held == reading else result.conflicts).append(index)
    return result


def query_day(
    table: str, day: str, limit: int, after: str | None = None
) -> tuple[list[Reading], str | None]:
    """One page of a partition's readings in sort-key order, and the Record_Date to resume
    after (handlers.readings.timerange puts them in time order)."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "Record_Day = :day",
        "ExpressionAttributeValues": {":day": {"S": day}},
        "ScanIndexForward": True,
        "Limit": limit,
    }
    if after is not None:
        request["ExclusiveStartKey"] = {"Record_Day": {"S": day}, "Record_Date": {"S": after}}
    with _translated("Query"):
        response = aws.dynamodb().query(**request)
    items: list[Any] = response.get("Items", [])
    readings = [from_item(item) for item in items]
    last = response.get("LastEvaluatedKey")
    return readings, (str(last["Record_Date"]["S"]) if last else None)


def _item(reading: Reading, retention_days: int = 0) -> Any:
    """The item, typed loosely: the stubs' AttributeValue union does not take plain dicts."""
    item: dict[str, Any] = to_item(reading)
    expires = retention.expires_at(reading, retention_days)
    if expires is not None:
        item[READINGS_EXPIRES_AT] = {"N": str(expires)}
    return item


def day_readings(table: str, day: str, page_size: int = 1000) -> Iterator[Reading]:
    """All of a ``Record_Day`` partition in sort-key order, page after page as iterated."""
    after: str | None = None
    while True:
        page, after = query_day(table, day, page_size, after)
        yield from page
        if after is None:
            return
