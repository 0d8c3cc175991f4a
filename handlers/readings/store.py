"""Readings in DynamoDB: the item shape, conditional writes that tell new, resent and conflicting
readings apart exactly (also under concurrency), day queries.

The item keeps the original table's attribute names and types (Thermostat_On a "true"/"false"
string, numbers as N). With a retention (``RETENTION_DAYS``), written items carry the TTL
attribute (handlers.readings.retention). A clock-suspect reading is held under a key of its own
(``item_key``; the shape is described in handlers.readings.table) with ``Clock_Suspect`` true.

Every write is conditional on the key being free, with ``ReturnValuesOnConditionCheckFailure=
ALL_OLD``: a failed condition carries the item that holds the key, so one round trip decides
stored / duplicate (identical) / conflict (different), and no other writer can slip in between a
read and a write. One reading is a PutItem. A batch goes in TransactWriteItems of up to 100 such
puts (``TRANSACTION_ITEMS``): a transaction whose conditions all hold writes them all; one that
fails a condition writes none and names, per item, the item holding the key, so the readings
whose keys were free go again in the next round without them. 2,000 readings are 20 calls, not
2,000 (each transactional put costs two write units). It never reads first and never writes
unconditionally, so a 201 means stored, and each reading's outcome in a batch is what the table
holds. The ingest role needs ``dynamodb:PutItem`` (which also authorizes a transaction's puts)
and ``dynamodb:Query`` only.

A batch stops starting transactions once the time left (``remaining``, from the Lambda context)
is under ``reserve``: what landed is answered, the rest is reported failed (not stored), so the
device resends only those.

Every botocore error is translated here, once, into StorageThrottled or StorageError, keeping
the cause chained for the log; nothing DynamoDB says travels further.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import aws
from handlers.common.errors import DuplicateReading, StorageError, StorageThrottled
from handlers.common.retry import full_jitter
from handlers.readings import retention
from handlers.readings.schema import Reading
from handlers.readings.table import (
    HELD_KEY_SEPARATOR,
    HELD_PARTITION_PREFIX,
    READINGS_CLOCK_SUSPECT,
    READINGS_EXPIRES_AT,
)

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
# DynamoDB's limit of actions in one TransactWriteItems.
TRANSACTION_ITEMS: Final = 100
# Rounds of transactions for a chunk: botocore retries a throttled call itself (standard mode),
# then what is still throttled (or cancelled by a transaction conflict) goes again after a
# jittered pause (~1.6 s of backoff in all over the rounds), then it is reported failed. A
# round that only drops items holding a key (a failed condition) is not counted: each such
# round removes at least one item, so a chunk ends.
BATCH_ROUNDS: Final = 6
# Per-item reasons of a cancelled transaction (TransactionCanceledException.CancellationReasons).
_HELD: Final = "ConditionalCheckFailed"
_RETRYABLE: Final = frozenset(
    {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
_DIGEST_CHARS: Final = 16  # 64 bits of SHA-256: held readings of one timestamp never collide

Remaining = Callable[[], float]  # seconds left before the function is stopped


def _forever() -> float:
    return math.inf


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


def held_partition(day: str) -> str:
    """The partition holding the clock-suspect readings whose timestamp says ``day``."""
    return HELD_PARTITION_PREFIX + day


def item_key(reading: Reading) -> tuple[str, str]:
    """(Record_Day, Record_Date): a trusted reading's date and timestamp as sent; a clock-suspect
    one's under ``held_partition``, its timestamp followed by a digest of the reading."""
    if not reading.clock_suspect:
        return reading.record_day, reading.record_date
    canonical = json.dumps(reading.to_json(), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:_DIGEST_CHARS]
    return (
        held_partition(reading.record_day),
        reading.record_date + HELD_KEY_SEPARATOR + digest,
    )


def to_item(reading: Reading) -> dict[str, Any]:
    day, record_date = item_key(reading)
    item: dict[str, Any] = {
        "Record_Day": {"S": day},
        "Record_Date": {"S": record_date},
        "Thermostat_On": {"S": "true" if reading.thermostat_on else "false"},
        "Temperature": {"N": repr(reading.temperature)},
        "Thermostat_Value": {"N": str(reading.thermostat_value)},
    }
    if reading.clock_suspect:
        item[READINGS_CLOCK_SUSPECT] = {"BOOL": True}
    return item


