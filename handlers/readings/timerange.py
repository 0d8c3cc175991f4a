"""Time on the read side: instants of readings, local days, ranges, the partitions that hold a
range, and the readings of many partitions merged into time order.

Pure: no AWS, no I/O (the partitions are read through a callable). The rules:

- A reading's instant is its RFC 3339 timestamp. One without an offset (the original device sent
  none) is wall-clock time in the request's ``tz``, so it is drawn at the time it says.
- ``tz`` is an IANA zone name (``zoneinfo``); absent, UTC. A date in ``day``/``from``/``to`` is
  that whole local day in ``tz``; a date-time is an instant. ``from`` is inclusive, ``to`` is
  exclusive as a date-time and inclusive as a date (its whole day).
- A range spans at most ``MAX_DAYS`` local days.
- ``Record_Day`` is the date part as sent (the canonical spelling of handlers.readings.schema never
  changes it), so a reading's partition is its local date, not its UTC date. Offsets are under
  24 hours (the schema refuses 24:00 and over; zones stay within -12:00..+14:00), so partition
  Q holds only instants strictly between Q-1 00:00Z and Q+2 00:00Z. A range therefore needs the
  partitions from its start's UTC date minus one day to its end's UTC date plus one day, and no
  others: for 31 local days that is at most 34 queries (31 local days touch at most 32 UTC
  dates). The same bound lets ``in_time_order`` emit readings while it reads: once partition Q
  is read, every instant up to Q 00:00Z is final. Within a partition, the sort key's order is
  not relied on (mixed offsets and fractions do not sort by instant as strings).
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.common.errors import BadRequest
from handlers.readings.schema import EARLIEST, EARLIEST_TEXT, LATEST, LATEST_TEXT, Reading

logger = logging.getLogger(__name__)

MAX_DAYS: Final = 31
ONE_DAY: Final = timedelta(days=1)
# A range covers instants from EARLIEST to before LATEST: exactly those a reading may have
# (handlers.readings.schema), so whatever is accepted can be read back.
FIRST_DAY: Final = EARLIEST.date()
LAST_DAY: Final = (LATEST - ONE_DAY).date()
_LIMITS: Final = (
    f"dates must lie between {FIRST_DAY} and {LAST_DAY}, and a range from "
    f"{EARLIEST_TEXT} to {LATEST_TEXT} at most"
)

# ASCII digits only: ``\d`` also matches Arabic-Indic and other digits, which int() reads.
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 date-time, as readings.py accepts it; in a query parameter a "+" that arrived as a
# space (an unencoded "+" in a URL query) is read as "+".
_DATE_TIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+ -])([0-9]{2}):([0-9]{2}))?"
)
_MAX_ZONE_NAME: Final = 64


def zone(name: str | None) -> tzinfo:
    """The zone of a ``tz`` parameter: UTC when absent (without needing the zone database)."""
    if not name or name == "UTC":
        return UTC
    if len(name) > _MAX_ZONE_NAME:
        raise BadRequest("tz must be an IANA time zone name, e.g. Europe/London")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(
            f"tz: {name!r} is not an IANA time zone name (e.g. Europe/London, America/New_York)"
        ) from None


def zone_name(tz: tzinfo) -> str:
    return tz.key if isinstance(tz, ZoneInfo) else "UTC"


def instant(timestamp: str, tz: tzinfo = UTC) -> datetime:
    """The instant (in UTC) of an RFC 3339 date-time; without an offset it is local time in
    ``tz``. Raises ValueError for anything else."""
    match = _DATE_TIME.fullmatch(timestamp)
    if not match:
        raise ValueError(f"{timestamp[:40]!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second, fraction, zulu, sign, oh, om = match.groups()
    offset: tzinfo = tz
    if zulu:
        offset = UTC
    elif sign:
        delta = timedelta(hours=int(oh), minutes=int(om))
        if delta >= ONE_DAY or int(om) > 59:
            raise ValueError(f"{timestamp[:40]!r} has an impossible UTC offset")
        offset = timezone(-delta if sign == "-" else delta)
    local = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        int((fraction or "0")[:6].ljust(6, "0")),
        tzinfo=offset,
    )
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{timestamp[:40]!r} is beyond the years 1-9999 in UTC") from None


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Start and end (UTC) of a local day: 23, 24 or 25 hours apart."""
    start = datetime.combine(day, time(), tz).astimezone(UTC)
    return start, datetime.combine(day + ONE_DAY, time(), tz).astimezone(UTC)


def day_exists(day: date, tz: tzinfo) -> bool:
    """False for a local day the zone skipped (Pacific/Apia's 2011-12-30: its clocks went from
    the 29th to the 31st), whose start and end are the same instant."""
    start, end = day_bounds(day, tz)
    return start < end


