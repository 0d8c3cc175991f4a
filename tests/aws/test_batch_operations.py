"""The resize function as an S3 Batch Operations job invokes it ("Invoke AWS Lambda function",
invocation schema 1.0 and 2.0), against moto's server over real HTTP: what each task renders,
what it answers, and how it slots in among the key's own events (docs/index-protocol.md,
"Batch Operations tasks")."""

from __future__ import annotations

import functools
import io
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers import resize
from handlers.common import aws
from handlers.index import events as s3_events
from handlers.index import store
from handlers.index.events import Unreadable
from handlers.index.outcomes import Outcome
from handlers.index.settings import ResizeSettings
from tests import events
from tests.aws.conftest import Bucket
from tests.aws.dynamodb_proxy import DynamoDBProxy
from tests.aws.interleavings import Crash, Scheduler
from tests.aws.test_index_protocol import (
    MAX_STEPS,
    PUTS,
    RENDITIONS,
    World,
    _lapse,
    check_agreement,
)

VERSIONS = ["1.0", "2.0"]
KEY = "uploads/batch.jpg"
# Spaces, a literal "+", a literal "%" (and "%20" as text), Unicode outside the BMP.
AWKWARD_KEY = "uploads/holiday 2024/a+b 100% %20 café 😀.jpg"


def invoke(bucket: Bucket, *keys: str, version: str = "2.0", **options: Any) -> dict[str, Any]:
    return answered(events.batch_invocation(version, bucket.name, *keys, **options))


def answered(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    answer = resize.handler(event, context)
    assert answer is not None
    return answer


def results(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["resultCode"], r["resultString"]) for r in answer["results"]]


def renditions(bucket: Bucket, key: str = KEY) -> list[str]:
    name = key.removeprefix("uploads/")
    return [k for k in bucket.keys("thumbnails/") if k.split("/", 2)[2].startswith(f"{name}.")]


def photo(shade: int = 90) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (shade, 120, 200 - shade)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def versioned(bucket: Bucket) -> Bucket:
    bucket.s3.put_bucket_versioning(
        Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
    )
    return bucket


@pytest.mark.parametrize("version", VERSIONS)
def test_a_task_renders_the_object_and_answers_as_documented(
    bucket: Bucket, image: bytes, version: str
) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    sent = events.batch_invocation(version, bucket.name, KEY)

    answer = resize.handler(sent)

    assert answer == {
        "invocationSchemaVersion": version,
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": sent["invocationId"],
        "results": [{"taskId": "task-0", "resultCode": "Succeeded", "resultString": "ok"}],
    }
    row = bucket.row(KEY)
    assert row is not None and row["status"] == "ok"
    assert renditions(bucket) == [row["thumbnail-path"]]
    check_agreement(bucket, KEY)


@pytest.mark.parametrize("version", VERSIONS)
def test_keys_are_url_decoded_exactly_once(bucket: Bucket, image: bytes, version: str) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=AWKWARD_KEY, Body=image)

    assert results(invoke(bucket, AWKWARD_KEY, version=version)) == [("Succeeded", "ok")]

    row = bucket.row(AWKWARD_KEY)
    assert row is not None and row["status"] == "ok"
    assert row["fullsize-path"] == AWKWARD_KEY
    check_agreement(bucket, AWKWARD_KEY)


def test_percent_encoded_spaces_decode_too(bucket: Bucket, image: bytes) -> None:
    """A manifest may encode a space as %20 rather than +: both are a space."""
    key = "uploads/two words.jpg"
    bucket.s3.put_object(Bucket=bucket.name, Key=key, Body=image)
    event = events.batch_invocation("2.0", bucket.name, key)
    event["tasks"][0]["s3Key"] = "uploads/two%20words.jpg"

    assert results(answered(event)) == [("Succeeded", "ok")]
    assert bucket.row(key) is not None


def test_a_second_run_finds_the_row_up_to_date_unless_forced(bucket: Bucket, image: bytes) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]
    first = bucket.row(KEY)

    assert results(invoke(bucket, KEY)) == [("Succeeded", "skipped-up-to-date")]
    assert bucket.row(KEY) == first  # not written

    forced = invoke(bucket, KEY, arguments={"force": "true"})
    assert results(forced) == [("Succeeded", "ok")]
    second = bucket.row(KEY)
    assert second is not None and second["processed-at"] != first["processed-at"]  # type: ignore[index]
    check_agreement(bucket, KEY)


