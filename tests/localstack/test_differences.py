"""Where each local server differs from AWS for the calls thumbstat makes: docs/emulators.md has
the table, these tests hold each server to its column. Every test runs on moto's server (in the
default run) and on each emulator (``-m localstack``, ``-m ministack``).

They do not test thumbstat: they pin what it runs against, so that an emulator release that
changes an answer fails here, by name, before a flow test fails for a reason hard to see. The
flow tests (test_flow.py) rely on none of these differences.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Final
from urllib.parse import unquote_plus

import botocore.session
import pytest
from botocore.exceptions import ClientError

from devstack import clients
from devstack.endpoints import pointed_at
from handlers.common import aws
from tests.localstack.conftest import EMULATORS

SERVERS: Final = ("moto", *EMULATORS)


@pytest.fixture(
    params=[
        pytest.param("moto", id="moto"),
        *(pytest.param(name, marks=getattr(pytest.mark, name), id=name) for name in EMULATORS),
    ]
)
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The server's name, this process pointed at it."""
    if request.param == "moto":
        endpoint: str = request.getfixturevalue("moto_server")
    else:
        endpoint = request.getfixturevalue(request.param).endpoint
    with pointed_at(endpoint):
        yield request.param


def _unique(what: str) -> str:
    return f"thumbstat-{what}-{uuid.uuid4().hex[:10]}"


def _answer(call: Callable[[], Any]) -> str:
    """The HTTP status a call gets, as a string."""
    try:
        return str(call()["ResponseMetadata"]["HTTPStatusCode"])
    except ClientError as exc:
        return str(exc.response["ResponseMetadata"]["HTTPStatusCode"])


# DeleteObject with If-Match (handlers.index.objects deletes renditions so): a wrong ETag, a
# missing key, and "*" on a missing key. AWS: 412, 404, 404.
CONDITIONAL_DELETE: Final = {
    "moto": ("412", "404", "204"),
    "localstack": ("501", "501", "501"),
    "ministack": ("412", "404", "404"),
}


def test_conditional_delete(server: str) -> None:
    s3, bucket = aws.s3(), _unique("delete")
    s3.create_bucket(Bucket=bucket)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    answers = (
        _answer(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)),
        _answer(lambda: s3.delete_object(Bucket=bucket, Key="missing", IfMatch=etag)),
        _answer(lambda: s3.delete_object(Bucket=bucket, Key="missing", IfMatch="*")),
    )
    assert answers == CONDITIONAL_DELETE[server]
    # Whatever the answer, the wrong ETag deleted nothing.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"


def test_conditional_get_and_put(server: str) -> None:
    """GetObject with If-Match (resize downloads exactly the version its event names) and
    PutObject with If-Match / If-None-Match: 412 on the wrong version everywhere, as on AWS."""
    s3, bucket = aws.s3(), _unique("get")
    s3.create_bucket(Bucket=bucket)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert _answer(lambda: s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)) == "412"
    assert _answer(lambda: s3.get_object(Bucket=bucket, Key="missing", IfMatch=etag)) == "404"
    assert _answer(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfMatch=etag)) == "412"
    assert _answer(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfNoneMatch="*")) == (
        "412"
    )


def _notified_queue(bucket: str, events: list[str], *, through_sns: bool = False) -> str:
    """A queue receiving the bucket's notifications (directly, or through an SNS topic, not raw:
    in the SNS envelope); its URL."""
    sqs = clients.sqs()
    queue_url = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    if through_sns:
        sns: Any = botocore.session.get_session().create_client("sns")  # no stubs for SNS
        topic = sns.create_topic(Name=bucket)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        configuration: Any = {"TopicConfigurations": [{"TopicArn": topic, "Events": events}]}
    else:
        configuration = {"QueueConfigurations": [{"QueueArn": queue_arn, "Events": events}]}
    aws.s3().put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=configuration
    )
    return queue_url


def _records(queue_url: str, count: int, timeout_s: float = 20) -> list[dict[str, Any]]:
    """The S3 records of the queue's messages (out of their SNS envelope), once ``count`` have
    come (or at the timeout); the test event left out."""
    sqs, records = clients.sqs(), list[dict[str, Any]]()
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            if body.get("Type") == "Notification":
                body = json.loads(body["Message"])
            records += body.get("Records", [])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return records


