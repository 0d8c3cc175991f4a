"""The device side of ingest: post thermostat readings to the Function URL, losing none.

Every reading is validated with the function's own schema (handlers.readings.schema: a reading the
table could not store is refused here, before it is spooled), written to the durable local spool
(handlers.device.spool), then the spool is sent oldest first, in batches
(handlers.device.transport).

A spool that cannot be written (disk full, a file-size limit) does not lose the reading: it is
sent alone, directly, and only the function's answer keeps it; a damaged spool is moved aside and
a fresh one started, a spooled row that is not a reading quarantined (handlers.device.spool). One
process flushes a spool at a time (handlers.device.lock), so no two reports claim a reading.
Readings taken while the clock was obviously wrong are flagged, never dropped
(handlers.device.clock).

Only the function's own answer removes a reading from the spool: a JSON object whose
``request_id`` matches the ``x-request-id`` header the function sets. A reading leaves when that
answer says it is stored (or was already), or refuses it as invalid or conflicting (logged).
Anything else keeps every reading for the next ``send`` or ``flush``, and the report says why:
network errors, timeouts, 429 and 5xx (retried first, with backoff), a cut-short body, and any
answer that is not the function's (a captive portal's redirect or login page, a proxy's 200 HTML,
an intermediary's 400 or 413 page).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from handlers.device.clock import judged
from handlers.device.exits import ExitCode
from handlers.device.lock import FlushBusy, flush_lock
from handlers.device.spool import Spool, SpoolDamaged, SpoolUnwritable, spool_path
from handlers.device.transport import Answer, Misconfigured, Transport, Unavailable
from handlers.readings.schema import Reading, item_index, parse_reading

logger = logging.getLogger(__name__)

# The exit codes under their former names (handlers.device.exits defines them).
EXIT_SENT: Final = ExitCode.SENT
EXIT_REFUSED: Final = ExitCode.SET_ASIDE
EXIT_SPOOLED: Final = ExitCode.TEMPFAIL
EXIT_CONFIG: Final = ExitCode.CONFIG
# Problems a flush can stop at; every one of them keeps the spooled readings spooled.
UNAVAILABLE: Final = "unavailable"
NOT_THE_FUNCTION: Final = "not-the-function"
CONFIGURATION: Final = "configuration"
BUSY: Final = "busy"  # another process is flushing this spool
SPOOL: Final = "spool"  # the spool cannot be written
# Statuses that say the request is not allowed or not there, whoever answers them.
CONFIGURATION_STATUSES: Final = frozenset({401, 403, 404})
# The function's answers that settle a batch: stored, or refused for good.
_SETTLING_STATUSES: Final = frozenset({400, 409, 413, 422})


@dataclass
class FlushReport:
    sent: int = 0  # readings the function answered it stored (or had), by this process only
    dropped: list[str] = field(default_factory=list)  # record_date: why
    pending: int = 0
    error: str | None = None
    problem: str | None = None  # UNAVAILABLE, NOT_THE_FUNCTION, CONFIGURATION, BUSY or SPOOL
    quarantined: list[str] = field(default_factory=list)  # spool rows that are not readings
    moved_aside: str | None = None  # the damaged spool file, renamed
    clock_suspect: int = 0  # readings this run flagged: their time is obviously wrong
    unspooled: str | None = None  # why the new reading could not be spooled
    kept: bool = True  # False: the new reading was neither spooled nor taken by the function

    def stop(self, problem: str, error: str) -> None:
        self.problem, self.error = problem, error

    @property
    def exit_code(self) -> ExitCode:
        """The command's exit status (handlers.device.exits)."""
        if not self.kept:
            return ExitCode.TEMPFAIL
        if self.dropped or self.quarantined or self.moved_aside:
            return ExitCode.SET_ASIDE
        if self.unspooled:
            return ExitCode.SENT_UNSPOOLED
        if self.pending or self.problem:
            return ExitCode.CONFIG if self.problem == CONFIGURATION else ExitCode.TEMPFAIL
        return ExitCode.SENT


