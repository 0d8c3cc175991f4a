"""Retention of raw readings: with ``RETENTION_DAYS`` set, each stored reading carries an
``Expires_At`` attribute and the table's TTL (enabled by the template) deletes it after that.

``Expires_At`` is the reading's instant (UTC when it has no offset) plus ``RETENTION_DAYS`` days,
in epoch seconds, as DynamoDB's TTL expects; a clock-suspect reading's timestamp is not to be
trusted (1970 would expire it at once), so it counts from when it was stored instead. 0 (the
default) keeps readings forever, as the original project did. Summaries are not stored: they
are computed from the readings still stored, so a day past retention summarizes as empty.
DynamoDB deletes expired items within a few days, not at the second, and reads see them until
then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.readings.schema import Reading
from handlers.readings.timerange import instant


def expires_at(reading: Reading, retention_days: int, now: datetime | None = None) -> int | None:
    """The epoch second after which the reading may be deleted; None: kept forever."""
    if retention_days <= 0:
        return None
    try:
        if reading.clock_suspect:
            start = now or datetime.now(UTC)
        else:
            start = instant(reading.record_date, UTC)
        expiry = start + timedelta(days=retention_days)
    except (ValueError, OverflowError):  # past year 9999: never, in effect
        return None
    return int(expiry.timestamp())
