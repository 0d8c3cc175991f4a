"""Ingest batches: the default MAX_BATCH in transactions, the function's deadline, and
clock-suspect readings held apart. Through the handler, against moto's server over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from handlers import ingest
from handlers.readings.settings import BATCH_RESERVE_SECONDS, IngestSettings
from handlers.readings.store import TRANSACTION_ITEMS
from tests import events
from tests.aws.conftest import ReadingsTable
from tests.aws.dynamodb_proxy import DynamoDBProxy

Answer = tuple[int, dict[str, Any], dict[str, str]]


class Context:
    """The part of Lambda's context the handler reads: the time left, from a script of answers
    (the last one repeats), as ``get_remaining_time_in_millis`` gives it."""

    aws_request_id = "a1b2c3d4-0000-4000-8000-000000000000"

    def __init__(self, *remaining_ms: int) -> None:
        self._script: Iterator[int] = iter(remaining_ms)
        self._last = remaining_ms[-1]
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        self._last = next(self._script, self._last)
        return self._last


def call(event: dict[str, Any], context: object = None) -> Answer:
    response = ingest.handler(event, context)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def post(body: Any, context: object = None) -> Answer:
    return call(events.function_url("POST", "/", body=json.dumps(body)), context)


def get(path: str, **query: str) -> Answer:
    return call(events.function_url("GET", path, query=query))


def reading(minute: int, temperature: float = 20.5, **extra: Any) -> dict[str, Any]:
    return {
        "record_date": f"2026-11-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:"
        f"{minute % 60:02d}:00Z",
        "thermostat_on": minute % 2 == 0,
        "temperature": temperature,
        "thermostat_value": 20,
        **extra,
    }


def test_the_default_max_batch_lands_whole_in_transactions_of_100(
    readings_table: ReadingsTable, dynamodb_proxy: DynamoDBProxy
) -> None:
    size = IngestSettings().max_batch
    assert size == 2000
    status, body, _ = post([reading(m) for m in range(size)])
    assert (status, body["stored"], body["failed"], body["conflicts"]) == (201, size, [], [])
    assert dynamodb_proxy.calls == ["TransactWriteItems"] * (size // TRANSACTION_ITEMS)
    assert len(readings_table.items()) == size
    status, body, _ = post([reading(m) for m in range(size + 1)])
    assert status == 413


def test_out_of_time_the_batch_answers_what_landed_and_the_rest_as_failed(
    readings_table: ReadingsTable,
) -> None:
    enough, short = int(BATCH_RESERVE_SECONDS * 1000) + 1, int(BATCH_RESERVE_SECONDS * 1000) - 1
    batch = [reading(m) for m in range(250)]
    # Time for one transaction, then less than the reserve: the first 100 land, no more starts.
    context = Context(enough, short)
    status, body, headers = post(batch, context)
    assert status == 503 and headers["retry-after"]
    assert (body["stored"], body["failed"]) == (100, list(range(100, 250)))
    assert len(readings_table.items()) == 100
    assert context.asked >= 2

    status, body, _ = post(batch, Context(enough))  # the device resends: the rest lands
    assert (status, body["stored"], body["duplicates"], body["failed"]) == (
        201,
        150,
        list(range(100)),
        [],
    )
    assert len(readings_table.items()) == 250


def test_at_the_reserve_exactly_a_transaction_still_starts(readings_table: ReadingsTable) -> None:
    at_reserve = int(BATCH_RESERVE_SECONDS * 1000)
    status, body, _ = post([reading(m) for m in range(10)], Context(at_reserve))
    assert (status, body["stored"]) == (201, 10)


def test_a_clock_suspect_reading_is_held_apart_from_a_trusted_one(
    readings_table: ReadingsTable,
) -> None:
    trusted = reading(0, temperature=20.5)
    suspect = reading(0, temperature=30.0, clock_suspect=True)
    assert post(trusted)[0] == 201
    status, body, _ = post(suspect)
    assert (status, body["stored"], body["held"]) == (201, 1, True)  # not a conflict
    status, body, _ = post(suspect)
    assert (status, body["duplicate"], body["held"]) == (200, True, True)
    # Another reading stamped alike by the wrong clock is held beside it, not a conflict.
    assert post(reading(0, temperature=31.0, clock_suspect=True))[0] == 201

    status, body, _ = get("/readings", day="2026-11-01")
    assert [r["temperature"] for r in body["readings"]] == [20.5]
    status, body, _ = get("/summary", day="2026-11-01")
    assert body["days"][0]["count"] == 1 and body["days"][0]["temperature_max"] == 20.5
    status, body, _ = get("/readings/held", day="2026-11-01")
    assert status == 200
    assert sorted(r["temperature"] for r in body["readings"]) == [30.0, 31.0]
    assert all(r["clock_suspect"] is True for r in body["readings"])


def test_a_batch_says_which_readings_were_held(readings_table: ReadingsTable) -> None:
    batch = [
        reading(0),
        reading(0, temperature=1.0, clock_suspect=True),
        reading(0, temperature=1.0, clock_suspect=True),  # the same held reading twice
        reading(1, clock_suspect=False),
    ]
    status, body, _ = post(batch)
    assert (status, body["stored"], body["held"], body["duplicates"]) == (201, 3, [1, 2], [2])
    assert body["conflicts"] == []
    assert len(readings_table.items()) == 3


@pytest.mark.parametrize("cursor", ["x" * 101, "é"], ids=["long", "non-ascii"])
def test_the_held_list_refuses_a_cursor_it_did_not_give(
    readings_table: ReadingsTable, cursor: str
) -> None:
    assert get("/readings/held", day="2026-11-01", cursor=cursor)[0] == 400
