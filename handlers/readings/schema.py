"""A thermostat reading: the one definition shared by the ingest function and the device client.

Pure: no AWS, no I/O, and nothing of how readings are stored (that is ``handlers.readings.store``).
``parse_reading`` validates what a device sent (the original device's body, numbers as strings,
included) and returns the reading in its canonical form:

- ``record_date`` is RFC 3339 in one spelling per instant and offset (``canonical_record_date``):
  ``T`` between date and time (``t`` and a space are read as ``T``), ``Z`` for UTC (``z``,
  ``+00:00`` and ``-00:00`` are read as ``Z``), the fraction of a second without trailing zeros
  (none when it is zero), any other offset as sent. A timestamp without an offset (the original
  device sent none) stays without one. So the same reading sent in two spellings is one reading,
  and the original device's timestamps are stored exactly as before.
- Digits are ASCII only, in timestamps and in numbers sent as strings: RFC 3339 and JSON are
  ASCII (``str.isdigit`` and ``float`` accept Arabic-Indic digits, which no query would find).
- Every accepted number can be stored: DynamoDB holds 38 significant digits and magnitudes from
  1E-130 to 9.9E+125, so a temperature with 0 < |t| < 1E-130 is refused (not rounded: no sensor
  measures that, and a rounded value would not be what the device sent); ``-0.0`` is ``0.0``.
  Integers of any size are compared exactly, never converted to a float that overflows.

Unknown fields are ignored, not refused: a device on newer firmware must not have every reading
rejected (and dropped) by an older function. ``unknown_fields`` names them so the function can
report them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from handlers.common.errors import InvalidReading

__all__ = [
    "FIELDS",
    "InvalidReading",
    "Reading",
    "canonical_record_date",
    "item_errors",
    "item_index",
    "parse_reading",
    "unknown_fields",
]

FIELDS: Final = ("record_date", "thermostat_on", "temperature", "thermostat_value")
TEMPERATURE_RANGE: Final = (-100.0, 200.0)  # covers Celsius and Fahrenheit shops alike
THERMOSTAT_VALUE_RANGE: Final = (0, 65535)
# DynamoDB's smallest non-zero magnitude (its largest, 9.9E+125, is far outside both ranges).
SMALLEST_STORABLE: Final = 1e-130

# RFC 3339 date-time, ASCII digits only; the offset is optional because the original device
# sent none.
_RFC3339: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?P<offset>[Zz]|[+-](?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))?"
)
_UTC_OFFSETS: Final = frozenset({"Z", "z", "+00:00", "-00:00"})
# A number sent as a string: JSON's grammar, a little looser (a sign, "5.", ".5"), ASCII only.
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE: Final = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_BLANKS: Final = " \t\r\n"
# An InvalidReading's key for a field of item i of a batch, "[3].temperature" (item_errors).
_ITEM_KEY: Final = re.compile(r"\[([0-9]{1,9})\]\.")
_TRUE_FALSE: Final = {"true": True, "false": False}


@dataclass(frozen=True)
class Reading:
    record_date: str  # RFC 3339; canonical (canonical_record_date) when parse_reading made it
    thermostat_on: bool
    temperature: float
    thermostat_value: int

    @property
    def record_day(self) -> str:
        """The date part of the timestamp as sent: readings are grouped (and queried) by day."""
        return self.record_date[:10]

    def to_json(self) -> dict[str, Any]:
        return {
            "record_date": self.record_date,
            "thermostat_on": self.thermostat_on,
            "temperature": self.temperature,
            "thermostat_value": self.thermostat_value,
        }


def parse_reading(obj: object) -> Reading:
    """Validate one reading. Raises InvalidReading with one message per bad field."""
    if not isinstance(obj, Mapping):
        raise InvalidReading({"reading": "must be a JSON object"})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        if name not in obj or obj[name] is None:
            errors[name] = "is required"
            continue
        try:
            values[name] = check(obj[name])
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise InvalidReading(errors)
    return Reading(**values)


def item_errors(index: int, errors: Mapping[str, str]) -> dict[str, str]:
    """A batch item's InvalidReading errors, each keyed ``[index].field`` (``"[3].temperature"``):
    the one spelling the function answers, its metrics count and the device reads back."""
    return {f"[{index}].{name}": message for name, message in errors.items()}


def item_index(key: object) -> int | None:
    """The batch index an error key of ``item_errors`` names; None for any other key."""
    match = _ITEM_KEY.match(str(key))
    return int(match.group(1)) if match else None


def unknown_fields(obj: Mapping[str, Any]) -> list[str]:
    return sorted(str(key) for key in obj if key not in FIELDS)


def canonical_record_date(value: str) -> str:
    """The one spelling of an RFC 3339 timestamp (module docstring). Raises ValueError with the
    reason for anything that is not a valid RFC 3339 date-time."""
    match = _RFC3339.fullmatch(value)
    if not match:
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2022-02-03T13:22:22Z")
    parts = match.groupdict()
    try:
        date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        raise ValueError(f"{value[:10]} is not a calendar date") from None
    if int(parts["hour"]) > 23 or int(parts["minute"]) > 59 or int(parts["second"]) > 59:
        raise ValueError("has an impossible time of day")
    if int(parts["oh"] or 0) > 23 or int(parts["om"] or 0) > 59:
        raise ValueError("has an impossible UTC offset")
    fraction = (parts["fraction"] or "").rstrip("0")
    offset = parts["offset"] or ""
    return (
        f"{parts['year']}-{parts['month']}-{parts['day']}"
        f"T{parts['hour']}:{parts['minute']}:{parts['second']}"
        + (f".{fraction}" if fraction else "")
        + ("Z" if offset in _UTC_OFFSETS else offset)
    )


def _record_date(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2022-02-03T13:22:22Z")
    return canonical_record_date(value)


def _thermostat_on(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE_FALSE:
        return _TRUE_FALSE[value.lower()]
    raise ValueError("must be true or false")


def _number(value: object, low: float, high: float, between: str) -> float:
    """A JSON number, or a string holding one (the original device sent strings), within
    ``low..high``. Integers are compared exactly: 10**400 is out of range, not an overflow."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    if isinstance(value, int):
        if not low <= value <= high:
            raise ValueError(between)
        return float(value)
    if isinstance(value, str):
        text = value.strip(_BLANKS)
        if _NOT_FINITE.fullmatch(text):
            raise ValueError("must be a finite number")
        if not _NUMBER.fullmatch(text):
            raise ValueError("must be a number (ASCII digits)")
        number = float(text)  # a literal beyond a float's range is inf: out of range below
    else:
        number = value
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
    if not low <= number <= high:
        raise ValueError(between)
    return number + 0.0  # -0.0 is 0.0


def _temperature(value: object) -> float:
    low, high = TEMPERATURE_RANGE
    number = _number(value, low, high, f"must be between {low:g} and {high:g}")
    if number and abs(number) < SMALLEST_STORABLE:
        raise ValueError(
            f"must be 0 or at least {SMALLEST_STORABLE:g} in magnitude (DynamoDB stores no "
            "smaller number)"
        )
    return number


def _thermostat_value(value: object) -> int:
    low, high = THERMOSTAT_VALUE_RANGE
    number = _number(value, low, high, f"must be between {low} and {high}")
    if not number.is_integer():
        raise ValueError("must be a whole number")
    return int(number)


_CHECKS: Final = {
    "record_date": _record_date,
    "thermostat_on": _thermostat_on,
    "temperature": _temperature,
    "thermostat_value": _thermostat_value,
}
