"""What became of one object event: the ``outcome`` of the resize log line and, for the three
that write a row, the index row's ``status``. The values are what operators query; keep them."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"  # thumbnail uploaded, row written
    REJECTED = "rejected"  # not an image we thumbnail: row written, never retried
    DELETED = "deleted"  # the source was removed: its renditions deleted, the row kept for audit
    SKIPPED_STALE = "skipped-stale"  # the index already holds a newer version
    SKIPPED_THUMBNAIL_PREFIX = "skipped-thumbnail-prefix"  # our own output: would loop
    SKIPPED_OUTSIDE_SOURCE_PREFIX = "skipped-outside-source-prefix"  # or a folder marker
    SKIPPED_CHANGED_OR_DELETED = "skipped-changed-or-deleted"  # a newer event is coming
