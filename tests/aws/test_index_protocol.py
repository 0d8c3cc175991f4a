"""The bucket, the renditions and the index agree, whatever the order of the work: a property test
over interleavings, against moto's server over real HTTP.

A user writes one key a few times (uploads of different images, an identical re-upload, a file
that is no image, deletes; in a versioned bucket also permanent deletes of the current version and
removals of a delete marker, an undelete). Each write's event is delivered once or twice, in any
order, to the real ``resize.process``, each of whose AWS calls (download, lease, each upload, row
write, each delete) is one step; the test chooses which actor takes the next step, and may make a
processor die before a call (as a timed-out invocation does), after which its event is delivered
again, as SQS does. When everything has run: if the key holds an object, the row names it
(``source-etag``) and S3 holds exactly the renditions the row lists, each made from that object
(its ``source-etag`` metadata), or none when it was rejected; if it holds nothing, the row says
deleted and no rendition is left. No lease and nothing pending is left in the row.
"""

from __future__ import annotations

import functools
import io
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers import resize
from handlers.index import events as s3_events
from handlers.index import store
from handlers.index.settings import ResizeSettings
from tests import events
from tests.aws.conftest import Bucket
from tests.aws.interleavings import Crash, Scheduler

RENDITIONS = "64:auto,32:webp"  # auto: .jpg for the photo, .png for the transparent one
CHOSEN_STEPS = 80  # steps whose actor the test draws; the rest run first-come
MAX_STEPS = 1500
MAX_CRASHES = 2


def _jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (shade, 120, 200 - shade)).save(out, "JPEG", quality=90)
    return out.getvalue()


def transparent_png(width: int = 80, height: int = 60) -> bytes:
    """Real transparency (``auto`` makes a PNG of it): a red block on nothing."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (width // 8, height // 6, width * 5 // 8, height * 2 // 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


CONTENT = {
    "photo": _jpeg(40),
    "other-photo": _jpeg(160),
    "transparent": transparent_png(),
    "not-an-image": b"this is not an image, it is text",
}

PUTS = [("put", name) for name in sorted(CONTENT)]
# Each history starts with an upload, and uploads are most of what follows.
UNVERSIONED = st.builds(
    lambda first, rest: [first, *rest],
    st.sampled_from(PUTS),
    st.lists(st.sampled_from([*PUTS, ("delete",)]), max_size=3),
)
VERSIONED = st.builds(
    lambda first, rest: [first, *rest],
    st.sampled_from(PUTS),
    st.lists(
        st.sampled_from([*PUTS, ("delete",), ("delete-current-version",), ("undelete",)]),
        min_size=1,
        max_size=3,
    ),
)


@dataclass
class World:
    """One key's writes and their events, as S3 would announce them."""

    bucket: str
    key: str
    versioned: bool
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _sequence: Iterator[int] = field(default_factory=lambda: itertools.count(0x1000))

    def write(self, op: tuple[str, ...]) -> None:
        """Do one write (the user's actor: its calls are steps too) and announce it."""
        client = resize_clients_s3()
        if op[0] == "put":
            answer = client.put_object(Bucket=self.bucket, Key=self.key, Body=CONTENT[op[1]])
            self._announce("ObjectCreated:Put", answer["ETag"], answer.get("VersionId", ""))
        elif op[0] == "delete":
            answer = client.delete_object(Bucket=self.bucket, Key=self.key)
            marker = self.versioned and answer.get("DeleteMarker")
            name = "ObjectRemoved:DeleteMarkerCreated" if marker else "ObjectRemoved:Delete"
            self._announce(name, "", answer.get("VersionId", ""))
        else:
            versions = client.list_object_versions(Bucket=self.bucket, Prefix=self.key)
            wanted = "DeleteMarkers" if op[0] == "undelete" else "Versions"
            latest = [v for v in versions.get(wanted, []) if v["IsLatest"] and v["Key"] == self.key]
            if latest:
                version = latest[0]["VersionId"]
                client.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version)
                self._announce("ObjectRemoved:Delete", "", version)

    def _announce(self, name: str, etag: str, version: str) -> None:
        record = events.s3_record(
            self.bucket,
            self.key,
            etag=etag.strip('"'),
            size=1,
            sequencer=f"{next(self._sequence):X}",
        )
        record["eventName"] = name
        if version:
            record["s3"]["object"]["versionId"] = version
        if name.startswith("ObjectRemoved"):
            del record["s3"]["object"]["eTag"], record["s3"]["object"]["size"]
        self.delivered.append(record)


def resize_clients_s3() -> Any:
    from handlers.common import aws

    return aws.s3()


def run(
    world: World, ops: list[tuple[str, ...]], config: ResizeSettings, draw: Callable[..., Any]
) -> list[str]:
    """Every write and every delivery of its event, interleaved as ``draw`` chooses; returns the
    trace of steps."""
    scheduler = Scheduler()
    try:
        return _run(scheduler, world, ops, config, draw)
    finally:
        scheduler.close()


