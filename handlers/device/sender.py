"""The device side of ingest: post thermostat readings to the Function URL, losing none.

Every reading is validated with the function's own schema (handlers.readings.schema: a reading the
table could not store is refused here, before it is spooled), written to the durable local spool
(handlers.device.spool), then the spool is sent oldest first, in batches
(handlers.device.transport).

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

from handlers.device.spool import Spool, spool_path
from handlers.device.transport import Answer, Misconfigured, Transport, Unavailable
from handlers.readings.schema import Reading, item_index, parse_reading

logger = logging.getLogger(__name__)

# The exit codes of ``send`` and ``flush`` (handlers.device.cli).
EXIT_SENT: Final = 0
EXIT_REFUSED: Final = 1
EXIT_SPOOLED: Final = 75  # sysexits.h EX_TEMPFAIL
EXIT_CONFIG: Final = 78  # sysexits.h EX_CONFIG
# Problems a flush can stop at; every one of them keeps the readings spooled.
UNAVAILABLE: Final = "unavailable"
NOT_THE_FUNCTION: Final = "not-the-function"
CONFIGURATION: Final = "configuration"
_CONFIGURATION_STATUSES: Final = frozenset({401, 403, 404})
# The function's answers that settle a batch: stored, or refused for good.
_SETTLING_STATUSES: Final = frozenset({400, 409, 413, 422})


@dataclass
class FlushReport:
    sent: int = 0
    dropped: list[str] = field(default_factory=list)  # record_date: why
    pending: int = 0
    error: str | None = None
    problem: str | None = None  # UNAVAILABLE, NOT_THE_FUNCTION or CONFIGURATION, with error

    def stop(self, problem: str, error: str) -> None:
        self.problem, self.error = problem, error

    @property
    def exit_code(self) -> int:
        """The command's exit status (handlers.device.cli)."""
        if self.dropped:
            return EXIT_REFUSED
        if self.pending:
            return EXIT_CONFIG if self.problem == CONFIGURATION else EXIT_SPOOLED
        return EXIT_SENT


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
            sleep=sleep,
        )
        self._spool_path = spool_path
        self.batch_size = batch_size

    @cached_property
    def spool(self) -> Spool:
        """Opened on first use: fetching a summary or a chart needs no spool."""
        return Spool(spool_path(self._spool_path))

    def send(self, reading: Reading) -> FlushReport:
        """Validate and spool the reading, then send everything pending, oldest first.

        Raises InvalidReading, spooling nothing, for a reading the function would refuse.
        """
        self.spool.add(parse_reading(reading.to_json()))
        return self.flush()

    def flush(self) -> FlushReport:
        report = FlushReport()
        batch_size = self.batch_size
        while rows := self.spool.oldest(batch_size):
            bodies = [body for _, body in rows]
            try:
                answer = self.transport.post(bodies[0] if len(bodies) == 1 else bodies)
            except Unavailable as exc:
                report.stop(UNAVAILABLE, str(exc))
                break
            except Misconfigured as exc:
                report.stop(CONFIGURATION, str(exc))
                break
            if answer.status == 413 and len(rows) > 1:
                # Whoever refused the size, smaller batches drop nothing.
                batch_size = max(1, len(rows) // 2)
                continue
            if not self._settle(rows, answer, report):
                break
        report.pending = len(self.spool)
        return report

    def _settle(
        self, rows: list[tuple[int, dict[str, Any]]], answer: Answer, report: FlushReport
    ) -> bool:
        """Remove from the spool what the function's answer settles: the readings stored, and
        those refused for good (logged). False when the flush stops here, with the report saying
        why (the answer is not the function's, or a configuration problem)."""
        status = answer.status
        own = answer.from_function()
        if own is None:
            problem = CONFIGURATION if status in _CONFIGURATION_STATUSES else NOT_THE_FUNCTION
            report.stop(
                problem,
                f"{answer.describe()} is not the function's answer (no matching request "
                f"id): the {len(self.spool)} readings stay spooled",
            )
            logger.warning("%s", report.error)
            return False
        if not (200 <= status < 300 or status in _SETTLING_STATUSES):
            # 401, 403, 404, ...: a configuration problem; the readings stay.
            report.stop(CONFIGURATION, f"the function answered {status}: {own.get('error', own)}")
            return False
        ids = [row_id for row_id, _ in rows]
        refused = refused_indexes(status, own, len(rows))
        for index in refused:
            why = f"{rows[index][1].get('record_date')}: {status} {own.get('error')}"
            logger.warning(
                "dropping reading the function refused: %s %s", why, own.get("details", "")
            )
            report.dropped.append(why)
        if status == 422 and refused != set(range(len(rows))):
            self.spool.delete([ids[i] for i in refused])
            return True  # resend the valid rest
        self.spool.delete(ids)
        report.sent += len(rows) - len(refused)
        return True

    def get(self, path: str, query: Mapping[str, str]) -> tuple[int, str, bytes]:
        """GET a read route (``/summary``, ``/chart``, ``/readings``), signed as ``send`` is:
        the status, content type and body. Raises Unavailable as ``send`` would retry, and
        Misconfigured as ``send`` would refuse."""
        answer = self.transport.get(path, query)
        return answer.status, answer.content_type, answer.body

    def close(self) -> None:
        if "spool" in self.__dict__:
            self.spool.close()


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
