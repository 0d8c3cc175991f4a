"""The readings store: the item shape, and idempotent single puts against moto over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.common.errors import DuplicateReading, StorageError
from handlers.readings import store as readings_store
from handlers.readings.schema import InvalidReading, Reading, parse_reading
from tests.aws.conftest import ReadingsTable
from tests.aws.dynamodb_proxy import DynamoDBProxy
from tests.unit.readings.test_schema import readings

ORIGINAL = Reading("2022-02-03T13:22:22", True, 65.0, 64)


def test_the_item_keeps_the_original_tables_names_and_types() -> None:
    assert readings_store.to_item(ORIGINAL) == {
        "Record_Day": {"S": "2022-02-03"},
        "Record_Date": {"S": "2022-02-03T13:22:22"},
        "Thermostat_On": {"S": "true"},
        "Temperature": {"N": "65.0"},
        "Thermostat_Value": {"N": "64"},
    }


@given(readings)
def test_dynamodb_item_round_trip(reading: Reading) -> None:
    item = readings_store.to_item(reading)
    assert readings_store.from_item(item) == reading
    day = item["Record_Day"]["S"]
    assert day == (f"held#{reading.record_day}" if reading.clock_suspect else reading.record_day)
    assert item["Record_Date"]["S"].startswith(reading.record_date)


def test_a_resent_reading_is_told_from_the_failed_condition_alone(
    readings_table: ReadingsTable, dynamodb_proxy: DynamoDBProxy
) -> None:
    assert readings_store.put_reading(readings_table.name, ORIGINAL) is True
    assert readings_store.put_reading(readings_table.name, ORIGINAL) is False
    # ReturnValuesOnConditionCheckFailure=ALL_OLD: the stored item comes with the failure.
    assert dynamodb_proxy.calls == ["PutItem", "PutItem"]


def test_a_different_reading_at_the_same_time_is_a_conflict(
    readings_table: ReadingsTable, dynamodb_proxy: DynamoDBProxy
) -> None:
    readings_store.put_reading(readings_table.name, ORIGINAL)
    with pytest.raises(DuplicateReading, match="2022-02-03T13:22:22"):
        readings_store.put_reading(
            readings_table.name, Reading(ORIGINAL.record_date, True, 66.0, 64)
        )
    assert "GetItem" not in dynamodb_proxy.calls
    # Read back as numbers: the server may answer 65.0 as "65" (AWS does; moto keeps "65.0").
    assert [readings_store.from_item(item) for item in readings_table.items()] == [ORIGINAL]


@pytest.mark.parametrize(
    "temperature", [1e-130, -1e-130, 200.0, -100.0, 0.0, 1.0000000000000002, 65.12345678901234]
)
def test_the_schemas_edges_are_stored_by_dynamodb(
    readings_table: ReadingsTable, temperature: float
) -> None:
    reading = parse_reading({**ORIGINAL.to_json(), "temperature": temperature})
    assert readings_store.put_reading(readings_table.name, reading) is True
    [item] = readings_table.items()
    assert readings_store.from_item(item) == reading


def test_beyond_the_edge_dynamodb_refuses_what_the_schema_refuses(
    readings_table: ReadingsTable,
) -> None:
    # The premise of the schema's bound: moto, like DynamoDB, refuses 1e-131 (a 500 every time).
    with pytest.raises(StorageError):
        readings_store.put_reading(
            readings_table.name, Reading(ORIGINAL.record_date, True, 1e-131, 64)
        )
    with pytest.raises(InvalidReading):
        parse_reading({**ORIGINAL.to_json(), "temperature": 1e-131})


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    second=st.integers(0, 10**8),
    temperature=st.one_of(
        st.floats(-100, 200),
        st.floats(-1e-120, 1e-120),  # around DynamoDB's smallest magnitude
        st.floats(),
        st.integers(-(10**400), 10**400),
        st.floats().map(repr),
    ),
    thermostat_value=st.one_of(st.integers(-1, 70_000), st.floats().map(repr)),
)
def test_every_reading_the_schema_accepts_is_stored(
    readings_table: ReadingsTable, second: int, temperature: Any, thermostat_value: Any
) -> None:
    body = {
        "record_date": (datetime(2022, 1, 1) + timedelta(seconds=second)).isoformat() + "Z",
        "thermostat_on": True,
        "temperature": temperature,
        "thermostat_value": thermostat_value,
    }
    try:
        reading = parse_reading(body)
    except InvalidReading:
        return
    try:
        readings_store.put_reading(readings_table.name, reading)  # never a StorageError
    except DuplicateReading:  # an earlier example drew the same second
        return
    assert readings_store.put_reading(readings_table.name, reading) is False  # read back equal
