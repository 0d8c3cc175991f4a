"""Instants, ranges, partitions and the time-ordered merge of partitions
(handlers.readings.timerange)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.common.errors import BadRequest
from handlers.readings.schema import Reading, parse_reading
from handlers.readings.timerange import (
    MAX_DAYS,
    Range,
    Timed,
    in_time_order,
    instant,
    parse_one_day,
    parse_range,
    zone,
)

LONDON = ZoneInfo("Europe/London")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "tz", "expected"),
    [
        ("2022-02-03T13:22:22", UTC, utc(2022, 2, 3, 13, 22, 22)),
        ("2022-07-01T12:00:00", LONDON, utc(2022, 7, 1, 11, 0)),  # no offset: local time in tz
        ("2022-02-03T13:22:22Z", LONDON, utc(2022, 2, 3, 13, 22, 22)),
        ("2022-02-03t13:22:22z", UTC, utc(2022, 2, 3, 13, 22, 22)),
        ("2022-02-03 10:00:00+05:30", UTC, utc(2022, 2, 3, 4, 30)),
        ("2022-02-03T23:30:00-05:00", UTC, utc(2022, 2, 4, 4, 30)),
        ("2022-02-03T06:00:00 01:00", UTC, utc(2022, 2, 3, 5, 0)),  # "+" decoded as a space
        ("2022-02-03T06:00:00.123456789Z", UTC, utc(2022, 2, 3, 6, 0, 0, 123456)),
    ],
    ids=["naive-utc", "naive-in-tz", "zulu", "lowercase", "plus", "minus", "space-plus", "nanos"],
)
def test_instants(timestamp: str, tz: ZoneInfo, expected: datetime) -> None:
    assert instant(timestamp, tz) == expected
    assert instant(timestamp, tz).tzinfo is UTC


@pytest.mark.parametrize(
    "timestamp",
    ["2022-02-30T00:00:00", "2022-02-03T24:00:00", "2022-02-03T06:00:00+24:00", "yesterday"],
)
def test_impossible_instants_are_value_errors(timestamp: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        instant(timestamp)


offsets = st.one_of(
    st.just(""),
    st.just("Z"),
    st.builds(
        lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
        st.sampled_from("+-"),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
)
stored_timestamps = st.builds(
    lambda dt, offset: dt.isoformat(timespec="seconds") + offset,
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    offsets,
)
zones = st.sampled_from(
    [UTC, LONDON, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12"), ZoneInfo("Asia/Kolkata")]
)


@given(stored_timestamps, zones)
def test_every_stored_timestamp_has_an_instant_within_a_day_of_its_partition(
    timestamp: str, tz: ZoneInfo
) -> None:
    """The bound the partition choice rests on: partition Q holds instants in
    (Q-1 00:00Z, Q+2 00:00Z), for every timestamp the schema accepts, in every zone."""
    reading = parse_reading(
        {"record_date": timestamp, "thermostat_on": True, "temperature": 1, "thermostat_value": 1}
    )
    partition = datetime.combine(date.fromisoformat(reading.record_day), datetime.min.time(), UTC)
    assert partition - timedelta(days=1) < instant(timestamp, tz) < partition + timedelta(days=2)


def test_zone_defaults_to_utc_and_refuses_what_is_not_a_zone() -> None:
    assert zone(None) is UTC and zone("") is UTC and zone("UTC") is UTC
    assert zone("America/New_York") == ZoneInfo("America/New_York")
    for bad in ("Mars/Olympus", "../../etc/passwd", "/etc/localtime", "America", "x" * 300):
        with pytest.raises(BadRequest, match="IANA time zone"):
            zone(bad)


def test_dates_are_whole_local_days_and_to_is_inclusive() -> None:
    span = parse_range("2022-07-01", "2022-07-02", LONDON)
    assert (span.start, span.end) == (utc(2022, 6, 30, 23), utc(2022, 7, 2, 23))
    assert span.days() == [date(2022, 7, 1), date(2022, 7, 2)]
    span = parse_range("2022-07-01T06:00:00Z", "2022-07-01T09:00:00Z", LONDON)
    assert (span.start, span.end) == (utc(2022, 7, 1, 6), utc(2022, 7, 1, 9))


def test_daylight_saving_days_are_23_and_25_hours() -> None:
    for day, hours in (("2022-03-27", 23), ("2022-10-30", 25), ("2022-07-01", 24)):
        span = parse_one_day(day, LONDON)
        assert span.end - span.start == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [
        ("2022-02-05", "2022-02-04", "must be before"),
        ("2022-02-03T10:00:00Z", "2022-02-03T10:00:00Z", "must be before"),
        ("2022-01-01", "2022-02-01", "at most 31 days"),
        ("2022-02-30", "2022-03-01", "not a calendar date"),
        ("2022-02-03", "soon", "RFC 3339"),
        ("0001-01-01", "0001-01-02", "between 0002-01-01"),
        ("9998-12-31", "9999-01-01", "between 0002-01-01"),
    ],
    ids=["reversed", "empty", "32-days", "impossible-date", "not-a-time", "too-early", "too-late"],
)
def test_bad_ranges_are_bad_requests(low: str, high: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_range(low, high, UTC)


def test_summary_ranges_take_dates_only() -> None:
    with pytest.raises(BadRequest, match="YYYY-MM-DD"):
        parse_range("2022-02-03T00:00:00Z", "2022-02-04", UTC, dates_only=True)


@pytest.mark.parametrize(
    ("tz", "first", "last", "count"),
    [
        (UTC, "2021-12-31", "2022-02-01", 33),
        (ZoneInfo("Pacific/Kiritimati"), "2021-12-30", "2022-02-01", 34),  # +14:00
        (ZoneInfo("Etc/GMT+12"), "2021-12-31", "2022-02-02", 34),  # -12:00
    ],
    ids=["utc", "plus-14", "minus-12"],
)
def test_a_month_needs_at_most_34_partitions(
    tz: ZoneInfo, first: str, last: str, count: int
) -> None:
    span = parse_range("2022-01-01", "2022-01-31", tz)
    assert span.day_count() == MAX_DAYS
    partitions = span.partitions()
    assert (partitions[0], partitions[-1], len(partitions)) == (first, last, count)


def reading(timestamp: str, temperature: float = 20.0) -> Reading:
    return Reading(timestamp, True, temperature, 20)


class Partitions:
    """Readings by Record_Day, in sort-key order as DynamoDB returns them; records what is read."""

    def __init__(self, readings: list[Reading]) -> None:
        self.by_day: dict[str, list[Reading]] = {}
        for r in sorted(readings, key=lambda r: r.record_date):
            self.by_day.setdefault(r.record_day, []).append(r)
        self.read: list[str] = []

    def __call__(self, day: str) -> Iterator[Reading]:
        self.read.append(day)
        yield from self.by_day.get(day, [])


def test_readings_across_partitions_come_in_time_order_not_key_order() -> None:
    store = Partitions(
        [
            reading("2022-02-02T23:30:00-05:00"),  # 02-03 04:30Z, in yesterday's partition
            reading("2022-02-03T06:00:00Z"),
            reading("2022-02-03T10:00:00+05:00"),  # 05:00Z: after 06:00Z by key, before by time
            reading("2022-02-03T00:30:00+01:00"),  # 02-02 23:30Z: another UTC day
            reading("2022-02-04T00:30:00+01:00"),  # 02-03 23:30Z, in tomorrow's partition
            reading("2022-02-04T01:00:00+00:00"),  # 02-04: outside
        ]
    )
    span = parse_one_day("2022-02-03", UTC)
    got = [t.record_date for t in in_time_order(store, span)]
    assert got == [
        "2022-02-02T23:30:00-05:00",
        "2022-02-03T10:00:00+05:00",
        "2022-02-03T06:00:00Z",
        "2022-02-04T00:30:00+01:00",
    ]
    assert store.read == ["2022-02-02", "2022-02-03", "2022-02-04"]

    after = Timed.of(reading("2022-02-03T10:00:00+05:00"), UTC).key
    assert [t.record_date for t in in_time_order(store, span, after)] == [
        "2022-02-03T06:00:00Z",
        "2022-02-04T00:30:00+01:00",
    ]


def test_naive_readings_are_placed_in_the_requested_zone() -> None:
    store = Partitions([reading("2022-07-01T00:30:00"), reading("2022-07-01T23:30:00")])
    london = [t.at for t in in_time_order(store, parse_one_day("2022-07-01", LONDON))]
    assert london == [utc(2022, 6, 30, 23, 30), utc(2022, 7, 1, 22, 30)]


def test_a_page_reads_only_the_partitions_it_needs() -> None:
    store = Partitions(
        [reading(f"2022-01-{d:02d}T{h:02d}:00:00Z") for d in range(1, 32) for h in range(24)]
    )
    span = parse_range("2022-01-01", "2022-01-31", UTC)
    first = list(islice(in_time_order(store, span), 30))
    assert first[0].record_date == "2022-01-01T00:00:00Z"
    assert first[-1].record_date == "2022-01-02T05:00:00Z"
    assert store.read == ["2021-12-31", "2022-01-01", "2022-01-02", "2022-01-03"]


@settings(max_examples=200)
@given(
    st.lists(
        st.builds(
            lambda minutes, offset: (
                (datetime(2022, 2, 1) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")
                + offset
            ),
            st.integers(0, 5 * 24 * 60),
            offsets,
        ),
        unique_by=lambda t: t,
        max_size=60,
    ),
    zones,
    st.integers(0, 3 * 24 * 60),
    st.integers(1, 2 * 24 * 60),
)
def test_the_merge_equals_sorting_everything(
    timestamps: list[str], tz: ZoneInfo, start_minute: int, length: int
) -> None:
    store = Partitions([reading(t) for t in timestamps])
    start = utc(2022, 2, 1) + timedelta(minutes=start_minute)
    span = Range(start, start + timedelta(minutes=length), tz)
    expected = sorted(
        (instant(t, tz), t) for t in timestamps if span.start <= instant(t, tz) < span.end
    )
    assert [t.key for t in in_time_order(store, span)] == expected


def test_a_stored_reading_without_an_instant_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    store = Partitions([reading("2022-02-03T06:00:00Z"), reading("2022-02-03 morning")])
    got = [t.record_date for t in in_time_order(store, parse_one_day("2022-02-03", UTC))]
    assert got == ["2022-02-03T06:00:00Z"]
    assert "2022-02-03 morning" in caplog.text


# The supported range's edges, both sides, for dates and date-times; impossible offsets and
# instants that overflow on the way to UTC are bad requests, never a 500.
@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("0002-01-01", "0002-01-01"),
        ("0002-01-01T00:00:00Z", "0002-01-01T00:00:01Z"),
        ("9998-12-31", "9998-12-31"),
        ("9998-12-31T23:59:59Z", "9999-01-01T00:00:00Z"),
        ("9998-12-31T22:59:59-01:00", "9998-12-31T23:00:00-01:00"),  # ends at LATEST
    ],
    ids=["first-day", "first-instant", "last-day", "last-instant", "last-instant-offset"],
)
def test_the_edges_of_the_supported_range_are_accepted(low: str, high: str) -> None:
    span = parse_range(low, high, UTC)
    assert span.start < span.end


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("0001-12-31", "0002-01-01"),
        ("0001-12-31T23:59:59Z", "0002-01-01T00:00:01Z"),
        ("0002-01-01T00:59:59+01:00", "0002-01-01T01:00:01+01:00"),  # starts before EARLIEST
        ("9998-12-31", "9999-01-01"),
        ("9998-12-31T23:59:59Z", "9999-01-01T00:00:00.000001Z"),
        ("9998-12-31T23:00:00-01:00", "9998-12-31T23:00:01-01:00"),  # ends after LATEST
        ("0001-01-01T00:00:00+01:00", "0002-01-02"),  # overflows taken to UTC
        ("2022-02-03", "9999-12-31T23:59:59-01:00"),  # overflows taken to UTC
        ("2022-02-03T00:00:00+01:60", "2022-02-04"),  # minutes of an offset >= 60
        ("2022-02-03T00:00:00-00:99", "2022-02-04"),
        ("2022-02-03", "2022-02-04T00:00:00+24:00"),  # a day of offset
    ],
    ids=[
        "day-before-first",
        "instant-before-first",
        "offset-before-first",
        "day-after-last",
        "instant-after-last",
        "offset-after-last",
        "overflow-low",
        "overflow-high",
        "offset-minutes-60",
        "offset-minutes-99",
        "offset-24h",
    ],
)
def test_beyond_the_supported_range_or_impossible_is_a_bad_request(low: str, high: str) -> None:
    with pytest.raises(BadRequest):
        parse_range(low, high, UTC)


@pytest.mark.parametrize(
    ("day", "accepted"),
    [("0001-12-31", False), ("0002-01-01", True), ("9998-12-31", True), ("9999-01-01", False)],
)
def test_the_first_and_last_days(day: str, accepted: bool) -> None:
    if accepted:
        span = parse_one_day(day, UTC)
        assert span.end - span.start == timedelta(days=1)
    else:
        with pytest.raises(BadRequest, match="between 0002-01-01 and 9998-12-31"):
            parse_one_day(day, UTC)


def test_a_local_last_day_ending_after_the_last_instant_is_refused() -> None:
    with pytest.raises(BadRequest, match="between"):
        parse_one_day("9998-12-31", ZoneInfo("America/New_York"))
    assert parse_one_day("9998-12-31", ZoneInfo("Asia/Tokyo")).end < datetime(
        9999, 1, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "timestamp",
    ["2022-02-03T00:00:00+01:60", "2022-02-03T00:00:00+24:00", "0001-01-01T00:00:00+01:00"],
)
def test_instant_refuses_what_has_no_instant(timestamp: str) -> None:
    with pytest.raises(ValueError):
        instant(timestamp)


def test_instant_at_the_offset_edges() -> None:
    assert instant("2022-02-03T00:00:00+23:59") == datetime(2022, 2, 2, 0, 1, tzinfo=UTC)
    assert instant("2022-02-03T00:00:00-00:59") == datetime(2022, 2, 3, 0, 59, tzinfo=UTC)


def test_skipped_days_are_not_days_of_a_range() -> None:
    apia = ZoneInfo("Pacific/Apia")
    span = parse_range("2011-12-29", "2011-12-31", apia, dates_only=True)
    assert span.days() == [date(2011, 12, 29), date(2011, 12, 31)]
    with pytest.raises(BadRequest, match="does not exist in Pacific/Apia"):
        parse_one_day("2011-12-30", apia)


def test_a_range_ending_a_microsecond_into_a_day_touches_that_day() -> None:
    span = parse_range("2022-02-03T00:00:00Z", "2022-02-04T00:00:00.000001Z", UTC)
    assert span.day_count() == 2
    assert span.days() == [date(2022, 2, 3), date(2022, 2, 4)]
    assert span.partitions() == ["2022-02-02", "2022-02-03", "2022-02-04", "2022-02-05"]
    whole = parse_range("2022-02-03T00:00:00Z", "2022-02-04T00:00:00Z", UTC)
    assert (whole.day_count(), whole.partitions()) == (
        1,
        ["2022-02-02", "2022-02-03", "2022-02-04"],
    )


def test_widening_a_range_moves_both_ends_out() -> None:
    span = parse_one_day("2022-02-03", UTC).widened(timedelta(minutes=15))
    assert (span.start, span.end) == (
        datetime(2022, 2, 2, 23, 45, tzinfo=UTC),
        datetime(2022, 2, 4, 0, 15, tzinfo=UTC),
    )


def test_a_cursor_starts_the_reading_at_its_partition() -> None:
    store = Partitions([reading(f"2022-01-{d:02d}T12:00:00Z") for d in range(1, 11)])
    span = parse_range("2022-01-01", "2022-01-10", UTC)
    after = (datetime(2022, 1, 5, 12, tzinfo=UTC), "2022-01-05T12:00:00Z")
    rest = [t.record_date[:10] for t in in_time_order(store, span, after)]
    assert rest == [f"2022-01-{d:02d}" for d in range(6, 11)]
    assert store.read[0] == "2022-01-04"  # not the range's first partition


def test_a_reading_at_the_end_of_a_range_is_not_in_it() -> None:
    store = Partitions([reading("2022-02-03T23:59:59Z"), reading("2022-02-04T00:00:00Z")])
    span = parse_one_day("2022-02-03", UTC)
    assert [t.record_date for t in in_time_order(store, span)] == ["2022-02-03T23:59:59Z"]


@pytest.mark.parametrize(("length", "looked_up"), [(64, True), (65, False)])
def test_a_zone_name_longer_than_64_is_refused_unread(length: int, looked_up: bool) -> None:
    name = "A" * length
    with pytest.raises(BadRequest) as refused:
        zone(name)
    assert (name in str(refused.value)) is looked_up