# The sequencer of two PutObjects of one key, in order. AWS: present, the second greater.
SEQUENCERS: Final = {
    "moto": "absent",
    "localstack": "constant",  # 0055AED6DCD90281E5 (AWS's documentation example) in every event
    "ministack": "growing",
}


def test_sequencer_of_two_puts_of_one_key(server: str) -> None:
    s3, bucket = aws.s3(), _unique("sequencer")
    s3.create_bucket(Bucket=bucket)
    queue_url = _notified_queue(bucket, ["s3:ObjectCreated:*"])
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="k", Body=body)
    records = _records(queue_url, 2)
    sequencers = [r["s3"]["object"].get("sequencer") for r in records]
    assert len(sequencers) == 2
    if None in sequencers:
        seen = "absent"
    else:
        width = max(map(len, sequencers))
        first, second = sorted(s.rjust(width, "0") for s in sequencers)
        seen = "constant" if first == second else "growing"
    assert seen == SEQUENCERS[server]


# The key "uploads/k 1.jpg" as an event names it. AWS: "uploads/k+1.jpg" (form-encoded, "/"
# kept); handlers.index.events unquotes either form.
EVENT_KEY: Final = {
    "moto": "uploads%2Fk+1.jpg",
    "localstack": "uploads/k%201.jpg",
    "ministack": "uploads/k+1.jpg",
}


def test_notifications_reach_sqs_directly_and_through_sns(server: str) -> None:
    """Every server delivers S3 notifications to a queue, and to a topic whose subscribed queue
    gets them in the SNS envelope (resize unwraps both)."""
    s3 = aws.s3()
    for through_sns in (False, True):
        bucket = _unique("sns" if through_sns else "sqs")
        s3.create_bucket(Bucket=bucket)
        queue_url = _notified_queue(bucket, ["s3:ObjectCreated:*"], through_sns=through_sns)
        s3.put_object(Bucket=bucket, Key="uploads/k 1.jpg", Body=b"x")
        (record,) = _records(queue_url, 1)
        assert record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["object"]["key"] == EVENT_KEY[server]
        assert unquote_plus(record["s3"]["object"]["key"]) == "uploads/k 1.jpg"


# The events of a versioned bucket's put, delete (a delete marker), and the marker's removal.
# AWS: ObjectCreated:Put, ObjectRemoved:DeleteMarkerCreated, ObjectRemoved:Delete.
AWS_VERSIONED_EVENTS: Final = [
    "ObjectCreated:Put",
    "ObjectRemoved:DeleteMarkerCreated",
    "ObjectRemoved:Delete",
]
VERSIONED_EVENTS: Final = {
    "moto": ["ObjectCreated:Put"],
    "localstack": AWS_VERSIONED_EVENTS,
    "ministack": AWS_VERSIONED_EVENTS,
}


def test_versioned_bucket_events(server: str) -> None:
    s3, bucket = aws.s3(), _unique("versioned")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url = _notified_queue(bucket, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    expected = VERSIONED_EVENTS[server]
    # Waits for three records everywhere, so a server that sends fewer is seen to.
    records = _records(queue_url, 3, timeout_s=5 if len(expected) < 3 else 20)
    # SQS does not keep order: the events in the order of their operations.
    order = {name: i for i, name in enumerate(AWS_VERSIONED_EVENTS)}
    names = sorted((r["eventName"] for r in records), key=order.__getitem__)
    assert names == expected


# How a number written as "65.0" reads back. AWS: "65" (DynamoDB normalises numbers).
NUMBER_READ_BACK: Final = {"moto": "65.0", "localstack": "65", "ministack": "65"}


def test_dynamodb_number_formatting(server: str) -> None:
    dynamodb, table = aws.dynamodb(), _unique("numbers")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "65.0"}})
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert item["n"]["N"] == NUMBER_READ_BACK[server]
    assert Decimal(item["n"]["N"]) == 65  # what the code compares: the number


def test_sqs_redrive_after_max_receives(server: str) -> None:
    """Every server moves a message received maxReceiveCount times to the dead-letter queue on
    the next receive, as SQS does."""
    sqs, name = clients.sqs(), _unique("redrive")
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    queue_url = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="poison")
    received = [
        len(sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []))
        for _ in range(3)
    ]
    assert received == [1, 1, 0]
    moved = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]
