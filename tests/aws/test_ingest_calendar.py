"""Day-based routes over every time zone, including local days a zone skipped or repeated:
every request is answered with a status of the status table, never a function error. Through
the handler, against moto's server over real HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from zoneinfo import available_timezones

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handlers import ingest
from handlers.readings.timerange import day_exists, zone
from tests import events
from tests.aws.conftest import ReadingsTable

ANSWERED = {200, 201, *ingest.STATUS.values()}
ZONES = sorted(available_timezones())
# (zone, local day): days that zone skipped, and days it lived twice or with a repeated hour.
SKIPPED = [
    ("Pacific/Apia", "2011-12-30"),
    ("Pacific/Fakaofo", "2011-12-30"),
    ("Pacific/Kwajalein", "1993-08-21"),
]
REPEATED = [
    ("America/New_York", "2022-11-06"),  # 01:00-02:00 twice
    ("Europe/London", "2022-10-30"),
    ("Australia/Lord_Howe", "2022-04-03"),  # half an hour twice
    ("Pacific/Kwajalein", "1969-09-30"),  # +11:00 to -12:00: a day and a night again
    ("America/Sitka", "1867-10-18"),  # from Russian to American time: the 18th twice
]
ROUTES = ["/summary", "/chart", "/readings"]


def get(path: str, query: dict[str, str]) -> tuple[int, Any]:
    response = ingest.handler(events.function_url("GET", path, query=query), None)
    return response["statusCode"], response["body"]


@pytest.fixture
def stored_around_the_odd_days(readings_table: ReadingsTable) -> ReadingsTable:
    """Readings every three hours either side of each odd day, with and without offsets."""
    batch: list[dict[str, Any]] = []
    for _, day in SKIPPED + REPEATED:
        start = date.fromisoformat(day) - timedelta(days=1)
        for hours in range(0, 72, 3):
            moment = f"{start + timedelta(days=hours // 24)}T{hours % 24:02d}:00:00"
            for suffix in ("", "Z", "+14:00"):
                batch.append(
                    {
                        "record_date": moment + suffix,
                        "thermostat_on": hours % 6 == 0,
                        "temperature": 19.0 + hours % 5,
                        "thermostat_value": 20,
                    }
                )
    response = ingest.handler(events.function_url("POST", "/", body=json.dumps(batch)), None)
    assert response["statusCode"] == 201
    return readings_table


@pytest.mark.parametrize(("tz", "day"), SKIPPED, ids=[f"{z}-{d}" for z, d in SKIPPED])
@pytest.mark.parametrize("route", ROUTES)
def test_a_skipped_day_is_a_400_naming_it(
    stored_around_the_odd_days: ReadingsTable, route: str, tz: str, day: str
) -> None:
    assert not day_exists(date.fromisoformat(day), zone(tz))
    status, body = get(route, {"day": day, "tz": tz})
    assert status == 400
    assert f"{day} does not exist in {tz}" in json.loads(body)["error"]


@pytest.mark.parametrize(("tz", "day"), SKIPPED, ids=[f"{z}-{d}" for z, d in SKIPPED])
def test_a_range_over_a_skipped_day_summarizes_the_days_that_exist(
    stored_around_the_odd_days: ReadingsTable, tz: str, day: str
) -> None:
    skipped = date.fromisoformat(day)
    low, high = (skipped - timedelta(days=1)).isoformat(), (skipped + timedelta(days=1)).isoformat()
    status, body = get("/summary", {"from": low, "to": high, "tz": tz})
    assert status == 200
    days = json.loads(body)["days"]
    assert [d["day"] for d in days] == [low, high]
    assert all(d["day_minutes"] > 0 and d["known_minutes"] <= d["day_minutes"] for d in days)


@pytest.mark.parametrize(("tz", "day"), REPEATED, ids=[f"{z}-{d}" for z, d in REPEATED])
@pytest.mark.parametrize("route", ROUTES)
def test_a_repeated_day_or_hour_is_answered(
    stored_around_the_odd_days: ReadingsTable, route: str, tz: str, day: str
) -> None:
    status, body = get(route, {"day": day, "tz": tz})
    assert status == 200
    if route == "/summary":
        [summary] = json.loads(body)["days"]
        assert summary["known_minutes"] <= summary["day_minutes"]


odd_days = st.sampled_from(SKIPPED + REPEATED)
any_day = st.tuples(
    st.sampled_from(ZONES),
    st.dates(min_value=date(1800, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone_day=st.one_of(odd_days, any_day),
    route=st.sampled_from(ROUTES),
    span=st.integers(-1, 3),
    gap=st.sampled_from(["5", "15", "1440"]),
)
@example(zone_day=("Pacific/Apia", "2011-12-30"), route="/chart", span=-1, gap="15")
@example(zone_day=("Pacific/Apia", "2011-12-30"), route="/summary", span=0, gap="1440")
@example(zone_day=("Pacific/Kwajalein", "1993-08-21"), route="/readings", span=0, gap="15")
def test_every_day_based_request_answers_a_status_of_the_table(
    stored_around_the_odd_days: ReadingsTable,
    zone_day: tuple[str, str],
    route: str,
    span: int,
    gap: str,
) -> None:
    """span -1: ?day=; otherwise from the day to span days later (dates)."""
    tz, day = zone_day
    query = {"tz": tz, "gap_minutes": gap}
    if span < 0 or route == "/chart":
        query["day"] = day
    else:
        query["from"] = day
        query["to"] = (date.fromisoformat(day) + timedelta(days=span)).isoformat()
    if route == "/readings":
        query.pop("gap_minutes")
    status, _ = get(route, query)
    assert status in ANSWERED