def _run(
    scheduler: Scheduler,
    world: World,
    ops: list[tuple[str, ...]],
    config: ResizeSettings,
    draw: Callable[..., Any],
) -> list[str]:
    until = time.time() + 3600

    def write_all() -> None:
        for op in ops:
            world.write(op)

    scheduler.start("user", write_all)
    waiting: list[dict[str, Any]] = []  # deliveries not yet picked up
    announced, crashes, steps = 0, 0, 0
    running: dict[str, dict[str, Any]] = {}  # actor -> the record it processes
    attempts = itertools.count()
    while True:
        for record in world.delivered[announced:]:
            waiting.append(record)
            if draw(st.integers(0, 3), "redeliver") == 0:  # S3 delivers at least once
                waiting.append(record)
        announced = len(world.delivered)
        for actor in [a for a in scheduler.actors if a.done and a.name in running]:
            record = running.pop(actor.name)
            if isinstance(actor.error, Crash):
                # The message comes back after its visibility timeout, six times the function's:
                # by then the invocation that died has ended, and so has its lease.
                _lapse(world, config, actor.name)
            if isinstance(actor.error, Crash | store.Busy):
                waiting.append(record)
            elif actor.error is not None:
                raise actor.error
        parked = scheduler.parked()
        options = len(parked) + len(waiting)
        if not options:
            break
        steps += 1
        assert steps < MAX_STEPS, scheduler.trace[-20:]
        chosen = draw(st.integers(0, options - 1), "actor") if steps < CHOSEN_STEPS else 0
        if chosen < len(parked):
            actor = parked[chosen]
            crash = (
                actor.name != "user"
                and crashes < MAX_CRASHES
                and steps < CHOSEN_STEPS
                and draw(st.integers(0, 9), "crash") == 0
            )
            crashes += crash
            scheduler.step(actor, crash=crash)
            continue
        record = waiting.pop(chosen - len(parked))
        (obj,) = s3_events.object_events(events.s3_event(record))
        name = f"{record['eventName'].split(':')[1]}-{obj.sequencer}#{next(attempts)}"
        running[name] = record
        scheduler.start(
            name, functools.partial(resize.process, obj, config, resize.Attempt(name, until))
        )
    return scheduler.trace


def _lapse(world: World, config: ResizeSettings, attempt: str) -> None:
    """End the lease the attempt ``attempt`` holds, if any: its invocation is over."""
    dynamodb = boto3.client("dynamodb")
    row = dynamodb.get_item(
        TableName=config.index_table, Key={"id": {"S": world.key}}, ConsistentRead=True
    ).get("Item", {})
    if row.get(store.LEASE, {}).get("S", "").endswith(f":{attempt}"):
        dynamodb.update_item(
            TableName=config.index_table,
            Key={"id": {"S": world.key}},
            UpdateExpression="SET #until = :zero",
            ExpressionAttributeNames={"#until": store.LEASE_UNTIL},
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )


def check_agreement(bucket: Bucket, key: str) -> None:
    try:
        head = bucket.s3.head_object(Bucket=bucket.name, Key=key)
    except bucket.s3.exceptions.ClientError:
        head = None
    row = bucket.row(key)
    assert row is not None
    assert not {store.LEASE, store.PENDING_DELETES, store.UPLOADING} & set(row), row
    name = key.removeprefix("uploads/")
    made = [k for k in bucket.keys("thumbnails/") if k.split("/", 2)[2].startswith(f"{name}.")]
    if head is None:
        assert row["status"] == "deleted", row
        assert made == []
        return
    etag = head["ETag"].strip('"')
    assert row["source-etag"].strip('"') == etag, row
    if row["status"] == "rejected":
        assert made == []
        return
    assert row["status"] == "ok", row
    listed = {entry["M"]["key"]["S"] for entry in row["renditions"].values()}
    assert sorted(listed) == made
    for rendition in made:
        meta = bucket.s3.head_object(Bucket=bucket.name, Key=rendition)["Metadata"]
        assert meta["source-etag"].strip('"') == etag, (rendition, meta)


@pytest.fixture
def versioned(bucket: Bucket) -> Bucket:
    bucket.s3.put_bucket_versioning(
        Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
    )
    return bucket


_KEYS = itertools.count()
_EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(
    bucket: Bucket, ops: list[tuple[str, ...]], data: st.DataObject, versioned: bool
) -> None:
    key = f"uploads/k{next(_KEYS)}.img"
    config = ResizeSettings.from_env({"RENDITIONS": RENDITIONS, "INDEX_TABLE": bucket.table})
    world = World(bucket.name, key, versioned)
    trace = run(world, ops, config, lambda strategy, label: data.draw(strategy, label=label))
    if not world.delivered:
        return  # nothing was written (an undelete with no delete marker): nothing to index
    try:
        check_agreement(bucket, key)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nops: {ops}\ntrace:\n" + "\n".join(trace)) from exc


@pytest.mark.slow
@_EXAMPLES
@given(ops=UNVERSIONED, data=st.data())
def test_every_interleaving_leaves_bucket_and_index_agreeing(
    bucket: Bucket, ops: list[tuple[str, ...]], data: st.DataObject
) -> None:
    _check(bucket, ops, data, versioned=False)


@pytest.mark.slow
@_EXAMPLES
@given(ops=VERSIONED, data=st.data())
def test_every_interleaving_in_a_versioned_bucket_leaves_them_agreeing(
    versioned: Bucket, ops: list[tuple[str, ...]], data: st.DataObject
) -> None:
    _check(versioned, ops, data, versioned=True)
