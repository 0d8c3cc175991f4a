"""THUMBNAIL_CACHE_CONTROL: what every rendition carries, read back from moto's server over HTTP,
and the values the setting refuses (an HTTP header value: printable ASCII on one line)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers import resize
from handlers.common.config import ConfigError
from handlers.index.settings import THUMBNAIL_CACHE_CONTROL, ResizeSettings
from tests import events
from tests.aws.conftest import Bucket

DEFAULT = "public, max-age=86400"  # a day: what renditions carried before it was a setting
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    resize.settings.cache_clear()
    yield monkeypatch
    resize.settings.cache_clear()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, DEFAULT), ("", DEFAULT), (IMMUTABLE, IMMUTABLE), ("no-store", "no-store")],
    ids=["unset", "blank", "immutable", "no-store"],
)
def test_every_rendition_carries_the_setting(
    bucket: Bucket,
    image: bytes,
    configured: pytest.MonkeyPatch,
    value: str | None,
    expected: str,
) -> None:
    if value is None:
        configured.delenv(THUMBNAIL_CACHE_CONTROL, raising=False)
    else:
        configured.setenv(THUMBNAIL_CACHE_CONTROL, value)
    configured.setenv("RENDITIONS", "200:jpeg,100:webp")
    record = bucket.upload("uploads/cache/photo.jpg", image)

    resize.handler(events.s3_event(record), None)

    keys = bucket.keys("thumbnails/")
    assert keys == ["thumbnails/100/cache/photo.jpg.webp", "thumbnails/200/cache/photo.jpg.jpg"]
    for key in keys:
        assert bucket.s3.head_object(Bucket=bucket.name, Key=key)["CacheControl"] == expected


def test_the_default_is_a_day() -> None:
    assert ResizeSettings.from_env({}).cache_control == DEFAULT


@pytest.mark.parametrize(
    "value",
    ["x" * 2000, " !~", "max-age=0", f"  {IMMUTABLE}  "],
    ids=["long", "edges-of-printable-ascii", "zero", "surrounding-blanks"],
)
def test_printable_ascii_is_taken(value: str) -> None:
    assert ResizeSettings.from_env({THUMBNAIL_CACHE_CONTROL: value}).cache_control == value.strip()


@pytest.mark.parametrize(
    "value",
    ["public,\nmax-age=60", "public,\rmax-age=60", "public, max-age=60\x7f", "public, max-âge=60"],
    ids=["newline", "carriage-return", "delete", "non-ascii"],
)
def test_what_no_header_can_carry_fails_the_cold_start(value: str) -> None:
    with pytest.raises(ConfigError, match=THUMBNAIL_CACHE_CONTROL):
        ResizeSettings.from_env({THUMBNAIL_CACHE_CONTROL: value})
