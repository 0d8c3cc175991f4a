"""A local day of readings as a timeline (states that hold, gaps), and its summary.

Pure: no AWS, no I/O. The rules (README, "History, charts and alerts"):

- Each reading's state (heating on or off, and its setpoint) holds from its instant until the next
  reading, for at most the gap threshold (``gap_minutes``, default 15): a reading says nothing
  about the time after a silence. Known minutes are the time some state holds; heating minutes
  the time a heating-on state holds; the heating share is heating / known.
- A gap is time no state holds: after a silence of over ``gap_minutes`` between readings, the
  part of it past the threshold (the first ``gap_minutes`` are the earlier reading's). So each
  minute of the day that has happened is known or in a gap, never both: known minutes plus gap
  minutes are the day's minutes so far (23, 24 or 25 hours once past), and a heating band never
  overlaps a gap. Readings up to ``gap_minutes`` either side of the day are used, so a silence
  across midnight is seen as one; each day reports the part inside it. Silence before the first
  reading or after the last (up to now) counts.
- The part of a day after now is neither known nor a gap: it has not happened yet.
- Temperatures are the minimum, maximum and mean of the day's readings (the mean of readings, not
  weighted by time); setpoints are the distinct ``thermostat_value``s of the day's readings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from statistics import fmean
from typing import Any, Final

from handlers.readings.schema import Reading
from handlers.readings.timerange import Timed, day_bounds

DEFAULT_GAP_MINUTES: Final = 15
GAP_MINUTES_RANGE: Final = (5, 1440)  # at most 289 gaps a day: a month's answer stays < 1 MB


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class Hold(Span):
    """The time over which one reading's state holds, clipped to the day."""

    reading: Reading


@dataclass(frozen=True)
class Timeline:
    day: date
    tz: tzinfo
    start: datetime  # the local day, in UTC instants: 23, 24 or 25 hours
    end: datetime
    stop: datetime  # min(end, now), at least start: the part of the day that has happened
    gap: timedelta
    readings: tuple[Timed, ...]  # the day's readings, in time order
    holds: tuple[Hold, ...]
    gaps: tuple[Span, ...]


def timeline(
    day: date, tz: tzinfo, window: Sequence[Timed], now: datetime, gap: timedelta
) -> Timeline:
    """The timeline of ``day`` from ``window``: its readings in time order, with those up to
    ``gap`` either side of the day."""
    start, end = day_bounds(day, tz)
    stop = min(max(now, start), end)
    holds: list[Hold] = []
    for index, timed in enumerate(window):
        until = min(timed.at + gap, now)
        if index + 1 < len(window):
            until = min(until, window[index + 1].at)
        clipped = (max(timed.at, start), min(until, stop))
        if clipped[1] > clipped[0]:
            holds.append(Hold(*clipped, timed.reading))

    # The gaps are the rest of the day so far: each minute is known or a gap, never both.
    gaps: list[Span] = []
    cursor = start
    for hold in [*holds, Span(stop, stop)]:
        if hold.start > cursor:
            gaps.append(Span(cursor, hold.start))
        cursor = max(cursor, hold.end)
    return Timeline(
        day=day,
        tz=tz,
        start=start,
        end=end,
        stop=stop,
        gap=gap,
        readings=tuple(t for t in window if start <= t.at < end),
        holds=tuple(holds),
        gaps=tuple(gaps),
    )


def timelines(
    ordered: Iterable[Timed], days: Sequence[date], tz: tzinfo, now: datetime, gap: timedelta
) -> Iterator[Timeline]:
    """One timeline per day from readings in time order that cover the days widened by ``gap``
    on both sides; only about a day of readings is held at a time."""
    source = iter(ordered)
    held: deque[Timed] = deque()
    exhausted = False
    for day in days:
        start, end = day_bounds(day, tz)
        low, high = start - gap, end + gap
        while not exhausted and (not held or held[-1].at < high):
            timed = next(source, None)
            if timed is None:
                exhausted = True
            else:
                held.append(timed)
        while held and held[0].at < low:
            held.popleft()
        yield timeline(day, tz, [t for t in held if t.at < high], now, gap)


def _local(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Figures:
    """The numbers of a day, rounded as answered (minutes to 0.01, the share to 0.0001)."""

    count: int
    temperature_min: float | None
    temperature_max: float | None
    temperature_mean: float | None
    setpoints: list[int]
    heating_minutes: float
    known_minutes: float
    heating_share: float | None


def figures(day: Timeline) -> Figures:
    temperatures = [t.reading.temperature for t in day.readings]
    heating = sum(h.minutes for h in day.holds if h.reading.thermostat_on)
    known = sum(h.minutes for h in day.holds)
    return Figures(
        count=len(day.readings),
        temperature_min=min(temperatures) if temperatures else None,
        temperature_max=max(temperatures) if temperatures else None,
        temperature_mean=round(fmean(temperatures), 2) if temperatures else None,
        setpoints=sorted({t.reading.thermostat_value for t in day.readings}),
        heating_minutes=round(heating, 2),
        known_minutes=round(known, 2),
        heating_share=round(heating / known, 4) if known else None,
    )


def summarize(day: Timeline) -> dict[str, Any]:
    """The day's summary as the JSON answer carries it."""
    numbers = figures(day)
    return {
        "day": day.day.isoformat(),
        "start": _local(day.start, day.tz),
        "end": _local(day.end, day.tz),
        "day_minutes": round((day.end - day.start).total_seconds() / 60),
        "count": numbers.count,
        "first_reading": day.readings[0].record_date if day.readings else None,
        "last_reading": day.readings[-1].record_date if day.readings else None,
        "temperature_min": numbers.temperature_min,
        "temperature_max": numbers.temperature_max,
        "temperature_mean": numbers.temperature_mean,
        "setpoints": numbers.setpoints,
        "heating_minutes": numbers.heating_minutes,
        "known_minutes": numbers.known_minutes,
        "heating_share": numbers.heating_share,
        "gaps": [
            {
                "from": _local(gap.start, day.tz),
                "to": _local(gap.end, day.tz),
                "minutes": round(gap.minutes, 2),
            }
            for gap in day.gaps
        ],
    }
