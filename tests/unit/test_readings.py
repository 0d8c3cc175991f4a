"""The reading schema shared by the function and the device client."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import readings as readings_module
from handlers.readings import InvalidReading, Reading, parse_reading

ORIGINAL_DEVICE_BODY = {
    "record_date": "2022-02-03T13:22:22",
    "thermostat_on": True,
    "temperature": "65",
    "thermostat_value": "64",
}


def test_the_original_devices_body_is_accepted() -> None:
    reading = parse_reading(ORIGINAL_DEVICE_BODY)
    assert reading == Reading("2022-02-03T13:22:22", True, 65.0, 64)
    assert reading.record_day == "2022-02-03"


timestamps = st.builds(
    lambda dt, frac, offset: dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + offset,
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["", ".5", ".123456"]),
    st.sampled_from(["", "Z", "+00:00", "-05:00", "+05:30"]),
)
readings = st.builds(
    Reading,
    record_date=timestamps,
    thermostat_on=st.booleans(),
    temperature=st.floats(-100, 200, allow_nan=False),
    thermostat_value=st.integers(0, 65535),
)


@given(readings)
def test_json_round_trip(reading: Reading) -> None:
    assert parse_reading(reading.to_json()) == reading


@given(readings)
def test_numbers_sent_as_strings_are_accepted(reading: Reading) -> None:
    body = {
        **reading.to_json(),
        "temperature": repr(reading.temperature),
        "thermostat_value": str(reading.thermostat_value),
    }
    assert parse_reading(body) == reading


INVALID: list[tuple[str, Any, str]] = [
    ("record_date", "2022-02-30T13:22:22", "not a calendar date"),
    ("record_date", "2022-02-03 25:00:00", "impossible time"),
    ("record_date", "yesterday", "RFC 3339"),
    ("record_date", 1643894542, "string"),
    ("record_date", "2022-02-03T13:22:22+24:00", "offset"),
    ("thermostat_on", "yes", "true or false"),
    ("thermostat_on", 1, "true or false"),
    ("temperature", math.nan, "finite"),
    ("temperature", "NaN", "finite"),
    ("temperature", math.inf, "finite"),
    ("temperature", "-Infinity", "finite"),
    ("temperature", 1000, "between"),
    ("temperature", True, "number"),
    ("temperature", [65], "number"),
    ("thermostat_value", 65536, "between"),
    ("thermostat_value", -1, "between"),
    ("thermostat_value", "64.5", "whole"),
    ("thermostat_value", "sixty", "number"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"), INVALID, ids=[f"{f}={v!r}" for f, v, _ in INVALID]
)
def test_invalid_field_is_named_with_a_reason(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidReading) as caught:
        parse_reading({**ORIGINAL_DEVICE_BODY, field: value})
    assert list(caught.value.errors) == [field]
    assert message in caught.value.errors[field]


def test_every_missing_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidReading) as caught:
        parse_reading({"temperature": None})
    assert set(caught.value.errors) == {
        "record_date",
        "thermostat_on",
        "temperature",
        "thermostat_value",
    }


@pytest.mark.parametrize("body", [[], "reading", 42, None], ids=repr)
def test_non_object_is_rejected(body: Any) -> None:
    with pytest.raises(InvalidReading, match="JSON object"):
        parse_reading(body)


def test_the_schema_knows_nothing_of_dynamodb() -> None:
    # The device client imports this module; the item shape lives in handlers.readings_store.
    source = (Path(readings_module.__file__ or "")).read_text()
    assert "Record_Day" not in source and "botocore" not in source
    assert not hasattr(Reading, "to_item") and not hasattr(Reading, "from_item")


def test_unknown_fields_are_ignored() -> None:
    assert parse_reading({**ORIGINAL_DEVICE_BODY, "humidity": 40}) == parse_reading(
        ORIGINAL_DEVICE_BODY
    )
