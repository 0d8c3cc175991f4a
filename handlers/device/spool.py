"""The device's durable spool: readings waiting to be sent, oldest first, in a local SQLite file
that survives a restart and a power cut.

Readings and their times are the owner's business: the folder, when created here, is 0700 (its
parents get the defaults, as ``mkdir -p``); the file is created 0600 and tightened to it if found
looser. SQLite creates ``-wal`` and ``-shm`` with the file's mode.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from handlers.readings.schema import Reading

DEFAULT_SPOOL: Final = Path.home() / ".local" / "state" / "thumbstat" / "spool.sqlite3"


def spool_path(given: Path | str | None = None) -> Path:
    """The spool file: the one given, else ``$THUMBSTAT_SPOOL``, else DEFAULT_SPOOL."""
    return Path(given or os.environ.get("THUMBSTAT_SPOOL") or DEFAULT_SPOOL)


class Spool:
    """A durable FIFO of readings waiting to be sent."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a reading survives a power cut
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " body TEXT NOT NULL, queued_at REAL NOT NULL)"
        )

    def add(self, reading: Reading) -> None:
        """Spool as it is (``ReadingClient.send`` validates first)."""
        self._db.execute(
            "INSERT INTO spool (body, queued_at) VALUES (?, ?)",
            (json.dumps(reading.to_json()), time.time()),
        )

    def oldest(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self._db.execute("SELECT id, body FROM spool ORDER BY id LIMIT ?", (limit,))
        return [(row_id, json.loads(body)) for row_id, body in rows]

    def delete(self, ids: Sequence[int]) -> None:
        self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        self._db.close()
