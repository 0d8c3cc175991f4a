"""A day's timeline drawn as a self-contained SVG: no script, no external font or link.

Pure: no AWS, no I/O. Drawn from the same timeline as the summary (``handlers.readings.summary``),
bottom
to top: the grid, gaps (grey bands), heating on (orange bands where a heating-on state holds), the
setpoint (a dashed step line: a setpoint holds like the state), the temperature (a line through
the readings, broken at gaps; a lone reading is a dot), then axes with local-time labels every
three hours (``tz``; a 23- or 25-hour day is drawn as long as it is). The setpoint shares the
temperature axis (the device sends it in the same unit). A day without readings is drawn as one:
its axes, its gap (the whole day, once it has passed) and "No readings".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from handlers.readings.summary import Figures, Span, Timeline, figures
from handlers.readings.timerange import zone_name

WIDTH: Final = 960
HEIGHT: Final = 360
HEATING_COLOUR: Final = "#ffb347"
GAP_COLOUR: Final = "#d6d6d6"
TEMPERATURE_COLOUR: Final = "#1f5fa8"
SETPOINT_COLOUR: Final = "#2e8b57"
_TEXT: Final = "#222222"
_AXIS: Final = "#555555"
_GRID: Final = "#e8e8e8"
_HOUR_STEP: Final = 3


@dataclass(frozen=True)
class Layout:
    """The plot area in SVG pixels (the chart is WIDTH x HEIGHT at scale 1)."""

    left: float = 56
    right: float = WIDTH - 24
    top: float = 64
    bottom: float = HEIGHT - 40

    def x(self, at: datetime, day: Timeline) -> float:
        share = (at - day.start) / (day.end - day.start)
        return self.left + share * (self.right - self.left)


LAYOUT: Final = Layout()


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round-numbered ticks covering low..high."""
    span = high - low or abs(high) or 1.0
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    if last - first < step / 2:
        first, last = first - step, last + step
    count = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(count + 1)]


class _Scale:
    def __init__(self, ticks: list[float]) -> None:
        self.low, self.high = ticks[0], ticks[-1]

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return LAYOUT.bottom - share * (LAYOUT.bottom - LAYOUT.top)


def _bands(spans: list[Span], day: Timeline, colour: str, label: str) -> list[str]:
    """Adjacent spans merged into one rectangle each (no seams between them)."""
    merged: list[list[datetime]] = []
    for span in spans:
        if merged and span.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span.end)
        else:
            merged.append([span.start, span.end])
    out = []
    for start, end in merged:
        x0, x1 = LAYOUT.x(start, day), LAYOUT.x(end, day)
        out.append(
            f'<rect class="{label}" x="{_n(x0)}" y="{_n(LAYOUT.top)}" width="{_n(x1 - x0)}" '
            f'height="{_n(LAYOUT.bottom - LAYOUT.top)}" fill="{colour}" '
            f'shape-rendering="crispEdges"/>'
        )
    return out


def _temperature(day: Timeline, scale: _Scale) -> list[str]:
    runs: list[list[tuple[float, float]]] = []
    previous: datetime | None = None
    for timed in day.readings:
        point = (LAYOUT.x(timed.at, day), scale.y(timed.reading.temperature))
        if previous is not None and timed.at - previous <= day.gap:
            runs[-1].append(point)
        else:
            runs.append([point])
        previous = timed.at
    out = []
    lines = [run for run in runs if len(run) > 1]
    if lines:
        d = " ".join("M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in run) for run in lines)
        out.append(
            f'<path class="temperature" d="{d}" fill="none" stroke="{TEMPERATURE_COLOUR}" '
            f'stroke-width="2" stroke-linejoin="round"/>'
        )
    out += [
        f'<circle class="temperature" cx="{_n(x)}" cy="{_n(y)}" r="2.5" '
        f'fill="{TEMPERATURE_COLOUR}"/>'
        for run in runs
        if len(run) == 1
        for x, y in run
    ]
    return out


def _setpoint(day: Timeline, scale: _Scale) -> list[str]:
    parts: list[str] = []
    end: datetime | None = None
    for hold in day.holds:
        x0, x1 = LAYOUT.x(hold.start, day), LAYOUT.x(hold.end, day)
        y = scale.y(hold.reading.thermostat_value)
        parts.append(f"{'V' if hold.start == end else 'M' + _n(x0) + ','}{_n(y)} H{_n(x1)}")
        end = hold.end
    if not parts:
        return []
    return [
        f'<path class="setpoint" d="{" ".join(parts)}" fill="none" stroke="{SETPOINT_COLOUR}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"/>'
    ]


def _time_axis(day: Timeline) -> tuple[list[str], list[str]]:
    """Grid lines and labels every three local hours, at the instants those hours occur."""
    grid, labels = [], []
    local_day = day.start.astimezone(day.tz).date()
    for hour in range(0, 25, _HOUR_STEP):
        at = (
            day.end
            if hour == 24
            else datetime.combine(local_day, time(hour), day.tz).astimezone(day.start.tzinfo)
        )
        x = _n(LAYOUT.x(at, day))
        grid.append(
            f'<line x1="{x}" y1="{_n(LAYOUT.top)}" x2="{x}" y2="{_n(LAYOUT.bottom)}" '
            f'stroke="{_GRID}"/>'
        )
        labels.append(
            f'<text x="{x}" y="{_n(LAYOUT.bottom + 18)}" text-anchor="middle">{hour:02d}:00</text>'
        )
    labels.append(
        f'<text x="{_n((LAYOUT.left + LAYOUT.right) / 2)}" y="{_n(HEIGHT - 6)}" '
        f'text-anchor="middle" fill="{_AXIS}">local time ({escape(zone_name(day.tz))})</text>'
    )
    return grid, labels


def _legend() -> list[str]:
    items = (
        ("line", TEMPERATURE_COLOUR, "temperature"),
        ("dash", SETPOINT_COLOUR, "setpoint"),
        ("band", HEATING_COLOUR, "heating on"),
        ("band", GAP_COLOUR, "no data"),
    )
    out, x, y = [], LAYOUT.right - 420, 22.0
    for kind, colour, label in items:
        if kind == "band":
            out.append(
                f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="18" height="10" fill="{colour}"/>'
            )
        else:
            dash = ' stroke-dasharray="6 4"' if kind == "dash" else ""
            out.append(
                f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 18)}" y2="{_n(y - 4)}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
            )
        out.append(f'<text x="{_n(x + 24)}" y="{_n(y)}">{label}</text>')
        x += 105
    return out


