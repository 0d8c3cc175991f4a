"""The image core: bytes and rendition specs in, every rendition and its facts out. No AWS.

Its public face is this package: the bench, the tests that are not about internals and anyone
embedding the core import only these names.
"""

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging.crop import Focus, InvalidFocus, Rect
from handlers.imaging.pipeline import Rendition, Renditions, make_renditions
from handlers.imaging.renditions import Box, OutputFormat, Position, RenditionSpec, parse
from handlers.imaging.sizing import dc_scale_serves, fit_within

__all__ = [
    "Box",
    "Focus",
    "ImageRejected",
    "InvalidFocus",
    "OutputFormat",
    "Position",
    "Rect",
    "RejectReason",
    "Rendition",
    "RenditionSpec",
    "Renditions",
    "dc_scale_serves",
    "fit_within",
    "make_renditions",
    "parse",
]
