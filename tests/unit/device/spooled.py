"""Helpers for the device tests: spools in given states, a function stand-in over real HTTP, and
the command line run as a real process (with a file-size limit when asked)."""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.function_url import serving
from handlers.device.spool import Spool
from handlers.readings.schema import Reading

ROOT = Path(__file__).resolve().parents[3]
DOWN = "http://127.0.0.1:9"  # the discard port: connection refused at once


def reading(n: int, day: int = 21) -> Reading:
    return Reading(f"2026-11-{day:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00Z", n % 2 == 0, 20.5, 20)


def spool_of(path: Path, count: int) -> Path:
    spool = Spool(path)
    for n in range(count):
        spool.add(reading(n))
    spool.close()
    return path


def with_a_long_wal(path: Path, count: int) -> Path:
    """A spool as a power cut leaves it: ``count`` readings committed in its -wal, not yet
    checkpointed into the file (copied while the writer was still open)."""
    work = path.with_name("writer") / path.name
    work.parent.mkdir()
    spool = Spool(work)
    spool._db.execute("PRAGMA wal_autocheckpoint=0")
    for n in range(count):
        spool.add(reading(n))
    for suffix in ("", "-wal"):
        shutil.copy(f"{work}{suffix}", f"{path}{suffix}")
    spool.close()
    return path


def rows(path: Path) -> list[str]:
    """The record dates spooled, read with plain sqlite3 (no repair, no quarantine)."""
    db = sqlite3.connect(path)
    try:
        return [json.loads(body)["record_date"] for (body,) in db.execute("SELECT body FROM spool")]
    finally:
        db.close()


@dataclass
class Function:
    """Answers as the ingest function does (a request id in the header and the body), storing
    what it is sent; ``delay`` seconds per POST, ``status`` for every answer."""

    delay: float = 0.0
    status: int = 201
    answer: dict[str, Any] = field(default_factory=dict)  # for GET
    received: list[dict[str, Any]] = field(default_factory=list)
    posts: int = 0
    arrived: int = 0  # POSTs that have arrived, answered or not
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        request_id = event["requestContext"]["requestId"]
        body: dict[str, Any] = {"request_id": request_id}
        if event["requestContext"]["http"]["method"] == "POST":
            with self._lock:
                self.arrived += 1
            time.sleep(self.delay)
            raw = event.get("body") or ""
            sent = json.loads(base64.b64decode(raw) if event.get("isBase64Encoded") else raw)
            items = sent if isinstance(sent, list) else [sent]
            with self._lock:
                self.received.extend(items)
                self.posts += 1
            body["stored"] = len(items)
        else:
            body.update(self.answer)
        if self.status >= 400:
            body["error"] = "refused by the stand-in"
        return {
            "statusCode": self.status,
            "headers": {"content-type": "application/json", "x-request-id": request_id},
            "body": json.dumps(body),
        }


@contextmanager
def function(**kwargs: Any) -> Iterator[tuple[Function, str]]:
    stand_in = Function(**kwargs)
    with serving(stand_in) as url:
        yield stand_in, url


def file_size_limit(limit: int) -> Callable[[], None]:
    def limited() -> None:  # in the child, before exec: the limit is inherited
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


def command(spool: Path, *args: str, url: str | None = None, sign: bool = False) -> list[str]:
    """``python -m handlers.device`` with the spool given, not signing unless asked."""
    argv = [sys.executable, "-m", "handlers.device", "--spool", str(spool), "--timeout", "2"]
    argv += [] if sign else ["--no-sign"]
    argv += ["--url", url] if url else []
    return [*argv, *args]


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without AWS or thumbstat settings, plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "THUMBSTAT_"))}
    return {**environ, **(env or {})}


def cli(
    spool: Path,
    *args: str,
    url: str | None = None,
    fsize: int | None = None,
    env: dict[str, str] | None = None,
    sign: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The command as cron runs it, in a process of its own (under a file-size limit)."""
    return subprocess.run(
        command(spool, *args, url=url, sign=sign),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment(env),
        timeout=120,
        check=False,
        preexec_fn=file_size_limit(fsize) if fsize is not None else None,
    )


SEND = ("send", "--temperature", "20.5", "--on", "--setpoint", "20")
