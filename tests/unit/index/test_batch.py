"""S3 Batch Operations events as the function reads them and the answer it gives
(handlers/index/batch.py), from the S3 user guide's example events (tests/events)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from handlers.index import batch, store
from handlers.index.events import Unreadable
from handlers.index.outcomes import Outcome
from tests import events

ResultCode = batch.ResultCode


def test_the_documented_1_0_example() -> None:
    invocation = batch.parse(events.load("s3-batch-invoke-1.0"))
    assert (invocation.schema_version, invocation.job_id, invocation.problem) == (
        "1.0",
        "f3cc4f60-61f6-4a2b-8a21-d07600c373ce",
        "",
    )
    assert invocation.invocation_id == "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
    # The guide's ARN holds a region and an account; the bucket is the sixth field either way.
    assert invocation.tasks == (
        batch.Task("dGFza2lkZ29lc2hlcmUK", "amzn-s3-demo-bucket1", "customerImage1.jpg", "1"),
    )


def test_the_documented_2_0_example() -> None:
    invocation = batch.parse(events.load("s3-batch-invoke-2.0"))
    assert invocation.tasks == (
        batch.Task("dGFza2lkZ29lc2hlcmUK", "amzn-s3-demo-bucket", "customerImage1.jpg", ""),
    )
    # Its userArguments ({"k1": "v1", "k2": "v2"}) are not ours.
    assert invocation.problem == "unknown userArguments ['k1', 'k2']: the one known is 'force'"


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize(
    "key",
    [
        "uploads/a b.jpg",
        "uploads/a+b.jpg",
        "uploads/100%.jpg",
        "uploads/%20.jpg",
        "uploads/é😀.jpg",
    ],
    ids=["space", "plus", "percent", "percent-20-as-text", "unicode"],
)
def test_keys_are_decoded_exactly_once(version: str, key: str) -> None:
    [task] = batch.parse(events.batch_invocation(version, "b", key)).tasks
    assert task.key == key and task.bucket == "b" and not task.problem


def test_a_real_bucket_arn() -> None:
    event = events.batch_invocation("1.0", "my-bucket", "k")
    assert batch.parse(event).tasks[0].bucket == "my-bucket"
    event["tasks"][0]["s3BucketArn"] = "my-bucket"  # not an ARN
    assert batch.parse(event).tasks[0].problem == "s3BucketArn names no bucket"


@pytest.mark.parametrize(
    ("version_id", "expected"), [(None, ""), ("null", ""), ("3HL4kqtJ", "3HL4kqtJ")]
)
def test_versions(version_id: str | None, expected: str) -> None:
    event = events.batch_invocation("2.0", "b", "k", version_id=version_id)
    assert batch.parse(event).tasks[0].version_id == expected


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"s3Key": 7}, "s3Key is not a string"),
        ({"s3Key": ""}, "s3Key is not a string"),
        ({"s3Bucket": None}, "s3Bucket names no bucket"),
        ({"s3Key": "%ff"}, "s3Key is not URL-encoded UTF-8"),
        ({"s3VersionId": 3}, "s3VersionId is not a string"),
    ],
)
def test_a_task_that_cannot_be_read_carries_why(change: dict[str, Any], problem: str) -> None:
    event = events.batch_invocation("2.0", "b", "k", "other")
    event["tasks"][0].update(change)
    first, second = batch.parse(event).tasks
    assert first.problem == problem
    assert second.key == "other" and not second.problem  # the others go on


@pytest.mark.parametrize(
    ("arguments", "force", "problem"),
    [
        (None, False, ""),
        ({}, False, ""),
        ({"force": "true"}, True, ""),
        ({"force": "false"}, False, ""),
        ({"force": "yes"}, False, "userArguments.force is 'yes', not 'true' or 'false'"),
        ({"Force": "true"}, False, "unknown userArguments ['Force']: the one known is 'force'"),
    ],
)
def test_user_arguments(arguments: dict[str, str] | None, force: bool, problem: str) -> None:
    invocation = batch.parse(events.batch_invocation("2.0", "b", "k", arguments=arguments))
    assert (invocation.force, invocation.problem) == (force, problem)


def test_schema_1_0_carries_no_arguments() -> None:
    event = events.batch_invocation("1.0", "b", "k")
    event["job"]["userArguments"] = {"force": "true"}  # not part of 1.0: ignored
    assert batch.parse(event).force is False


@pytest.mark.parametrize("version", ["1.1", "3.0", "None"])
def test_other_schema_versions_are_refused(version: str) -> None:
    event = events.batch_invocation("2.0", "b", "k")
    event["invocationSchemaVersion"] = version
    assert batch.parse(event).problem.startswith(f"invocationSchemaVersion {version!r}")


@pytest.mark.parametrize(
    "event",
    [
        {"invocationSchemaVersion": "2.0", "tasks": []},
        {"invocationSchemaVersion": "2.0", "invocationId": "x", "tasks": {}},
    ],
    ids=["no-invocation-id", "tasks-not-a-list"],
)
def test_an_event_that_cannot_be_answered(event: dict[str, Any]) -> None:
    with pytest.raises(Unreadable):
        batch.parse(event)


def test_the_answer_has_the_documented_shape() -> None:
    invocation = batch.parse(events.batch_invocation("1.0", "b", "k1", "k2"))
    answer = batch.answer(invocation, [batch.done(Outcome.OK), batch.done(Outcome.SKIPPED_MISSING)])
    assert answer == {
        "invocationSchemaVersion": "1.0",
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": invocation.invocation_id,
        "results": [
            {"taskId": "task-0", "resultCode": "Succeeded", "resultString": "ok"},
            {
                "taskId": "task-1",
                "resultCode": "PermanentFailure",
                "resultString": "skipped-missing",
            },
        ],
    }


def test_only_a_missing_key_fails_of_the_outcomes() -> None:
    for outcome in Outcome:
        expected = (
            ResultCode.PERMANENT_FAILURE
            if outcome is Outcome.SKIPPED_MISSING
            else ResultCode.SUCCEEDED
        )
        assert batch.done(outcome).code is expected, outcome


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutItem")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        *[(_client_error(c, 400), ResultCode.TEMPORARY_FAILURE) for c in sorted(batch.THROTTLING)],
        (_client_error("SlowDown", 503), ResultCode.TEMPORARY_FAILURE),
        (_client_error("InternalServerError", 500), ResultCode.TEMPORARY_FAILURE),
        (_client_error("Whatever", 599), ResultCode.TEMPORARY_FAILURE),
        (_client_error("ValidationException", 499), ResultCode.PERMANENT_FAILURE),
        (_client_error("AccessDeniedException", 400), ResultCode.PERMANENT_FAILURE),
        (store.Busy("k", "other", 0), ResultCode.TEMPORARY_FAILURE),
        (store.LeaseLost("k"), ResultCode.TEMPORARY_FAILURE),
        (EndpointConnectionError(endpoint_url="http://x"), ResultCode.TEMPORARY_FAILURE),
        (ValueError("a bug"), ResultCode.PERMANENT_FAILURE),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, ResultCode) else v.value,
)
def test_errors_are_temporary_or_permanent(error: Exception, code: ResultCode) -> None:
    assert batch.failed(error).code is code


@pytest.mark.parametrize("length", [batch.RESULT_STRING_CHARS, batch.RESULT_STRING_CHARS + 1])
def test_result_strings_are_capped(length: int) -> None:
    text = "x" * length
    assert batch.refused(text).text == text[: batch.RESULT_STRING_CHARS]
