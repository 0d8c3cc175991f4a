"""The chart as a browser draws it: headless Chromium (Debian's ``chromium``) renders the SVG the
function answers, and the screenshot's pixels are checked against what the readings say.

Without Chromium the tests are skipped, except in CI (``CI=true``), where they fail: .ci/run
installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from handlers.readings import chart
from handlers.readings.schema import Reading
from handlers.readings.summary import Timeline, timeline
from handlers.readings.timerange import Timed

pytestmark = pytest.mark.browser

# Headless, offline, and nothing remembered between runs.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
GAP = timedelta(minutes=15)
Pixels = NDArray[np.uint8]


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must run the browser tests (.ci/run)")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return found


@pytest.fixture
def screenshot(chromium: str, tmp_path: Path) -> Callable[[str], Pixels]:
    def shoot(svg: str) -> Pixels:
        source, png = tmp_path / "chart.svg", tmp_path / "chart.png"
        source.write_text(svg)
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={chart.WIDTH},{chart.HEIGHT}",
                f"--screenshot={png}",
                source.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with Image.open(png) as image:
            pixels: Pixels = np.asarray(image.convert("RGB"))
        assert pixels.shape == (chart.HEIGHT, chart.WIDTH, 3)
        return pixels

    return shoot


def rgb(colour: str) -> Pixels:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def columns_with(pixels: Pixels, colour: str, tolerance: int = 6) -> set[int]:
    """The x of every column of the plot area where ``colour`` shows."""
    left, right = int(chart.LAYOUT.left) + 1, int(chart.LAYOUT.right)
    plot = pixels[int(chart.LAYOUT.top) + 2 : int(chart.LAYOUT.bottom) - 1, left:right]
    close = (np.abs(plot.astype(np.int16) - rgb(colour)) <= tolerance).all(axis=2)
    return {left + int(x) for x in np.flatnonzero(close.any(axis=0))}


def x_of(clock: str) -> float:
    hours, minutes = map(int, clock.split(":"))
    share = (hours * 60 + minutes) / 1440
    return chart.LAYOUT.left + share * (chart.LAYOUT.right - chart.LAYOUT.left)


def between(start: str, end: str, margin: int) -> set[int]:
    return set(range(round(x_of(start)) + margin, round(x_of(end)) - margin + 1))


def day_of(readings: list[Reading]) -> Timeline:
    window = sorted(Timed.of(r, UTC) for r in readings)
    return timeline(date(2022, 2, 3), UTC, window, datetime(2030, 1, 1, tzinfo=UTC), GAP)


def every_five_minutes(skip: tuple[str, str] | None = None) -> list[Reading]:
    start = datetime(2022, 2, 3, tzinfo=UTC)
    readings = []
    for m in range(0, 24 * 60 + 5, 5):  # through 00:00 the next day: no silence at the end
        clock = f"{m // 60:02d}:{m % 60:02d}"
        if skip and skip[0] <= clock < skip[1]:
            continue
        on = 6 * 60 <= m < 9 * 60
        temperature = 18 + (1.5 if on else 0) + (m % 30) / 30
        readings.append(Reading((start + timedelta(minutes=m)).isoformat(), on, temperature, 19))
    return readings


def test_heating_is_drawn_from_six_to_nine_and_nowhere_else(
    screenshot: Callable[[str], Pixels], tmp_path: Path
) -> None:
    pixels = screenshot(chart.render(day_of(every_five_minutes())))
    heating = columns_with(pixels, chart.HEATING_COLOUR)
    assert between("06:00", "09:00", margin=1) <= heating
    assert heating <= between("06:00", "09:00", margin=-1)
    assert not columns_with(pixels, chart.GAP_COLOUR)
    # The temperature line runs through the day's readings, 00:00 to 23:55.
    temperature = columns_with(pixels, chart.TEMPERATURE_COLOUR, tolerance=40)
    assert between("00:00", "23:55", margin=1) <= temperature
    Image.fromarray(pixels).save(tmp_path / "heating.png")  # kept for a look on failure


def test_a_gap_is_drawn_where_the_readings_stop(screenshot: Callable[[str], Pixels]) -> None:
    pixels = screenshot(chart.render(day_of(every_five_minutes(skip=("12:00", "14:00")))))
    gap = columns_with(pixels, chart.GAP_COLOUR)
    # Silent from the 11:55 reading to the 14:00 one: its state holds for the 15-minute cap, the
    # gap is the rest.
    assert between("12:10", "14:00", margin=1) <= gap <= between("12:10", "14:00", margin=-1)
    assert columns_with(pixels, chart.HEATING_COLOUR) <= between("06:00", "09:00", margin=-1)
    temperature = columns_with(pixels, chart.TEMPERATURE_COLOUR, tolerance=40)
    assert not temperature & between("11:55", "14:00", margin=2)  # the line breaks at the gap


def test_an_empty_day_is_drawn_as_one_gap_with_its_axes(
    screenshot: Callable[[str], Pixels],
) -> None:
    pixels = screenshot(chart.render(day_of([])))
    assert between("00:00", "24:00", margin=1) <= columns_with(pixels, chart.GAP_COLOUR)
    assert not columns_with(pixels, chart.HEATING_COLOUR)
    assert not columns_with(pixels, chart.TEMPERATURE_COLOUR, tolerance=40)
    # Text was drawn (title, labels, "No readings"): dark pixels outside the plot and inside it.
    dark = pixels.astype(np.int16).sum(axis=2) < 450  # the text is #555555, the gap #d6d6d6
    assert dark[: int(chart.LAYOUT.top) - 4].any()
    assert dark[int(chart.LAYOUT.bottom) + 4 :].any()
    middle = dark[int(chart.LAYOUT.top) + 2 : int(chart.LAYOUT.bottom) - 1, 300:700]
    assert middle.any()
