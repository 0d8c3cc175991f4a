"""S3 Batch Operations "Invoke AWS Lambda function" events, and the answer a job reads back.

A job invokes the function with one event per call (docs/batch-operations.md)::

    1.0: {"invocationSchemaVersion": "1.0", "invocationId": ..., "job": {"id": ...},
          "tasks": [{"taskId", "s3Key", "s3VersionId", "s3BucketArn"}]}
    2.0: {"invocationSchemaVersion": "2.0", "invocationId": ..., "job": {"id", "userArguments"},
          "tasks": [{"taskId", "s3Key", "s3VersionId", "s3Bucket"}]}

In both, ``s3Key`` is URL-encoded (spaces as ``+``, the rest percent-encoded UTF-8) and is
decoded here exactly once; ``s3VersionId`` is null where the manifest names no version. The
function answers each task with a result code and a short result string, which the job's
completion report lists::

    {"invocationSchemaVersion", "treatMissingKeysAs": "PermanentFailure", "invocationId",
     "results": [{"taskId", "resultCode", "resultString"}]}

``Succeeded`` and ``PermanentFailure`` are final; Batch Operations invokes the function again for
a ``TemporaryFailure``. Which errors are temporary is decided here, once. No AWS calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from handlers.index import store
from handlers.index.events import Unreadable
from handlers.index.outcomes import Outcome

SCHEMA_VERSIONS: Final = ("1.0", "2.0")
# The one user argument (schema 2.0's job.userArguments): "true" renders every task's object,
# even one whose row already shows it with the configured renditions (after JPEG_QUALITY, say).
FORCE: Final = "force"
_FORCE_VALUES: Final = {"true": True, "false": False}
# Our cap on a result string: the completion report is a CSV a person reads.
RESULT_STRING_CHARS: Final = 256

# Errors worth another invocation: throttling (S3, DynamoDB, STS) and any 5xx answer.
THROTTLING: Final = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


class ResultCode(StrEnum):
    SUCCEEDED = "Succeeded"
    TEMPORARY_FAILURE = "TemporaryFailure"  # Batch Operations invokes the function again
    PERMANENT_FAILURE = "PermanentFailure"


# A task whose key holds nothing failed for good; every other outcome is the task done (the row
# says what became of the object: rendered, rejected and why, or already shown).
_FAILED: Final = {Outcome.SKIPPED_MISSING: ResultCode.PERMANENT_FAILURE}


@dataclass(frozen=True)
class Task:
    task_id: str
    bucket: str
    key: str  # decoded
    version_id: str  # empty: whatever is current
    problem: str = ""  # why the task cannot be done (then bucket and key may be empty)


@dataclass(frozen=True)
class Invocation:
    invocation_id: str
    schema_version: str
    job_id: str
    force: bool
    tasks: tuple[Task, ...]
    problem: str = ""  # why no task of it can be done (an unknown schema, a bad argument)


@dataclass(frozen=True)
class TaskResult:
    code: ResultCode
    text: str


def is_batch(event: Mapping[str, Any]) -> bool:
    """True for an S3 Batch Operations invocation (whatever its schema version)."""
    return "invocationSchemaVersion" in event and "tasks" in event


def parse(event: Mapping[str, Any]) -> Invocation:
    """The invocation and its tasks. A task that cannot be read carries its problem, so it is
    answered PermanentFailure and the others go on. Raises Unreadable when the event cannot be
    answered at all (no invocationId, no task list)."""
    invocation_id, tasks = event.get("invocationId"), event.get("tasks")
    if not isinstance(invocation_id, str) or not isinstance(tasks, list):
        raise Unreadable("an S3 Batch Operations event needs invocationId and a tasks list")
    version = str(event.get("invocationSchemaVersion"))
    job = event.get("job")
    job = job if isinstance(job, Mapping) else {}
    force, problem = _arguments(job.get("userArguments") if version == "2.0" else None)
    if version not in SCHEMA_VERSIONS:
        problem = f"invocationSchemaVersion {version!r} is not one of {', '.join(SCHEMA_VERSIONS)}"
    return Invocation(
        invocation_id=invocation_id,
        schema_version=version,
        job_id=str(job.get("id", "")),
        force=force,
        tasks=tuple(_task(task, version) for task in tasks),
        problem=problem,
    )


def _arguments(arguments: object) -> tuple[bool, str]:
    """``force``, and why the arguments are refused (an unknown key is a typo: every task fails,
    so the job stops at its failure threshold instead of doing the wrong thing)."""
    if arguments is None:
        return False, ""
    if not isinstance(arguments, Mapping):
        return False, "job.userArguments is not an object"
    unknown = sorted(set(arguments) - {FORCE})
    if unknown:
        return False, f"unknown userArguments {unknown}: the one known is {FORCE!r}"
    value = arguments.get(FORCE, "false")
    if value not in _FORCE_VALUES:
        return False, f"userArguments.{FORCE} is {value!r}, not 'true' or 'false'"
    return _FORCE_VALUES[value], ""


def _task(task: object, version: str) -> Task:
    if not isinstance(task, Mapping):
        return Task("", "", "", "", problem="the task is not an object")
    task_id = str(task.get("taskId", ""))
    key, bucket, version_id = task.get("s3Key"), _bucket(task, version), task.get("s3VersionId")
    if not isinstance(key, str) or not key:
        return Task(task_id, bucket, "", "", problem="s3Key is not a string")
    if not bucket:
        field = "s3BucketArn" if version == "1.0" else "s3Bucket"
        return Task(task_id, "", key, "", problem=f"{field} names no bucket")
    try:
        decoded = unquote_plus(key, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return Task(task_id, bucket, key, "", problem="s3Key is not URL-encoded UTF-8")
    if version_id is not None and not isinstance(version_id, str):
        return Task(task_id, bucket, decoded, "", problem="s3VersionId is not a string")
    # "null": a version written while versioning was off, which is how HeadObject answers it.
    return Task(task_id, bucket, decoded, "" if version_id in (None, "null") else version_id)


def _bucket(task: Mapping[str, Any], version: str) -> str:
    if version != "1.0":
        bucket = task.get("s3Bucket")
        return bucket if isinstance(bucket, str) else ""
    arn = task.get("s3BucketArn")
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[5] if len(parts) == 6 and parts[0] == "arn" else ""  # arn:aws:s3:::NAME


def answer(invocation: Invocation, results: list[TaskResult]) -> dict[str, Any]:
    """The response the job reads: one result per task, in the order of its tasks."""
    return {
        "invocationSchemaVersion": invocation.schema_version,
        "treatMissingKeysAs": ResultCode.PERMANENT_FAILURE.value,
        "invocationId": invocation.invocation_id,
        "results": [
            {"taskId": task.task_id, "resultCode": result.code.value, "resultString": result.text}
            for task, result in zip(invocation.tasks, results, strict=True)
        ],
    }


def done(outcome: Outcome, detail: str = "") -> TaskResult:
    """The result of a task that ran: its outcome, and what a reader of the report wants next
    to it (the reason of a rejection, the version that is not current)."""
    text = f"{outcome.value}: {detail}" if detail else outcome.value
    return result(_FAILED.get(outcome, ResultCode.SUCCEEDED), text)


def refused(problem: str) -> TaskResult:
    return result(ResultCode.PERMANENT_FAILURE, problem)


def failed(exc: Exception) -> TaskResult:
    """The result of a task that raised: temporary when another invocation may succeed
    (throttled, a 5xx, another event holding the row, a connection that failed), else
    permanent, naming the error."""
    if isinstance(exc, store.Busy | store.LeaseLost):
        return result(ResultCode.TEMPORARY_FAILURE, f"busy: {exc}")
    if isinstance(exc, BotoCoreError):
        return result(ResultCode.TEMPORARY_FAILURE, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ClientError):
        error, meta = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {})
        code, status = str(error.get("Code", "")), int(meta.get("HTTPStatusCode") or 0)
        temporary = code in THROTTLING or status >= 500
        kind = ResultCode.TEMPORARY_FAILURE if temporary else ResultCode.PERMANENT_FAILURE
        return result(kind, f"{code or status} on {exc.operation_name}")
    return result(ResultCode.PERMANENT_FAILURE, f"internal error: {type(exc).__name__}")


def result(code: ResultCode, text: str) -> TaskResult:
    return TaskResult(code, text[:RESULT_STRING_CHARS])
