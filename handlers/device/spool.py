"""The device's durable spool: readings waiting to be sent, oldest first, in a local SQLite file
that survives a restart and a power cut.

Durability: WAL journal, ``synchronous=FULL`` (a committed reading is on disk before ``add``
returns), one transaction per reading; a reading leaves only by ``delete``, which the sender calls
on the function's own answer for it. Several processes may add at once (SQLite's locking);
one flushes at a time (handlers.device.lock).

Failures are translated here, once:

- ``SpoolUnwritable``: the disk is full, a file-size limit is met, an I/O error, a read-only or
  unreachable folder. The caller sends the reading directly instead.
- A damaged file (not a database, a torn page, truncated, a stray ``-wal`` that does not fit) is
  found when the spool opens (``PRAGMA quick_check``), renamed aside with its ``-wal`` and
  ``-shm`` (``spool.sqlite3.damaged-20261206T221500Z``, kept for inspection: ``sqlite3 FILE
  .recover``), and a fresh spool is started; ``moved_aside`` names the file.
- A row that is not JSON or not a valid reading is moved to the ``quarantine`` table of the same
  file when it is read, so it never blocks the readings behind it; ``quarantined`` says which.

Readings and their times are the owner's business: the folder, when created here, is 0700 (its
parents get the defaults, as ``mkdir -p``); the file is created 0600 and tightened to it if found
looser. SQLite creates ``-wal`` and ``-shm`` with the file's mode.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from handlers.common.errors import InvalidReading
from handlers.device.clock import instant, judged
from handlers.readings.schema import Reading, parse_reading

logger = logging.getLogger(__name__)

DEFAULT_SPOOL: Final = Path.home() / ".local" / "state" / "thumbstat" / "spool.sqlite3"
QUARANTINE_TABLE: Final = "quarantine"
# SQLite's primary result codes (the low byte of an extended code).
_UNWRITABLE: Final = frozenset(
    {
        3,  # SQLITE_PERM
        5,  # SQLITE_BUSY: still locked after the 30 s timeout
        8,  # SQLITE_READONLY
        10,  # SQLITE_IOERR: "disk I/O error", EFBIG under a file-size limit among them
        13,  # SQLITE_FULL: "database or disk is full", ENOSPC
        14,  # SQLITE_CANTOPEN
    }
)
_DAMAGED: Final = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_SIDECARS: Final = ("", "-wal", "-shm")
_YEAR_9999: Final = 253402300799  # the last second datetime can hold, in Unix time


class SpoolUnwritable(Exception):
    """The spool cannot be written (or opened): disk full, a file-size limit, an I/O error."""


class SpoolDamaged(Exception):
    """The spool file is not a sound SQLite database."""


def spool_path(given: Path | str | None = None) -> Path:
    """The spool file: the one given, else ``$THUMBSTAT_SPOOL``, else DEFAULT_SPOOL."""
    return Path(given or os.environ.get("THUMBSTAT_SPOOL") or DEFAULT_SPOOL)


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """sqlite3 and OS errors as SpoolUnwritable or SpoolDamaged, the cause chained."""
    try:
        yield
    except sqlite3.Error as exc:
        primary = _primary(exc)
        if primary in _DAMAGED:
            raise SpoolDamaged(f"{path}: {exc}") from exc
        if primary in _UNWRITABLE:
            raise SpoolUnwritable(f"{path}: {exc}") from exc
        raise
    except UnicodeDecodeError as exc:  # sqlite3 decoding a damaged schema, or its error
        raise SpoolDamaged(f"{path}: text that is not UTF-8 ({exc.reason})") from exc
    except OSError as exc:
        raise SpoolUnwritable(f"{path}: {exc.strerror or exc}") from exc


def _primary(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of the error (the low byte of its extended code)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


class Spool:
    """A durable FIFO of readings waiting to be sent (module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.moved_aside: Path | None = None  # the damaged file this spool replaced
        self.quarantined: list[str] = []  # the rows moved to the quarantine table, and why
        try:
            self._db = self._open()
        except SpoolDamaged as damage:
            self.moved_aside = self._move_aside(str(damage))
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Open, check and migrate the file. Raises SpoolDamaged or SpoolUnwritable."""
        with translated(self.path):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            if os.stat(self.path).st_mode & 0o077:
                os.chmod(self.path, 0o600)
            db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            # Text a damaged page spoils is read, not raised (a body is read as bytes, below).
            db.text_factory = lambda data: data.decode(errors="replace")
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")  # a reading survives a power cut
                problems = [row[0] for row in db.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise SpoolDamaged(f"{self.path}: {'; '.join(problems)[:200]}")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " body TEXT NOT NULL, queued_at REAL NOT NULL)"
                )
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (id INTEGER PRIMARY KEY,"
                    " body, queued_at REAL, reason TEXT NOT NULL, quarantined_at REAL NOT NULL)"
                )
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
            except sqlite3.DatabaseError as exc:
                db.close()
                if _primary(exc) in _UNWRITABLE:
                    raise
                # These statements are fixed and sound: any other error is the file's
                # ("unsupported file format", a schema it cannot parse, ...).
                raise SpoolDamaged(f"{self.path}: {exc}") from exc
            except BaseException:
                db.close()
                raise
            return db

    def _move_aside(self, why: str) -> Path | None:
        """Rename the damaged file (and its -wal, -shm) aside; None when another process did
        already. One process repairs at a time, and checks again first."""
        lock = self.path.with_name(self.path.name + ".repair.lock")
        with translated(self.path):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                self._open().close()
                return None  # sound now: another process moved the damaged file aside
            except SpoolDamaged:
                pass
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
            serial = 1
            while aside.exists():
                aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{serial}")
                serial += 1
            with translated(self.path):
                for suffix in _SIDECARS:
                    with suppress(FileNotFoundError):
                        os.rename(f"{self.path}{suffix}", f"{aside}{suffix}")
            logger.warning("moved the damaged spool aside to %s (%s)", aside, why)
            return aside
        finally:
            os.close(fd)

    def add(self, reading: Reading) -> Reading:
        """Spool the reading as it is (``ReadingClient.send`` validates first), flagged
        ``clock_suspect`` when its time is obviously wrong (handlers.device.clock); returns
        the reading as spooled. Raises SpoolUnwritable."""
        # the newest time read and moved in one go
        with translated(self.path), self._immediate():
            taken = judged(reading, self._newest_taken())
            self._db.execute(
                "INSERT INTO spool (body, queued_at) VALUES (?, ?)",
                (json.dumps(taken.to_json()), time.time()),
            )
            self._db.execute(  # a value a damaged page left (not a time) counts as 0
                "INSERT INTO meta VALUES ('newest_taken', ?) ON CONFLICT (key) DO UPDATE"
                " SET value = max(CASE WHEN CAST(value AS REAL) BETWEEN 0 AND ?"
                " THEN CAST(value AS REAL) ELSE 0 END, excluded.value)",
                (instant(taken.record_date).timestamp(), _YEAR_9999),
            )
        return taken

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """A write transaction taken at once (BEGIN IMMEDIATE), committed, or rolled back on any
        exception (a failed ROLLBACK, on a disk that failed, must not hide the first error)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def newest_taken(self) -> datetime | None:
        """The time of the newest reading ever added to this spool (sent ones included)."""
        with translated(self.path):
            return self._newest_taken()

    def _newest_taken(self) -> datetime | None:
        row = self._db.execute(  # REAL whatever a damaged page left there
            "SELECT CAST(value AS REAL) FROM meta WHERE key = 'newest_taken'"
        ).fetchone()
        try:
            return datetime.fromtimestamp(row[0], UTC) if row and row[0] is not None else None
        except (OverflowError, OSError, ValueError):  # a damaged value: no step to judge by
            return None

    def oldest(self, limit: int) -> list[tuple[int, Reading]]:
        """Up to ``limit`` readings, oldest first; rows that are not readings are quarantined on
        the way (``quarantined``), so they never stand in front of the rest."""
        with translated(self.path):
            while True:
                rows = self._db.execute(  # bytes: a damaged body may not be UTF-8
                    "SELECT id, CAST(body AS BLOB), queued_at FROM spool ORDER BY id LIMIT ?",
                    (limit,),
                ).fetchall()
                readings: list[tuple[int, Reading]] = []
                bad: list[tuple[int, object, object, str]] = []
                for row_id, body, queued_at in rows:
                    try:
                        parsed = json.loads(body)
                    except (ValueError, TypeError, RecursionError) as exc:
                        bad.append((row_id, _as_stored(body), queued_at, f"not JSON: {exc}"[:200]))
                        continue
                    try:
                        readings.append((row_id, parse_reading(parsed)))
                    except InvalidReading as exc:
                        when = parsed.get("record_date") if isinstance(parsed, dict) else None
                        why = f"{when}: " if isinstance(when, str) else ""
                        why += f"not a valid reading: {exc}"
                        bad.append((row_id, _as_stored(body), queued_at, why[:200]))
                if not bad:
                    return readings
                self._quarantine(bad)
                if readings:
                    return readings

    def _quarantine(self, bad: Sequence[tuple[int, object, object, str]]) -> None:
        with self._immediate():
            now = time.time()
            self._db.executemany(
                f"INSERT OR REPLACE INTO {QUARANTINE_TABLE} VALUES (?, ?, ?, ?, ?)",
                [(row_id, body, queued, why, now) for row_id, body, queued, why in bad],
            )
            self._db.executemany("DELETE FROM spool WHERE id = ?", [(row[0],) for row in bad])
        for row_id, _, _, why in bad:
            note = f"row {row_id} ({why})"
            logger.warning("quarantined spooled %s in %s", note, self.path)
            self.quarantined.append(note)

    def delete(self, ids: Sequence[int]) -> None:
        with translated(self.path):
            self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])

    def __len__(self) -> int:
        with translated(self.path):
            return int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _as_stored(body: bytes) -> str | bytes:
    """A body as text when it is UTF-8 (as it was spooled), else its bytes as they are."""
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body
