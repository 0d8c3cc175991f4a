"""The whole flow on each emulator (LocalStack 4.14 in host mode, MiniStack), no Docker: the
generated ready hook run against it, S3 notifying SQS with the prefix filter (and SNS), the router
invoking resize under awslambdaric, rows in the emulator's DynamoDB, and readings through the
ingest Function URL.

Each test that takes ``emulator`` or ``stack`` runs once per emulator (ids ``[localstack]``,
``[ministack]``). The hook checks come first: they check what the hook created before the
stack's own create-or-find (``create_resources``) runs against the same endpoint.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from devstack import clients, demo, resources
from devstack.endpoints import pointed_at
from devstack.localstack.server import HOOK, READY_DIR, LocalStack
from devstack.ministack.install import VERSION as MINISTACK_VERSION
from devstack.ministack.server import MiniStack
from devstack.stack import EmbeddedStack
from handlers.common import aws
from handlers.device.client import ReadingClient
from handlers.readings.schema import Reading
from infra import tables
from tests import events, flow
from tests.localstack.conftest import Emulator


@pytest.mark.localstack
def test_localstack_ran_the_generated_ready_hook_unchanged(localstack: LocalStack) -> None:
    assert localstack.hook["scripts"] == [
        {"stage": "READY", "name": "thumbstat.sh", "state": "SUCCESSFUL"}
    ]
    assert (localstack.root / READY_DIR / "thumbstat.sh").resolve() == HOOK.resolve()


@pytest.mark.ministack
def test_ministack_is_the_pinned_version_and_the_launcher_ran_the_hook(
    ministack: MiniStack,
) -> None:
    assert ministack.health["version"] == MINISTACK_VERSION
    assert ministack.hook_output.strip().endswith("thumbstat: resources ready")
    assert ministack.started_s < ministack.ready_s


def test_the_hook_created_the_resources(emulator: Emulator) -> None:
    with pointed_at(emulator.endpoint):
        dynamodb, sqs, s3 = aws.dynamodb(), clients.sqs(), aws.s3()
        for definition in resources.TABLES:
            table = dynamodb.describe_table(TableName=str(definition["TableName"]))["Table"]
            request = tables.create_table_request(definition)
            assert table["KeySchema"] == request["KeySchema"]
            assert table["AttributeDefinitions"] == request["AttributeDefinitions"]
        queue_url = sqs.get_queue_url(QueueName=resources.QUEUE)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=resources.DEAD_LETTER_QUEUE)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        assert attributes["VisibilityTimeout"] == str(resources.visibility_timeout_s())
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn
        assert str(redrive["maxReceiveCount"]) == str(resources.MAX_RECEIVE_COUNT)
        configured = s3.get_bucket_notification_configuration(Bucket=resources.BUCKET)
        wanted = resources.notification(attributes["QueueArn"])["QueueConfigurations"]
        assert [_comparable(c) for c in configured["QueueConfigurations"]] == [
            _comparable(c) for c in wanted
        ]


def _comparable(configuration: Any) -> Any:
    """Without the Id S3 assigns, and filter rule names (case-insensitive: S3 answers "Prefix"
    for "prefix") in lower case."""
    rules = configuration["Filter"]["Key"]["FilterRules"]
    return {
        **{k: v for k, v in configuration.items() if k not in ("Id", "Filter")},
        "FilterRules": [{**rule, "Name": rule["Name"].lower()} for rule in rules],
    }


def test_uploads_become_thumbnails_and_index_rows(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    s3 = aws.s3()
    expected = flow.upload_samples(stack, read_image)
    rows = flow.rows_for(stack, flow.all_settled(expected))

    assert set(rows) == expected
    assert rows["uploads/drawing.svg"]["status"] == "rejected"
    assert rows["uploads/holiday/beach day.jpg"]["status"] == "ok"
    assert (
        rows["uploads/holiday/beach day.jpg"]["thumbnail-path"]
        == "thumbnails/200/holiday/beach day.jpg.jpg"
    )
    listed = s3.list_objects_v2(Bucket=stack.resources.bucket, Prefix="thumbnails/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "thumbnails/200/flowers.jpeg.jpg",
        "thumbnails/200/holiday/beach day.jpg.jpg",
    ]
    thumbnail = s3.get_object(Bucket=stack.resources.bucket, Key="thumbnails/200/flowers.jpeg.jpg")
    assert thumbnail["ContentType"] == "image/jpeg" and thumbnail["ContentLength"] > 0
    resize = stack.functions["resize"].reports
    assert resize[0].init_duration_ms is not None
    assert all(r.memory_size_mb == 256 and r.max_memory_used_mb > 0 for r in resize)


def test_a_reupload_of_the_same_key_is_thumbnailed_again(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    """Two uploads of one key, each rendered from its own event. The first upload's event
    delivered late leaves the row on the second version, whether it comes with the sequencer the
    emulator stamped on it or with the newest one (an emulator stamping one constant sequencer):
    older sequencers lose at the row's condition, and the download conditional on the event's
    eTag refuses what the order cannot tell."""
    s3, key = aws.s3(), "uploads/again/photo.jpg"
    rows, etags = [], []
    for image in ("Landscape_6.jpg", "flowers.jpeg"):
        etag = s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=read_image(image))[
            "ETag"
        ].strip('"')

        def indexed(rows: dict[str, dict[str, Any]], etag: str = etag) -> bool:
            row = rows.get(key, {})
            return row.get("source-etag") == etag and "lease" not in row

        row = flow.rows_for(stack, indexed)
        assert row[key]["source-etag"] == etag and row[key]["status"] == "ok"
        rows.append(row[key])
        etags.append(etag)
    first, second = rows
    assert (first["width"], first["height"]) != (second["width"], second["height"])
    assert first["sequencer"] <= second["sequencer"]  # padded: compared as S3 documents

    for sequencer in (first["sequencer"], second["sequencer"]):
        late = events.s3_event(
            events.s3_record(
                stack.resources.bucket,
                key,
                etag=etags[0],
                size=1,
                sequencer=sequencer.lstrip("0") or "0",
            )
        )
        answer, _ = stack.router.invoke("resize", late)
        assert answer is None
        kept = aws.dynamodb().get_item(
            TableName=stack.resources.index_table, Key={"id": {"S": key}}, ConsistentRead=True
        )
        assert tables.plain(kept["Item"])["source-etag"] == etags[1]


def test_upload_delete_and_reupload_leave_no_orphan(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    """Through S3's own notifications. The renditions' deletes are conditional on their ETags:
    MiniStack answers them as AWS does, LocalStack 4.14 answers 501 and they take the fallback
    (HeadObject, compare, delete)."""
    s3, key, bucket = aws.s3(), "uploads/lifecycle/photo.jpg", stack.resources.bucket
    s3.put_object(Bucket=bucket, Key=key, Body=read_image("flowers.jpeg"))
    assert flow.settled(stack, key)["status"] == "ok"
    s3.delete_object(Bucket=bucket, Key=key)
    assert flow.settled(stack, key, "deleted")["status"] == "deleted"
    assert demo.disagreements(stack) == []
    s3.put_object(Bucket=bucket, Key=key, Body=read_image("Landscape_6.jpg"))
    assert flow.settled(stack, key)["status"] == "ok"
    assert demo.disagreements(stack) == []


def test_a_versioned_bucket_delete_marker_and_undelete(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    """A versioned bucket of its own, its events delivered through the router as the queue would:
    the delete marker deletes the renditions, removing the marker renders them again."""
    s3, bucket, key = aws.s3(), "thumbstat-versioned", "uploads/versioned/photo.jpg"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=bucket, Key=key, Body=read_image("flowers.jpeg"))
    sequence = iter(range(0x100, 0x200))

    def deliver(name: str, version: str, etag: str = "") -> None:
        record = events.s3_record(bucket, key, etag=etag, size=1, sequencer=f"{next(sequence):X}")
        record["eventName"], record["s3"]["object"]["versionId"] = name, version
        stack.router.invoke("resize", events.s3_event(record))

    deliver("ObjectCreated:Put", put["VersionId"], put["ETag"].strip('"'))
    assert _thumbnails_of(bucket, "versioned/photo.jpg")
    marker = s3.delete_object(Bucket=bucket, Key=key)
    deliver("ObjectRemoved:DeleteMarkerCreated", marker["VersionId"])
    assert _row(stack, key)["status"] == "deleted"
    assert _thumbnails_of(bucket, "versioned/photo.jpg") == []
    s3.delete_object(Bucket=bucket, Key=key, VersionId=marker["VersionId"])
    deliver("ObjectRemoved:Delete", marker["VersionId"])
    assert _row(stack, key)["status"] == "ok"
    assert _thumbnails_of(bucket, "versioned/photo.jpg") == [
        "thumbnails/200/versioned/photo.jpg.jpg"
    ]


def _row(stack: EmbeddedStack, key: str) -> dict[str, Any]:
    item = aws.dynamodb().get_item(
        TableName=stack.resources.index_table, Key={"id": {"S": key}}, ConsistentRead=True
    )
    return tables.plain(item["Item"])


def _thumbnails_of(bucket: str, below: str) -> list[str]:
    listed = aws.s3().list_objects_v2(Bucket=bucket, Prefix="thumbnails/").get("Contents", [])
    return sorted(o["Key"] for o in listed if o["Key"].split("/", 2)[2].startswith(below))


def test_readings_posted_by_the_device_client_are_stored_and_listed(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    client = ReadingClient(stack.function_url, spool_path=tmp_path / "spool.sqlite3", sign=False)
    readings = [
        Reading(f"2026-11-23T07:{m:02d}:00+01:00", m % 2 == 0, 61 + m, 64) for m in range(4)
    ]
    for reading in readings[:-1]:
        client.spool.add(reading)
    try:
        report = client.send(readings[-1])
    finally:
        client.close()
    assert (report.sent, report.pending) == (4, 0)

    with urllib.request.urlopen(f"{stack.function_url}/readings?day=2026-11-23", timeout=30) as r:
        page = json.loads(r.read())
    assert page["readings"] == [reading.to_json() for reading in readings]
    stored = aws.dynamodb().query(
        TableName=stack.resources.readings_table,
        KeyConditionExpression="Record_Day = :day",
        ExpressionAttributeValues={":day": {"S": "2026-11-23"}},
    )
    assert stored["Count"] == 4


def test_an_upload_through_sns_fan_out_is_thumbnailed(
    stack: EmbeddedStack, read_image: Callable[[str], bytes]
) -> None:
    """S3 -> SNS -> SQS, delivered by the emulator itself: a bucket of its own notifies a topic,
    a queue subscribed to it (not raw: the SNS envelope) feeds the router, and resize unwraps the
    notification from the envelope."""
    s3, sqs = aws.s3(), clients.sqs()
    sns: Any = botocore.session.get_session().create_client("sns")  # no stubs installed for SNS
    bucket, key = "thumbstat-fanout", "uploads/fanout/photo.jpg"
    topic = sns.create_topic(Name="thumbstat-fanout")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="thumbstat-fanout")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    s3.create_bucket(Bucket=bucket)
    # The stack's own notification (events, prefix filter), to the topic instead of the queue.
    (configuration,) = resources.notification(queue_arn)["QueueConfigurations"]
    del configuration["QueueArn"]
    to_topic: Any = {"TopicConfigurations": [{"TopicArn": topic, **configuration}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=to_topic)
    stack.router.poll_queue(queue_url, "resize")
    s3.put_object(Bucket=bucket, Key=key, Body=read_image("flowers.jpeg"))
    row = flow.settled(stack, key)
    assert row["status"] == "ok" and row["thumbnail-path"] == "thumbnails/200/fanout/photo.jpg.jpg"
    assert s3.head_object(Bucket=bucket, Key=row["thumbnail-path"])["ContentLength"] > 0
