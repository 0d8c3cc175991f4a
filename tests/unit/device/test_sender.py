"""What the function's answer settles, and what the report tells a cron job."""

from __future__ import annotations

import pytest

from handlers.device.exits import ExitCode
from handlers.device.sender import (
    BUSY,
    CONFIGURATION,
    EXIT_CONFIG,
    EXIT_REFUSED,
    EXIT_SENT,
    EXIT_SPOOLED,
    SPOOL,
    UNAVAILABLE,
    FlushReport,
    refused_indexes,
)


@pytest.mark.parametrize(
    ("status", "answer", "count", "refused"),
    [
        (201, {"stored": 3}, 3, set()),
        (200, {"stored": 0, "duplicate": True}, 1, set()),
        (409, {"conflicts": [0, 2, 7, -1, "1"]}, 3, {0, 2}),  # out of range, not an int: ignored
        (409, {"error": "duplicate"}, 1, {0}),
        (422, {"details": {"[1].temperature": "x", "[1].x": "y", "[4].x": "z"}}, 3, {1}),
        (422, {"details": {"readings": "must not be empty"}}, 3, {0, 1, 2}),  # no index: all
        (422, {"details": {"temperature": "x"}}, 1, {0}),
        (400, {"error": "not JSON"}, 2, {0, 1}),
        (413, {"error": "too large"}, 1, {0}),
    ],
)
def test_the_readings_an_answer_refuses_for_good(
    status: int, answer: dict[str, object], count: int, refused: set[int]
) -> None:
    assert refused_indexes(status, answer, count) == refused


def test_exit_codes() -> None:
    assert FlushReport(sent=3).exit_code == EXIT_SENT
    assert FlushReport(sent=2, dropped=["2026-11-21T08:00:00Z: 422"]).exit_code == EXIT_REFUSED
    waiting = FlushReport(pending=2)
    waiting.stop(UNAVAILABLE, "refused")
    assert (waiting.exit_code, waiting.error) == (EXIT_SPOOLED, "refused")
    misconfigured = FlushReport(pending=2)
    misconfigured.stop(CONFIGURATION, "403")
    assert misconfigured.exit_code == EXIT_CONFIG
    busy = FlushReport(pending=0)  # another run flushes, even the reading of this one
    busy.stop(BUSY, "another flush of s is running")
    assert busy.exit_code == ExitCode.TEMPFAIL


def test_which_code_wins_when_several_apply() -> None:
    """75 for a reading not kept, then 1, then 74, then 75 or 78 for readings still spooled."""
    lost = FlushReport(kept=False, unspooled="disk full", dropped=["x"], pending=3)
    assert lost.exit_code == ExitCode.TEMPFAIL
    for set_aside in (
        FlushReport(dropped=["x"], unspooled="disk full", pending=1),
        FlushReport(quarantined=["row 3"], pending=1),
        FlushReport(moved_aside="spool.sqlite3.damaged-x"),
    ):
        assert set_aside.exit_code == ExitCode.SET_ASIDE
    direct = FlushReport(sent=1, unspooled="disk full", pending=20)
    direct.stop(SPOOL, "disk full")
    assert direct.exit_code == ExitCode.SENT_UNSPOOLED
    assert FlushReport(sent=1, clock_suspect=1).exit_code == ExitCode.SENT
