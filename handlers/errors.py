"""thumbstat's exceptions, translated once at the boundary that catches them.

ThumbstatError
├── ImageRejected      an upload the thumbnailer will never accept (no retry helps)
└── InvalidInput       reserved for the ingest side's validation errors
"""

from __future__ import annotations


class ThumbstatError(Exception):
    """Base class of every error thumbstat raises on purpose."""


class ImageRejected(ThumbstatError):
    """The input is not an image thumbstat will thumbnail.

    ``reason`` is a short, stable code for logs and the index table:
    ``unsupported``, ``corrupt``, ``too-large`` or ``empty``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
