"""Readings in DynamoDB: the item shape, idempotent writes, batches with retried
UnprocessedItems, day queries.

The item keeps the original table's attribute names and types (Thermostat_On a "true"/"false"
string, numbers as N). With a retention (``RETENTION_DAYS``), written items carry the TTL
attribute (handlers.retention).

Every botocore error is translated here, once, into StorageThrottled or StorageError, keeping
the cause chained for the log; nothing DynamoDB says travels further.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws, retention, tables
from handlers.errors import DuplicateReading, StorageError, StorageThrottled
from handlers.readings import Reading
from handlers.retry import full_jitter

logger = logging.getLogger(__name__)

_THROTTLING: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
_WRITE_CHUNK: Final = 25  # BatchWriteItem's limit
_GET_CHUNK: Final = 100  # BatchGetItem's limit
_BATCH_ATTEMPTS: Final = 6  # UnprocessedItems retries: ~1.6 s of backoff in all, then give up


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
    client = aws.dynamodb()
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
            return True
        except client.exceptions.ConditionalCheckFailedException as exc:
            failed: Mapping[str, Any] = exc.response
            stored = failed.get("Item")
            if stored is None:
                # Only a backend ignoring ALL_OLD answers so; guessing "duplicate" could drop
                # a conflicting reading unreported.
                raise StorageError("PutItem: the failed condition returned no item") from exc
    if from_item(stored) != reading:
        raise DuplicateReading(f"another reading is stored for {reading.record_date}")
    return False


@dataclass
class BatchResult:
    """Indexes into the request's list of readings, by outcome."""

    stored: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def put_batch(table: str, readings: Sequence[Reading], retention_days: int = 0) -> BatchResult:
    """Store many readings: new ones written, identical ones counted as duplicates, different
    ones under an existing Record_Date reported as conflicts, unwritable ones as failed."""
    result = BatchResult()
    first_index: dict[str, int] = {}
    for index, reading in enumerate(readings):
        seen = first_index.setdefault(reading.record_date, index)
        if seen != index:
            (result.duplicates if readings[seen] == reading else result.conflicts).append(index)
    unique = list(first_index.values())

    existing = _existing(table, [readings[i] for i in unique])
    to_write = []
    for index in unique:
        stored = existing.get(readings[index].record_date)
        if stored is None:
            to_write.append(index)
        else:
            (result.duplicates if stored == readings[index] else result.conflicts).append(index)

    for start in range(0, len(to_write), _WRITE_CHUNK):
        chunk = to_write[start : start + _WRITE_CHUNK]
        unwritten = _write_chunk(
            table, {readings[i].record_date: i for i in chunk}, readings, retention_days
        )
        result.failed.extend(unwritten)
        result.stored.extend(i for i in chunk if i not in unwritten)
    for outcome in (result.duplicates, result.conflicts, result.failed, result.stored):
        outcome.sort()
    return result


def _existing(table: str, readings: Sequence[Reading]) -> dict[str, Reading]:
    client = aws.dynamodb()
    found: dict[str, Reading] = {}
    for start in range(0, len(readings), _GET_CHUNK):
        keys: list[Any] = [_key(r) for r in readings[start : start + _GET_CHUNK]]
        for attempt in range(_BATCH_ATTEMPTS):
            with _translated("BatchGetItem"):
                response: Any = client.batch_get_item(
                    RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
                )
            for item in response.get("Responses", {}).get(table, []):
                reading = from_item(item)
                found[reading.record_date] = reading
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            _backoff(attempt)
        else:
            raise StorageThrottled("BatchGetItem: keys left unprocessed")
    return found


def _write_chunk(
    table: str, index_of: dict[str, int], readings: Sequence[Reading], retention_days: int = 0
) -> list[int]:
    """Write one chunk, retrying UnprocessedItems with backoff. Returns the unwritten indexes."""
    client = aws.dynamodb()
    requests: list[Any] = [
        {"PutRequest": {"Item": _item(readings[i], retention_days)}} for i in index_of.values()
    ]
    for attempt in range(_BATCH_ATTEMPTS):
        try:
            with _translated("BatchWriteItem"):
                response = client.batch_write_item(RequestItems={table: requests})
        except StorageThrottled:
            logger.warning("BatchWriteItem throttled (attempt %d)", attempt + 1)
        else:
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                return []
            logger.info(
                "BatchWriteItem left %d items unprocessed (attempt %d)", len(requests), attempt + 1
            )
        _backoff(attempt)
    return sorted(index_of[r["PutRequest"]["Item"]["Record_Date"]["S"]] for r in requests)


def _backoff(attempt: int) -> None:
    time.sleep(full_jitter(attempt, 0.05))


def query_day(
    table: str, day: str, limit: int, after: str | None = None
) -> tuple[list[Reading], str | None]:
    """One page of a day's readings in time order, and the Record_Date to resume after."""
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
        item[tables.READINGS_EXPIRES_AT] = {"N": str(expires)}
    return item


def _key(reading: Reading) -> Any:
    return {"Record_Day": {"S": reading.record_day}, "Record_Date": {"S": reading.record_date}}


def day_readings(table: str, day: str, page_size: int = 1000) -> Iterator[Reading]:
    """All of a ``Record_Day`` partition in sort-key order, page after page as iterated."""
    after: str | None = None
    while True:
        page, after = query_day(table, day, page_size, after)
        yield from page
        if after is None:
            return
