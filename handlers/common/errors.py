"""thumbstat's exceptions, translated once at the boundary that catches them.

    ThumbstatError
    ├── ImageRejected            resize: an upload the thumbnailer will never accept (no retry
    │                            helps), with a RejectReason; ingest never meets it
    ├── RequestError             400 unless a subclass says otherwise: a request ingest refuses
    │   ├── BadRequest             400: not JSON, bad query parameters
    │   ├── NotFound               404
    │   ├── MethodNotAllowed       405
    │   ├── BodyTooLarge           413
    │   ├── UnsupportedMediaType   415
    │   └── InvalidReading         422: schema errors, per field (and per index in a batch)
    ├── DuplicateReading         409: another reading already has this Record_Date (in a batch:
    │                            some readings' conflicts, by index)
    └── StorageError             500: DynamoDB failed; the detail is logged, never answered
        └── StorageThrottled       503: throttled, retry later (in a batch: the items still
                                   unwritten after the store's retries, by index)

The ingest handler maps classes to statuses through one table (``handlers.ingest.STATUS``),
batch answers included; its tests check that the table covers every class under RequestError,
DuplicateReading and StorageError, and that it agrees with the statuses drawn here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ThumbstatError(Exception):
    """Base class of every error thumbstat raises on purpose."""


class RejectReason(StrEnum):
    """Why an image was rejected: a short, stable code for logs and the index table."""

    UNSUPPORTED = "unsupported"
    CORRUPT = "corrupt"
    TOO_LARGE = "too-large"
    EMPTY = "empty"
    KEY_TOO_LONG = "key-too-long"  # a rendition's key would be over S3's 1,024 bytes


class ImageRejected(ThumbstatError):
    """The input is not an image thumbstat will thumbnail; ``detail`` says what was wrong."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class RequestError(ThumbstatError):
    """A request ingest refuses; the message is safe to show to the caller."""


class BadRequest(RequestError):
    pass


class NotFound(RequestError):
    pass


class MethodNotAllowed(RequestError):
    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class BodyTooLarge(RequestError):
    pass


class UnsupportedMediaType(RequestError):
    pass


class InvalidReading(RequestError):
    """Schema errors: ``errors`` maps a field name (or ``"[3].temperature"``) to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = dict(errors)


class DuplicateReading(ThumbstatError):
    """A different reading is already stored under the same Record_Date."""


class StorageError(ThumbstatError):
    """The store failed. Callers get a generic message; the cause is logged."""


class StorageThrottled(StorageError):
    """The store is throttling; the caller should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
