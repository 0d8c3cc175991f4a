"""Configuration from environment variables, read once per container (at cold start).

Each ``from_env`` takes the environment as a parameter (``None`` means ``os.environ``), so tests
pass a plain dict instead of patching the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from handlers import renditions, tables
from handlers.limits import (
    BUDGET_BYTES_PER_PIXEL,
    DEFAULT_MAX_PIXELS,
    RUNTIME_BASELINE_MB,
    VIPS_RESIDENT_MB,
)
from handlers.renditions import OutputFormat, RenditionSpec

# The variables each function reads: the one list of their names (the template, the local stacks
# and README's configuration table are checked against it).
SOURCE_PREFIX: Final = "SOURCE_PREFIX"
THUMBNAIL_PREFIX: Final = "THUMBNAIL_PREFIX"
THUMBNAIL_BUCKET: Final = "THUMBNAIL_BUCKET"
THUMBNAIL_MAX_SIZE: Final = "THUMBNAIL_MAX_SIZE"
RENDITIONS: Final = "RENDITIONS"
JPEG_QUALITY: Final = "JPEG_QUALITY"
INDEX_TABLE: Final = "INDEX_TABLE"
MAX_INPUT_BYTES: Final = "MAX_INPUT_BYTES"
MAX_PIXELS: Final = "MAX_PIXELS"
THUMBNAIL_CACHE_CONTROL: Final = "THUMBNAIL_CACHE_CONTROL"
READINGS_TABLE: Final = "READINGS_TABLE"
MAX_BODY_BYTES: Final = "MAX_BODY_BYTES"
MAX_BATCH: Final = "MAX_BATCH"
RETENTION_DAYS: Final = "RETENTION_DAYS"
MEMORY_SIZE: Final = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda
FUNCTION_NAME: Final = "AWS_LAMBDA_FUNCTION_NAME"  # set by Lambda

RESIZE_VARIABLES: Final = (
    SOURCE_PREFIX,
    THUMBNAIL_PREFIX,
    THUMBNAIL_BUCKET,
    THUMBNAIL_MAX_SIZE,
    RENDITIONS,
    JPEG_QUALITY,
    INDEX_TABLE,
    MAX_INPUT_BYTES,
    MAX_PIXELS,
    THUMBNAIL_CACHE_CONTROL,
)
INGEST_VARIABLES: Final = (READINGS_TABLE, MAX_BODY_BYTES, MAX_BATCH, RETENTION_DAYS)


class ConfigError(ValueError):
    """An environment variable holds a value thumbstat cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _prefix(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default)
    if value and not value.endswith("/"):
        value += "/"  # "uploads" must not match "uploads-old/..."
    return value


# Measured: the runtime, botocore's clients and Pillow before the first image, and libvips'
# libraries once a PNG or WebP has loaded them (handlers.limits), plus 9 MB of small buffers the
# decode estimates leave out. Of the rest the decode budget takes 90%: allocator slack and the
# heap fragmentation earlier decodes leave in a warm function grow with the decode (a 185 MB
# TIFF tile, after other large decodes, peaked 188 MB over the baseline). The input's bytes plus
# handlers.decode_budget's estimate of the decoder's and the pipeline's peak must fit it. It is
# expressed in pixels of BUDGET_BYTES_PER_PIXEL bytes.
_BASELINE_MB = RUNTIME_BASELINE_MB + VIPS_RESIDENT_MB + 9
_BUDGET_SHARE = 0.9


def _pixel_budget(env: Mapping[str, str]) -> int:
    """Without MAX_PIXELS, what fits the function's memory (Lambda sets its size), so a large
    or hostile image is rejected with a reason instead of killing the function and being
    retried."""
    memory_mb = _int(env, MEMORY_SIZE, 0, 0, 10_240)
    if not memory_mb:
        return DEFAULT_MAX_PIXELS
    budget = max(int((memory_mb - _BASELINE_MB) * _BUDGET_SHARE), 16) * 2**20
    budget //= BUDGET_BYTES_PER_PIXEL
    return min(budget, DEFAULT_MAX_PIXELS)


