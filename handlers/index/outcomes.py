"""What became of one object event: the ``outcome`` of the resize log line and, for the three
that write a row, the index row's ``status``. The values are what operators query; keep them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Outcome(StrEnum):
    OK = "ok"  # thumbnail uploaded, row written
    REJECTED = "rejected"  # not an image we thumbnail: row written, never retried
    DELETED = "deleted"  # the source was removed: its renditions deleted, the row kept for audit
    SKIPPED_STALE = "skipped-stale"  # the index already holds a newer version
    SKIPPED_THUMBNAIL_PREFIX = "skipped-thumbnail-prefix"  # our own output: would loop
    SKIPPED_OUTSIDE_SOURCE_PREFIX = "skipped-outside-source-prefix"  # or a folder marker
    SKIPPED_CHANGED_OR_DELETED = "skipped-changed-or-deleted"  # a newer event is coming
    # A removal took a version that was not current (or a delete marker whose version was
    # indexed): the row already shows what is current.
    SKIPPED_NONCURRENT = "skipped-noncurrent"
    # An S3 Batch Operations task (handlers.index.rerender) found the row already showing the
    # current object with the configured renditions; or found no object at the key.
    SKIPPED_UP_TO_DATE = "skipped-up-to-date"
    SKIPPED_MISSING = "skipped-missing"


# The row's status while the first event of a key renders it (its lease is held): the row names
# no rendition yet.
PENDING: Final = "pending"


# The skips a user would not expect, logged at WARNING with why (detail) and what to do (hint).
# The other skips are the design at work (our own output, a newer version already indexed, a
# folder marker) and stay at INFO.
_UNEXPECTED: Final[Mapping[Outcome, dict[str, str]]] = {
    Outcome.SKIPPED_CHANGED_OR_DELETED: {
        "detail": "the object no longer matches the event: it was overwritten since (its ETag is "
        "not the event's eTag) or deleted",
        "hint": "nothing, if it was overwritten: the newer upload's own event makes its "
        "thumbnail. An event written by hand (sam local generate-event s3 put carries a "
        "placeholder eTag) needs the object's current ETag in s3.object.eTag, or no eTag to "
        "thumbnail whatever is stored",
    },
    Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX: {
        "detail": "the key is outside SOURCE_PREFIX",
        "hint": "upload under SOURCE_PREFIX, or set SOURCE_PREFIX to where uploads go (and the "
        "bucket notification's prefix filter with it)",
    },
}


def advice(outcome: Outcome, key: str) -> dict[str, str]:
    """``detail`` and ``hint`` for a skip a user would not expect; empty for every other outcome."""
    if key.endswith("/"):
        return {}  # a folder marker ("Create folder" in the S3 console): nothing to thumbnail
    return dict(_UNEXPECTED.get(outcome, {}))
