"""Day timelines and summaries (handlers.readings.summary): states that hold, gaps, heating time."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.readings.schema import Reading
from handlers.readings.summary import Timeline, summarize, timeline, timelines
from handlers.readings.timerange import Timed

GAP = timedelta(minutes=15)
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # "now", long after the days summarized
DAY = date(2022, 2, 3)


def at(
    clock: str,
    on: bool = False,
    temperature: float = 20.0,
    setpoint: int = 20,
    day: str = "2022-02-03",
) -> Timed:
    return Timed.of(Reading(f"{day}T{clock}:00Z", on, temperature, setpoint), UTC)


def every(minutes: int, start: str = "00:00", end: str = "24:00", **kwargs: Any) -> list[Timed]:
    h0, m0 = map(int, start.split(":"))
    h1, m1 = map(int, end.split(":"))
    return [
        at(f"{m // 60:02d}:{m % 60:02d}", **kwargs)
        for m in range(h0 * 60 + m0, h1 * 60 + m1, minutes)
    ]


def day_of(window: list[Timed], now: datetime = LATER, day: date = DAY) -> Timeline:
    return timeline(day, UTC, sorted(window), now, GAP)


def test_heating_from_six_to_nine_is_180_minutes_of_1440() -> None:
    window = (
        every(5, "00:00", "06:00")
        + every(5, "06:00", "09:00", on=True)
        + every(5, "09:00", "24:00")
        + [at("00:00", day="2022-02-04")]  # the next day goes on
    )
    summary = summarize(day_of(window))
    assert summary["count"] == 288
    assert summary["heating_minutes"] == 180.0
    assert summary["known_minutes"] == 1440.0
    assert summary["heating_share"] == 0.125
    assert summary["gaps"] == []
    assert summary["day_minutes"] == 1440
    assert (summary["first_reading"], summary["last_reading"]) == (
        "2022-02-03T00:00:00Z",
        "2022-02-03T23:55:00Z",
    )


def test_temperatures_and_setpoints() -> None:
    window = [at("08:00", temperature=18.5, setpoint=19), at("08:05", temperature=21.0)]
    window += [at("08:10", temperature=20.0, setpoint=19), at("08:15", temperature=19.25)]
    summary = summarize(day_of(window))
    assert (summary["temperature_min"], summary["temperature_max"]) == (18.5, 21.0)
    assert summary["temperature_mean"] == 19.69  # 78.75 / 4 = 19.6875
    assert summary["setpoints"] == [19, 20]


def test_a_state_holds_until_the_next_reading_for_at_most_the_gap_threshold() -> None:
    summary = summarize(day_of([at("10:00", on=True), at("11:00"), at("11:10", on=True)]))
    # 10:00 holds 15 minutes (the next reading is an hour later); 11:00 holds until 11:10.
    assert summary["heating_minutes"] == 30.0  # 10:00-10:15 and 11:10-11:25
    assert summary["known_minutes"] == 40.0
    assert summary["heating_share"] == 0.75


def test_gaps_are_silences_over_the_threshold_and_the_day_edges_count() -> None:
    window = every(5, "08:00", "12:00") + every(5, "12:20", "18:00")
    gaps = summarize(day_of(window))["gaps"]
    assert gaps == [
        {"from": "2022-02-03T00:00:00+00:00", "to": "2022-02-03T08:00:00+00:00", "minutes": 480.0},
        # 11:55 holds until 12:10 (the threshold): the silence is a gap from then on.
        {"from": "2022-02-03T12:10:00+00:00", "to": "2022-02-03T12:20:00+00:00", "minutes": 10.0},
        {"from": "2022-02-03T18:10:00+00:00", "to": "2022-02-04T00:00:00+00:00", "minutes": 350.0},
    ]


def test_a_silence_of_exactly_the_threshold_is_not_a_gap() -> None:
    window = every(5, "00:00", "12:00") + every(5, "12:10", "24:00")
    window += [at("00:00", day="2022-02-04")]
    assert summarize(day_of(window))["gaps"] == []  # 11:55 -> 12:10 is 15 minutes: not over


def test_a_silence_across_midnight_is_seen_whole_on_both_days() -> None:
    window = every(5, "22:00", "23:50", day="2022-02-03") + every(
        5, "00:25", "02:00", day="2022-02-04"
    )
    first, second = timelines(window, [DAY, date(2022, 2, 4)], UTC, LATER, GAP)
    # 23:45 -> 00:25 is 40 minutes of silence: 23:45 holds until 00:00, then 25 minutes of gap.
    assert [(g.start, g.end) for g in first.gaps] == [
        (datetime(2022, 2, 3, tzinfo=UTC), datetime(2022, 2, 3, 22, tzinfo=UTC))
    ]
    assert next((g.start, g.end) for g in second.gaps) == (
        datetime(2022, 2, 4, tzinfo=UTC),
        datetime(2022, 2, 4, 0, 25, tzinfo=UTC),
    )


def test_heating_switched_on_before_midnight_counts_after_it() -> None:
    window = [at("23:55", on=True), at("00:05", day="2022-02-04")]
    _, second = timelines(window, [DAY, date(2022, 2, 4)], UTC, LATER, GAP)
    assert summarize(second)["heating_minutes"] == 5.0


def test_today_is_known_up_to_now_and_the_rest_is_not_a_gap() -> None:
    now = datetime(2022, 2, 3, 12, 0, tzinfo=UTC)
    recent = summarize(day_of([*every(5, "00:00", "11:55", on=True), at("11:50")], now))
    assert recent["gaps"] == []
    assert recent["known_minutes"] == 720.0  # 00:00 to now
    silent = summarize(day_of(every(5, "00:00", "11:35"), now))
    assert silent["gaps"] == [  # 11:30 holds until 11:45
        {"from": "2022-02-03T11:45:00+00:00", "to": "2022-02-03T12:00:00+00:00", "minutes": 15.0}
    ]
    assert silent["known_minutes"] == 705.0


def test_a_day_without_readings_is_one_gap_or_nothing_yet() -> None:
    past = summarize(day_of([]))
    assert past == {
        "day": "2022-02-03",
        "start": "2022-02-03T00:00:00+00:00",
        "end": "2022-02-04T00:00:00+00:00",
        "day_minutes": 1440,
        "count": 0,
        "first_reading": None,
        "last_reading": None,
        "temperature_min": None,
        "temperature_max": None,
        "temperature_mean": None,
        "setpoints": [],
        "heating_minutes": 0.0,
        "known_minutes": 0.0,
        "heating_share": None,
        "gaps": [
            {
                "from": "2022-02-03T00:00:00+00:00",
                "to": "2022-02-04T00:00:00+00:00",
                "minutes": 1440.0,
            }
        ],
    }
    future = summarize(day_of([], now=datetime(2022, 2, 1, tzinfo=UTC)))
    assert (future["count"], future["gaps"], future["known_minutes"]) == (0, [], 0.0)


def test_local_days_follow_the_zone_and_daylight_saving() -> None:
    london = ZoneInfo("Europe/London")
    first = datetime(2022, 10, 29, 23, tzinfo=UTC)  # 2022-10-30 00:00 BST
    window = [
        Timed.of(Reading((first + timedelta(hours=h)).isoformat(), True, 20.0, 20), london)
        for h in range(25)
    ]
    day = timeline(date(2022, 10, 30), london, window, LATER, timedelta(hours=1))
    summary = summarize(day)
    assert (summary["day_minutes"], summary["count"]) == (1500, 25)
    assert summary["start"] == "2022-10-30T00:00:00+01:00"
    assert summary["end"] == "2022-10-31T00:00:00+00:00"
    assert summary["heating_minutes"] == summary["known_minutes"] == 1500.0
    # The 23:00 GMT reading holds for the threshold, an hour: to the end of the day, no gap.
    assert summary["gaps"] == []


minutes_of_three_days = st.lists(st.integers(-24 * 60, 2 * 24 * 60), unique=True, max_size=80)


@given(minutes_of_three_days, st.integers(5, 120))
def test_timelines_of_a_stream_equal_timelines_of_each_day(minutes: list[int], gap: int) -> None:
    threshold = timedelta(minutes=gap)
    start = datetime(2022, 2, 3, tzinfo=UTC)
    window = sorted(
        Timed.of(Reading((start + timedelta(minutes=m)).isoformat(), m % 3 == 0, 20.0, 20), UTC)
        for m in minutes
    )
    days = [date(2022, 2, 2), DAY, date(2022, 2, 4)]
    streamed = list(timelines(window, days, UTC, LATER, threshold))
    direct = [timeline(d, UTC, window, LATER, threshold) for d in days]
    assert [summarize(t) for t in streamed] == [summarize(t) for t in direct]
    for day in streamed:  # holds and gaps never leave the day, and holds never overlap
        spans = sorted((h.start, h.end) for h in day.holds)
        assert all(day.start <= a < b <= day.end for a, b in spans)
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
        assert all(day.start <= g.start < g.end <= day.end for g in day.gaps)


# Every minute is known or in a gap, never both, never more than the day has: at the edges of
# the accepted thresholds (5 and 1,440 minutes; 4 and 1,441 are refused by GET /summary and
# /chart), across silences longer than a day, with the answer's rounding (0.01 minute, 0.0001).
@given(
    st.lists(st.integers(-3 * 24 * 60, 4 * 24 * 60), unique=True, max_size=60),
    st.sampled_from([5, 15, 1440]),
    st.integers(0, 6 * 24 * 60),
)
def test_no_minute_is_counted_twice_nor_a_day_overfilled(
    minutes: list[int], gap: int, now_minute: int
) -> None:
    threshold = timedelta(minutes=gap)
    start = datetime(2022, 2, 3, tzinfo=UTC)
    now = start + timedelta(minutes=now_minute) - timedelta(days=1)
    window = sorted(
        Timed.of(Reading((start + timedelta(minutes=m)).isoformat(), m % 2 == 0, 20.0, 20), UTC)
        for m in minutes
    )
    days = [DAY + timedelta(days=n) for n in range(-1, 4)]
    for day in timelines(window, days, UTC, now, threshold):
        spans = sorted([(h.start, h.end) for h in day.holds] + [(g.start, g.end) for g in day.gaps])
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))  # no overlap
        elapsed = (day.stop - day.start).total_seconds() / 60
        summary = summarize(day)
        gap_minutes = [g["minutes"] for g in summary["gaps"]]
        assert summary["known_minutes"] <= summary["day_minutes"] == 1440
        assert summary["heating_minutes"] <= summary["known_minutes"]
        assert summary["known_minutes"] + sum(gap_minutes) == pytest.approx(
            elapsed, abs=0.005 * (len(gap_minutes) + 1)
        )
        share = summary["heating_share"]
        assert share is None or 0 <= share <= 1


def test_a_silence_of_more_than_a_day_with_the_largest_threshold() -> None:
    # 1,441 minutes of silence: the reading holds for 1,440, the last minute is a gap.
    window = [at("12:00", on=True), at("12:01", day="2022-02-04")]
    window = sorted(window)
    first, second = timelines(window, [DAY, date(2022, 2, 4)], UTC, LATER, timedelta(days=1))
    assert summarize(second)["gaps"][0] == {
        "from": "2022-02-04T12:00:00+00:00",
        "to": "2022-02-04T12:01:00+00:00",
        "minutes": 1.0,
    }
    assert summarize(second)["heating_minutes"] == 720.0  # 00:00 to 12:00, not to 12:01
    assert summarize(first)["known_minutes"] == 720.0


def test_a_silence_of_exactly_the_smallest_threshold_is_known_and_one_more_minute_a_gap() -> None:
    five = timedelta(minutes=5)
    low, high = at("10:00").at, at("10:06").at

    def between(day: Timeline) -> list[tuple[int, int]]:
        return [(g.start.minute, g.end.minute) for g in day.gaps if low <= g.start < high]

    known = timeline(DAY, UTC, [at("10:00", on=True), at("10:05")], LATER, five)
    assert between(known) == []
    gap = timeline(DAY, UTC, [at("10:00", on=True), at("10:06")], LATER, five)
    assert between(gap) == [(5, 6)]
    assert summarize(gap)["heating_minutes"] == 5.0


def test_the_answer_rounds_minutes_to_hundredths_and_the_share_to_ten_thousandths() -> None:
    def timed(clock: str, on: bool, temperature: float) -> Timed:
        return Timed.of(Reading(f"2022-02-03T{clock}Z", on, temperature, 20), UTC)

    # Heating for 20 seconds, then off; 20 seconds more, then silence (a 20-second gap after).
    window = [timed("10:00:00", True, 20.0), timed("10:00:20", False, 20.1)]
    window += [timed("10:00:40", False, 20.3), timed("10:15:41", False, 20.3)]
    summary = summarize(day_of(window))
    assert summary["heating_minutes"] == 0.33  # 1/3 minute
    assert summary["temperature_mean"] == 20.18  # 80.7 / 4 = 20.175
    assert summary["heating_share"] == round((1 / 3) / summary["known_minutes"], 4)
    assert summary["known_minutes"] == 30.67  # 1/3 + 1/3 + 15 + 15
    assert summary["heating_share"] == 0.0109  # (1/3) / (92/3) = 0.01087
    [silence] = [g for g in summary["gaps"] if g["from"].startswith("2022-02-03T10:15:40")]
    assert silence["minutes"] == 0.02  # 10:15:40 to 10:15:41: 1/60 minute
