"""The read side of the ingest function: readings across days, summaries and charts.

    GET /readings?from=F&to=T[&tz=Z][&limit=N][&cursor=C]   readings of a range, in time order
    GET /readings?day=D[&tz=Z][&limit=N][&cursor=C]         the same for one local day
    GET /summary?day=D | from=D1&to=D2 [&tz=Z][&gap_minutes=M]   per-day summaries
    GET /chart?day=D[&tz=Z][&gap_minutes=M]                  that day as image/svg+xml
    GET /readings/held?day=D[&limit=N][&cursor=C]            clock-suspect readings held apart

Each route unpacks the query, reads the partitions (handlers.readings.store), hands them to the
pure cores (handlers.readings.timerange, handlers.readings.summary, handlers.readings.chart) and
answers. The summary and chart cores (and the XML escaping and statistics they bring) are
imported by their routes, not with this module: a cold start that stores a reading never loads
them. Bad parameters
raise BadRequest (400) with what to send instead; a day without readings is an answer, not an
error.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from itertools import islice
from typing import Any, Final

from handlers.common.errors import BadRequest
from handlers.common.logs import get_logger, log_json
from handlers.readings import store as readings_store
from handlers.readings.schema import Reading
from handlers.readings.settings import IngestSettings
from handlers.readings.timerange import (
    Range,
    Timed,
    in_time_order,
    instant,
    parse_day,
    parse_one_day,
    parse_range,
    zone,
    zone_name,
)

logger = get_logger(__name__)

SVG: Final = "image/svg+xml; charset=utf-8"


@dataclass(frozen=True)
class Document:
    """A non-JSON answer (a chart), sent as it is with its media type."""

    media_type: str
    text: str


Answer = tuple[int, dict[str, Any] | Document, dict[str, str]]


def _query(event: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}


_MAX_WHOLE_DIGITS: Final = 9  # int() of a 5,000-digit string raises; no parameter needs more


def _whole(raw: str) -> bool:
    """ASCII digits only (str.isdigit() also takes "²", which int() refuses), and few of them."""
    return raw.isascii() and raw.isdigit() and len(raw) <= _MAX_WHOLE_DIGITS


def _gap(query: Mapping[str, str]) -> timedelta:
    from handlers.readings.summary import DEFAULT_GAP_MINUTES, GAP_MINUTES_RANGE

    raw = query.get("gap_minutes", str(DEFAULT_GAP_MINUTES))
    low, high = GAP_MINUTES_RANGE
    if not _whole(raw) or not low <= int(raw) <= high:
        raise BadRequest(f"gap_minutes must be a whole number from {low} to {high}")
    return timedelta(minutes=int(raw))


def _reader(config: IngestSettings) -> Callable[[str], Iterator[Reading]]:
    return partial(readings_store.day_readings, config.readings_table)


def get_readings(event: Mapping[str, Any], config: IngestSettings) -> Answer:
    """GET /readings?day= or ?from=&to=: a page of the readings in time order (by instant, not
    as the sort key spells them), the day the local day in ``tz`` as /summary and /chart read
    it."""
    query = _query(event)
    tz = zone(query.get("tz"))
    day = query.get("day")
    if "from" in query or "to" in query:
        if "day" in query:
            raise BadRequest("give either day, or from and to")
        if not query.get("from") or not query.get("to"):
            raise BadRequest("give both from and to (YYYY-MM-DD or RFC 3339 date-times)")
        span = parse_range(query["from"], query["to"], tz)
    elif day:
        span = parse_one_day(day, tz)
    else:
        raise BadRequest("give the day as ?day=YYYY-MM-DD, or from and to")
    limit = query.get("limit", str(config.page_size))
    if not _whole(limit) or not 1 <= int(limit) <= config.max_page_size:
        raise BadRequest(f"limit must be a whole number from 1 to {config.max_page_size}")
    after = _decode_cursor(query["cursor"], span) if query.get("cursor") else None
    page = list(islice(in_time_order(_reader(config), span, after), int(limit) + 1))
    more = len(page) > int(limit)
    page = page[: int(limit)]
    return (
        200,
        {
            **({"day": day} if day else {}),
            "from": span.start.astimezone(tz).isoformat(),
            "to": span.end.astimezone(tz).isoformat(),
            "tz": zone_name(tz),
            "readings": [timed.reading.to_json() for timed in page],
            "next_cursor": _encode_cursor(span, page[-1]) if more else None,
        },
        {},
    )


def _span_key(span: Range) -> list[str]:
    return [span.start.isoformat(), span.end.isoformat(), zone_name(span.tz)]


def _encode_cursor(span: Range, last: Timed) -> str:
    raw = json.dumps([*_span_key(span), last.record_date], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, span: Range) -> tuple[datetime, str]:
    try:
        *key, record_date = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = instant(record_date, span.tz)
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise BadRequest("the cursor is not one this function gave") from None
    if key != _span_key(span):
        raise BadRequest("the cursor belongs to another range (from, to and tz must not change)")
    return after, record_date


_MAX_HELD_CURSOR: Final = 100


def get_held(event: Mapping[str, Any], config: IngestSettings) -> Answer:
    """GET /readings/held?day=: the clock-suspect readings whose timestamps carry that date (as
    sent: a wrong clock's date, so no zone applies), in key order. They are never part of
    /readings, /summary or /chart."""
    query = _query(event)
    day = parse_day(query.get("day", ""), "day").isoformat()
    limit = query.get("limit", str(config.page_size))
    if not _whole(limit) or not 1 <= int(limit) <= config.max_page_size:
        raise BadRequest(f"limit must be a whole number from 1 to {config.max_page_size}")
    cursor = query.get("cursor") or None
    if cursor is not None and not (cursor.isascii() and len(cursor) <= _MAX_HELD_CURSOR):
        raise BadRequest("the cursor is not one this function gave")
    readings, after = readings_store.query_day(
        config.readings_table, readings_store.held_partition(day), int(limit), cursor
    )
    return (
        200,
        {
            "day": day,
            "readings": [reading.to_json() for reading in readings],
            "next_cursor": after,
        },
        {},
    )


def _days_and_zone(query: Mapping[str, str]) -> tuple[Range, tzinfo]:
    tz = zone(query.get("tz"))
    if query.get("day"):
        if "from" in query or "to" in query:
            raise BadRequest("give either day, or from and to")
        return parse_one_day(query["day"], tz), tz
    if not query.get("from") or not query.get("to"):
        raise BadRequest("give ?day=YYYY-MM-DD, or from and to (dates, at most 31 days)")
    return parse_range(query["from"], query["to"], tz, dates_only=True), tz


def get_summary(event: Mapping[str, Any], config: IngestSettings) -> Answer:
    """GET /summary: one summary per local day of the range."""
    from handlers.readings.summary import summarize, timelines

    query = _query(event)
    span, tz = _days_and_zone(query)
    gap = _gap(query)
    now = datetime.now(UTC)
    ordered = in_time_order(_reader(config), span.widened(gap))
    days = [summarize(day) for day in timelines(ordered, span.days(), tz, now, gap)]
    return (
        200,
        {"tz": zone_name(tz), "gap_minutes": int(gap.total_seconds() // 60), "days": days},
        {},
    )


def get_chart(event: Mapping[str, Any], config: IngestSettings) -> Answer:
    """GET /chart?day=: the day drawn as SVG (an empty day too)."""
    from handlers.readings import chart
    from handlers.readings.summary import timelines

    query = _query(event)
    if "from" in query or "to" in query:
        raise BadRequest("a chart shows one day: ?day=YYYY-MM-DD")
    if not query.get("day"):
        raise BadRequest("give the day as ?day=YYYY-MM-DD")
    span, tz = _days_and_zone(query)
    gap = _gap(query)
    ordered = in_time_order(_reader(config), span.widened(gap))
    # The day asked for, not span.days(): a day that exists is one, whatever its length.
    asked = [parse_day(query["day"], "day")]
    [day] = timelines(ordered, asked, tz, datetime.now(UTC), gap)
    started = time.perf_counter()
    svg = chart.render(day)
    log_json(
        logger,
        logging.INFO,
        "chart",
        day=day.day.isoformat(),
        readings=len(day.readings),
        bytes=len(svg.encode()),
        render_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return 200, Document(SVG, svg), {}
