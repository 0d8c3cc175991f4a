"""The spool without a network: first in, first out, where it is asked to be; what a full disk,
a damaged file and a row that is not a reading do to it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.device.spool import DEFAULT_SPOOL, QUARANTINE_TABLE, Spool, spool_path
from handlers.readings.schema import Reading
from tests.unit.device.spooled import ROOT, file_size_limit, reading, rows, spool_of


def test_oldest_first_and_deleted_by_id(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    for minute in range(3):
        spool.add(Reading(f"2026-11-21T08:0{minute}:00Z", True, 20.0, 20))
    first, second, third = spool.oldest(10)
    assert [r.record_date for _, r in (first, second)] == [
        "2026-11-21T08:00:00Z",
        "2026-11-21T08:01:00Z",
    ]
    spool.delete([first[0], third[0]])
    assert [row_id for row_id, _ in spool.oldest(10)] == [second[0]]
    assert len(spool) == 1
    spool.close()
    reopened = Spool(tmp_path / "spool.sqlite3")  # durable
    assert len(reopened) == 1
    assert reopened.moved_aside is None
    reopened.close()


def test_the_spool_file_given_else_the_environments_else_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("THUMBSTAT_SPOOL", raising=False)
    assert spool_path() == DEFAULT_SPOOL
    monkeypatch.setenv("THUMBSTAT_SPOOL", str(tmp_path / "env.sqlite3"))
    assert spool_path() == tmp_path / "env.sqlite3"
    assert spool_path(tmp_path / "given.sqlite3") == tmp_path / "given.sqlite3"


def test_durability_settings(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    assert spool._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert spool._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    spool.close()


# --- A full disk: every add either lands whole or raises SpoolUnwritable.

FILL = textwrap.dedent(
    """
    import json, sys
    from handlers.device.spool import Spool, SpoolUnwritable
    from tests.unit.device.spooled import reading
    spool, added = Spool(sys.argv[1]), 0
    try:
        for n in range(100_000):
            spool.add(reading(n))
            added += 1
    except SpoolUnwritable as exc:
        print(json.dumps({"added": added, "error": str(exc)}))
    """
)


@pytest.mark.parametrize("limit", [64 * 1024, 200 * 1024])
def test_a_file_size_limit_fails_an_add_whole_and_loses_none_added_before(
    tmp_path: Path, limit: int
) -> None:
    path = tmp_path / "spool.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", FILL, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        preexec_fn=file_size_limit(limit),
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert "disk I/O error" in outcome["error"] or "disk is full" in outcome["error"]
    assert outcome["added"] > 0
    # Every reading add() returned for is there, and nothing else: no half-written row.
    assert rows(path) == [reading(n).record_date for n in range(outcome["added"])]
    assert max(os.path.getsize(f) for f in tmp_path.iterdir()) <= limit


# --- Damaged files: moved aside, a fresh spool started, nothing raised.


def torn_page(path: Path) -> None:
    """The first half of a page never reached the disk (zeros), the rest did."""
    with path.open("r+b") as f:
        f.seek(2 * 4096)
        f.write(bytes(2048))


def truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 3)


def garbage(path: Path) -> None:
    path.write_bytes(b"not a database, " * 512)


def header_gone(path: Path) -> None:
    os.truncate(path, 50)


@pytest.mark.parametrize("damage", [garbage, torn_page, truncated, header_gone])
def test_a_damaged_spool_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, damage: object
) -> None:
    path = spool_of(tmp_path / "spool.sqlite3", 200)
    assert callable(damage)
    damage(path)
    spoiled = path.read_bytes()

    spool = Spool(path)
    assert spool.moved_aside is not None
    assert spool.moved_aside.name.startswith("spool.sqlite3.damaged-2")
    assert spool.moved_aside.read_bytes() == spoiled  # kept as it was, for inspection
    spool.add(reading(1))
    assert [r.record_date for _, r in spool.oldest(10)] == [reading(1).record_date]
    spool.close()

    again = Spool(path)  # later runs find a sound spool
    assert (again.moved_aside, len(again)) == (None, 1)
    again.close()


def test_a_stray_wal_and_shm_of_another_database(tmp_path: Path) -> None:
    """A -wal that is not this file's (copied in from elsewhere, written by another version)."""
    other = spool_of(tmp_path / "other" / "spool.sqlite3", 0)
    path = spool_of(tmp_path / "spool.sqlite3", 3)
    stray = Spool(other)
    stray._db.execute("PRAGMA wal_autocheckpoint=0")
    stray._db.execute("CREATE TABLE unrelated (x)")
    for _ in range(50):
        stray._db.execute("INSERT INTO unrelated VALUES (?)", (os.urandom(900),))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").write_bytes(Path(f"{other}{suffix}").read_bytes())
    stray.close()

    spool = Spool(path)
    spool.add(reading(99))
    # SQLite's recovery does not apply the other file's frames: nothing lost, nothing moved.
    assert spool.moved_aside is None
    assert [r.record_date for _, r in spool.oldest(10)] == [
        reading(n).record_date for n in (0, 1, 2, 99)
    ]
    spool.close()


