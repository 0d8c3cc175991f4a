"""Each failure the device meets, produced for real (a file-size limit, a damaged file, a dead
port, a missing profile, a second process) against ``python -m handlers.device`` as cron runs
it: one line on stderr saying what to do, no traceback, and the exit code handlers.device.exits
gives that failure."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handlers.device.exits import FAILURES, ExitCode
from tests.unit.device.spooled import (
    DOWN,
    ROOT,
    SEND,
    cli,
    command,
    environment,
    function,
    reading,
    rows,
    spool_of,
    with_a_long_wal,
)

Run = subprocess.CompletedProcess[str]
AT = ("--date", "2026-11-22T08:00:00Z")


def report(done: Run) -> dict[str, object]:
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(parsed, dict)
    return parsed


def unwritable_function_reachable(tmp_path: Path) -> Run:
    spool = with_a_long_wal(tmp_path / "spool.sqlite3", 20)  # the next add passes the limit
    with function() as (stand_in, url):
        done = cli(spool, *SEND, *AT, url=url, fsize=64 * 1024)
    assert [r["record_date"] for r in stand_in.received] == ["2026-11-22T08:00:00Z"]
    assert "sent directly and stored" in done.stderr
    assert report(done)["unspooled"]
    assert len(rows(spool)) == 20  # the backlog waits, untouched
    return done


def unwritable_function_unreachable(tmp_path: Path) -> Run:
    spool = with_a_long_wal(tmp_path / "spool.sqlite3", 20)
    done = cli(spool, *SEND, *AT, url=DOWN, fsize=64 * 1024)
    assert "the reading was NOT kept" in done.stderr and "free space" in done.stderr
    assert report(done)["kept"] is False
    assert len(rows(spool)) == 20  # and indeed it is not in the spool
    return done


def damaged_spool(tmp_path: Path) -> Run:
    spool = tmp_path / "spool.sqlite3"
    spool.write_bytes(b"\x00garbage" * 1000)
    with function() as (stand_in, url):
        done = cli(spool, *SEND, *AT, url=url)
        aside = report(done)["moved_aside"]
        assert isinstance(aside, str) and aside in done.stderr
        assert Path(aside).read_bytes() == b"\x00garbage" * 1000
        assert len(stand_in.received) == 1
        later = cli(spool, *SEND, "--date", "2026-11-22T08:01:00Z", url=url)
    assert (later.returncode, later.stderr) == (ExitCode.SENT, "")
    return done


def row_not_a_reading(tmp_path: Path) -> Run:
    spool = spool_of(tmp_path / "spool.sqlite3", 2)
    db = sqlite3.connect(spool)
    db.execute("INSERT INTO spool (body, queued_at) VALUES ('{\"temperature\": 1', 0)")
    db.commit()
    db.close()
    with function() as (stand_in, url):
        done = cli(spool, "flush", url=url)
    assert len(stand_in.received) == 2  # the rest flowed
    assert "quarantine table" in done.stderr and "row 3" in done.stderr
    assert rows(spool) == []
    return done


def another_flush_running(tmp_path: Path) -> Run:
    spool = spool_of(tmp_path / "spool.sqlite3", 1)
    with function(delay=1.5) as (stand_in, url):
        first = subprocess.Popen(
            command(spool, "flush", url=url),
            cwd=ROOT,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while stand_in.arrived == 0:  # the first run is flushing, under its lock
            time.sleep(0.05)
        done = cli(spool, *SEND, *AT, url=url)
        out, err = first.communicate(timeout=60)
    assert "another flush of" in done.stderr and "is running" in done.stderr
    assert report(done)["sent"] == 0
    assert (first.returncode, json.loads(out)["sent"]) == (ExitCode.SENT, 2), err
    assert sorted(r["record_date"] for r in stand_in.received) == [
        reading(0).record_date,
        "2026-11-22T08:00:00Z",
    ]
    return done


def clock_obviously_wrong(tmp_path: Path) -> Run:
    with function() as (stand_in, url):
        done = cli(tmp_path / "spool.sqlite3", *SEND, "--date", "1970-01-01T00:00:42Z", url=url)
    assert stand_in.received == [
        {
            "record_date": "1970-01-01T00:00:42Z",
            "thermostat_on": True,
            "temperature": 20.5,
            "thermostat_value": 20,
            "clock_suspect": True,
        }
    ]
    assert "clock was obviously wrong" in done.stderr and "NTP" in done.stderr
    return done


def profile_unusable(tmp_path: Path) -> Run:
    (tmp_path / "config").write_text("[default]\nregion = eu-west-1\n")
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    spool = tmp_path / "spool.sqlite3"
    with function() as (stand_in, url):
        done = cli(spool, "--profile", "nope", *SEND, *AT, url=url, env=env, sign=True)
        day = ("summary", "--day", "2026-11-21")
        summary = cli(spool, "--profile", "nope", *day, url=url, env=env, sign=True)
        creds = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
        region = cli(spool, "--region", "mars", "flush", url=url, env=creds, sign=True)
    assert stand_in.arrived == 0  # nothing was sent unsigned instead
    assert "could not be found" in done.stderr and "profile" in done.stderr
    assert summary.returncode == ExitCode.CONFIG and len(summary.stderr.splitlines()) == 1
    assert region.returncode == ExitCode.CONFIG and "'mars' is not an AWS region" in region.stderr
    assert len(rows(spool)) == 1  # kept for when the configuration is fixed
    return done


def unreachable(tmp_path: Path) -> Run:
    spool = tmp_path / "spool.sqlite3"
    chart = ("chart", "--day", "2026-11-21", "--out", str(tmp_path / "c.svg"))
    for fetch in (("summary", "--day", "2026-11-21"), chart):
        fetched = cli(spool, *fetch, url=DOWN)
        assert fetched.returncode == ExitCode.TEMPFAIL, fetched.stderr
        assert fetched.stderr.count("\n") == 1 and "could not be reached" in fetched.stderr
    done = cli(spool, *SEND, *AT, url=DOWN)
    assert "could not be reached" in done.stderr and "1 reading spooled" in done.stderr
    assert len(rows(spool)) == 1
    return done


def function_refuses_a_reading(tmp_path: Path) -> Run:
    spool = tmp_path / "spool.sqlite3"
    with function(status=422) as (_, url):
        done = cli(spool, *SEND, *AT, url=url)
    assert "refused 1 reading for good" in done.stderr
    assert rows(spool) == []
    return done


def function_refuses_as_configured(tmp_path: Path) -> Run:
    spool = tmp_path / "spool.sqlite3"
    with function(status=403) as (_, url):
        done = cli(spool, *SEND, *AT, url=url)  # no credentials: unsigned, refused
    assert "403" in done.stderr and "credentials" in done.stderr
    assert len(rows(spool)) == 1
    return done


def invalid_reading(tmp_path: Path) -> Run:
    hot = ("send", "--temperature", "hot", "--on", "--setpoint", "20")
    done = cli(tmp_path / "spool.sqlite3", *hot, url=DOWN)
    assert "temperature" in done.stderr and "--help" in done.stderr
    assert not (tmp_path / "spool.sqlite3").exists()
    return done


SCENARIOS: dict[str, Callable[[Path], Run]] = {
    "spool cannot be written, function reachable": unwritable_function_reachable,
    "spool cannot be written, function unreachable": unwritable_function_unreachable,
    "damaged spool file": damaged_spool,
    "spooled row not a valid reading": row_not_a_reading,
    "another flush running": another_flush_running,
    "clock obviously wrong": clock_obviously_wrong,
    "profile, credentials or region unusable": profile_unusable,
    "function unreachable or busy": unreachable,
    "function refuses a reading": function_refuses_a_reading,
    "function refuses the request as configured": function_refuses_as_configured,
    "invalid arguments or reading": invalid_reading,
}


def test_every_failure_class_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(FAILURES)


@pytest.mark.parametrize("failure", list(SCENARIOS), ids=lambda name: name.replace(" ", "-"))
def test_each_failure_is_one_line_and_its_exit_code(failure: str, tmp_path: Path) -> None:
    done = SCENARIOS[failure](tmp_path)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.returncode == FAILURES[failure], done.stderr


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, filled up: a real ENOSPC (needs the right to mount: root, else skipped;
    RLIMIT_FSIZE above covers the same paths everywhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as full:
        assert full.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_really_full_disk(full_disk: Path) -> None:
    spool = spool_of(full_disk / "spool.sqlite3", 5)
    fill(full_disk)
    with function() as (stand_in, url):
        sent = cli(spool, *SEND, *AT, url=url)
    lost = cli(spool, *SEND, "--date", "2026-11-22T08:01:00Z", url=DOWN)
    assert (sent.returncode, len(stand_in.received)) == (ExitCode.SENT_UNSPOOLED, 1), sent.stderr
    assert lost.returncode == ExitCode.TEMPFAIL and "NOT kept" in lost.stderr
    for done in (sent, lost):
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    (full_disk / "filler").unlink()
    assert len(rows(spool)) == 5  # the backlog is intact once there is room again
