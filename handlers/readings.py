"""A thermostat reading: the one definition shared by the ingest function and the device client.

Pure: no AWS, no I/O, and nothing of how readings are stored (that is ``handlers.readings_store``).
``parse_reading`` validates what a device sent (the original device's body, numbers as strings,
included).

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

from handlers.errors import InvalidReading

__all__ = ["FIELDS", "InvalidReading", "Reading", "parse_reading", "unknown_fields"]

FIELDS: Final = ("record_date", "thermostat_on", "temperature", "thermostat_value")
TEMPERATURE_RANGE: Final = (-100.0, 200.0)  # covers Celsius and Fahrenheit shops alike
THERMOSTAT_VALUE_RANGE: Final = (0, 65535)

# RFC 3339 date-time; the offset is optional because the original device sent none.
_RFC3339: Final = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.\d{1,9})?"
    r"(?:[Zz]|[+-](?P<oh>\d{2}):(?P<om>\d{2}))?"
)
_TRUE_FALSE: Final = {"true": True, "false": False}


@dataclass(frozen=True)
class Reading:
    record_date: str  # RFC 3339, as sent
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


def unknown_fields(obj: Mapping[str, Any]) -> list[str]:
    return sorted(str(key) for key in obj if key not in FIELDS)


def _record_date(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string, e.g. 2022-02-03T13:22:22Z")
    match = _RFC3339.fullmatch(value)
    if not match:
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2022-02-03T13:22:22Z")
    parts = {key: int(part) for key, part in match.groupdict().items() if part is not None}
    try:
        date(parts["year"], parts["month"], parts["day"])
    except ValueError:
        raise ValueError(f"{value[:10]} is not a calendar date") from None
    if parts["hour"] > 23 or parts["minute"] > 59 or parts["second"] > 59:
        raise ValueError("has an impossible time of day")
    if parts.get("oh", 0) > 23 or parts.get("om", 0) > 59:
        raise ValueError("has an impossible UTC offset")
    return value


def _thermostat_on(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE_FALSE:
        return _TRUE_FALSE[value.lower()]
    raise ValueError("must be true or false")


def _number(value: object) -> float:
    """A JSON number, or a string holding one (the original device sent strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def _temperature(value: object) -> float:
    number = _number(value)
    low, high = TEMPERATURE_RANGE
    if not low <= number <= high:
        raise ValueError(f"must be between {low:g} and {high:g}")
    return number


def _thermostat_value(value: object) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError("must be a whole number")
    low, high = THERMOSTAT_VALUE_RANGE
    if not low <= number <= high:
        raise ValueError(f"must be between {low} and {high}")
    return int(number)


_CHECKS: Final = {
    "record_date": _record_date,
    "thermostat_on": _thermostat_on,
    "temperature": _temperature,
    "thermostat_value": _thermostat_value,
}
