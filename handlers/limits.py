"""Input limits shared by the thumbnail core and the configuration (no imports: the ingest
image, which has no Pillow, reads the configuration too)."""

from typing import Final

DEFAULT_MAX_PIXELS: Final = 50_000_000
"""Pixels the decoder may produce: a budget on what is decoded, not on the header's size."""
