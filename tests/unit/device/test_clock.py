"""Readings taken while the clock was obviously wrong: flagged on both sides of each edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.device.clock import BUILD_DATE, instant, judged
from handlers.readings.schema import Reading


def at(moment: datetime) -> Reading:
    return Reading(moment.isoformat().replace("+00:00", "Z"), True, 20.0, 20)


@pytest.mark.parametrize(
    ("moment", "suspect"),
    [
        (datetime(1970, 1, 1, 0, 0, 42, tzinfo=UTC), True),  # a Pi without RTC, booting
        (BUILD_DATE - timedelta(seconds=1), True),
        (BUILD_DATE, False),
        (BUILD_DATE + timedelta(days=30), False),
    ],
    ids=["1970", "a-second-before-the-build", "the-build-date", "after"],
)
def test_before_the_build_date_is_suspect(moment: datetime, suspect: bool) -> None:
    assert judged(at(moment), None).clock_suspect is suspect


@pytest.mark.parametrize(
    ("step", "suspect"),
    [(timedelta(seconds=-1), True), (timedelta(0), False), (timedelta(seconds=1), False)],
    ids=["a-second-back", "the-same-time", "a-second-on"],
)
def test_earlier_than_the_newest_reading_taken_is_suspect(step: timedelta, suspect: bool) -> None:
    newest = BUILD_DATE + timedelta(days=40)
    assert judged(at(newest + step), newest).clock_suspect is suspect


def test_a_flagged_reading_keeps_everything_else_and_says_so_on_the_wire() -> None:
    reading = at(datetime(1970, 1, 1, tzinfo=UTC))
    flagged = judged(reading, None)
    assert flagged.to_json() == {**reading.to_json(), "clock_suspect": True}
    assert "clock_suspect" not in judged(at(BUILD_DATE), None).to_json()  # only when true


def test_offsets_are_instants_and_no_offset_is_local_time() -> None:
    assert instant("2026-11-21T08:00:00+01:00") == datetime(2026, 11, 21, 7, tzinfo=UTC)
    naive = instant("2026-11-21T08:00:00")
    assert naive == datetime(2026, 11, 21, 8).astimezone()
