"""Render again what a key holds now, for an S3 Batch Operations task: a task names a key (and
maybe a version) but carries no sequencer, so it cannot be ordered among the key's events by one.
It slots in by the row instead (docs/index-protocol.md, "Batch Operations tasks"):

1. read the row (``store.snapshot``), then ask S3 what is current (HeadObject): nothing -> the
   task is done with ``skipped-missing`` and the row is left alone (a deleted row stays deleted);
   a task that names a version which is not the current one -> ``skipped-noncurrent``;
2. the row already shows that object with the configured renditions -> ``skipped-up-to-date``
   (unless the job forces every render);
3. else render it as a create carrying the row's own sequencer, whose lease is taken only while
   the row is exactly as read (same sequencer, status and source ETag). Any event that wrote the
   row since wins: the task writes nothing (``skipped-stale``); an event that comes later is
   newer than the row's sequencer, so it wins too.
"""

from __future__ import annotations

from handlers.index import lifecycle, objects, store
from handlers.index.events import ObjectCreated, ObjectRemoved
from handlers.index.keys import KeyTooLong
from handlers.index.outcomes import Outcome
from handlers.index.settings import ResizeSettings


def rerender(
    bucket: str,
    key: str,
    version_id: str,
    config: ResizeSettings,
    attempt: str,
    until: float,
    force: bool = False,
) -> lifecycle.Result:
    """Render ``key`` as it is now, under the lease of ``attempt`` (an invocation's request id)
    until the epoch second ``until``, when it needs it (see the module docstring)."""
    as_read = store.snapshot(config.index_table, key)
    # objects.current asks what a removal left current; here, what a task finds current.
    current = objects.current(ObjectRemoved(bucket, key, sequencer="", event_time=""))
    if current is None:
        return lifecycle.Result(Outcome.SKIPPED_MISSING)
    if version_id and version_id != current.version_id:
        facts = {"version_id": version_id, "current_version_id": current.version_id}
        return lifecycle.Result(Outcome.SKIPPED_NONCURRENT, facts)
    if not force and shows(as_read, key, current, config, bucket):
        return lifecycle.Result(Outcome.SKIPPED_UP_TO_DATE, {"etag": current.etag})
    obj = ObjectCreated(
        bucket, key, current.size, current.etag, as_read.sequencer, current.version_id
    )
    return lifecycle.create(obj, config, store.owner_of(obj, attempt), until, as_read)


def shows(
    row: store.Snapshot, key: str, current: objects.Current, config: ResizeSettings, bucket: str
) -> bool:
    """True when ``row`` indexes the ``current`` object as ``config`` would now: rejected, or
    rendered with exactly the configured renditions at the keys they would get now."""
    if row.source_etag.strip('"') != current.etag.strip('"'):
        return False
    if row.status == Outcome.REJECTED:
        return True
    if row.status != Outcome.OK or row.thumbnail_bucket != (config.thumbnail_bucket or bucket):
        return False
    specs = {spec.name: spec for spec in config.renditions}
    if set(row.renditions) != set(specs):
        return False
    try:
        return all(
            lifecycle.key_of(key, config, specs[name].folder, out_format) == at
            for name, (at, out_format) in row.renditions.items()
        )
    except (KeyTooLong, KeyError):  # a key too long now, or a format this build does not know
        return False
