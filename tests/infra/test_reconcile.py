"""``python -m infra.reconcile``: each kind of drift found with its count, ``--fix`` leaving the
bucket and the index in agreement (the embedded stack's router runs the function for the messages
it queues), exit statuses, ``--json``, and the Batch Operations manifest.

Two worlds on moto's server over HTTP: a bucket, table and queue of the test's own, its rows
written by the function's own lifecycle (``handlers.index.lifecycle``); and, for the repairs, the
embedded stack on a moto process of its own, with resize under awslambdaric behind the router.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

import boto3
import pytest
from PIL import Image

from devstack.stack import EmbeddedStack, embedded
from handlers.common import aws
from handlers.imaging import renditions
from handlers.index import lifecycle, store
from handlers.index.events import ObjectCreated, object_events, parse_body
from handlers.index.keys import rendition_key
from handlers.index.settings import INDEX_TABLE, RENDITIONS, ResizeSettings
from infra import reconcile, reconcile_io
from infra.functions import RESIZE
from infra.reconcile_drift import Drift, Listed, Row, Scope, compare, source_of
from infra.reconcile_fix import write_manifest
from infra.tables import IMAGE_INDEX, create_table_request
from tests.e2e.conftest import moto_process

SPEC = "200:auto,64:webp"


def small_jpeg(shade: int = 90) -> bytes:
    sink = io.BytesIO()
    Image.new("RGB", (96, 64), (shade, 120, 200)).save(sink, "JPEG")
    return sink.getvalue()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """reconcile's exit status and its --json document."""
    capsys.readouterr()
    code = reconcile.main([*argv, "--json", "--examples", "100"])
    return code, json.loads(capsys.readouterr().out)


def counts(document: dict[str, Any]) -> dict[str, int]:
    return {kind: entry["count"] for kind, entry in document["drift"].items() if entry["count"]}


# --- the comparison alone ---------------------------------------------------------------------
SCOPE = Scope("b", "b", "uploads/", "thumbnails/", "200:auto")


def test_every_kind_is_found_from_the_listings_alone() -> None:
    present = ["new", "ok", "v", "del", "spec", "old", "older", "lost", "dead", "live"]
    sources = {f"uploads/{n}.jpg": Listed(f"uploads/{n}.jpg", "e", 1) for n in present}
    stored = {
        k: Listed(k, "t", 1) for k in ("thumbnails/200/ok.jpg.jpg", "thumbnails/200/orphan.jpg.jpg")
    }
    auto, jpeg = frozenset({"200:auto"}), frozenset({"100:jpeg"})
    rows = [
        Row("uploads/ok.jpg", "ok", "b", "e", "1", "200:auto", {"thumbnails/200/ok.jpg.jpg": "t"}),
        Row("uploads/v.jpg", "rejected", "b", "other", "1"),
        Row("uploads/del.jpg", "deleted", "b", "e", "1"),
        Row("uploads/gone.jpg", "rejected", "b", "e", "7"),
        Row("uploads/spec.jpg", "ok", None, "e", "1", "100:jpeg", {}, jpeg),
        Row("uploads/old.jpg", "ok", None, "e", "1", None, {}, auto),
        Row("uploads/older.jpg", "ok", None, "e", "1", None, {}, jpeg),
        Row("uploads/lost.jpg", "ok", None, "e", "1", "200:auto", {"thumbnails/200/x.jpg": "z"}),
        Row("uploads/dead.jpg", "pending", None, lease="x", lease_until=5),
        Row("uploads/live.jpg", "pending", None, lease="y", lease_until=2000),
        Row("elsewhere/a.jpg", "ok"),
        Row("uploads/other-bucket.jpg", "ok", "c"),
    ]

    found = compare(SCOPE, sources, rows, stored, now=1000)

    assert {kind: keys for kind, keys in found.found.items() if keys} == {
        Drift.SOURCE_WITHOUT_ROW: ["uploads/del.jpg", "uploads/new.jpg"],
        Drift.ROW_FOR_ANOTHER_VERSION: ["uploads/v.jpg"],
        Drift.ROW_WITHOUT_SOURCE: ["uploads/gone.jpg"],
        Drift.ROW_UNDER_ANOTHER_SPEC: ["uploads/older.jpg", "uploads/spec.jpg"],
        Drift.ROW_WITH_UNKNOWN_SPEC: ["uploads/old.jpg"],
        Drift.RENDITION_MISSING: ["thumbnails/200/x.jpg"],
        Drift.ORPHAN_RENDITION: ["thumbnails/200/orphan.jpg.jpg"],
        Drift.LEASE_EXPIRED: ["uploads/dead.jpg"],
    }
    assert (found.in_flight, found.elsewhere) == (1, 2)
    assert set(found.rerender) == {
        f"uploads/{n}.jpg" for n in ("new", "v", "del", "spec", "older", "lost", "dead")
    }
    assert found.rerender["uploads/v.jpg"].sequencer == "1"  # ordered with its row
    assert found.rerender["uploads/new.jpg"].sequencer == ""  # no row to be ordered with
    assert found.remove == {"uploads/gone.jpg": "7"}
    assert found.drift == 9  # every finding but the unknown spec