def parse_day(value: str, name: str) -> date:
    if not _DATE.fullmatch(value):
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: {value} is not a calendar date") from None
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise BadRequest(_LIMITS)
    return parsed


@dataclass(frozen=True)
class Range:
    """Instants ``start <= t < end`` (both UTC), read in ``tz``."""

    start: datetime
    end: datetime
    tz: tzinfo

    def days(self) -> list[date]:
        """The local days the range touches, in order; a day the zone skipped is not one."""
        first = self.start.astimezone(self.tz).date()
        dates = (first + ONE_DAY * n for n in range(self.day_count()))
        return [day for day in dates if day_exists(day, self.tz)]

    def day_count(self) -> int:
        first = self.start.astimezone(self.tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()
        return (last - first).days + 1

    def partitions(self) -> list[str]:
        """The ``Record_Day`` partitions that can hold a reading of the range (module doc)."""
        first = self.start.date() - ONE_DAY
        last = (self.end - timedelta(microseconds=1)).date() + ONE_DAY
        return [(first + ONE_DAY * n).isoformat() for n in range((last - first).days + 1)]

    def widened(self, by: timedelta) -> Range:
        return Range(self.start - by, self.end + by, self.tz)


def _bound(value: str, name: str, tz: tzinfo, *, end: bool) -> datetime:
    if _DATE.fullmatch(value):
        return day_bounds(parse_day(value, name), tz)[1 if end else 0]
    try:
        return instant(value, tz)
    except ValueError as exc:
        raise BadRequest(
            f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 date-time "
            f"(2022-02-03T06:00:00Z; encode + as %2B): {exc}"
        ) from None


def _within_limits(span: Range) -> Range:
    if span.start < EARLIEST or span.end > LATEST:
        raise BadRequest(_LIMITS)
    return span


def parse_one_day(value: str, tz: tzinfo) -> Range:
    """A ``day`` parameter as the Range of that local day (refused if the zone skipped it)."""
    day = parse_day(value, "day")
    if not day_exists(day, tz):
        raise BadRequest(
            f"day: {value} does not exist in {zone_name(tz)} (its clocks skipped that date)"
        )
    return _within_limits(Range(*day_bounds(day, tz), tz))


def parse_range(low: str, high: str, tz: tzinfo, *, dates_only: bool = False) -> Range:
    """``from``/``to`` parameters as a Range of at most MAX_DAYS local days."""
    if dates_only:
        start = day_bounds(parse_day(low, "from"), tz)[0]
        end = day_bounds(parse_day(high, "to"), tz)[1]
    else:
        start, end = _bound(low, "from", tz, end=False), _bound(high, "to", tz, end=True)
    if start >= end:
        raise BadRequest(f"from ({low}) must be before to ({high})")
    span = _within_limits(Range(start, end, tz))
    if span.day_count() > MAX_DAYS:
        raise BadRequest(
            f"at most {MAX_DAYS} days per request; {low}..{high} spans {span.day_count()} days"
        )
    return span


@dataclass(frozen=True, order=True)
class Timed:
    """A reading and its instant; ordered by instant, then by its (canonical) timestamp."""

    at: datetime
    record_date: str  # unique: the table's key, so the order is total
    reading: Reading = field(compare=False)

    @classmethod
    def of(cls, reading: Reading, tz: tzinfo) -> Timed:
        return cls(instant(reading.record_date, tz), reading.record_date, reading)

    @property
    def key(self) -> tuple[datetime, str]:
        return self.at, self.record_date


def in_time_order(
    read_partition: Callable[[str], Iterable[Reading]],
    span: Range,
    after: tuple[datetime, str] | None = None,
) -> Iterator[Timed]:
    """The readings of ``span`` (after the key ``after``, if given) in time order.

    Partitions are read one at a time, and only as far as the consumer iterates: a page of a
    month holds about three days of readings in memory, not the month.
    """
    start = max(after[0], span.start) if after is not None else span.start
    pending: list[Timed] = []
    for partition in Range(start, span.end, span.tz).partitions():
        for reading in read_partition(partition):
            try:
                timed = Timed.of(reading, span.tz)
            except ValueError as exc:  # stored before the schema was checked: skipped, not fatal
                logger.warning("skipping a stored reading without an instant: %s", exc)
                continue
            if span.start <= timed.at < span.end and (after is None or timed.key > after):
                heapq.heappush(pending, timed)
        # Later partitions hold only instants after this partition's date at 00:00Z.
        final = datetime.combine(date.fromisoformat(partition), time(), UTC)
        while pending and pending[0].at <= final:
            yield heapq.heappop(pending)
    while pending:
        yield heapq.heappop(pending)