def _renditions(env: Mapping[str, str], max_size: int) -> tuple[RenditionSpec, ...]:
    """RENDITIONS, or without it today's single thumbnail: THUMBNAIL_MAX_SIZE px, ``auto``."""
    raw = env.get(RENDITIONS, "").strip()
    if not raw:
        return (RenditionSpec(max_size, OutputFormat.AUTO),)
    if env.get(THUMBNAIL_MAX_SIZE, "").strip():
        raise ConfigError(
            f"set {RENDITIONS} or {THUMBNAIL_MAX_SIZE}, not both: {RENDITIONS} names every size "
            f"(e.g. {RENDITIONS}={max_size}:auto)"
        )
    try:
        return renditions.parse(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{RENDITIONS}={raw!r}: {exc}. Expected SIZE:FORMAT items separated by commas, "
            "e.g. 200:jpeg,800:webp,1600:avif (formats: auto, jpeg, png, webp, avif)"
        ) from None


@dataclass(frozen=True)
class ResizeSettings:
    source_prefix: str = "uploads/"
    thumbnail_prefix: str = "thumbnails/"
    thumbnail_bucket: str | None = None  # None: the source bucket
    max_size: int = 200
    jpeg_quality: int = 85
    index_table: str = str(tables.IMAGE_INDEX["TableName"])
    max_input_bytes: int = 50 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS
    cache_control: str = "public, max-age=86400"
    # What each upload gets; the first is the default rendition (the row's thumbnail-path).
    renditions: tuple[RenditionSpec, ...] = renditions.DEFAULT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ResizeSettings:
        env = os.environ if environ is None else environ
        max_size = _int(env, THUMBNAIL_MAX_SIZE, cls.max_size, 1, renditions.MAX_SIZE)
        settings = cls(
            source_prefix=_prefix(env, SOURCE_PREFIX, cls.source_prefix),
            thumbnail_prefix=_prefix(env, THUMBNAIL_PREFIX, cls.thumbnail_prefix),
            thumbnail_bucket=env.get(THUMBNAIL_BUCKET) or None,
            max_size=max_size,
            jpeg_quality=_int(env, JPEG_QUALITY, cls.jpeg_quality, 1, 100),
            index_table=env.get(INDEX_TABLE) or cls.index_table,
            max_input_bytes=_int(env, MAX_INPUT_BYTES, cls.max_input_bytes, 1, 5 * 2**30),
            max_pixels=_int(env, MAX_PIXELS, _pixel_budget(env), 1, 2**40),
            cache_control=env.get(THUMBNAIL_CACHE_CONTROL) or cls.cache_control,
            renditions=_renditions(env, max_size),
        )
        if not settings.thumbnail_prefix:
            raise ConfigError("THUMBNAIL_PREFIX must not be empty: thumbnails need a prefix")
        if settings.thumbnail_bucket is None and settings.source_prefix.startswith(
            settings.thumbnail_prefix
        ):
            raise ConfigError(
                "SOURCE_PREFIX lies inside THUMBNAIL_PREFIX in the same bucket: every thumbnail "
                "would trigger another resize"
            )
        return settings


@dataclass(frozen=True)
class IngestSettings:
    readings_table: str = str(tables.READINGS["TableName"])
    max_body_bytes: int = 256 * 1024  # a 1,000-reading backlog is ~110 KB
    max_batch: int = 2000
    page_size: int = 500  # GET /readings default page
    max_page_size: int = 1000
    retention_days: int = 0  # 0: readings are kept forever
    function_name: str = "thumbstat-ingest"  # outside Lambda; the metrics' dimension

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        env = os.environ if environ is None else environ
        return cls(
            readings_table=env.get(READINGS_TABLE) or cls.readings_table,
            max_body_bytes=_int(env, MAX_BODY_BYTES, cls.max_body_bytes, 1, 6 * 2**20),
            max_batch=_int(env, MAX_BATCH, cls.max_batch, 1, 100_000),
            retention_days=_int(env, RETENTION_DAYS, cls.retention_days, 0, 36_500),
            function_name=env.get(FUNCTION_NAME) or cls.function_name,
        )
