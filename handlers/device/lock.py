"""One flush at a time per spool: an ``fcntl.flock`` on ``<spool>.lock`` beside it.

Cron may start a run while the last one is still flushing (a slow function, retries). Adding to
the spool is safe under SQLite's own locking; flushing twice at once would send the same readings
twice and let two reports claim them. The second run does not wait: ``FlushBusy``, and its
reading stays spooled for the next run. The kernel releases the lock when its holder exits, even
killed; the file itself stays (deleting a lock file races with its next holder).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from handlers.device.spool import translated


class FlushBusy(Exception):
    """Another process is flushing this spool."""


def lock_path(spool: Path) -> Path:
    return spool.with_name(spool.name + ".lock")


@contextmanager
def flush_lock(spool: Path) -> Iterator[None]:
    """Hold the spool's flush lock. Raises FlushBusy at once when another process holds it,
    SpoolUnwritable when the lock file cannot be created."""
    path = lock_path(spool)
    with translated(spool):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FlushBusy(f"another flush of {spool} is running") from None
        yield
    finally:
        os.close(fd)  # releases the lock
