"""What each upload gets: the ``RENDITIONS`` grammar. No Pillow here, so the configuration parses
the spec at cold start without loading a codec.

A spec is a comma-separated list of items, e.g. ``200:jpeg,800:webp,400x400:webp``:

- ``SIZE:FORMAT``: SIZE is the longer side in pixels;
- ``WIDTHxHEIGHT:FORMAT[:POSITION]``: a *box*, filled exactly (scaled to cover it, then cropped;
  handlers.imaging.crop chooses where): POSITION is ``attention`` (the default), ``entropy`` or
  ``centre`` (``center`` is read as ``centre``).

FORMAT is one of ``auto`` (JPEG for opaque images, PNG where the transparency is real), ``jpeg``,
``png``, ``webp`` or ``avif``. The first item is the *default* rendition: its key is the index
row's ``thumbnail-path``. Where each rendition is stored is ``handlers.index.keys``: under its
``folder``, ``200`` or ``400x400``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from handlers.imaging.limits import ENCODER_BYTES


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


class Position(StrEnum):
    """Where a box rendition's crop is placed (an uploader's focal point wins over each)."""

    ATTENTION = "attention"  # the most salient region: edges, skin tones, saturated colour
    ENTROPY = "entropy"  # the region with the most detail (greyscale histogram entropy)
    CENTRE = "centre"


_POSITION_ALIASES: Final = {"center": Position.CENTRE}

MAX_SIZE: Final = 10_000  # per side, for a box too
MAX_RENDITIONS: Final = 8  # each costs an encode and an upload per image


@dataclass(frozen=True, order=True)
class Box:
    """A box rendition's exact size and where its crop goes."""

    width: int
    height: int
    position: Position = Position.ATTENTION

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True, order=True)
class RenditionSpec:
    size: int  # the longer side, in pixels (a box's longer side)
    format: OutputFormat
    box: Box | None = None  # a box rendition: filled exactly, cropped

    @classmethod
    def boxed(
        cls,
        width: int,
        height: int,
        out_format: OutputFormat,
        position: Position = Position.ATTENTION,
    ) -> RenditionSpec:
        return cls(max(width, height), out_format, Box(width, height, position))

    @property
    def folder(self) -> str:
        """The key's size folder: ``200``, or a box's ``400x400``."""
        return f"{self.box.width}x{self.box.height}" if self.box else str(self.size)

    @property
    def name(self) -> str:
        """How the spec is written in full, and the rendition's name in the index row:
        ``200:webp``, ``400x400:webp:attention``."""
        position = f":{self.box.position}" if self.box else ""
        return f"{self.folder}:{self.format}{position}"


DEFAULT: Final = (RenditionSpec(200, OutputFormat.AUTO),)


def encoder_bytes(specs: Sequence[RenditionSpec]) -> int:
    """The most any one rendition's encoder allocates (handlers.imaging.limits.ENCODER_BYTES),
    bounding a rendition by its box, or by a square of its longer side."""
    most = 0
    for spec in specs:
        width, height = (spec.box.width, spec.box.height) if spec.box else (spec.size, spec.size)
        formats = _AUTO_RESOLVES_TO if spec.format is OutputFormat.AUTO else (spec.format,)
        for out_format in formats:
            fixed, per_pixel = ENCODER_BYTES[PILLOW_FORMAT[out_format]]
            most = max(most, fixed + per_pixel * width * height)
    return most


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
    """One ``SIZE:FORMAT`` or ``WIDTHxHEIGHT:FORMAT[:POSITION]`` item."""
    size_text, sep, rest = item.partition(":")
    if not sep:
        raise ValueError(
            f"{item!r} is not SIZE:FORMAT or WIDTHxHEIGHT:FORMAT[:POSITION] (e.g. 200:webp, "
            "400x400:webp)"
        )
    format_text, sep, position_text = rest.partition(":")
    out_format = _format(item, format_text)
    width_text, x, height_text = size_text.strip().lower().partition("x")
    if not x:
        if sep:
            raise ValueError(f"{item!r}: only a box (WIDTHxHEIGHT) takes a position")
        return RenditionSpec(_side(item, size_text, "size"), out_format)
    width, height = _side(item, width_text, "width"), _side(item, height_text, "height")
    position = _position(item, position_text) if sep else Position.ATTENTION
    return RenditionSpec.boxed(width, height, out_format, position)


def _side(item: str, text: str, what: str) -> int:
    try:
        side = int(text)
    except ValueError:
        raise ValueError(f"{item!r}: the {what} {text!r} is not a whole number") from None
    if not 1 <= side <= MAX_SIZE:
        raise ValueError(f"{item!r}: the {what} must be 1..{MAX_SIZE}")
    return side


def _format(item: str, text: str) -> OutputFormat:
    name = text.strip().lower()
    try:
        return OutputFormat("jpeg" if name == "jpg" else name)
    except ValueError:
        known = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"{item!r}: unknown format {text!r} (one of {known})") from None


def _position(item: str, text: str) -> Position:
    name = text.strip().lower()
    try:
        return _POSITION_ALIASES.get(name) or Position(name)
    except ValueError:
        known = ", ".join(p.value for p in Position)
        raise ValueError(f"{item!r}: unknown position {text!r} (one of {known})") from None


def _refuse_shared_keys(specs: list[RenditionSpec]) -> None:
    """Two items that could write one key: the same box twice with another position, or
    ``auto`` beside ``jpeg`` (or ``png``) in one size folder. A box and a longer-side size
    never share a key: their folders differ (``400x400``, ``400``)."""
    written: dict[tuple[str, str], RenditionSpec] = {}
    for spec in specs:
        formats = _AUTO_RESOLVES_TO if spec.format is OutputFormat.AUTO else (spec.format,)
        for out_format in formats:
            other = written.setdefault((spec.folder, out_format), spec)
            if other is not spec:
                raise ValueError(
                    f"{other.name} and {spec.name} could both write the same "
                    f".{EXTENSION[PILLOW_FORMAT[out_format]]} key under {spec.folder}/"
                )


def render(specs: tuple[RenditionSpec, ...]) -> str:
    return ",".join(spec.name for spec in specs)
