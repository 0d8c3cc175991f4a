"""Whether the device's clock was obviously wrong when it took a reading.

A Raspberry Pi has no real-time clock: until NTP answers, it boots at 1970 or at the time it last
saved, and NTP may then step the clock back. A reading is judged by its own ``record_date`` (the
wall clock when ``send`` is given no ``--date``) and flagged ``clock_suspect``, never dropped:

- before BUILD_DATE: this client did not exist yet, so the clock is wrong;
- earlier than the newest reading already taken into this spool: the clock stepped back.

The function holds flagged readings apart from trusted ones (handlers.readings.schema).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Final

from handlers.readings.schema import Reading

# The day this client was released: no reading taken by it can be older.
BUILD_DATE: Final = datetime(2026, 11, 1, tzinfo=UTC)


def instant(record_date: str) -> datetime:
    """The moment a canonical ``record_date`` names; one without an offset (the original
    device's spelling) is read in this machine's time zone."""
    moment = datetime.fromisoformat(record_date)
    return moment if moment.tzinfo else moment.astimezone()


def judged(reading: Reading, newest_taken: datetime | None) -> Reading:
    """The reading, flagged ``clock_suspect`` when its time is obviously wrong."""
    at = instant(reading.record_date)
    if at < BUILD_DATE or (newest_taken is not None and at < newest_taken):
        return dataclasses.replace(reading, clock_suspect=True)
    return reading
