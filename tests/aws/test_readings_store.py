"""The readings store: the item shape, and idempotent single puts against moto over real HTTP."""

from __future__ import annotations

import pytest
from hypothesis import given

from handlers import readings_store
from handlers.errors import DuplicateReading
from handlers.readings import Reading
from tests.aws.conftest import ReadingsTable
from tests.aws.dynamodb_proxy import DynamoDBProxy
from tests.unit.test_readings import readings

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
    assert item["Record_Day"]["S"] == reading.record_date[:10]


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
    assert readings_table.items() == [readings_store.to_item(ORIGINAL)]
