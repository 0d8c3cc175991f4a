"""The reading schema shared by the function and the device client."""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.readings import schema as readings_module
from handlers.readings.schema import (
    SMALLEST_STORABLE,
    InvalidReading,
    Reading,
    canonical_record_date,
    item_errors,
    item_index,
    parse_reading,
    unknown_fields,
)
from handlers.readings.timerange import instant

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


# Canonical timestamps (what parse_reading returns), and temperatures DynamoDB can store.
timestamps = st.builds(
    lambda dt, frac, offset: dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + offset,
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 12, 30)),
    st.sampled_from(["", ".5", ".123456", ".000000001"]),
    st.sampled_from(["", "Z", "-05:00", "+05:30", "+14:00"]),
)
temperatures = st.one_of(
    st.just(0.0),
    st.floats(SMALLEST_STORABLE, 200),
    st.floats(-100, -SMALLEST_STORABLE),
)
readings = st.builds(
    Reading,
    record_date=timestamps,
    thermostat_on=st.booleans(),
    temperature=temperatures,
    thermostat_value=st.integers(0, 65535),
    clock_suspect=st.booleans(),
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
    ("clock_suspect", "yes", "true or false"),
    ("clock_suspect", 1, "true or false"),
    ("clock_suspect", [], "true or false"),
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
    # The device client imports this module; the item shape lives in handlers.readings.store.
    source = (Path(readings_module.__file__ or "")).read_text()
    assert "Record_Day" not in source and "botocore" not in source
    assert not hasattr(Reading, "to_item") and not hasattr(Reading, "from_item")


@pytest.mark.parametrize(
    ("sent", "suspect"),
    [(True, True), (False, False), ("TRUE", True), ("false", False), (None, False)],
    ids=repr,
)
def test_clock_suspect_is_optional_and_parsed_like_thermostat_on(sent: Any, suspect: bool) -> None:
    reading = parse_reading({**ORIGINAL_DEVICE_BODY, "clock_suspect": sent})
    assert reading.clock_suspect is suspect
    assert parse_reading(ORIGINAL_DEVICE_BODY).clock_suspect is False
    assert unknown_fields({**ORIGINAL_DEVICE_BODY, "clock_suspect": sent}) == []


def test_to_json_emits_clock_suspect_only_when_true() -> None:
    trusted = Reading("2022-02-03T13:22:22", True, 65.0, 64)
    assert "clock_suspect" not in trusted.to_json()
    held = Reading("1970-01-01T00:00:05Z", True, 65.0, 64, clock_suspect=True)
    assert held.to_json()["clock_suspect"] is True


def test_unknown_fields_are_ignored() -> None:
    assert parse_reading({**ORIGINAL_DEVICE_BODY, "humidity": 40}) == parse_reading(
        ORIGINAL_DEVICE_BODY
    )


# Issue 14: what the table cannot hold, non-ASCII digits, and one spelling per instant.


def short(value: Any) -> str:
    """A test id: repr() of a 5,000-digit int raises, and ids should stay readable."""
    if isinstance(value, int) and abs(value) > 10**20:
        return f"{'-' if value < 0 else ''}10**{round(math.log10(abs(value)))}"
    if not isinstance(value, str):
        return repr(value)
    return ascii(value[:20] + ("..." if len(value) > 20 else ""))


UNSTORABLE_OR_HOSTILE: list[tuple[str, Any, str]] = [
    ("temperature", 1e-200, "1e-130"),
    ("temperature", "1e-200", "1e-130"),
    ("temperature", -5e-324, "1e-130"),
    ("temperature", 10**400, "between"),  # float(10**400) raises OverflowError
    ("temperature", -(10**5000), "between"),
    ("temperature", "9" * 5000, "between"),
    ("temperature", "1e99999", "between"),
    ("temperature", "\u0666\u0665", "ASCII"),  # Arabic-Indic 65: float() reads it
    ("temperature", "\uff16\uff15", "ASCII"),  # fullwidth 65
    ("temperature", "6_5", "number"),  # float() reads 65
    ("temperature", "0x41", "number"),
    ("thermostat_value", 10**400, "between"),
    ("thermostat_value", "\u0666\u0664", "ASCII"),
    ("thermostat_value", "²", "ASCII"),
    ("record_date", "\u0662\u0660\u0662\u0662-02-03T13:22:22Z", "RFC 3339"),
    ("record_date", "2022-02-03T1\u0663:22:22Z", "RFC 3339"),
    ("record_date", "2022-02-03T13:22:22+0\u0665:00", "RFC 3339"),
    ("record_date", "2022-02-03T13:22:22.\u0665Z", "RFC 3339"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    UNSTORABLE_OR_HOSTILE,
    ids=[f"{f}={short(v)}" for f, v, _ in UNSTORABLE_OR_HOSTILE],
)
def test_what_the_table_cannot_hold_or_json_does_not_spell_is_refused(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(InvalidReading) as caught:
        parse_reading({**ORIGINAL_DEVICE_BODY, field: value})
    assert list(caught.value.errors) == [field]
    assert message in caught.value.errors[field]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1e-130, 1e-130), (-1e-130, -1e-130), (0, 0.0), (-0.0, 0.0), ("-0", 0.0)],
    ids=repr,
)
def test_the_edges_of_what_the_table_holds_are_accepted(value: Any, expected: float) -> None:
    temperature = parse_reading({**ORIGINAL_DEVICE_BODY, "temperature": value}).temperature
    assert temperature == expected
    assert math.copysign(1, temperature) == math.copysign(1, expected)  # no -0.0


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**600), max_value=10**600),
        st.floats().map(repr),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
    )
)
def test_every_accepted_temperature_is_storable_and_nothing_raises(value: Any) -> None:
    try:
        temperature = parse_reading({**ORIGINAL_DEVICE_BODY, "temperature": value}).temperature
    except InvalidReading as exc:
        assert set(exc.errors) == {"temperature"}
        return
    assert temperature == 0 or SMALLEST_STORABLE <= abs(temperature) <= 200


