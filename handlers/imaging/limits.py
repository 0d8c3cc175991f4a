"""Input limits shared by the thumbnail core and the configuration (no imports: the ingest
image, which has no Pillow, reads the configuration too)."""

from typing import Final

DEFAULT_MAX_PIXELS: Final = 50_000_000
"""Pixels the decoder may produce: a budget on what is decoded, not on the header's size."""

BUDGET_BYTES_PER_PIXEL: Final = 8
"""A pixel of the budget is 8 bytes of decoding memory (RGBA and its premultiplied copy): the
decode's estimated peak must fit MAX_PIXELS times this."""

RUNTIME_BASELINE_MB: Final = 55
"""The resize function's Max Memory Used before its first image: the runtime, botocore's two
clients and Pillow (measured; tests/unit/imaging/hostile_runner.py tops a test interpreter up to
it)."""

VIPS_RESIDENT_MB: Final = 15
"""What libvips' libraries add to resident memory once its first PNG or WebP loads them
(measured: a fresh interpreter's VmHWM before and after ``import pyvips`` and one decode).
A warm function keeps them, so every later decode's budget leaves room for them."""

MAX_ICC_BYTES: Final = 4 * 2**20
"""An embedded ICC profile up to this size is honoured; a larger one is dropped and the image's
colours taken as sRGB, never a rejection. Real profiles, CMYK press profiles included, are well
under it. The decode budget counts a profile three times: its bytes, lcms's parsed copy and the
transform built from it."""

ICC_COPIES: Final = 3
"""Copies of an ICC profile's size the decode holds (see MAX_ICC_BYTES)."""

ENCODER_BYTES: Final = {
    "JPEG": (1 * 2**20, 4),
    "PNG": (2 * 2**20, 2),
    "WEBP": (6 * 2**20, 7),
    "AVIF": (10 * 2**20, 26),
}
"""What each encoder allocates for one rendition, as (fixed bytes, bytes a pixel): measured at
the settings handlers.imaging.encode uses on photos of 0.1 to 3.8 MP (peak RSS over the image
being encoded; libavif's AV1 encoder takes 103 MB for 2400x1600). The encoders run one at a
time, so the largest rendition's encoder is reserved out of the decode budget."""
