"""Input limits shared by the thumbnail core and the configuration (no imports: the ingest
image, which has no Pillow, reads the configuration too)."""

from typing import Final

DEFAULT_MAX_PIXELS: Final = 50_000_000
"""Pixels the decoder may produce: a budget on what is decoded, not on the header's size."""

BUDGET_BYTES_PER_PIXEL: Final = 8
"""A pixel of the budget is 8 bytes of decoding memory (RGBA and its premultiplied copy): the
decode's estimated peak must fit MAX_PIXELS times this."""
