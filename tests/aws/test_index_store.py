"""The index row's ordering protocol, against moto's server over real HTTP."""

from __future__ import annotations

import pytest

from handlers.common.errors import ImageRejected, RejectReason
from handlers.index import store as index_store
from handlers.index.events import ObjectCreated
from handlers.index.outcomes import Outcome
from tests.aws.conftest import Bucket


def version(sequencer: str, etag: str = "e") -> ObjectCreated:
    return ObjectCreated("uploads", "uploads/v.jpg", 10, etag, sequencer)


REJECTION = ImageRejected(RejectReason.CORRUPT, "truncated")
UNTIL = 2**40  # a lease that outlives the test


def reject(table: str, obj: ObjectCreated) -> bool:
    """Index ``obj`` as rejected under its lease; False when it is stale."""
    lease = index_store.acquire(table, obj, index_store.owner_of(obj, "test"), UNTIL)
    if lease is None:
        return False
    assert index_store.commit_rejection(table, obj, lease, REJECTION) == ()
    return True


def test_first_row_is_written_with_the_padded_sequencer(bucket: Bucket) -> None:
    assert reject(bucket.table, version("FF"))

    row = bucket.row("uploads/v.jpg")
    assert row is not None
    assert row["sequencer"] == "FF".rjust(index_store.SEQUENCER_WIDTH, "0")
    assert (row["status"], row["reason"], row["detail"]) == (
        Outcome.REJECTED,
        RejectReason.CORRUPT,
        "truncated",
    )


@pytest.mark.parametrize(
    ("stored", "arriving", "written"),
    [("FF", "100", True), ("100", "FF", False), ("100", "100", True)],
    ids=["newer-longer", "older-shorter", "same-redelivered"],
)
def test_rows_follow_the_sequencer_as_a_number(
    bucket: Bucket, stored: str, arriving: str, written: bool
) -> None:
    reject(bucket.table, version(stored, etag="stored"))

    assert index_store.is_stale(bucket.table, version(arriving)) is not written
    assert reject(bucket.table, version(arriving, "arriving")) is written
    row = bucket.row("uploads/v.jpg")
    assert row is not None
    assert row["source-etag"] == ("arriving" if written else "stored")


def test_no_row_is_never_stale(bucket: Bucket) -> None:
    assert not index_store.is_stale(bucket.table, version("1"))
