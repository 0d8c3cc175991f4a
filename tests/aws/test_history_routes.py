"""The read side of ingest (ranges, summaries, charts), its metrics and retention, through the
handler with Function URL events, against moto's server over real HTTP."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers import ingest
from handlers.readings.timerange import instant
from infra import tables
from tests import events
from tests.aws.conftest import ReadingsTable

Answer = tuple[int, Any, dict[str, str]]


def call(event: dict[str, Any]) -> Answer:
    response = ingest.handler(event, None)
    headers = response["headers"]
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    if headers["content-type"] == "application/json":
        return response["statusCode"], json.loads(response["body"]), headers
    return response["statusCode"], response["body"], headers


def get(path: str, **query: str) -> Answer:
    return call(events.function_url("GET", path, query=query))


def post(body: Any) -> Answer:
    return call(events.function_url("POST", "/", body=json.dumps(body)))


def reading(
    record_date: str, on: bool = False, temperature: float = 20.0, setpoint: int = 20
) -> dict[str, Any]:
    return {
        "record_date": record_date,
        "thermostat_on": on,
        "temperature": temperature,
        "thermostat_value": setpoint,
    }


def a_day(day: str = "2022-02-03", heating: tuple[int, int] = (360, 540)) -> list[dict[str, Any]]:
    """Every 5 minutes, heating on from 06:00 to 09:00, temperatures 18.0 .. 19.9."""
    start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
    return [
        reading(
            (start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
            heating[0] <= m < heating[1],
            18 + (m % 100) / 50,
            21 if m >= 720 else 20,
        )
        for m in range(0, 24 * 60, 5)
    ]


MIXED_OFFSETS = [
    reading("2022-02-02T23:30:00-05:00", temperature=1),  # 02-03 04:30Z, partition 02-02
    reading("2022-02-03T06:00:00Z", temperature=3),
    reading("2022-02-03T10:00:00+05:00", temperature=2),  # 05:00Z: after 06:00Z by key
    reading("2022-02-03T00:30:00+01:00", temperature=0),  # 02-02 23:30Z: before the day
    reading("2022-02-04T00:30:00+01:00", temperature=4),  # 02-03 23:30Z, partition 02-04
    reading("2022-02-04T01:00:00Z", temperature=5),  # after the day
]


def test_a_range_comes_in_time_order_across_partitions(readings_table: ReadingsTable) -> None:
    assert post(MIXED_OFFSETS)[0] == 201
    status, body, _ = get("/readings", **{"from": "2022-02-03", "to": "2022-02-03"})
    assert status == 200
    assert [r["temperature"] for r in body["readings"]] == [1, 2, 3, 4]
    assert (body["from"], body["to"], body["tz"]) == (
        "2022-02-03T00:00:00+00:00",
        "2022-02-04T00:00:00+00:00",
        "UTC",
    )
    assert body["next_cursor"] is None
    whole_day = {"from": "2022-02-03", "to": "2022-02-03"}
    assert get("/readings", **whole_day, limit="4")[1]["next_cursor"] is None  # exactly a page
    assert get("/readings", **whole_day, limit="3")[1]["next_cursor"] is not None
    # In New York the same readings fall on other local days.
    status, body, _ = get(
        "/readings", **{"from": "2022-02-03", "to": "2022-02-03", "tz": "America/New_York"}
    )
    # New York's 3 February is 05:00Z to 05:00Z the next day.
    assert [r["temperature"] for r in body["readings"]] == [2, 3, 4, 5]


def test_a_range_is_paged_with_the_cursor(readings_table: ReadingsTable) -> None:
    post(a_day("2022-02-03") + a_day("2022-02-04"))
    query = {"from": "2022-02-03T22:00:00Z", "to": "2022-02-04T02:00:00Z", "limit": "7"}
    seen: list[str] = []
    pages = 0
    while True:
        status, body, _ = get("/readings", **query)
        assert status == 200 and len(body["readings"]) <= 7
        seen += [r["record_date"] for r in body["readings"]]
        pages += 1
        if not body["next_cursor"]:
            break
        query["cursor"] = body["next_cursor"]
    assert pages == 7  # 48 readings: six full pages and one of six
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 48
    assert (seen[0], seen[-1]) == ("2022-02-03T22:00:00Z", "2022-02-04T01:55:00Z")

    query["to"] = "2022-02-04T03:00:00Z"
    status, body, _ = get("/readings", **query)
    assert (status, body["error"]) == (400, body["error"])
    assert "another range" in body["error"]


def test_a_summary_counts_what_the_readings_say(readings_table: ReadingsTable) -> None:
    post([*a_day("2022-02-03"), reading("2022-02-04T00:00:00Z")])
    status, body, _ = get("/summary", day="2022-02-03")
    assert status == 200
    assert (body["tz"], body["gap_minutes"]) == ("UTC", 15)
    [day] = body["days"]
    temperatures = [18 + (m % 100) / 50 for m in range(0, 24 * 60, 5)]
    assert day == {
        "day": "2022-02-03",
        "start": "2022-02-03T00:00:00+00:00",
        "end": "2022-02-04T00:00:00+00:00",
        "day_minutes": 1440,
        "count": 288,
        "first_reading": "2022-02-03T00:00:00Z",
        "last_reading": "2022-02-03T23:55:00Z",
        "temperature_min": 18.0,
        "temperature_max": 19.9,
        "temperature_mean": round(sum(temperatures) / 288, 2),
        "setpoints": [20, 21],
        "heating_minutes": 180.0,
        "known_minutes": 1440.0,
        "heating_share": 0.125,
        "gaps": [],
    }


def test_a_summary_of_a_range_has_every_day_empty_ones_too(readings_table: ReadingsTable) -> None:
    post(a_day("2022-02-03"))
    status, body, _ = get(
        "/summary", **{"from": "2022-02-02", "to": "2022-02-04", "gap_minutes": "30"}
    )
    assert status == 200 and body["gap_minutes"] == 30
    before, day, after = body["days"]
    assert [d["day"] for d in body["days"]] == ["2022-02-02", "2022-02-03", "2022-02-04"]
    assert (before["count"], day["count"], after["count"]) == (0, 288, 0)
    assert before["gaps"] == [
        {"from": "2022-02-02T00:00:00+00:00", "to": "2022-02-03T00:00:00+00:00", "minutes": 1440.0}
    ]
    # The device fell silent after 23:55 on the 3rd: that reading holds for the threshold (30
    # minutes), into the 4th, which is a gap from 00:25 on.
    assert day["gaps"] == []
    assert after["gaps"] == [
        {"from": "2022-02-04T00:25:00+00:00", "to": "2022-02-05T00:00:00+00:00", "minutes": 1415.0}
    ]
    assert after["known_minutes"] == 25.0


def test_a_summary_in_local_time(readings_table: ReadingsTable) -> None:
    post(a_day("2022-07-01") + a_day("2022-07-02"))
    status, body, _ = get("/summary", day="2022-07-01", tz="Europe/London")
    assert (status, body["tz"]) == (200, "Europe/London")
    [day] = body["days"]
    # London's 1 July is 30 June 23:00Z to 1 July 23:00Z; nothing was sent before 1 July 00:00Z.
    assert (day["start"], day["end"]) == ("2022-07-01T00:00:00+01:00", "2022-07-02T00:00:00+01:00")
    assert (day["count"], day["first_reading"], day["last_reading"]) == (
        276,
        "2022-07-01T00:00:00Z",
        "2022-07-01T22:55:00Z",
    )
    assert day["gaps"] == [
        {"from": "2022-07-01T00:00:00+01:00", "to": "2022-07-01T01:00:00+01:00", "minutes": 60.0}
    ]
    assert (day["heating_minutes"], day["known_minutes"]) == (180.0, 1380.0)


def test_the_chart_is_svg_of_the_day(readings_table: ReadingsTable) -> None:
    post(a_day("2022-02-03"))
    status, svg, headers = get("/chart", day="2022-02-03")
    assert status == 200
    assert headers["content-type"] == "image/svg+xml; charset=utf-8"
    root = ET.fromstring(svg)
    bands = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class")]
    # 23:55 holds for the threshold, to the end of the day: no gap.
    assert [r.get("class") for r in bands] == ["heating"]
    assert "288 readings" in svg


def test_the_chart_of_an_empty_day_is_an_empty_chart(readings_table: ReadingsTable) -> None:
    status, svg, headers = get("/chart", day="2021-12-25", tz="Europe/Paris")
    assert (status, headers["content-type"]) == (200, "image/svg+xml; charset=utf-8")
    assert "No readings" in svg and "2021-12-25 (Europe/Paris)" in svg


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/readings", {"from": "2022-02-05", "to": "2022-02-04"}, "must be before"),
        ("/readings", {"from": "2022-01-01", "to": "2022-02-01"}, "at most 31 days"),
        ("/readings", {"from": "2022-02-30", "to": "2022-03-01"}, "not a calendar date"),
        ("/readings", {"from": "2022-02-03"}, "both from and to"),
        ("/readings", {"day": "2022-02-03", "to": "2022-02-04"}, "either day"),
        ("/readings", {"from": "2022-02-03", "to": "2022-02-03", "tz": "Mars/Base"}, "IANA"),
        ("/readings", {"from": "2022-02-03", "to": "2022-02-03", "limit": "99999999"}, "limit"),
        ("/readings", {"from": "2022-02-03", "to": "2022-02-03", "limit": "0"}, "limit"),
        ("/readings", {"from": "2022-02-03", "to": "2022-02-03", "limit": "²"}, "limit"),
        ("/readings", {"from": "2022-02-03", "to": "2022-02-03", "cursor": "!!"}, "cursor"),
        ("/readings", {"from": "last week", "to": "2022-02-03"}, "RFC 3339"),
        ("/summary", {}, "give ?day=YYYY-MM-DD"),
        ("/summary", {"day": "2022-13-01"}, "not a calendar date"),
        ("/summary", {"day": "03/02/2022"}, "YYYY-MM-DD"),
        ("/summary", {"from": "2022-01-01", "to": "2022-03-01"}, "at most 31 days"),
        ("/summary", {"from": "2022-02-03T06:00:00Z", "to": "2022-02-04"}, "YYYY-MM-DD"),
        ("/summary", {"day": "2022-02-03", "gap_minutes": "0"}, "gap_minutes"),
        ("/summary", {"day": "2022-02-03", "gap_minutes": "100000"}, "gap_minutes"),
        ("/summary", {"day": "2022-02-03", "gap_minutes": "15.5"}, "gap_minutes"),
        ("/summary", {"day": "2022-02-03", "gap_minutes": "1²"}, "gap_minutes"),
        ("/summary", {"day": "9999-12-31"}, "between 0002-01-01"),
        ("/chart", {}, "give the day"),
        ("/chart", {"from": "2022-02-03", "to": "2022-02-04"}, "one day"),
        ("/chart", {"day": "2022-02-29"}, "not a calendar date"),
        ("/chart", {"day": "2022-02-03", "tz": "../../etc/passwd"}, "IANA"),
    ],
    ids=[
        "range-reversed",
        "range-32-days",
        "range-impossible-date",
        "range-half",
        "range-and-day",
        "range-bad-tz",
        "range-huge-limit",
        "range-zero-limit",
        "range-superscript-limit",
        "range-bad-cursor",
        "range-not-a-time",
        "summary-nothing",
        "summary-impossible-date",
        "summary-not-iso",
        "summary-over-31-days",
        "summary-date-time",
        "summary-gap-zero",
        "summary-gap-huge",
        "summary-gap-fraction",
        "summary-gap-superscript",
        "summary-year-9999",
        "chart-nothing",
        "chart-range",
        "chart-impossible-date",
        "chart-path-as-tz",
    ],
)
def test_bad_queries_get_a_clear_400(
    readings_table: ReadingsTable, path: str, query: dict[str, str], message: str
) -> None:
    status, body, _ = get(path, **query)
    assert status == 400
    assert message in body["error"]


def test_a_day_page_with_a_superscript_limit_is_a_400_not_a_crash(
    readings_table: ReadingsTable,
) -> None:
    # str.isdigit() accepts "²" and int() refuses it: the day route used to raise here.
    status, body, _ = get("/readings", day="2022-02-03", limit="²")
    assert (status, "limit" in body["error"]) == (400, True)


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def test_every_request_writes_one_metric_line(
    readings_table: ReadingsTable, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = [
        (
            events.function_url("POST", "/", body=json.dumps(reading("2022-02-03T06:00:00Z"))),
            (1, 0, 0),
        ),
        (
            events.function_url("POST", "/", body=json.dumps(reading("2022-02-03T06:00:00Z"))),
            (0, 1, 0),
        ),
        (
            events.function_url(
                "POST",
                "/",
                body=json.dumps(
                    [
                        reading("2022-02-03T06:00:00Z"),
                        reading("2022-02-03T06:00:00Z", temperature=30),
                        reading("2022-02-03T06:05:00Z"),
                    ]
                ),
            ),
            (1, 1, 1),
        ),
        (
            events.function_url(
                "POST", "/", body=json.dumps([reading("2022-02-03T07:00:00Z"), {"temperature": 1}])
            ),
            (0, 0, 1),
        ),
        (events.function_url("POST", "/", body="{not json"), (0, 0, 1)),
        (events.function_url("GET", "/summary", query={"day": "2022-02-03"}), (0, 0, 0)),
        (events.function_url("GET", "/chart", query={"day": "2022-02-03"}), (0, 0, 0)),
    ]
    capsys.readouterr()
    for event, expected in requests:
        call(event)
        [line] = emf_lines(capsys.readouterr().out)
        assert (line["ReadingsStored"], line["Duplicates"], line["Rejected"]) == expected
        assert line["FunctionName"] == "thumbstat-ingest"
        assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "thumbstat"
        assert line["request_id"] == event["requestContext"]["requestId"]
    assert len(readings_table.items()) == 2


def test_the_metric_dimension_is_the_function_name(
    readings_table: ReadingsTable,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "thumbstat-IngestFunction-x1")
    ingest.settings.cache_clear()
    get("/health")
    [line] = emf_lines(capsys.readouterr().out)
    assert line["FunctionName"] == "thumbstat-IngestFunction-x1"
    ingest.settings.cache_clear()


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_with_a_retention_readings_carry_their_expiry(
    readings_table: ReadingsTable, monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "30")
    ingest.settings.cache_clear()
    sent = [reading("2022-02-03T06:00:00+01:00"), reading("2022-02-03T07:00:00")]
    if batch:
        assert post(sent)[0] == 201
    else:
        assert [post(r)[0] for r in sent] == [201, 201]
    ingest.settings.cache_clear()
    expiry = {
        item["Record_Date"]["S"]: int(item[tables.READINGS_EXPIRES_AT]["N"])
        for item in readings_table.items()
    }
    assert expiry == {
        "2022-02-03T06:00:00+01:00": int(datetime(2022, 3, 5, 5, tzinfo=UTC).timestamp()),
        "2022-02-03T07:00:00": int(datetime(2022, 3, 5, 7, tzinfo=UTC).timestamp()),
    }
    # Resending is still recognised as the same reading.
    status, body, _ = post(sent[0])
    assert (status, body["stored"], body["duplicate"]) == (200, 0, True)


def test_without_a_retention_readings_are_kept_forever(readings_table: ReadingsTable) -> None:
    post(reading("2022-02-03T06:00:00Z"))
    [item] = readings_table.items()
    assert tables.READINGS_EXPIRES_AT not in item
    assert instant(item["Record_Date"]["S"]) == datetime(2022, 2, 3, 6, tzinfo=UTC)
