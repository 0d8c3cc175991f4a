"""What each upload gets: the ``RENDITIONS`` grammar. No Pillow here, so the configuration parses
the spec at cold start without loading a codec.

A spec is a comma-separated list of ``SIZE:FORMAT`` items, e.g. ``200:jpeg,200:webp,800:webp``:
SIZE is the longer side in pixels, FORMAT one of ``auto`` (JPEG for opaque images, PNG where the
transparency is real), ``jpeg``, ``png``, ``webp`` or ``avif``. The first item is the *default*
rendition: its key is the index row's ``thumbnail-path``. Where each rendition is stored is
``handlers.index.keys``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class OutputFormat(StrEnum):
    AUTO = "auto"
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"


# Pillow's format name, the key's extension and the Content-Type of each concrete format.
PILLOW_FORMAT: Final = {
    OutputFormat.JPEG: "JPEG",
    OutputFormat.PNG: "PNG",
    OutputFormat.WEBP: "WEBP",
    OutputFormat.AVIF: "AVIF",
}
EXTENSION: Final = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}
CONTENT_TYPE: Final = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
# What ``auto`` may resolve to: a spec holding SIZE:auto and SIZE:jpeg (or png) could write one key
# twice, so it is refused.
_AUTO_RESOLVES_TO: Final = (OutputFormat.JPEG, OutputFormat.PNG)

MAX_SIZE: Final = 10_000
MAX_RENDITIONS: Final = 8  # each costs an encode and an upload per image


@dataclass(frozen=True, order=True)
class RenditionSpec:
    size: int  # the longer side, in pixels
    format: OutputFormat

    @property
    def name(self) -> str:
        """How the spec is written, and the rendition's name in the index row: ``200:webp``."""
        return f"{self.size}:{self.format}"


DEFAULT: Final = (RenditionSpec(200, OutputFormat.AUTO),)


def parse(text: str) -> tuple[RenditionSpec, ...]:
    """The renditions of a spec, in its order. Raises ValueError saying what is wrong."""
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise ValueError("the list is empty")
    specs: list[RenditionSpec] = []
    for item in items:
        if not item:
            raise ValueError(f"{text!r} has an empty item")
        spec = _item(item)
        if spec in specs:
            raise ValueError(f"{spec.name} is listed twice")
        specs.append(spec)
    if len(specs) > MAX_RENDITIONS:
        raise ValueError(f"{len(specs)} renditions: at most {MAX_RENDITIONS}")
    _refuse_shared_keys(specs)
    return tuple(specs)


def _item(item: str) -> RenditionSpec:
    """One ``SIZE:FORMAT`` item."""
    size_text, sep, format_text = item.partition(":")
    if not sep:
        raise ValueError(f"{item!r} is not SIZE:FORMAT (e.g. 200:webp)")
    try:
        size = int(size_text)
    except ValueError:
        raise ValueError(f"{item!r}: the size {size_text!r} is not a whole number") from None
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"{item!r}: the size must be 1..{MAX_SIZE}")
    name = format_text.strip().lower()
    try:
        return RenditionSpec(size, OutputFormat("jpeg" if name == "jpg" else name))
    except ValueError:
        known = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"{item!r}: unknown format {format_text!r} (one of {known})") from None


def _refuse_shared_keys(specs: list[RenditionSpec]) -> None:
    """``SIZE:auto`` beside ``SIZE:jpeg`` (or png) could write one key twice."""
    for spec in specs:
        if spec.format is not OutputFormat.AUTO:
            continue
        for other in _AUTO_RESOLVES_TO:
            if RenditionSpec(spec.size, other) in specs:
                raise ValueError(
                    f"{spec.name} and {spec.size}:{other} could both write the same "
                    f".{EXTENSION[PILLOW_FORMAT[other]]} key"
                )


def render(specs: tuple[RenditionSpec, ...]) -> str:
    return ",".join(spec.name for spec in specs)
