"""The SVG chart as a document (handlers.readings.chart); what it looks like is tested in Chromium
(tests/browser)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.readings import chart
from handlers.readings.schema import Reading
from handlers.readings.summary import Timeline, timeline
from handlers.readings.timerange import Timed

SVG = "{http://www.w3.org/2000/svg}"
LATER = datetime(2030, 1, 1, tzinfo=UTC)
GAP = timedelta(minutes=15)


def day_with(
    readings: list[Reading], day: date = date(2022, 2, 3), tz: ZoneInfo | None = None
) -> Timeline:
    zone = tz or UTC
    return timeline(day, zone, sorted(Timed.of(r, zone) for r in readings), LATER, GAP)


def heating_six_to_nine() -> list[Reading]:
    start = datetime(2022, 2, 3, tzinfo=UTC)
    return [
        Reading((start + timedelta(minutes=m)).isoformat(), 360 <= m < 540, 18 + (m % 60) / 30, 20)
        for m in range(0, 24 * 60 + 5, 5)
    ]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def x_of(clock: str) -> float:
    hours, minutes = map(int, clock.split(":"))
    return chart.LAYOUT.left + (hours * 60 + minutes) / 1440 * (
        chart.LAYOUT.right - chart.LAYOUT.left
    )


def test_the_chart_is_self_contained() -> None:
    svg = chart.render(day_with(heating_six_to_nine()))
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == (str(chart.WIDTH), str(chart.HEIGHT))
    assert root.get("font-family") == "sans-serif"
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "title", "rect", "text", "line", "path", "circle"}
    for element in root.iter():
        assert not any("href" in name or name.startswith("on") for name in element.attrib)
        assert all("url(" not in value for value in element.attrib.values())
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", svg)
    assert "@import" not in svg and "@font-face" not in svg


def test_heating_bands_span_the_heating_on_states() -> None:
    root = parse(chart.render(day_with(heating_six_to_nine())))
    [band] = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "heating"]
    assert band.get("fill") == chart.HEATING_COLOUR
    assert float(band.get("x", "")) == pytest.approx(x_of("06:00"), abs=0.06)
    assert float(band.get("width", "")) == pytest.approx(x_of("09:00") - x_of("06:00"), abs=0.1)
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "gap"]


def test_a_gap_is_drawn_and_breaks_the_temperature_line() -> None:
    readings = [r for r in heating_six_to_nine() if not "12:00" <= r.record_date[11:16] < "14:00"]
    root = parse(chart.render(day_with(readings)))
    [gap] = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "gap"]
    # The 11:55 reading holds for the threshold (15 minutes); the gap is the rest of the silence.
    assert float(gap.get("x", "")) == pytest.approx(x_of("12:10"), abs=0.06)
    assert float(gap.get("width", "")) == pytest.approx(x_of("14:00") - x_of("12:10"), abs=0.1)
    [line] = [p for p in root.iter(f"{SVG}path") if p.get("class") == "temperature"]
    assert line.get("d", "").count("M") == 2  # two runs: before and after the gap


def test_an_empty_day_is_an_honest_empty_chart() -> None:
    root = parse(chart.render(day_with([])))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "No readings" in texts
    assert [t for t in texts if t and re.fullmatch(r"\d\d:00", t)] == [
        f"{h:02d}:00" for h in range(0, 25, 3)
    ]
    [gap] = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "gap"]  # the whole day
    assert float(gap.get("width", "")) == pytest.approx(chart.LAYOUT.right - chart.LAYOUT.left)
    assert not list(root.iter(f"{SVG}path")) and not list(root.iter(f"{SVG}circle"))


def test_a_day_still_to_come_has_no_gap() -> None:
    empty = timeline(date(2031, 1, 1), UTC, [], LATER, GAP)
    root = parse(chart.render(empty))
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "gap"]


def test_local_time_labels_on_a_25_hour_day() -> None:
    london = ZoneInfo("Europe/London")
    root = parse(chart.render(day_with([], date(2022, 10, 30), london)))
    ticks = {
        t.text: float(t.get("x", ""))
        for t in root.iter(f"{SVG}text")
        if t.text and re.fullmatch(r"\d\d:00", t.text)
    }
    width = chart.LAYOUT.right - chart.LAYOUT.left
    # Local 03:00 GMT is four hours into the day (01:00 came twice).
    assert ticks["03:00"] == pytest.approx(chart.LAYOUT.left + width * 4 / 25, abs=0.06)
    assert ticks["24:00"] == pytest.approx(chart.LAYOUT.right, abs=0.06)
    assert "local time (Europe/London)" in [t.text for t in root.iter(f"{SVG}text")]


def test_text_is_escaped() -> None:
    svg = chart.render(day_with(heating_six_to_nine()), title='<Shop & "Garage">')
    root = parse(svg)
    assert '<Shop & "Garage"> · 2022-02-03 (UTC)' in [t.text for t in root.iter(f"{SVG}text")]


def test_a_lone_reading_is_a_dot() -> None:
    root = parse(chart.render(day_with([Reading("2022-02-03T10:00:00Z", False, 19.5, 20)])))
    [dot] = root.iter(f"{SVG}circle")
    assert float(dot.get("cx", "")) == pytest.approx(x_of("10:00"), abs=0.06)


def test_no_heating_band_is_drawn_across_a_gap() -> None:
    # Heating on at 08:00, then silence until 10:00: heating is known until 08:15, no further.
    readings = [
        Reading("2022-02-03T08:00:00Z", True, 20.0, 20),
        Reading("2022-02-03T10:00:00Z", False, 20.0, 20),
    ]
    root = parse(chart.render(day_with(readings)))
    [heating] = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "heating"]
    gaps = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "gap"]
    heating_end = float(heating.get("x", "")) + float(heating.get("width", ""))
    assert heating_end == pytest.approx(x_of("08:15"), abs=0.06)
    for gap in gaps:  # bands never overlap
        gap_start = float(gap.get("x", ""))
        gap_end = gap_start + float(gap.get("width", ""))
        assert gap_end <= float(heating.get("x", "")) + 0.06 or gap_start >= heating_end - 0.06
