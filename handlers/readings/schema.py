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
  A number sent as a string is the number alone: ``" 65\n"`` is refused, as ``float`` would
  read it but JSON's grammar would not.
- Every accepted timestamp can be read back: its instant (UTC when it has no offset, as the read
  side's default zone reads it) lies in ``EARLIEST``..``LATEST`` (exclusive), exactly the instants
  a range of handlers.readings.timerange may cover.
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
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

from handlers.common.errors import InvalidReading

__all__ = [
    "FIELDS",
    "OPTIONAL_FIELDS",
    "InvalidReading",
    "Reading",
    "canonical_record_date",
    "item_errors",
    "item_index",
    "parse_reading",
    "unknown_fields",
]

FIELDS: Final = ("record_date", "thermostat_on", "temperature", "thermostat_value")
# Optional fields: absent means the default of the Reading field of the same name.
OPTIONAL_FIELDS: Final = ("clock_suspect",)
TEMPERATURE_RANGE: Final = (-100.0, 200.0)  # covers Celsius and Fahrenheit shops alike
THERMOSTAT_VALUE_RANGE: Final = (0, 65535)
# The instants a reading may have, and a range may cover (handlers.readings.timerange): a year
# inside datetime's limits, so a range widened by a day and its partitions never overflow.
EARLIEST: Final = datetime(2, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9999, 1, 1, tzinfo=UTC)  # exclusive
# The same, as the messages spell them ("0002-01-01T00:00:00Z": strftime drops a year's zeros).
EARLIEST_TEXT: Final = EARLIEST.isoformat().replace("+00:00", "Z")
LATEST_TEXT: Final = LATEST.isoformat().replace("+00:00", "Z")
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
# An InvalidReading's key for a field of item i of a batch, "[3].temperature" (item_errors).
_ITEM_KEY: Final = re.compile(r"\[([0-9]{1,9})\]\.")
_TRUE_FALSE: Final = {"true": True, "false": False}


@dataclass(frozen=True)
class Reading:
    record_date: str  # RFC 3339; canonical (canonical_record_date) when parse_reading made it
    thermostat_on: bool
    temperature: float
    thermostat_value: int
    # The device's clock was obviously wrong when it took this reading (1970 after a boot without
    # a real-time clock, or a step back): the function holds it apart from trusted readings.
    clock_suspect: bool = False

    @property
    def record_day(self) -> str:
        """The date part of the timestamp as sent: readings are grouped (and queried) by day."""
        return self.record_date[:10]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "record_date": self.record_date,
            "thermostat_on": self.thermostat_on,
            "temperature": self.temperature,
            "thermostat_value": self.thermostat_value,
        }
        if self.clock_suspect:  # only when true: an older function reads it as unknown, no more
            body["clock_suspect"] = True
        return body


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
    for name, check in _OPTIONAL_CHECKS.items():
        if name in obj and obj[name] is not None:
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
    return sorted(str(key) for key in obj if key not in FIELDS and key not in OPTIONAL_FIELDS)


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
    canonical = canonical_record_date(value)
    if not EARLIEST <= _utc_instant(canonical) < LATEST:
        raise ValueError(
            f"must lie from {EARLIEST_TEXT} to before {LATEST_TEXT} "
            "(in UTC; a timestamp without an offset is read as UTC)"
        )
    return canonical


def _utc_instant(canonical: str) -> datetime:
    """The instant of a canonical timestamp, one without an offset read as UTC; past datetime's
    years 1-9999 it is clamped to just outside EARLIEST..LATEST."""
    match = _RFC3339.fullmatch(canonical)
    assert match is not None  # canonical_record_date matched it
    parts = match.groupdict()
    delta = timedelta(hours=int(parts["oh"] or 0), minutes=int(parts["om"] or 0))
    offset = -delta if canonical[-6:-5] == "-" else delta
    local = datetime(
        int(parts["year"]),
        int(parts["month"]),
        int(parts["day"]),
        int(parts["hour"]),
        int(parts["minute"]),
        int(parts["second"]),
        int((parts["fraction"] or "0")[:6].ljust(6, "0")),
        tzinfo=timezone(offset) if parts["oh"] else UTC,
    )
    try:
        return local.astimezone(UTC)
    except OverflowError:
        return EARLIEST - timedelta(days=1) if local.year == 1 else LATEST


def _boolean(value: object) -> bool:
    """true or false, as a JSON boolean or a string (the original device sent strings)."""
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
        # Exactly the number: " 65\n" is refused, not trimmed (what else would a device that
        # pads a number get wrong?), as the documentation promises.
        if _NOT_FINITE.fullmatch(value):
            raise ValueError("must be a finite number")
        if not _NUMBER.fullmatch(value):
            raise ValueError("must be a number (ASCII digits only, nothing around them)")
        number = float(value)  # a literal beyond a float's range is inf: out of range below
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
    "thermostat_on": _boolean,
    "temperature": _temperature,
    "thermostat_value": _thermostat_value,
}
_OPTIONAL_CHECKS: Final = {"clock_suspect": _boolean}