def test_a_row_made_by_the_event_is_up_to_date(bucket: Bucket, image: bytes) -> None:
    """The common case of a re-render job over a bucket the function already indexed."""
    record = bucket.upload(KEY, image)
    resize.handler(events.s3_event(record))

    assert results(invoke(bucket, KEY, version="1.0")) == [("Succeeded", "skipped-up-to-date")]


def test_a_row_rendered_under_other_renditions_is_rendered_again(
    bucket: Bucket, image: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RENDITIONS changed since: the task renders the new set and deletes the old one."""
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]
    old = renditions(bucket)

    monkeypatch.setenv("RENDITIONS", "64:webp,32:png")
    resize.settings.cache_clear()
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]

    now = renditions(bucket)
    assert sorted(now) == ["thumbnails/32/batch.jpg.png", "thumbnails/64/batch.jpg.webp"]
    assert not set(old) & set(now)
    assert results(invoke(bucket, KEY)) == [("Succeeded", "skipped-up-to-date")]
    check_agreement(bucket, KEY)


def test_a_row_whose_thumbnail_prefix_changed_is_rendered_again(
    bucket: Bucket, image: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]

    monkeypatch.setenv("THUMBNAIL_PREFIX", "thumbs/")
    resize.settings.cache_clear()
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]
    assert bucket.keys("thumbnails/") == []
    assert [k.split("/")[0] for k in bucket.keys("thumbs/")] == ["thumbs"]


def test_a_missing_key_is_a_permanent_failure_and_writes_no_row(bucket: Bucket) -> None:
    assert results(invoke(bucket, KEY)) == [("PermanentFailure", "skipped-missing")]
    assert bucket.row(KEY) is None


def test_a_deleted_object_stays_deleted(bucket: Bucket, image: bytes) -> None:
    record = bucket.upload(KEY, image)
    resize.handler(events.s3_event(record))
    bucket.s3.delete_object(Bucket=bucket.name, Key=KEY)
    removal = events.s3_record(bucket.name, KEY, etag="", size=0, sequencer="0055AED6DCD90281FF")
    removal["eventName"] = "ObjectRemoved:Delete"
    resize.handler(events.s3_event(removal))
    deleted = bucket.row(KEY)

    assert results(invoke(bucket, KEY)) == [("PermanentFailure", "skipped-missing")]
    assert bucket.row(KEY) == deleted
    check_agreement(bucket, KEY)


def test_a_rejected_file_succeeds_with_its_reason(bucket: Bucket) -> None:
    """Rendering ran and its answer is in the row: nothing for the job to retry."""
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=b"not an image at all")

    assert results(invoke(bucket, KEY)) == [("Succeeded", "rejected: unsupported")]
    row = bucket.row(KEY)
    assert row is not None and row["status"] == "rejected"
    assert results(invoke(bucket, KEY)) == [("Succeeded", "skipped-up-to-date")]


def test_keys_outside_the_source_prefix_are_skipped(bucket: Bucket, image: bytes) -> None:
    """An inventory manifest of the whole bucket lists the renditions too: skipped, not failed
    (failures count towards the job's failure threshold)."""
    bucket.s3.put_object(Bucket=bucket.name, Key="thumbnails/200/x.jpg", Body=image)
    bucket.s3.put_object(Bucket=bucket.name, Key="elsewhere/x.jpg", Body=image)

    answer = invoke(bucket, "thumbnails/200/x.jpg", "elsewhere/x.jpg", "uploads/folder/")
    assert results(answer) == [
        ("Succeeded", "skipped-thumbnail-prefix"),
        ("Succeeded", "skipped-outside-source-prefix"),
        ("Succeeded", "skipped-outside-source-prefix"),
    ]
    assert bucket.rows() == 0


def test_each_task_of_an_invocation_is_answered_in_order(bucket: Bucket, image: bytes) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    answer = invoke(bucket, "uploads/missing.jpg", KEY)
    assert [r["taskId"] for r in answer["results"]] == ["task-0", "task-1"]
    assert results(answer) == [("PermanentFailure", "skipped-missing"), ("Succeeded", "ok")]


def test_versioned_bucket_renders_the_named_version_only_while_current(versioned: Bucket) -> None:
    first = versioned.s3.put_object(Bucket=versioned.name, Key=KEY, Body=photo(40))
    second = versioned.s3.put_object(Bucket=versioned.name, Key=KEY, Body=photo(160))

    answer = invoke(versioned, KEY, version="1.0", version_id=first["VersionId"])
    assert results(answer) == [
        ("Succeeded", f"skipped-noncurrent: version {first['VersionId']} is not current")
    ]
    assert versioned.row(KEY) is None

    answer = invoke(versioned, KEY, version="1.0", version_id=second["VersionId"])
    assert results(answer) == [("Succeeded", "ok")]
    row = versioned.row(KEY)
    assert row is not None and row["source-version"] == second["VersionId"]
    assert row["source-etag"].strip('"') == second["ETag"].strip('"')
    check_agreement(versioned, KEY)


def test_versioned_bucket_with_a_current_delete_marker_stays_deleted(
    versioned: Bucket, image: bytes
) -> None:
    put = versioned.s3.put_object(Bucket=versioned.name, Key=KEY, Body=image)
    versioned.s3.delete_object(Bucket=versioned.name, Key=KEY)  # a delete marker

    answer = invoke(versioned, KEY, version_id=put["VersionId"])
    assert results(answer) == [("PermanentFailure", "skipped-missing")]
    assert versioned.row(KEY) is None


def test_a_task_without_a_version_renders_the_current_one(versioned: Bucket) -> None:
    versioned.s3.put_object(Bucket=versioned.name, Key=KEY, Body=photo(40))
    second = versioned.s3.put_object(Bucket=versioned.name, Key=KEY, Body=photo(160))

    assert results(invoke(versioned, KEY)) == [("Succeeded", "ok")]
    row = versioned.row(KEY)
    assert row is not None and row["source-version"] == second["VersionId"]


# --- failures: temporary (the job invokes again) or permanent ------------------------------------
@pytest.fixture
def fail_s3(bucket: Bucket) -> Iterator[Callable[[str, str, int], None]]:
    """fail_s3(operation, code, status): the next call of ``operation`` on the function's S3
    client answers ``code`` with ``status`` (after botocore's own retries, as it raises)."""
    plans: dict[str, tuple[str, int]] = {}

    def before_call(event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation in plans:
            code, status = plans.pop(operation)
            response: Any = {
                "Error": {"Code": code, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(response, operation)

    client = aws.s3()
    client.meta.events.register("before-call.s3", before_call)

    def plan(operation: str, code: str, status: int) -> None:
        plans[operation] = (code, status)

    yield plan
    client.meta.events.unregister("before-call.s3", before_call)


@pytest.mark.parametrize(
    ("operation", "code", "status", "expected"),
    [
        ("HeadObject", "SlowDown", 503, "TemporaryFailure"),
        ("GetObject", "SlowDown", 503, "TemporaryFailure"),
        ("PutObject", "InternalError", 500, "TemporaryFailure"),
        ("PutObject", "ServiceUnavailable", 503, "TemporaryFailure"),
        ("GetObject", "RequestLimitExceeded", 400, "TemporaryFailure"),
        ("PutObject", "AccessDenied", 403, "PermanentFailure"),
        ("GetObject", "InvalidObjectState", 403, "PermanentFailure"),  # archived in Glacier
    ],
    ids=lambda v: str(v),
)
def test_s3_errors_are_temporary_or_permanent(
    bucket: Bucket,
    image: bytes,
    fail_s3: Callable[[str, str, int], None],
    operation: str,
    code: str,
    status: int,
    expected: str,
) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    fail_s3(operation, code, status)

    assert results(invoke(bucket, KEY)) == [(expected, f"{code} on {operation}")]
    row = bucket.row(KEY)  # a lease it took is ended at once, so the retry need not wait
    assert row is None or int(row.get(store.LEASE_UNTIL, 0)) == 0
    # The job invokes a temporary failure again: it finishes the work.
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]
    check_agreement(bucket, KEY)


def test_dynamodb_throttling_is_temporary(
    bucket: Bucket, image: bytes, dynamodb_proxy: DynamoDBProxy
) -> None:
    """ProvisionedThroughputExceededException on every attempt botocore makes, over HTTP."""
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    dynamodb_proxy.throttled["GetItem"] = 20

    [(code, text)] = results(invoke(bucket, KEY))
    assert (code, text) == ("TemporaryFailure", "ProvisionedThroughputExceededException on GetItem")

    dynamodb_proxy.throttled.clear()
    assert results(invoke(bucket, KEY)) == [("Succeeded", "ok")]


def test_a_row_leased_by_another_event_is_a_temporary_failure(bucket: Bucket, image: bytes) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    bucket.dynamodb.put_item(
        TableName=bucket.table,
        Item={
            "id": {"S": KEY},
            "status": {"S": "pending"},
            store.LEASE: {"S": "another-event"},
            store.LEASE_UNTIL: {"N": "9999999999"},
        },
    )

    [(code, text)] = results(invoke(bucket, KEY))
    assert code == "TemporaryFailure" and text.startswith("busy: ")
    assert renditions(bucket) == []


def test_unknown_user_arguments_fail_every_task(bucket: Bucket, image: bytes) -> None:
    """The documented 2.0 example's arguments ({"k1": "v1", ...}) are none of ours: refused, so a
    typo stops the job at its failure threshold instead of rendering with defaults."""
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    answer = invoke(bucket, KEY, arguments={"k1": "v1", "k2": "v2"})
    assert results(answer) == [
        ("PermanentFailure", "unknown userArguments ['k1', 'k2']: the one known is 'force'")
    ]
    assert bucket.row(KEY) is None


def test_an_event_that_cannot_be_answered_raises(bucket: Bucket) -> None:
    event = events.batch_invocation("2.0", bucket.name, KEY)
    del event["invocationId"]
    with pytest.raises(Unreadable):
        resize.handler(event)


def test_an_unknown_schema_version_fails_each_task(bucket: Bucket, image: bytes) -> None:
    bucket.s3.put_object(Bucket=bucket.name, Key=KEY, Body=image)
    event = events.batch_invocation("2.0", bucket.name, KEY)
    event["invocationSchemaVersion"] = "3.0"
    answer = answered(event)
    assert answer["invocationSchemaVersion"] == "3.0"
    assert [r["resultCode"] for r in answer["results"]] == ["PermanentFailure"]
    assert bucket.row(KEY) is None


# --- a task among the key's own events: each AWS call a step (tests/aws/interleavings.py) --------
@dataclass
class Context:
    """What the handler reads of a Lambda context: the attempt's id and its time left."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        return 3_600_000


def run_task(bucket: str, key: str, attempt: str, version: str = "2.0") -> Any:
    """One invocation of the task's job, answering forced renders (so it always writes)."""
    event = events.batch_invocation(version, bucket, key, arguments={"force": "true"})
    return answered(event, Context(attempt))


@pytest.fixture
def protocol_config(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> ResizeSettings:
    monkeypatch.setenv("RENDITIONS", RENDITIONS)
    resize.settings.cache_clear()
    return resize.settings()


def stamped(bucket: Bucket, one_sequencer: bool) -> World:
    """The key's writes, announced with growing sequencers as S3 does, or all with one (as
    LocalStack 4.14 does): then only the row as the task read it keeps an event's write."""
    world = World(bucket.name, KEY, versioned=False)
    if one_sequencer:
        world._sequence = itertools.repeat(0x1000)
    return world


def _event_of(record: dict[str, Any]) -> Any:
    (obj,) = s3_events.object_events(events.s3_event(record))
    return obj


@pytest.mark.parametrize("one_sequencer", [False, True], ids=["aws", "one-sequencer"])
def test_a_delete_processed_while_a_task_renders_wins(
    bucket: Bucket, protocol_config: ResizeSettings, one_sequencer: bool
) -> None:
    """The task has read the row, found the object and downloaded it; the object is deleted
    and its event processed before the task takes the lease: the task writes nothing, and the
    row stays deleted (never resurrected), whatever the sequencers."""
    world = stamped(bucket, one_sequencer)
    world.write(("put", "photo"))
    resize.process(_event_of(world.delivered[0]), protocol_config)
    scheduler = Scheduler()
    try:
        task = scheduler.start("task", functools.partial(run_task, bucket.name, KEY, "t1"))
        while task.parked_at != "dynamodb.UpdateItem":  # the lease: after the download
            scheduler.step(task)
        world.write(("delete",))
        assert resize.process(_event_of(world.delivered[1]), protocol_config) is Outcome.DELETED
        while not task.done:
            scheduler.step(task)
    finally:
        scheduler.close()
    assert task.error is None, task.error
    assert results(task.result) == [("Succeeded", "skipped-stale")]
    check_agreement(bucket, KEY)


def test_a_task_holding_the_lease_makes_a_delete_wait(
    bucket: Bucket, protocol_config: ResizeSettings
) -> None:
    """The task took the lease and uploads; the delete's event finds it held (Busy: retried)
    and, once the task is done, deletes what the task wrote."""
    world = World(bucket.name, KEY, versioned=False)
    world.write(("put", "photo"))
    resize.process(_event_of(world.delivered[0]), protocol_config)
    scheduler = Scheduler()
    try:
        task = scheduler.start("task", functools.partial(run_task, bucket.name, KEY, "t1"))
        while task.parked_at != "s3.PutObject":
            scheduler.step(task)
        world.write(("delete",))
        with pytest.raises(store.Busy):
            resize.process(_event_of(world.delivered[1]), protocol_config)
        while not task.done:
            scheduler.step(task)
    finally:
        scheduler.close()
    assert results(task.result) == [("Succeeded", "ok")]  # the object it rendered was there
    assert resize.process(_event_of(world.delivered[1]), protocol_config) is Outcome.DELETED
    check_agreement(bucket, KEY)


@pytest.mark.parametrize("one_sequencer", [False, True], ids=["aws", "one-sequencer"])
def test_a_create_processed_while_a_task_renders_wins(
    bucket: Bucket, protocol_config: ResizeSettings, one_sequencer: bool
) -> None:
    """The task downloaded the first upload; a second upload's event is processed before the
    task takes the lease: the row shows the second upload, never the task's render."""
    world = stamped(bucket, one_sequencer)
    world.write(("put", "photo"))
    resize.process(_event_of(world.delivered[0]), protocol_config)
    scheduler = Scheduler()
    try:
        task = scheduler.start("task", functools.partial(run_task, bucket.name, KEY, "t1"))
        while task.parked_at != "dynamodb.UpdateItem":
            scheduler.step(task)
        world.write(("put", "other-photo"))
        assert resize.process(_event_of(world.delivered[1]), protocol_config) is Outcome.OK
        while not task.done:
            scheduler.step(task)
    finally:
        scheduler.close()
    assert results(task.result) == [("Succeeded", "skipped-stale")]
    check_agreement(bucket, KEY)


def test_a_task_before_the_first_event_is_overtaken_by_it(
    bucket: Bucket, protocol_config: ResizeSettings
) -> None:
    """No row yet: the task renders and writes one with no sequencer of S3's; the upload's own
    event, processed after, is newer and writes the row again."""
    world = World(bucket.name, KEY, versioned=False)
    world.write(("put", "photo"))
    assert results(run_task(bucket.name, KEY, "t1")) == [("Succeeded", "ok")]
    row = bucket.row(KEY)
    assert row is not None and row["sequencer"] == "0" * store.SEQUENCER_WIDTH
    assert resize.process(_event_of(world.delivered[0]), protocol_config) is Outcome.OK
    row = bucket.row(KEY)
    assert row is not None and row["sequencer"] == store.padded(
        world.delivered[0]["s3"]["object"]["sequencer"]
    )
    check_agreement(bucket, KEY)


# Writes that race the task: each announced, its event delivered (maybe twice) in any order.
RACES = st.lists(st.sampled_from([*PUTS, ("delete",)]), min_size=1, max_size=2)
VERSIONED_RACES = st.lists(
    st.sampled_from([*PUTS, ("delete",), ("delete-current-version",), ("undelete",)]),
    min_size=1,
    max_size=2,
)


def _race(
    bucket: Bucket,
    config: ResizeSettings,
    first: tuple[str, ...],
    ops: list[tuple[str, ...]],
    data: st.DataObject,
    versioned: bool,
) -> None:
    """The first upload (its event processed before, or racing too), then the task and the
    other writes and their events, every step's actor drawn; a task answered TemporaryFailure
    (or that died) is invoked again, as the job does, until it is answered for good."""
    key = f"uploads/b{next(_KEYS)}.img"
    world = World(bucket.name, key, versioned)
    world.write(first)
    if data.draw(st.booleans(), label="first event processed before the task"):
        resize.process(_event_of(world.delivered[0]), config)
        announced = 1
    else:
        announced = 0
    until = time.time() + 3600
    scheduler = Scheduler()
    trace: list[str] = []
    answers: list[Any] = []
    try:

        def write_all() -> None:
            for op in ops:
                world.write(op)

        scheduler.start("user", write_all)
        waiting: list[tuple[str, Any]] = [("task", None)]
        running: dict[str, tuple[str, Any]] = {}
        attempts = itertools.count()
        steps = crashes = 0
        while True:
            for record in world.delivered[announced:]:
                waiting.append(("event", record))
                if data.draw(st.integers(0, 3), label="redeliver") == 0:
                    waiting.append(("event", record))
            announced = len(world.delivered)
            for actor in [a for a in scheduler.actors if a.done and a.name in running]:
                work = running.pop(actor.name)
                if isinstance(actor.error, Crash):
                    _lapse(world, config, actor.name)
                if isinstance(actor.error, Crash | store.Busy):
                    waiting.append(work)
                elif actor.error is not None:
                    raise actor.error
                elif work[0] == "task":
                    answers.append(actor.result)
                    if actor.result["results"][0]["resultCode"] == "TemporaryFailure":
                        waiting.append(work)
            parked = scheduler.parked()
            options = len(parked) + len(waiting)
            if not options:
                break
            steps += 1
            assert steps < MAX_STEPS, scheduler.trace[-20:]
            chosen = data.draw(st.integers(0, options - 1), label="actor") if steps < 80 else 0
            if chosen < len(parked):
                actor = parked[chosen]
                crash = (
                    actor.name != "user"
                    and crashes < 1
                    and steps < 80
                    and data.draw(st.integers(0, 9), label="crash") == 0
                )
                crashes += crash
                scheduler.step(actor, crash=crash)
                continue
            work = waiting.pop(chosen - len(parked))
            if work[0] == "task":
                name = f"task#{next(attempts)}"
                job = functools.partial(run_task, bucket.name, key, name)
            else:
                obj = _event_of(work[1])
                name = f"{work[1]['eventName'].split(':')[1]}-{obj.sequencer}#{next(attempts)}"
                job = functools.partial(resize.process, obj, config, resize.Attempt(name, until))
            running[name] = work
            scheduler.start(name, job)
        trace = scheduler.trace
    finally:
        scheduler.close()
    final = answers[-1]["results"][0]
    try:
        assert final["resultCode"] in ("Succeeded", "PermanentFailure"), answers
        if final["resultCode"] == "PermanentFailure":
            assert final["resultString"] == "skipped-missing", final
        check_agreement(bucket, key)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nops: {[first, *ops]}\nanswers: {answers}\ntrace:\n" + "\n".join(trace)
        ) from exc


_KEYS = itertools.count()
_EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@_EXAMPLES
@given(first=st.sampled_from(PUTS), ops=RACES, data=st.data())
def test_a_task_racing_creates_and_deletes_leaves_bucket_and_index_agreeing(
    bucket: Bucket,
    protocol_config: ResizeSettings,
    first: tuple[str, ...],
    ops: list[tuple[str, ...]],
    data: st.DataObject,
) -> None:
    _race(bucket, protocol_config, first, ops, data, versioned=False)


@pytest.mark.slow
@_EXAMPLES
@given(first=st.sampled_from(PUTS), ops=VERSIONED_RACES, data=st.data())
def test_a_task_racing_writes_in_a_versioned_bucket_leaves_them_agreeing(
    versioned: Bucket,
    protocol_config: ResizeSettings,
    first: tuple[str, ...],
    ops: list[tuple[str, ...]],
    data: st.DataObject,
) -> None:
    _race(versioned, protocol_config, first, ops, data, versioned=True)