def test_what_a_live_lease_is_writing_or_deleting_is_no_orphan() -> None:
    stored = {
        k: Listed(k, "t", 1) for k in ("thumbnails/200/a.jpg.jpg", "thumbnails/200/b.jpg.jpg")
    }
    row = Row(
        "uploads/a.jpg",
        "pending",
        lease="x",
        lease_until=2000,
        in_flight=frozenset(stored),
    )
    found = compare(SCOPE, {"uploads/a.jpg": Listed("uploads/a.jpg", "e", 1)}, [row], stored, 1000)
    assert found.drift == 0 and found.in_flight == 1


def test_a_lease_is_judged_on_both_sides_of_its_end() -> None:
    source = {"uploads/a.jpg": Listed("uploads/a.jpg", "e", 1)}
    row = Row("uploads/a.jpg", "pending", lease="x", lease_until=1000)
    assert compare(SCOPE, source, [row], {}, now=1000).in_flight == 1
    late = compare(SCOPE, source, [row], {}, now=1000.5)
    assert late.found[Drift.LEASE_EXPIRED] == ["uploads/a.jpg"]


@pytest.mark.parametrize(
    "key",
    ["uploads/a.jpg", "uploads/holiday/beach day 1.JPG", "uploads/é+%/x.y.png", "uploads/.jpg"],
    ids=["plain", "folders-and-spaces", "unicode-plus-percent", "dotfile"],
)
@pytest.mark.parametrize(
    "folder,pillow_format", [(200, "JPEG"), (1600, "AVIF"), ("400x300", "WEBP")]
)
def test_a_rendition_key_leads_back_to_its_source(
    key: str, folder: int | str, pillow_format: str
) -> None:
    made = rendition_key(key, "uploads/", "thumbnails/", folder, pillow_format)
    assert source_of(made, "uploads/", "thumbnails/") == key


@pytest.mark.parametrize(
    "key",
    [
        "thumbnails/x.jpg",
        "thumbnails/abc/x.jpg",
        "thumbnails/400x/x.jpg",
        "thumbnails/200/x.gif",
        "other/200/x.jpg",
    ],
)
def test_a_key_no_rendition_has_leads_nowhere(key: str) -> None:
    assert source_of(key, "uploads/", "thumbnails/") is None


# --- the manifest ------------------------------------------------------------------------------
AWKWARD = ["uploads/a b.jpg", "uploads/c+d.jpg", "uploads/100%.jpg", 'uploads/été/ü,"x".jpg']


