"""Expires_At of a reading (handlers.readings.retention)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.common.config import ConfigError
from handlers.readings.retention import expires_at
from handlers.readings.schema import Reading
from handlers.readings.settings import IngestSettings


@pytest.mark.parametrize(
    ("record_date", "days", "expected"),
    [
        ("2022-02-03T06:00:00+01:00", 30, datetime(2022, 3, 5, 5, tzinfo=UTC)),
        ("2022-02-03T06:00:00", 1, datetime(2022, 2, 4, 6, tzinfo=UTC)),  # no offset: UTC
        ("2022-02-03T06:00:00.9Z", 365, datetime(2023, 2, 3, 6, tzinfo=UTC)),  # whole seconds
    ],
    ids=["offset", "naive", "fraction"],
)
def test_expiry_is_the_readings_time_plus_the_retention(
    record_date: str, days: int, expected: datetime
) -> None:
    assert expires_at(Reading(record_date, True, 20.0, 20), days) == int(expected.timestamp())


def test_no_retention_keeps_readings_and_the_end_of_time_never_expires() -> None:
    assert expires_at(Reading("2022-02-03T06:00:00Z", True, 20.0, 20), 0) is None
    assert expires_at(Reading("9999-12-31T23:00:00-05:00", True, 20.0, 20), 30) is None


def test_the_retention_is_read_from_the_environment() -> None:
    assert IngestSettings.from_env({}).retention_days == 0
    assert IngestSettings.from_env({"RETENTION_DAYS": "30"}).retention_days == 30
    for bad in ("-1", "36501", "a month"):
        with pytest.raises(ConfigError, match="RETENTION_DAYS"):
            IngestSettings.from_env({"RETENTION_DAYS": bad})