# Every decimal digit outside ASCII (650 of them: Arabic-Indic, Devanagari, fullwidth...), each
# of which str.isdigit(), int() and float() read as its value.
OTHER_DIGITS = [chr(c) for c in range(128, 0x110000) if unicodedata.category(chr(c)) == "Nd"]


@given(readings, st.data())
def test_any_ascii_digit_replaced_by_another_scripts_digit_is_refused(
    reading: Reading, data: st.DataObject
) -> None:
    body = {
        **reading.to_json(),
        "temperature": repr(reading.temperature),
        "thermostat_value": str(reading.thermostat_value),
    }
    field = data.draw(st.sampled_from(["record_date", "temperature", "thermostat_value"]))
    text = body[field]
    positions = [i for i, c in enumerate(text) if c in "0123456789"]
    at = data.draw(st.sampled_from(positions))
    digit = data.draw(st.sampled_from([c for c in OTHER_DIGITS if int(c) == int(text[at])]))
    body[field] = text[:at] + digit + text[at + 1 :]
    with pytest.raises(InvalidReading) as caught:
        parse_reading(body)
    assert list(caught.value.errors) == [field]


@st.composite
def spelled_timestamps(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical timestamp, and one of the ways RFC 3339 lets a device spell it."""
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 12, 30)))
    fraction = draw(st.sampled_from(["", "5", "123456", "000000001"]))
    offset = draw(st.sampled_from(["", "Z", "-05:00", "+05:30"]))
    zeros = "0" * draw(st.integers(0, 9 - len(fraction)))
    day, clock = moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")
    canonical = f"{day}T{clock}" + (f".{fraction}" if fraction else "") + offset
    spelled = (
        day
        + draw(st.sampled_from(["T", "t", " "]))
        + clock
        + (f".{fraction}{zeros}" if fraction or zeros else "")
        + (draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"])) if offset == "Z" else offset)
    )
    return canonical, spelled


@given(spelled_timestamps())
def test_every_spelling_of_an_instant_is_one_record_date(pair: tuple[str, str]) -> None:
    canonical, spelled = pair
    assert canonical_record_date(spelled) == canonical
    assert canonical_record_date(canonical) == canonical  # idempotent
    assert instant(spelled) == instant(canonical)
    assert canonical[:10] == spelled[:10]  # the partition (Record_Day) never moves


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2022-02-03T13:22:22", "2022-02-03T13:22:22"),  # the original device: unchanged
        ("2022-02-03 13:22:22", "2022-02-03T13:22:22"),
        ("2022-02-03t13:22:22z", "2022-02-03T13:22:22Z"),
        ("2022-02-03T13:22:22+00:00", "2022-02-03T13:22:22Z"),
        ("2022-02-03T13:22:22-00:00", "2022-02-03T13:22:22Z"),
        ("2022-02-03T13:22:22.500Z", "2022-02-03T13:22:22.5Z"),
        ("2022-02-03T13:22:22.000+05:30", "2022-02-03T13:22:22+05:30"),
    ],
)
def test_the_canonical_spelling(sent: str, stored: str) -> None:
    assert parse_reading({**ORIGINAL_DEVICE_BODY, "record_date": sent}).record_date == stored


def test_a_batch_items_error_keys_name_its_index_and_read_back() -> None:
    with pytest.raises(InvalidReading) as refused:
        parse_reading({**ORIGINAL_DEVICE_BODY, "temperature": "hot"})
    keyed = item_errors(3, refused.value.errors)
    assert list(keyed) == ["[3].temperature"]
    assert [item_index(key) for key in keyed] == [3]
    assert item_index("[12].thermostat_on") == 12


@pytest.mark.parametrize("key", ["temperature", "[x].temperature", "[3]temperature", 3, ""])
def test_any_other_key_names_no_batch_item(key: object) -> None:
    assert item_index(key) is None


# A number sent as a string is the number alone: nothing around it, whitespace included.
_AROUND = st.text(
    st.sampled_from(
        [
            " ",
            "\t",
            "\n",
            "\r",
            "\x00",
            "\x0b",
            "\x0c",
            "\x1f",
            "\x7f",
            "\u00a0",
            "\u2028",
            "\ufeff",
            "x",
            "+",
        ]
    ),
    max_size=3,
)


@given(before=_AROUND, after=_AROUND, field=st.sampled_from(["temperature", "thermostat_value"]))
def test_anything_around_a_number_sent_as_a_string_is_refused_by_name(
    before: str, after: str, field: str
) -> None:
    text = before + "65" + after
    if text in ("65", "+65"):  # nothing around it: the number itself ("+65" is a signed number)
        assert getattr(parse_reading({**ORIGINAL_DEVICE_BODY, field: text}), field) == 65
        return
    with pytest.raises(InvalidReading) as caught:
        parse_reading({**ORIGINAL_DEVICE_BODY, field: text})
    assert list(caught.value.errors) == [field]


@pytest.mark.parametrize("text", [" 65\n", "\t64 ", "65 ", " 65", "6 5"], ids=repr)
def test_padded_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidReading) as caught:
        parse_reading({**ORIGINAL_DEVICE_BODY, "temperature": text, "thermostat_value": text})
    assert set(caught.value.errors) == {"temperature", "thermostat_value"}
    assert "ASCII digits only" in caught.value.errors["temperature"]