def test_the_manifest_is_bucket_comma_url_encoded_key(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    assert write_manifest(path, "my-bucket", AWKWARD) == 4
    lines = path.read_bytes().decode("ascii").splitlines()
    assert lines == [
        "my-bucket,uploads/a%20b.jpg",
        "my-bucket,uploads/c%2Bd.jpg",
        "my-bucket,uploads/100%25.jpg",
        "my-bucket,uploads/%C3%A9t%C3%A9/%C3%BC%2C%22x%22.jpg",
    ]
    for line, key in zip(lines, AWKWARD, strict=True):
        _, encoded = line.split(",")
        assert unquote(encoded) == key == unquote_plus(encoded)  # either decoding reads it back


# --- usage -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["--table", "t"],  # no bucket
        ["--bucket", "b", "--renditions", "200:gif"],
        ["--bucket", "b", "--renditions", "200:jpeg,200:auto"],
        ["--bucket", "b", "--thumbnail-prefix", "uploads/", "--source-prefix", "uploads/x/"],
        ["--bucket", "b", "--fix"],  # no queue to send renders to
        ["--bucket", "b", "--segments", "0"],
        ["--bucket", "b", "--segments", "1000001"],
        ["--bucket", "b", "--page-size", "0"],
        ["--bucket", "b", "--no-such-option"],
    ],
    ids=[
        "no-bucket",
        "unknown-format",
        "shared-key",
        "loop",
        "fix-no-queue",
        "segments-0",
        "segments-over",
        "page-size-0",
        "unknown-option",
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        reconcile.main(argv, environ={})
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("segments", [1, 1_000_000])
def test_segments_at_their_limits_are_accepted(segments: int) -> None:
    args = reconcile._parser().parse_args(["--bucket", "b", "--segments", str(segments)])
    assert reconcile.resolve(args, {}, None).scope.bucket == "b"


def test_defaults_are_the_functions_own_and_options_override_them() -> None:
    args = reconcile._parser().parse_args(["--bucket", "b"])
    environ = {"SOURCE_PREFIX": "in", "THUMBNAIL_MAX_SIZE": "300", "INDEX_TABLE": "idx"}
    target = reconcile.resolve(args, environ, None)
    assert (target.scope.source_prefix, target.scope.spec, target.table) == (
        "in/",
        "300:auto",
        "idx",
    )
    args = reconcile._parser().parse_args(["--bucket", "b", "--renditions", "64:webp"])
    assert reconcile.resolve(args, environ, None).scope.spec == "64:webp"  # not both: replaced


def test_the_stack_outputs_read_are_declared_by_the_template(template: dict[str, Any]) -> None:
    read = {
        reconcile_io.BUCKET_OUTPUT,
        reconcile_io.TABLE_OUTPUT,
        reconcile_io.QUEUE_OUTPUT,
        reconcile_io.FUNCTION_OUTPUT,
    }
    assert read <= set(template["Outputs"])


# --- on moto's server: a bucket, table and queue of the test's own -----------------------------
@dataclass
class World:
    bucket: str
    table: str
    queue_url: str
    settings: ResizeSettings

    def args(self, *more: str) -> list[str]:
        return ["--bucket", self.bucket, "--table", self.table, "--renditions", SPEC, *more]

    def render(self, key: str, data: bytes) -> None:
        """Upload, then index it as the function does (its lifecycle, in this process)."""
        etag = aws.s3().put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"].strip('"')
        obj = ObjectCreated(self.bucket, key, len(data), etag, "1")
        result = lifecycle.create(obj, self.settings, "test:" + key, time.time() + 60)
        assert result.outcome == "ok"

    def queued(self) -> list[Any]:
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [
            event
            for message in messages.get("Messages", [])
            for event in object_events(parse_body(message["Body"]))
        ]


@pytest.fixture
def world(aws_env: str, unique: str) -> Iterator[World]:
    bucket, table = f"uploads-{unique}", f"image_metadata-{unique}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("dynamodb").create_table(**create_table_request(IMAGE_INDEX, table))
    queue_url = boto3.client("sqs").create_queue(QueueName=f"uploads-{unique}")["QueueUrl"]
    settings = ResizeSettings.from_env({INDEX_TABLE: table, RENDITIONS: SPEC})
    yield World(bucket, table, queue_url, settings)


def test_rows_record_the_spec_their_renditions_were_made_with(world: World) -> None:
    world.render("uploads/a.jpg", small_jpeg())
    item = boto3.client("dynamodb").get_item(
        TableName=world.table, Key={"id": {"S": "uploads/a.jpg"}}
    )
    assert item["Item"][store.RENDITIONS_SPEC] == {
        "S": renditions.render(world.settings.renditions)
    }


def test_agreement_exits_0_and_drift_1_with_the_json_shape(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.render("uploads/a.jpg", small_jpeg())
    code, document = run(capsys, *world.args())
    assert code == 0 and document["agree"] is True
    assert set(document) == {
        "bucket", "thumbnail_bucket", "table", "source_prefix", "thumbnail_prefix", "renditions",
        "agree", "counts", "drift", "to_render", "to_remove", "fixes", "manifest", "seconds",
        "phases",
    }  # fmt: skip
    assert document["counts"] | {"read_units": 0} == {
        "sources": 1, "rows": 1, "renditions": 2, "in_flight": 0, "elsewhere": 0,
        "scan_pages": 4, "read_units": 0,
    }  # fmt: skip
    assert set(document["drift"]) == {kind.value for kind in Drift}
    assert document["renditions"] == SPEC

    aws.s3().put_object(Bucket=world.bucket, Key="uploads/b.jpg", Body=b"x")
    code, document = run(capsys, *world.args())
    assert code == 1 and document["agree"] is False
    assert document["drift"]["source-without-row"] == {
        "count": 1,
        "counted": True,
        "examples": ["uploads/b.jpg"],
    }

    world.render("uploads/c.jpg", small_jpeg())  # two rows: a page each, at one row a page
    code, paged = run(capsys, *world.args("--page-size", "1", "--segments", "1"))
    assert paged["counts"]["rows"] == 2 and paged["counts"]["scan_pages"] >= 2


def test_the_text_report_gives_counts_and_a_few_examples(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(7):
        aws.s3().put_object(Bucket=world.bucket, Key=f"uploads/{i}.jpg", Body=b"x")
    assert reconcile.main(world.args()) == 1
    text = capsys.readouterr().out
    assert "source-without-row: 7" in text and "... and 2 more" in text
    assert "uploads/4.jpg" in text and "uploads/5.jpg" not in text


def test_fix_queues_the_events_the_function_reads(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A synthetic event per source to render again, ordered with its row; a removal for a row
    whose source is gone; an orphan deleted, a rendition a row names kept."""
    world.render("uploads/kept.jpg", small_jpeg())
    world.render("uploads/gone.jpg", small_jpeg(10))
    aws.s3().delete_object(Bucket=world.bucket, Key="uploads/gone.jpg")  # no event: a lost one
    key = "uploads/a b+c%d é.jpg"
    aws.s3().put_object(Bucket=world.bucket, Key=key, Body=b"not rendered")
    orphan = rendition_key("uploads/nobody.jpg", "uploads/", "thumbnails/", 200, "JPEG")
    aws.s3().put_object(Bucket=world.bucket, Key=orphan, Body=b"o")

    code, document = run(capsys, *world.args("--fix", "--queue-url", world.queue_url))

    assert code == 1
    assert counts(document) == {
        "source-without-row": 1,
        "row-without-source": 1,
        "orphan-rendition": 1,
    }
    assert document["fixes"] == {
        "queued_renders": 1,
        "queued_removals": 1,
        "deleted": [orphan],
        "kept": [],
    }
    events = {event.key: event for event in world.queued()}
    assert set(events) == {key, "uploads/gone.jpg"}
    created = events[key]
    assert isinstance(created, ObjectCreated)
    head = aws.s3().head_object(Bucket=world.bucket, Key=key)
    assert (created.etag, created.size) == (head["ETag"].strip('"'), head["ContentLength"])
    assert events["uploads/gone.jpg"].sequencer == store.padded("1")  # the row's: not stale
    left = aws.s3().list_objects_v2(Bucket=world.bucket, Prefix="thumbnails/")["Contents"]
    assert {o["Key"] for o in left} == {
        rendition_key(k, "uploads/", "thumbnails/", size, fmt)
        for k in ("uploads/kept.jpg", "uploads/gone.jpg")
        for size, fmt in ((200, "JPEG"), (64, "WEBP"))
    }


def test_an_orphan_rewritten_since_it_was_listed_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The delete is conditional on the ETag listed: other bytes there now stay."""
    orphan = "thumbnails/200/x.jpg.jpg"
    aws.s3().put_object(Bucket=world.bucket, Key=orphan, Body=b"first")
    listed = reconcile_io.list_objects

    def then_rewritten(bucket: str, prefix: str, progress: reconcile_io.Progress) -> Any:
        found = listed(bucket, prefix, progress)
        if prefix == "thumbnails/":
            aws.s3().put_object(Bucket=world.bucket, Key=orphan, Body=b"second")
        return found

    monkeypatch.setattr(reconcile_io, "list_objects", then_rewritten)
    _, document = run(capsys, *world.args("--fix", "--queue-url", world.queue_url))
    assert document["fixes"]["kept"] == [orphan]
    body = aws.s3().get_object(Bucket=world.bucket, Key=orphan)["Body"].read()
    assert body == b"second"


def test_an_orphan_a_row_claimed_since_it_was_listed_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its source's row is read again before the delete: a row naming it now keeps it."""
    world.render("uploads/a.jpg", small_jpeg())
    scan = reconcile_io.scan

    def without_the_row(table: str, segments: int, *more: Any) -> Any:
        scanned = scan(table, segments, *more)
        scanned.rows = [row for row in scanned.rows if row.key != "uploads/a.jpg"]
        return scanned

    monkeypatch.setattr(reconcile_io, "scan", without_the_row)
    _, document = run(capsys, *world.args("--fix", "--queue-url", world.queue_url))
    assert len(document["fixes"]["kept"]) == 2 and document["fixes"]["deleted"] == []
    assert len(aws.s3().list_objects_v2(Bucket=world.bucket, Prefix="thumbnails/")["Contents"]) == 2


def test_the_manifest_lists_the_sources_to_render_again(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.render("uploads/fine.jpg", small_jpeg())
    for key in AWKWARD:
        aws.s3().put_object(Bucket=world.bucket, Key=key, Body=b"x")
    path = tmp_path / "manifest.csv"
    code, document = run(capsys, *world.args("--manifest", str(path)))
    assert code == 1 and document["manifest"] == {"path": str(path), "lines": 4}
    decoded = [unquote(line.split(",")[1]) for line in path.read_text().splitlines()]
    assert sorted(decoded) == sorted(AWKWARD)
    assert all(line.startswith(f"{world.bucket},") for line in path.read_text().splitlines())


def test_the_stack_option_reads_the_deployed_outputs(
    world: World, capsys: pytest.CaptureFixture[str], unique: str
) -> None:
    """A CloudFormation stack on moto whose outputs name the test's bucket, table and queue."""
    body = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            reconcile_io.BUCKET_OUTPUT: {"Value": world.bucket},
            reconcile_io.TABLE_OUTPUT: {"Value": world.table},
            reconcile_io.QUEUE_OUTPUT: {"Value": world.queue_url},
        },
    }
    boto3.client("cloudformation").create_stack(
        StackName=f"thumbstat-{unique}", TemplateBody=json.dumps(body)
    )
    aws.s3().put_object(Bucket=world.bucket, Key="uploads/a.jpg", Body=b"x")
    code, document = run(capsys, "--stack", f"thumbstat-{unique}", "--fix")
    assert code == 1 and (document["bucket"], document["table"]) == (world.bucket, world.table)
    assert [event.key for event in world.queued()] == ["uploads/a.jpg"]


@pytest.mark.parametrize(
    "more",
    [
        ["--bucket", "no-such-bucket-reconcile"],
        ["--table", "no-such-table"],
        ["--manifest", "/nonexistent-directory/manifest.csv"],
    ],
    ids=["missing-bucket", "missing-table", "unwritable-manifest"],
)
def test_a_failed_call_exits_3_saying_what_failed(
    world: World, more: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    aws.s3().put_object(Bucket=world.bucket, Key="uploads/a.jpg", Body=b"x")  # to the manifest
    assert reconcile.main([*world.args(), *more]) == reconcile.FAILED == 3
    captured = capsys.readouterr()
    assert "failed: " in captured.err and captured.out == ""


def test_an_unknown_stack_is_a_usage_error(world: World) -> None:
    with pytest.raises(SystemExit) as exited:
        reconcile.main(["--stack", "no-such-stack"])
    assert exited.value.code == 2


# --- --fix through the function: the embedded stack ---------------------------------------------
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """On a moto process of its own: the stack's fixed names see no other test's objects."""
    log = tmp_path_factory.mktemp("functions") / "functions.log"
    with (
        contextmanager(moto_process)() as endpoint,
        log.open("wb") as sink,
        embedded(endpoint=endpoint, log=sink) as running,
    ):
        yield running


def _settled(stack: EmbeddedStack, keys: set[str], timeout_s: float = 90) -> dict[str, Any]:
    """The raw items of ``keys`` once each is settled (a row, no lease)."""
    deadline = time.monotonic() + timeout_s
    while True:
        items = aws.dynamodb().scan(TableName=stack.resources.index_table)["Items"]
        rows = {item["id"]["S"]: item for item in items}
        if all(k in rows and store.LEASE not in rows[k] for k in keys):
            return rows
        assert time.monotonic() < deadline, f"not settled: {keys - set(rows)}"
        time.sleep(0.25)


def _agreeing(
    stack: EmbeddedStack, capsys: pytest.CaptureFixture[str], timeout_s: float = 90
) -> dict[str, Any]:
    argv = ["--bucket", stack.resources.bucket, "--renditions", RESIZE.environment[RENDITIONS]]
    deadline = time.monotonic() + timeout_s
    while True:
        code, document = run(capsys, *argv)
        if code == 0 and document["counts"]["in_flight"] == 0:
            return document
        assert time.monotonic() < deadline, counts(document)
        time.sleep(0.5)


@pytest.mark.slow
def test_one_of_each_drift_is_found_and_fix_leaves_them_agreeing(
    stack: EmbeddedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, dynamodb = aws.s3(), aws.dynamodb()
    bucket, table = stack.resources.bucket, stack.resources.index_table
    names = ["keep", "no row", "spec", "unknown spec", "missing", "leased", "version"]
    keys = {name: f"uploads/{name}.jpg" for name in names}
    for i, key in enumerate(keys.values()):
        s3.put_object(Bucket=bucket, Key=key, Body=small_jpeg(20 * i))
    rows = _settled(stack, set(keys.values()))
    assert _agreeing(stack, capsys)["counts"]["sources"] == len(keys)

    def set_attributes(name: str, attributes: dict[str, Any]) -> None:
        item = {**rows[keys[name]], **attributes}
        dynamodb.put_item(TableName=table, Item=item)

    def without(name: str, attribute: str) -> None:
        item = dict(rows[keys[name]])
        del item[attribute]
        dynamodb.put_item(TableName=table, Item=item)

    dynamodb.delete_item(TableName=table, Key={"id": {"S": keys["no row"]}})
    set_attributes("spec", {store.RENDITIONS_SPEC: {"S": "100:jpeg"}})
    without("unknown spec", store.RENDITIONS_SPEC)
    missing = rows[keys["missing"]]["thumbnail-path"]["S"]
    s3.delete_object(Bucket=bucket, Key=missing)
    set_attributes("leased", {store.LEASE: {"S": "dead"}, store.LEASE_UNTIL: {"N": "1"}})
    set_attributes("version", {"source-etag": {"S": "0" * 32}})
    stray = rendition_key("uploads/stray.png", "uploads/", "thumbnails/", 200, "PNG")
    s3.put_object(Bucket=bucket, Key=stray, Body=b"stray")
    # A row for a source that is not there, naming a rendition that is.
    gone, gone_rendition = "uploads/gone.jpg", "thumbnails/200/gone.jpg.jpg"
    etag = s3.put_object(Bucket=bucket, Key=gone_rendition, Body=b"r")["ETag"]
    gone_row = json.loads(json.dumps(rows[keys["keep"]]).replace(keys["keep"], gone))
    gone_row["thumbnail-path"] = {"S": gone_rendition}
    gone_row["renditions"] = {
        "M": {"200:auto": {"M": {"key": {"S": gone_rendition}, "etag": {"S": etag}}}}
    }
    dynamodb.put_item(TableName=table, Item=gone_row)

    argv = ["--bucket", bucket, "--renditions", RESIZE.environment[RENDITIONS]]
    code, document = run(capsys, *argv)

    assert code == 1
    no_row_rendition = rows[keys["no row"]]["thumbnail-path"]["S"]
    assert counts(document) == {
        "source-without-row": 1,
        "row-for-another-version": 1,
        "row-without-source": 1,
        "row-under-another-spec": 1,
        "row-with-unknown-spec": 1,
        "rendition-missing": 1,
        "orphan-rendition": 2,
        "lease-expired": 1,
    }
    drift = document["drift"]
    assert drift["orphan-rendition"]["examples"] == sorted([stray, no_row_rendition])
    assert drift["rendition-missing"]["examples"] == [missing]
    assert drift["row-with-unknown-spec"]["counted"] is False
    assert (document["to_render"], document["to_remove"]) == (5, 1)

    code, document = run(capsys, *argv, "--fix", "--queue-url", stack.resources.queue_url)
    assert code == 1 and document["fixes"]["deleted"] == sorted([stray, no_row_rendition])

    after = _agreeing(stack, capsys)
    assert counts(after) == {"row-with-unknown-spec": 1}  # reported apart, left alone
    rows = _settled(stack, set(keys.values()) | {gone})
    assert rows[gone]["status"]["S"] == "deleted"
    for name in ("no row", "spec", "missing", "leased", "version"):
        assert rows[keys[name]][store.RENDITIONS_SPEC]["S"] == RESIZE.environment[RENDITIONS]
    # Idempotent: nothing left to queue.
    code, document = run(capsys, *argv, "--fix", "--queue-url", stack.resources.queue_url)
    assert code == 0 and document["fixes"]["queued_renders"] == 0