class ReadingClient:
    def __init__(
        self,
        url: str,
        *,
        spool_path: Path | str | None = None,
        timeout: float = 5.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        batch_size: int = 500,
        sign: bool | None = None,
        region: str | None = None,
        profile: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = Transport(
            url,
            timeout=timeout,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            sign=sign,
            region=region,
            profile=profile,
            sleep=sleep,
        )
        self._spool_path = spool_path
        self.batch_size = batch_size

    @cached_property
    def spool(self) -> Spool:
        """Opened on first use: fetching a summary or a chart needs no spool. Raises
        SpoolUnwritable (and is tried again on the next use)."""
        return Spool(spool_path(self._spool_path))

    def send(self, reading: Reading) -> FlushReport:
        """Validate and spool the reading, then send everything pending, oldest first. When the
        spool cannot be written, the reading is sent alone, directly (``unspooled``); when it
        can be neither spooled nor sent, ``kept`` is False.

        Raises InvalidReading, spooling nothing, for a reading the function would refuse.
        """
        reading = parse_reading(reading.to_json())
        report = FlushReport()
        try:
            taken = self.spool.add(reading)
        except (SpoolUnwritable, SpoolDamaged) as exc:
            return self._send_directly(reading, str(exc), report)
        report.clock_suspect += taken.clock_suspect
        return self.flush(report)

    def _send_directly(self, reading: Reading, why: str, report: FlushReport) -> FlushReport:
        """The spool cannot take the reading: only the function's own answer keeps it."""
        report.unspooled = why
        newest = None
        if "spool" in self.__dict__:  # opened, so perhaps still readable
            try:
                newest = self.spool.newest_taken()
                report.pending = len(self.spool)
            except (SpoolUnwritable, SpoolDamaged):
                pass
            report.moved_aside = _aside(self.spool)
        reading = judged(reading, newest)
        report.clock_suspect += reading.clock_suspect
        try:
            answer = self.transport.post(reading.to_json())
        except Unavailable as exc:
            report.stop(UNAVAILABLE, str(exc))
        except Misconfigured as exc:
            report.stop(CONFIGURATION, str(exc))
        else:
            refused = self._answered([reading], answer, report, "the reading is not kept")
            if refused is not None:
                report.sent = 1 - len(refused)
                return report
        report.kept = False
        logger.error("the reading of %s was not kept: %s", reading.record_date, why)
        return report

    def flush(self, report: FlushReport | None = None) -> FlushReport:
        """Send what is spooled, oldest first, while holding the spool's flush lock: a second
        process flushing at the same time stops at once (``BUSY``), its readings spooled."""
        report = report or FlushReport()
        try:
            spool = self.spool
        except SpoolUnwritable as exc:
            report.stop(SPOOL, str(exc))
            return report
        report.moved_aside = _aside(spool)
        try:
            with flush_lock(spool.path):
                self._flush(spool, report)
            report.pending = len(spool)
        except FlushBusy as exc:
            report.stop(BUSY, str(exc))
            report.pending = _count(spool)
        except (SpoolUnwritable, SpoolDamaged) as exc:
            # What was sent but not deleted is sent again later: the function answers it is a
            # duplicate, and it leaves then.
            report.stop(SPOOL, str(exc))
            report.pending = _count(spool)
        report.quarantined = list(spool.quarantined)
        return report

    def _flush(self, spool: Spool, report: FlushReport) -> None:
        batch_size = self.batch_size
        while rows := spool.oldest(batch_size):
            bodies = [reading.to_json() for _, reading in rows]
            try:
                answer = self.transport.post(bodies[0] if len(bodies) == 1 else bodies)
            except Unavailable as exc:
                report.stop(UNAVAILABLE, str(exc))
                return
            except Misconfigured as exc:
                report.stop(CONFIGURATION, str(exc))
                return
            if answer.status == 413 and len(rows) > 1:
                # Whoever refused the size, smaller batches drop nothing.
                batch_size = max(1, len(rows) // 2)
                continue
            ids = [row_id for row_id, _ in rows]
            stays = f"the {len(spool)} readings stay spooled"
            refused = self._answered([reading for _, reading in rows], answer, report, stays)
            if refused is None:
                return
            if answer.status == 422 and refused != set(range(len(rows))):
                spool.delete([ids[i] for i in refused])
                continue  # resend the valid rest
            spool.delete(ids)
            report.sent += len(rows) - len(refused)

    def _answered(
        self, readings: list[Reading], answer: Answer, report: FlushReport, stays: str
    ) -> set[int] | None:
        """What the function's answer settles: None when nothing (the answer is not the
        function's, or a configuration problem; the report says why), else the indexes of the
        readings it refuses for good (logged and reported as dropped); the rest it stored."""
        status = answer.status
        own = answer.from_function()
        if own is None:
            problem = CONFIGURATION if status in CONFIGURATION_STATUSES else NOT_THE_FUNCTION
            report.stop(
                problem,
                f"{answer.describe()} is not the function's answer (no matching request "
                f"id): {stays}",
            )
            logger.info("%s", report.error)
            return None
        if not (200 <= status < 300 or status in _SETTLING_STATUSES):
            # 401, 403, 404, ...: a configuration problem; the readings stay.
            report.stop(CONFIGURATION, f"the function answered {status}: {own.get('error', own)}")
            return None
        refused = refused_indexes(status, own, len(readings))
        for index in sorted(refused):
            why = f"{readings[index].record_date}: {status} {own.get('error')}"
            logger.info("dropping reading the function refused: %s %s", why, own.get("details", ""))
            report.dropped.append(why)
        return refused

    def get(self, path: str, query: Mapping[str, str]) -> tuple[int, str, bytes]:
        """GET a read route (``/summary``, ``/chart``, ``/readings``), signed as ``send`` is:
        the status, content type and body. Raises Unavailable as ``send`` would retry, and
        Misconfigured as ``send`` would refuse."""
        answer = self.transport.get(path, query)
        return answer.status, answer.content_type, answer.body

    def close(self) -> None:
        if "spool" in self.__dict__:
            self.spool.close()


def _aside(spool: Spool) -> str | None:
    return str(spool.moved_aside) if spool.moved_aside else None


def _count(spool: Spool) -> int:
    try:
        return len(spool)
    except (SpoolUnwritable, SpoolDamaged):
        return 0


def refused_indexes(status: int, answer: Mapping[str, Any], count: int) -> set[int]:
    """Which of the ``count`` readings sent the function's answer refuses for good."""
    if 200 <= status < 300:
        return set()
    if count > 1 and status == 409:
        conflicts = answer.get("conflicts", [])
        return {i for i in conflicts if isinstance(i, int) and 0 <= i < count}
    if count > 1 and status == 422:
        indexes = {item_index(key) for key in answer.get("details", {})}
        return {i for i in indexes if i is not None and i < count} or set(range(count))
    return set(range(count))