def from_item(item: Mapping[str, Mapping[str, Any]]) -> Reading:
    record_date = str(item["Record_Date"]["S"])
    suspect = bool(item.get(READINGS_CLOCK_SUSPECT, {}).get("BOOL", False))
    if suspect:
        record_date = record_date.rpartition(HELD_KEY_SEPARATOR)[0]
    return Reading(
        record_date=record_date,
        thermostat_on=item["Thermostat_On"]["S"] == "true",
        temperature=float(item["Temperature"]["N"]),
        thermostat_value=int(item["Thermostat_Value"]["N"]),
        clock_suspect=suspect,
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


# Every write: only onto a free key. The failed condition carries the stored item (ALL_OLD): one
# round trip, and no window for it to change between a put and a get.
_FREE_KEY: Final = "attribute_not_exists(Record_Date)"


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
                ConditionExpression=_FREE_KEY,
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
    held: list[int] = field(default_factory=list)  # clock-suspect: stored apart, or already


_NOT_WRITTEN: Final = object()  # throttled, conflicting transactions, or out of time


def _transact(client: DynamoDBClient, table: str, puts: Mapping[int, Any]) -> dict[int, object]:
    """One TransactWriteItems of ``puts`` (index -> item): {} when all were written; else, for
    every index, the Reading holding its key or _NOT_WRITTEN (the transaction was cancelled)."""
    indexes = list(puts)
    request: Any = [
        {
            "Put": {
                "TableName": table,
                "Item": puts[index],
                "ConditionExpression": _FREE_KEY,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        for index in indexes
    ]
    with _translated("TransactWriteItems"):
        try:
            client.transact_write_items(TransactItems=request)
            return {}
        except client.exceptions.TransactionCanceledException as exc:
            failed: Mapping[str, Any] = exc.response
            reasons: list[Mapping[str, Any]] = list(failed.get("CancellationReasons") or [])
            if len(reasons) != len(indexes):
                raise StorageError("TransactWriteItems: cancelled without its reasons") from exc
            outcome: dict[int, object] = {}
            for index, reason in zip(indexes, reasons, strict=True):
                code = str(reason.get("Code", "None"))
                if code == _HELD and reason.get("Item") is not None:
                    outcome[index] = from_item(reason["Item"])
                elif code in _RETRYABLE:
                    outcome[index] = _NOT_WRITTEN
                else:  # a validation error, or a failed condition without the item (no ALL_OLD)
                    raise StorageError(f"TransactWriteItems: cancelled ({code})") from exc
            return outcome


def put_batch(
    table: str,
    readings: Sequence[Reading],
    retention_days: int = 0,
    remaining: Remaining = _forever,
    reserve: float = 0.0,
) -> BatchResult:
    """Store many readings in conditional transactions, and report every index exactly:

    - stored: this request wrote it;
    - duplicates: the table holds this very reading (written earlier, or by an earlier index);
    - conflicts: the table holds a different reading under its key;
    - failed: still throttled after every round, or not tried before the time left fell under
      ``reserve`` seconds; the table does not hold it (send it again);
    - held (besides one of the above): a clock-suspect reading, stored apart (item_key).

    A key repeated within the batch is written once, by its first index; the repeats are judged
    against what the table then holds. Any other storage error raises StorageError at once (no
    transaction is left running): the device resends, and what was stored answers duplicate.
    """
    first_index: dict[tuple[str, str], int] = {}
    for index, reading in enumerate(readings):
        first_index.setdefault(item_key(reading), index)
    unique = list(first_index.values())
    items = {index: _item(readings[index], retention_days) for index in unique}
    client = aws.dynamodb()

    def write(chunk: list[int]) -> dict[int, object]:
        """The chunk's outcomes: None (written), the Reading holding the key, or _NOT_WRITTEN."""
        outcome: dict[int, object] = {}
        pending = chunk
        round_ = 0
        while pending:
            if remaining() < reserve:
                logger.warning("out of time: %d readings not tried", len(pending))
                break
            try:
                answer = _transact(client, table, {index: items[index] for index in pending})
            except StorageThrottled:
                answer = dict.fromkeys(pending, _NOT_WRITTEN)
            if not answer:
                outcome.update(dict.fromkeys(pending, None))
                return outcome
            outcome.update({i: held for i, held in answer.items() if held is not _NOT_WRITTEN})
            retry = [index for index in pending if answer[index] is _NOT_WRITTEN]
            if len(retry) == len(pending):  # nothing decided: throttled or conflicting
                round_ += 1
                if round_ >= BATCH_ROUNDS:
                    break
                logger.info("%d puts not written (round %d)", len(retry), round_ + 1)
                time.sleep(full_jitter(round_ - 1, 0.05))
            pending = retry
        outcome.update(dict.fromkeys(pending, _NOT_WRITTEN))
        return outcome

    # One transaction at a time: at 128 MB the function's CPU share, not DynamoDB's latency,
    # bounds the rate (docs/ingest.md, "Batch size and timeout"), and a storage error stops the
    # batch with no transaction still running.
    held_at: dict[int, object] = {}
    for at in range(0, len(unique), TRANSACTION_ITEMS):
        held_at.update(write(unique[at : at + TRANSACTION_ITEMS]))
    held_by_key = {item_key(readings[index]): (index, held_at[index]) for index in unique}

    result = BatchResult()
    for index, reading in enumerate(readings):
        first, held = held_by_key[item_key(reading)]
        if reading.clock_suspect and held is not _NOT_WRITTEN:
            result.held.append(index)
        if held is _NOT_WRITTEN:
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
