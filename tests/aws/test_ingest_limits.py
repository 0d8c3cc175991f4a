"""The accepted dates are exactly the dates that can be read back: both edges, both sides, for
POST and for GET. Through the handler, against moto's server over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import ingest
from handlers.common.errors import InvalidReading
from handlers.readings.schema import EARLIEST, LATEST
from tests import events
from tests.aws.conftest import ReadingsTable

FIRST = "0002-01-01T00:00:00Z"
LAST = "9998-12-31T23:59:59.999999Z"
BEFORE_FIRST = ["0001-12-31T23:59:59.999999Z", "0002-01-01T00:30:00+01:00", "0001-01-01T00:00:00"]
AFTER_LAST = ["9999-01-01T00:00:00Z", "9998-12-31T20:00:00-05:00", "9999-12-31T23:59:59"]


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = ingest.handler(event, None)
    return response["statusCode"], json.loads(response["body"])


def post(record_date: str) -> tuple[int, dict[str, Any]]:
    body = {
        "record_date": record_date,
        "thermostat_on": True,
        "temperature": 20,
        "thermostat_value": 20,
    }
    return call(events.function_url("POST", "/", body=json.dumps(body)))


def read(**query: str) -> tuple[int, dict[str, Any]]:
    return call(events.function_url("GET", "/readings", query=query))


def dates(body: dict[str, Any]) -> list[str]:
    return [r["record_date"] for r in body["readings"]]


def test_the_constants_say_what_the_edges_are() -> None:
    assert (EARLIEST.isoformat(), LATEST.isoformat()) == (
        "0002-01-01T00:00:00+00:00",
        "9999-01-01T00:00:00+00:00",
    )


@pytest.mark.parametrize("record_date", BEFORE_FIRST + AFTER_LAST)
def test_a_reading_outside_the_readable_range_is_refused_by_name(
    readings_table: ReadingsTable, record_date: str
) -> None:
    status, body = post(record_date)
    assert status == 422
    assert list(body["details"]) == ["record_date"]
    assert "0002-01-01T00:00:00Z" in body["details"]["record_date"]
    assert readings_table.items() == []


def test_the_first_instant_is_stored_and_read_back(readings_table: ReadingsTable) -> None:
    assert post(FIRST)[0] == 201
    assert dates(read(day="0002-01-01")[1]) == [FIRST]
    assert dates(read(**{"from": FIRST, "to": "0002-01-01T00:00:01Z"})[1]) == [FIRST]
    # One step outside the edge, the request itself is refused, never a 500.
    for query in (
        {"day": "0001-12-31"},
        {"from": "0001-12-31T23:59:59Z", "to": "0002-01-01T00:00:01Z"},
        {"from": "0001-12-31", "to": "0002-01-01"},
    ):
        status, body = read(**query)
        assert status == 400 and "between 0002-01-01" in body["error"], query


def test_the_last_instant_is_stored_and_read_back(readings_table: ReadingsTable) -> None:
    assert post(LAST)[0] == 201
    assert post("9998-12-31T23:59:59")[0] == 201  # no offset: read as UTC
    expected = ["9998-12-31T23:59:59", LAST]
    assert dates(read(day="9998-12-31")[1]) == expected
    assert dates(read(**{"from": "9998-12-31T23:00:00Z", "to": "9999-01-01T00:00:00Z"})[1]) == (
        expected
    )
    assert dates(read(**{"from": "9998-12-31", "to": "9998-12-31"})[1]) == expected
    for query in (
        {"day": "9999-01-01"},
        {"from": "9998-12-31T23:00:00Z", "to": "9999-01-01T00:00:00.000001Z"},
        {"from": "9998-12-31", "to": "9999-01-01"},
        {"day": "9998-12-31", "tz": "America/New_York"},  # that local day ends after LATEST
    ):
        status, body = read(**query)
        assert status == 400 and "between 0002-01-01" in body["error"], query


@pytest.mark.parametrize(
    "query",
    [
        {"from": "0001-01-01T00:00:00+01:00", "to": "2022-01-01"},  # overflows taken to UTC
        {"from": "2022-01-01T00:00:00+01:60", "to": "2022-01-02"},  # minutes of an offset
        {"from": "2022-01-01T00:00:00+24:00", "to": "2022-01-02"},
        {"from": "2022-01-01", "to": "9999-12-31T23:59:59-01:00"},  # overflows taken to UTC
        {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"},
    ],
    ids=["overflow-low", "offset-minutes-60", "offset-24h", "overflow-high", "year-1"],
)
def test_date_times_beyond_the_range_or_impossible_are_400(
    readings_table: ReadingsTable, query: dict[str, str]
) -> None:
    status, _ = call(events.function_url("GET", "/readings", query=query))
    assert status == 400, query


@pytest.mark.parametrize("text", [" 65\n", "\t64 ", "65\x00", "\u00a065"], ids=repr)
def test_a_padded_number_is_refused_naming_the_field(
    readings_table: ReadingsTable, text: str
) -> None:
    body = {
        "record_date": FIRST,
        "thermostat_on": True,
        "temperature": text,
        "thermostat_value": 20,
    }
    status, answer = call(events.function_url("POST", "/", body=json.dumps(body)))
    assert status == 422 == ingest.STATUS[InvalidReading]
    assert list(answer["details"]) == ["temperature"]
    assert readings_table.items() == []


@pytest.mark.parametrize(("gap", "status"), [("4", 400), ("5", 200), ("1440", 200), ("1441", 400)])
@pytest.mark.parametrize("path", ["/summary", "/chart"])
def test_gap_minutes_edges(readings_table: ReadingsTable, path: str, gap: str, status: int) -> None:
    response = ingest.handler(
        events.function_url("GET", path, query={"day": "2022-02-03", "gap_minutes": gap}), None
    )
    assert response["statusCode"] == status
