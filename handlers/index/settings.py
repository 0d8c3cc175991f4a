"""The resize function's configuration, from environment variables read once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from handlers.common.config import MEMORY_SIZE, ConfigError, integer, prefix
from handlers.imaging import renditions
from handlers.imaging.limits import (
    BUDGET_BYTES_PER_PIXEL,
    DEFAULT_MAX_PIXELS,
    RUNTIME_BASELINE_MB,
    VIPS_RESIDENT_MB,
)
from handlers.imaging.renditions import OutputFormat, RenditionSpec
from handlers.index.table import IMAGE_INDEX

# The variables the resize function reads: the one list of their names (the template, the local
# stacks and the configuration reference are checked against it).
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

VARIABLES: Final = (
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

# Measured: the runtime, botocore's clients and Pillow before the first image, and libvips'
# libraries once a PNG or WebP has loaded them (handlers.imaging.limits), plus 9 MB of small
# buffers the decode estimates leave out. Of the rest the decode budget takes 90%: allocator slack
# and the heap fragmentation earlier decodes leave in a warm function grow with the decode (a
# 185 MB TIFF tile, after other large decodes, peaked 188 MB over the baseline). The input's bytes
# plus handlers.imaging.budget's estimate of the decoder's and the pipeline's peak must fit it. It
# is expressed in pixels of BUDGET_BYTES_PER_PIXEL bytes.
_BASELINE_MB = RUNTIME_BASELINE_MB + VIPS_RESIDENT_MB + 9
_BUDGET_SHARE = 0.9
_DEFAULT_SIZE: Final = 200  # THUMBNAIL_MAX_SIZE's default: the single thumbnail without RENDITIONS


_DEFAULT_MAX_INPUT_BYTES: Final = 50 * 2**20


def _budget_bytes(env: Mapping[str, str]) -> int | None:
    """What the decode may take of the function's memory (Lambda sets its size), or None when
    the size is not known."""
    memory_mb = integer(env, MEMORY_SIZE, 0, 0, 10_240)
    if not memory_mb:
        return None
    return max(int((memory_mb - _BASELINE_MB) * _BUDGET_SHARE), 16) * 2**20


def _pixel_budget(env: Mapping[str, str]) -> int:
    """Without MAX_PIXELS, what fits the function's memory, so a large or hostile image is
    rejected with a reason instead of killing the function and being retried."""
    budget = _budget_bytes(env)
    if budget is None:
        return DEFAULT_MAX_PIXELS
    return min(budget // BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS)


def _input_cap(env: Mapping[str, str]) -> int:
    """Without MAX_INPUT_BYTES, 50 MB or the decode budget, whichever is less: the input's bytes
    count against the budget, so a larger one could never be decoded, and is refused by its
    size before the download (44 MB at 128 MB)."""
    budget = _budget_bytes(env)
    return _DEFAULT_MAX_INPUT_BYTES if budget is None else min(budget, _DEFAULT_MAX_INPUT_BYTES)


def _renditions(env: Mapping[str, str]) -> tuple[RenditionSpec, ...]:
    """RENDITIONS, or without it one thumbnail: THUMBNAIL_MAX_SIZE px, ``auto``."""
    max_size = integer(env, THUMBNAIL_MAX_SIZE, _DEFAULT_SIZE, 1, renditions.MAX_SIZE)
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


def _cache_control(env: Mapping[str, str], default: str) -> str:
    """THUMBNAIL_CACHE_CONTROL as sent in each rendition's PutObject: an HTTP header value, so
    printable ASCII on one line (anything else would fail every upload, not the cold start)."""
    value = env.get(THUMBNAIL_CACHE_CONTROL, "").strip()
    if not value:
        return default
    if not all(" " <= char <= "~" for char in value):
        raise ConfigError(
            f"{THUMBNAIL_CACHE_CONTROL}={value!r}: a Cache-Control header value is printable "
            "ASCII on one line, e.g. public, max-age=86400"
        )
    return value


def _refuse_unencodable(settings: ResizeSettings) -> None:
    """ConfigError when the largest rendition's encoder alone would take the whole decode budget
    (an AVIF of 1,200 px at 128 MB): every image would then be refused as too large."""
    encoder = renditions.encoder_bytes(settings.renditions)
    budget = settings.max_pixels * BUDGET_BYTES_PER_PIXEL
    if encoder >= budget:
        raise ConfigError(
            f"{RENDITIONS}: encoding its largest rendition takes about {encoder / 2**20:.0f} MB, "
            f"the whole of the decode budget ({budget / 2**20:.0f} MB at this memory size): "
            "give the function more memory, or make the AVIF and WebP renditions smaller"
        )


@dataclass(frozen=True)
class ResizeSettings:
    source_prefix: str = "uploads/"
    thumbnail_prefix: str = "thumbnails/"
    thumbnail_bucket: str | None = None  # None: the source bucket
    jpeg_quality: int = 85
    index_table: str = str(IMAGE_INDEX["TableName"])
    max_input_bytes: int = _DEFAULT_MAX_INPUT_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Every rendition's Cache-Control: a day, as a re-upload of a key replaces its renditions'
    # bytes under the same keys (``immutable`` only suits buckets whose keys never change).
    cache_control: str = "public, max-age=86400"
    # What each upload gets; the first is the default rendition (the row's thumbnail-path).
    renditions: tuple[RenditionSpec, ...] = renditions.DEFAULT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ResizeSettings:
        env = os.environ if environ is None else environ
        settings = cls(
            source_prefix=prefix(env, SOURCE_PREFIX, cls.source_prefix),
            thumbnail_prefix=prefix(env, THUMBNAIL_PREFIX, cls.thumbnail_prefix),
            thumbnail_bucket=env.get(THUMBNAIL_BUCKET) or None,
            jpeg_quality=integer(env, JPEG_QUALITY, cls.jpeg_quality, 1, 100),
            index_table=env.get(INDEX_TABLE) or cls.index_table,
            max_input_bytes=integer(env, MAX_INPUT_BYTES, _input_cap(env), 1, 5 * 2**30),
            max_pixels=integer(env, MAX_PIXELS, _pixel_budget(env), 1, 2**40),
            cache_control=_cache_control(env, cls.cache_control),
            renditions=_renditions(env),
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
        _refuse_unencodable(settings)
        return settings
