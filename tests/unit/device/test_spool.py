"""The spool without a network: first in, first out, where it is asked to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.device.spool import DEFAULT_SPOOL, Spool, spool_path
from handlers.readings.schema import Reading


def test_oldest_first_and_deleted_by_id(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    for minute in range(3):
        spool.add(Reading(f"2026-11-21T08:0{minute}:00Z", True, 20.0, 20))
    first, second, third = spool.oldest(10)
    assert [body["record_date"] for _, body in (first, second)] == [
        "2026-11-21T08:00:00Z",
        "2026-11-21T08:01:00Z",
    ]
    spool.delete([first[0], third[0]])
    assert [row_id for row_id, _ in spool.oldest(10)] == [second[0]]
    assert len(spool) == 1
    spool.close()
    reopened = Spool(tmp_path / "spool.sqlite3")  # durable
    assert len(reopened) == 1
    reopened.close()


def test_the_spool_file_given_else_the_environments_else_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("THUMBSTAT_SPOOL", raising=False)
    assert spool_path() == DEFAULT_SPOOL
    monkeypatch.setenv("THUMBSTAT_SPOOL", str(tmp_path / "env.sqlite3"))
    assert spool_path() == tmp_path / "env.sqlite3"
    assert spool_path(tmp_path / "given.sqlite3") == tmp_path / "given.sqlite3"