def test_garbage_wal_and_shm_beside_a_sound_spool(tmp_path: Path) -> None:
    path = spool_of(tmp_path / "spool.sqlite3", 3)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").write_bytes(b"\x5a" * 40000)
    spool = Spool(path)
    spool.add(reading(99))
    assert len(spool) == 4 and spool.moved_aside is None  # SQLite ignores a -wal it did not write
    spool.close()


@pytest.fixture(scope="module")
def sound_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 readings, made once: each add is a synced transaction."""
    return spool_of(tmp_path_factory.mktemp("sound") / "spool.sqlite3", 300)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offset=st.integers(0, 20 * 4096),
    spoil=st.binary(min_size=1, max_size=600),
)
def test_whatever_bytes_are_spoiled_the_spool_opens_and_takes_a_reading(
    tmp_path_factory: pytest.TempPathFactory, sound_spool: Path, offset: int, spoil: bytes
) -> None:
    path = tmp_path_factory.mktemp("spoiled") / "spool.sqlite3"
    shutil.copy(sound_spool, path)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(offset % size)
        f.write(spoil)
    spool = Spool(path)  # never raises
    spool.add(reading(9999, day=22))
    taken = spool.oldest(1000)  # never raises: a row that is no reading is quarantined
    assert taken[-1][1].record_date == reading(9999, day=22).record_date
    assert len(taken) + len(spool.quarantined) <= 301
    spool.close()


# --- Rows that are not readings: quarantined, never in front of the rest.


def test_rows_that_are_not_readings_are_quarantined_and_the_rest_flow(tmp_path: Path) -> None:
    path = spool_of(tmp_path / "spool.sqlite3", 0)
    db = sqlite3.connect(path)
    bodies = [
        json.dumps(reading(0).to_json()),
        "{not json",
        json.dumps({"record_date": "yesterday"}),
        json.dumps(Reading("2026-11-21T08:00:00Z", True, 1e-200, 20).to_json()),  # unstorable
        "[" * 5000,
        json.dumps(reading(1).to_json()),
    ]
    db.executemany("INSERT INTO spool (body, queued_at) VALUES (?, 0)", [(b,) for b in bodies])
    db.commit()
    db.close()

    spool = Spool(path)
    assert [r.record_date for _, r in spool.oldest(2)] == [reading(0).record_date]
    assert [r.record_date for _, r in spool.oldest(10)] == [
        reading(0).record_date,
        reading(1).record_date,
    ]
    assert len(spool.quarantined) == 4
    assert "row 2 (not JSON" in spool.quarantined[0]
    assert "row 3 (yesterday: not a valid reading: record_date:" in spool.quarantined[1]
    assert "row 4 (2026-11-21T08:00:00Z: not a valid reading: temperature:" in spool.quarantined[2]
    kept = spool._db.execute(f"SELECT id, body, reason FROM {QUARANTINE_TABLE}").fetchall()
    assert [(row_id, body) for row_id, body, _ in kept] == list(enumerate(bodies, 1))[1:5]
    assert len(spool) == 2
    spool.close()


def test_a_batch_of_nothing_but_bad_rows_does_not_end_the_spool(tmp_path: Path) -> None:
    path = spool_of(tmp_path / "spool.sqlite3", 0)
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO spool (body, queued_at) VALUES (?, 0)", [("x",)] * 5)
    db.execute(
        "INSERT INTO spool (body, queued_at) VALUES (?, 0)", (json.dumps(reading(3).to_json()),)
    )
    db.commit()
    db.close()
    spool = Spool(path)
    assert [r.record_date for _, r in spool.oldest(2)] == [reading(3).record_date]
    assert len(spool.quarantined) == 5
    spool.close()


# --- The clock: the newest time taken is remembered, readings flagged, none dropped.


def test_a_step_back_is_flagged_against_the_newest_reading_ever_taken(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    assert spool.newest_taken() is None
    assert not spool.add(reading(10)).clock_suspect
    [(row_id, _)] = spool.oldest(10)
    spool.delete([row_id])  # sent: the newest time is still remembered
    assert not spool.add(reading(10)).clock_suspect  # the same time: no step back
    assert spool.add(reading(9)).clock_suspect  # a minute earlier
    assert not spool.add(reading(11)).clock_suspect
    flagged = [r for _, r in spool.oldest(10) if r.clock_suspect]
    assert [r.record_date for r in flagged] == [reading(9).record_date]
    spool.close()


@pytest.mark.parametrize("value", ["'not a time'", "x'80ff'", "1e300", "NULL"])
def test_a_damaged_newest_time_judges_no_step(tmp_path: Path, value: str) -> None:
    path = spool_of(tmp_path / "spool.sqlite3", 1)
    db = sqlite3.connect(path)
    db.execute(f"UPDATE meta SET value = {value}")
    db.commit()
    db.close()
    spool = Spool(path)
    assert not spool.add(reading(5)).clock_suspect
    assert spool.add(reading(4)).clock_suspect  # the newest time is sound again
    assert len(spool) == 3
    spool.close()
