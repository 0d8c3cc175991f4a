"""The repairs of ``python -m infra.reconcile --fix``, and its Batch Operations manifest.

A source to render again, or a row whose source is gone, gets a synthetic S3 notification sent to
the upload queue: the resize function then does the work under its own lease, concurrency and
dead-letter queue, and re-checks S3 first (a source changed since the listing is skipped, a
removed one whose key holds an object again is rendered). The synthetic event carries the row's
sequencer, so it is not older than the row (an event that is would write nothing) and any later
real event is newer than it.

An orphan rendition is deleted on condition that it still holds the bytes listed (If-Match its
ETag, by ``handlers.index.objects.delete``), and only after its source's row, read again, neither
names it nor is writing or deleting it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, quote_plus

from handlers.common import aws
from handlers.index import objects, store
from infra.reconcile_drift import Listed, Rerender, Row, Scope, source_of
from infra.reconcile_io import sqs

SQS_BATCH: Final = 10  # SendMessageBatch's limit
# Who the synthetic events say made them (S3's own carry the requester's principal id).
PRINCIPAL: Final = "thumbstat-reconcile"


def _record(name: str, bucket: str, key: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": name,
        "userIdentity": {"principalId": PRINCIPAL},
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            # S3 form-encodes the key (spaces as "+"); handlers.index.events decodes it.
            "object": {"key": quote_plus(key, safe="/"), **obj},
        },
    }


def created(bucket: str, rerender: Rerender) -> dict[str, Any]:
    """The notification S3 would send for the listed source (as ObjectCreated:Put)."""
    source = rerender.source
    obj = {"size": source.size, "eTag": source.etag, "sequencer": rerender.sequencer or "0"}
    return {"Records": [_record("ObjectCreated:Put", bucket, source.key, obj)]}


def removed(bucket: str, key: str, sequencer: str) -> dict[str, Any]:
    """The notification S3 would send for the source's removal (ObjectRemoved:Delete)."""
    return {
        "Records": [_record("ObjectRemoved:Delete", bucket, key, {"sequencer": sequencer or "0"})]
    }


class SendFailed(Exception):
    """The queue refused some messages (SendMessageBatch's Failed entries)."""


def send(
    queue_url: str, notifications: Sequence[dict[str, Any]], progress: Callable[[int], None]
) -> int:
    """Send each notification as one message, ten to a batch. Returns how many were sent."""
    client = sqs()
    for start in range(0, len(notifications), SQS_BATCH):
        batch = notifications[start : start + SQS_BATCH]
        answer = client.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":"))}
                for i, body in enumerate(batch)
            ],
        )
        if answer.get("Failed"):
            failed = [
                f"{f['Id']}: {f.get('Code')} {f.get('Message', '')}" for f in answer["Failed"]
            ]
            raise SendFailed("the queue refused: " + "; ".join(failed))
        progress(len(batch))
    return len(notifications)


def delete_orphans(
    scope: Scope, table: str, orphans: Iterable[Listed], progress: Callable[[int], None]
) -> tuple[list[str], list[str]]:
    """Delete the orphans still unclaimed and holding the bytes listed. Returns the keys deleted
    and those kept (claimed since by a row, or other bytes there now)."""
    deleted: list[str] = []
    kept: list[str] = []
    for orphan in orphans:
        source = source_of(orphan.key, scope.source_prefix, scope.thumbnail_prefix)
        if source is not None and _claimed(table, source, orphan.key):
            kept.append(orphan.key)
            continue
        rendition = store.StoredRendition(orphan.key, orphan.etag)
        done = objects.delete(scope.thumbnail_bucket, [rendition])
        (deleted if done else kept).append(orphan.key)
        progress(1)
    return deleted, kept


def _claimed(table: str, source: str, key: str) -> bool:
    item = (
        aws.dynamodb()
        .get_item(TableName=table, Key={"id": {"S": source}}, ConsistentRead=True)
        .get("Item")
    )
    if not item:
        return False
    row = Row.from_item(item)
    return key in row.renditions or key in row.in_flight or row.lease is not None


def write_manifest(path: Path, bucket: str, keys: Iterable[str]) -> int:
    """An S3 Batch Operations CSV manifest (``bucket,key``, no header) of ``keys``. Returns how
    many lines were written.

    Batch Operations wants each key URL-encoded. Percent-encoding everything but ``/`` (a space
    as ``%20``, ``+`` as ``%2B``, UTF-8 bytes as ``%XX``) reads back the same whether the reader
    decodes ``+`` as a space (form decoding) or not, and leaves no comma or quote to escape.
    """
    lines = 0
    with path.open("w", newline="", encoding="ascii") as sink:
        writer = csv.writer(sink, lineterminator="\n")
        for key in keys:
            writer.writerow([bucket, quote(key, safe="/")])
            lines += 1
    return lines
