"""The events ``sam local generate-event`` makes (tests/events/sam-*.json), as users feed them to
the functions, against moto's server over real HTTP. Each test changes only what it names: the
bucket (moto's is per test) and, where it says so, the eTag."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import boto3
import pytest

from devstack.router import sqs_record
from handlers import ingest, resize
from handlers.index.outcomes import Outcome
from handlers.readings import http_events
from tests import events
from tests.aws.conftest import Bucket, ReadingsTable

KEY = "uploads/HappyFace.jpg"  # the key given to generate-event s3 put


def s3_put(bucket: Bucket, **object_changes: Any) -> dict[str, Any]:
    """sam-s3-put.json aimed at the test's bucket, with ``object_changes`` (None: removed)."""
    event = events.load("sam-s3-put")
    s3 = event["Records"][0]["s3"]
    s3["bucket"].update(name=bucket.name, arn=f"arn:aws:s3:::{bucket.name}")
    for name, value in object_changes.items():
        if value is None:
            del s3["object"][name]
        else:
            s3["object"][name] = value
    return event


def resize_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, dict[str, Any]]]:
    return [
        (record.levelno, json.loads(record.getMessage()))
        for record in caplog.records
        if record.name == "handlers.resize" and record.getMessage().startswith("{")
    ]


def test_placeholder_etag_skip_is_a_warning_that_says_what_to_do(
    bucket: Bucket, image: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    bucket.upload(KEY, image)
    event = s3_put(bucket)
    assert event["Records"][0]["s3"]["object"]["eTag"] == "0123456789abcdef0123456789abcdef"

    with caplog.at_level(logging.INFO, logger="handlers"):
        assert resize.handler(event, None) is None

    assert bucket.keys("thumbnails/") == []
    [(level, line)] = resize_lines(caplog)
    assert level == logging.WARNING
    assert line["outcome"] == Outcome.SKIPPED_CHANGED_OR_DELETED
    assert "ETag" in line["detail"]
    assert "s3.object.eTag" in line["hint"]


@pytest.mark.parametrize(
    "etag", ["the object's", None], ids=["with-the-object-etag", "without-etag"]
)
def test_the_generated_put_with_a_real_or_no_etag_is_thumbnailed(
    bucket: Bucket, image: bytes, etag: str | None
) -> None:
    record = bucket.upload(KEY, image)
    real = record["s3"]["object"]["eTag"]
    resize.handler(s3_put(bucket, eTag=real if etag else None, size=len(image)), None)

    assert bucket.keys("thumbnails/") == ["thumbnails/200/HappyFace.jpg.jpg"]
    row = bucket.row(KEY)
    assert row is not None and row["status"] == Outcome.OK


def test_a_key_outside_the_source_prefix_is_a_warning(
    bucket: Bucket, image: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # generate-event's default key is test/key: outside uploads/.
    bucket.upload("test/key", image)
    with caplog.at_level(logging.INFO, logger="handlers"):
        resize.handler(s3_put(bucket, key="test/key", eTag=None), None)
    [(level, line)] = resize_lines(caplog)
    assert (level, line["outcome"]) == (logging.WARNING, Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX)
    assert "SOURCE_PREFIX" in line["hint"]


def test_a_folder_marker_stays_quiet(bucket: Bucket, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="handlers"):
        resize.handler(s3_put(bucket, key="uploads/folder/", eTag=None), None)
    [(level, line)] = resize_lines(caplog)
    assert (level, line["outcome"]) == (logging.INFO, Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX)
    assert "hint" not in line


def test_s3_through_sns_delivered_directly_is_thumbnailed(bucket: Bucket, image: bytes) -> None:
    record = bucket.upload(KEY, image)
    event = events.load("sam-sns-s3-put")
    assert event["Records"][0]["EventSource"] == "aws:sns"
    message = s3_put(bucket, eTag=record["s3"]["object"]["eTag"], size=len(image))
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)

    assert resize.handler(event, None) is None

    assert bucket.keys("thumbnails/") == ["thumbnails/200/HappyFace.jpg.jpg"]
    assert bucket.rows() == 1


def test_an_sns_message_that_is_not_an_s3_notification_fails_the_invocation(
    bucket: Bucket,
) -> None:
    # "example message": a retry cannot fix it; failing keeps it for the on-failure destination.
    with pytest.raises(ValueError, match="not JSON"):
        resize.handler(events.load("sam-sns-notification"), None)


@pytest.mark.parametrize(
    "event",
    [{}, {"detail-type": "Object Created", "source": "aws.s3"}],
    ids=["empty", "eventbridge"],
)
def test_a_direct_event_that_is_not_an_s3_notification_fails(
    bucket: Bucket, event: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="not an S3 event notification"):
        resize.handler(event, None)


def test_a_queue_message_that_is_not_a_notification_is_a_batch_item_failure(
    bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    event = events.load("sam-sqs-receive-message")
    with caplog.at_level(logging.ERROR, logger="handlers"):
        answer = resize.handler(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert "unreadable-message" in caplog.text


def test_a_json_body_without_records_is_a_batch_item_failure(bucket: Bucket) -> None:
    answer = resize.handler(events.sqs_event({"hello": "from SQS"}), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}


def test_an_unreadable_message_ends_in_the_dead_letter_queue(
    bucket: Bucket, image: bytes, unique: str
) -> None:
    """As the event source mapping does it: receive, invoke, delete what did not fail. With
    maxReceiveCount 1 the second receive moves the failed message to the dead-letter queue; the
    notification beside it in the batch is processed and deleted."""
    sqs: Any = boto3.client("sqs")

    def queue(name: str, **attributes: Any) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, got["Attributes"]["QueueArn"]

    dlq_url, dlq_arn = queue(f"dlq-{unique}")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    queue_url, arn = queue(f"uploads-{unique}", VisibilityTimeout="0", RedrivePolicy=redrive)
    unreadable = events.load("sam-sqs-receive-message")["Records"][0]["body"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=unreadable)
    notification = events.s3_event(bucket.upload(KEY, image))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(notification))

    for _ in range(3):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        answer = resize.handler({"Records": [sqs_record(m, arn, "us-east-1") for m in messages]})
        assert answer is not None
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    assert bucket.keys("thumbnails/") == ["thumbnails/200/HappyFace.jpg.jpg"]
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == [unreadable]


# --- ingest: API Gateway REST (payload 1.0) -----------------------------------------------------
def rest_post(**changes: Any) -> dict[str, Any]:
    event = events.load("sam-apigateway-aws-proxy-post")
    event["headers"].update(changes.pop("headers", {}))
    event.update(changes)
    return event


def test_a_rest_api_post_without_content_type_is_415_not_405(
    readings_table: ReadingsTable,
) -> None:
    # As generated: no Content-Type header. The clear answer a client without it gets.
    answer = ingest.handler(events.load("sam-apigateway-aws-proxy-post"), None)
    assert answer["statusCode"] == 415, answer
    assert readings_table.items() == []


def test_a_rest_api_post_is_stored(readings_table: ReadingsTable) -> None:
    event = rest_post(headers={"Content-Type": "application/json"})
    assert event["isBase64Encoded"] is True  # generate-event encodes the body
    posted = json.loads(base64.b64decode(event["body"]))

    answer = ingest.handler(event, None)

    assert answer["statusCode"] == 201, answer
    body = json.loads(answer["body"])
    assert body["stored"] == 1
    assert body["request_id"] == event["requestContext"]["requestId"]
    [item] = readings_table.items()
    assert item["Record_Date"] == {"S": posted["record_date"]}


def test_a_rest_api_get_reads_the_day_back(readings_table: ReadingsTable) -> None:
    ingest.handler(rest_post(headers={"Content-Type": "application/json"}), None)
    event = events.load("sam-apigateway-aws-proxy-get")
    event["queryStringParameters"] = {"day": "2022-02-03"}

    answer = ingest.handler(event, None)

    assert answer["statusCode"] == 200, answer
    [stored] = json.loads(answer["body"])["readings"]
    assert stored["record_date"].startswith("2022-02-03T13:22:22")


@pytest.mark.parametrize(
    "event",
    [
        {"record_date": "2022-02-03T13:22:22", "temperature": 65},
        events.load("sam-s3-put"),
        {"requestContext": {"http": {}}},
    ],
    ids=["a-reading-invoked-directly", "an-s3-notification", "no-method"],
)
def test_an_event_that_is_not_http_is_a_clear_400(
    readings_table: ReadingsTable, event: dict[str, Any]
) -> None:
    answer = ingest.handler(event, None)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"] == http_events.SPOKEN
    assert readings_table.items() == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (events.function_url("POST", "/readings"), ("POST", "/readings")),
        (events.load("sam-apigateway-aws-proxy-post"), ("POST", "/readings")),
        (events.load("sam-apigateway-aws-proxy-get"), ("GET", "/readings")),
        ({"httpMethod": "get", "path": None}, ("GET", "/")),
        ({"requestContext": "not an object", "rawPath": "/x"}, ("", "/x")),
    ],
    ids=["function-url-2.0", "rest-1.0-post", "rest-1.0-get", "1.0-no-path", "odd-context"],
)
def test_request_lines(event: dict[str, Any], expected: tuple[str, str]) -> None:
    method, path, _ = http_events.request_line(event)
    assert (method, path) == expected