def _short(value: float | None) -> str:
    return "-" if value is None else f"{round(value, 2):g}"


def _caption(day: Timeline, numbers: Figures) -> str:
    if not numbers.count:
        return "no readings"
    hours, minutes = divmod(round(numbers.heating_minutes), 60)
    share = numbers.heating_share
    gaps = len(day.gaps)
    return " · ".join(
        [
            f"{numbers.count} reading{'s' * (numbers.count != 1)}",
            f"temperature {_short(numbers.temperature_min)} to "
            f"{_short(numbers.temperature_max)}, mean {_short(numbers.temperature_mean)}",
            "setpoint " + ", ".join(str(s) for s in numbers.setpoints),
            f"heating {hours} h {minutes:02d} min"
            + (f" ({share * 100:.0f}% of known time)" if share is not None else ""),
            f"{gaps} gap{'s' * (gaps != 1)} over {_n(day.gap.total_seconds() / 60)} min",
        ]
    )


def render(day: Timeline, title: str = "Thermostat") -> str:
    """The SVG document of ``day``."""
    caption = _caption(day, figures(day))
    values = [t.reading.temperature for t in day.readings]
    values += [float(h.reading.thermostat_value) for h in day.holds]
    heading = f"{title} · {day.day.isoformat()} ({zone_name(day.tz)})"
    time_grid, time_labels = _time_axis(day)
    body: list[str] = [
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{_n(LAYOUT.left)}" y="22" font-size="15" font-weight="bold">'
        f"{escape(heading)}</text>",
        f'<text x="{_n(LAYOUT.left)}" y="44" fill="{_AXIS}">{escape(caption)}</text>',
        *_legend(),
        *time_grid,
    ]
    lines: list[str] = []
    labels = time_labels
    if values:
        ticks = _ticks(min(values), max(values))
        scale = _Scale(ticks)
        for tick in ticks:
            y = _n(scale.y(tick))
            body.append(
                f'<line x1="{_n(LAYOUT.left)}" y1="{y}" x2="{_n(LAYOUT.right)}" y2="{y}" '
                f'stroke="{_GRID}"/>'
            )
            labels.append(
                f'<text x="{_n(LAYOUT.left - 6)}" y="{y}" dy="4" text-anchor="end">{tick:g}</text>'
            )
        lines = _setpoint(day, scale) + _temperature(day, scale)
    else:
        labels.append(
            f'<text class="empty" x="{_n((LAYOUT.left + LAYOUT.right) / 2)}" '
            f'y="{_n((LAYOUT.top + LAYOUT.bottom) / 2)}" text-anchor="middle" font-size="20" '
            f'fill="{_AXIS}">No readings</text>'
        )
    # Bands over the grid (a band is one colour throughout), lines and labels over the bands.
    body += _bands(list(day.gaps), day, GAP_COLOUR, "gap")
    body += _bands(
        [h for h in day.holds if h.reading.thermostat_on], day, HEATING_COLOUR, "heating"
    )
    body += lines + labels
    body.append(
        f'<rect x="{_n(LAYOUT.left)}" y="{_n(LAYOUT.top)}" '
        f'width="{_n(LAYOUT.right - LAYOUT.left)}" '
        f'height="{_n(LAYOUT.bottom - LAYOUT.top)}" fill="none" stroke="{_AXIS}" '
        f'shape-rendering="crispEdges"/>'
    )
    label = escape(f"{heading}: {caption}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(label)} '
        f'font-family="sans-serif" font-size="12" fill="{_TEXT}">'
        f"<title>{label}</title>\n" + "\n".join(body) + "\n</svg>\n"
    )
