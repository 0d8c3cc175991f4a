"""The resize function: S3 notifications (direct or through SQS/SNS) -> renditions + row.

Entry point only: unpack the event (``handlers.index.events``), guard against recursion and stale
deliveries, run the object's create or removal (``handlers.index.lifecycle``) and log one line per
object. Each SQS message is judged alone: one that holds no S3 notification is logged and reported
failed (the queue's redrive policy parks it in the dead-letter queue, where it can be read); one
whose work failed in a way a retry may fix (an AWS error, another event of the key holding its
lease) is reported failed and retried; the rest of the batch goes on. A direct or SNS invocation
carries one notification: one that is not S3's fails the invocation with ``Unreadable`` saying why
(before any work), and an AWS error propagates, so Lambda retries it; either way its on-failure
destination keeps what no retry fixed.

An S3 Batch Operations job ("Invoke AWS Lambda function", handlers.index.batch) invokes it with
tasks instead: each names a key to render again (handlers.index.rerender), and is answered with
a result code (``Succeeded``, ``TemporaryFailure``: retried by the job, ``PermanentFailure``) and
a short result string for the job's completion report.
"""

from __future__ import annotations

import logging
import reprlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from handlers.common.logs import get_logger, lambda_context, log_json
from handlers.index import batch, events, lifecycle, rerender, store
from handlers.index.events import ObjectEvent, ObjectRemoved, Unreadable
from handlers.index.outcomes import Outcome, advice
from handlers.index.settings import ResizeSettings

logger = get_logger(__name__)

# How long a lease lasts where the invocation's own end is not known (a call without a Lambda
# context): Lambda's longest timeout.
_LEASE_WITHOUT_CONTEXT_S: Final = 900
_BODY_CHARS: Final = 1000  # of an unreadable message, in its log line


@cache
def settings() -> ResizeSettings:
    return ResizeSettings.from_env()


@lambda_context  # the lines of the invocation carry its requestId
def handler(event: Any, context: object = None) -> dict[str, Any] | None:
    attempt = Attempt(str(getattr(context, "aws_request_id", "") or uuid.uuid4()), _end(context))
    if isinstance(event, Mapping) and events.is_sqs(event):
        return {"batchItemFailures": _handle_sqs(event["Records"], attempt)}
    if isinstance(event, Mapping) and batch.is_batch(event):
        return _handle_batch(event, attempt)
    try:
        found = [obj for n in events.direct_notifications(event) for obj in events.object_events(n)]
    except Unreadable as exc:
        # No retry can fix it: the invocation fails with why, and Lambda's on-failure
        # destination (or dead-letter queue) keeps the event, as it would a message's.
        _unreadable(exc, event)
        raise
    for obj in found:
        process(obj, attempt=attempt)
    return None


@dataclass(frozen=True)
class Attempt:
    """This invocation: its request id (whose leases are its own) and when it ends (epoch
    seconds; its leases last no longer)."""

    request_id: str
    until: float


def _end(context: object) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    seconds = remaining() / 1000 if callable(remaining) else _LEASE_WITHOUT_CONTEXT_S
    return time.time() + seconds + 1


def _handle_sqs(messages: list[Any], attempt: Attempt) -> list[dict[str, str]]:
    failures = []
    for message in messages:
        message_id = str(message.get("messageId", "")) if isinstance(message, Mapping) else ""
        body = message.get("body", "") if isinstance(message, Mapping) else message
        try:
            found = events.object_events(events.parse_body(body))
        except Unreadable as exc:
            # No retry can fix it, and deleting it would lose it: reported failed (Powertools'
            # batch convention), so the redrive policy moves it to the dead-letter queue.
            _unreadable(exc, body, message_id)
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            for obj in found:
                process(obj, attempt=attempt)
        except store.Busy as busy:
            log_json(logger, logging.INFO, "busy", message_id=message_id, detail=str(busy))
            failures.append({"itemIdentifier": message_id})
        except Exception:
            logger.exception("resize failed; message %s will be retried", message_id)
            failures.append({"itemIdentifier": message_id})
    return failures


def _handle_batch(event: Mapping[str, Any], attempt: Attempt) -> dict[str, Any]:
    try:
        invocation = batch.parse(event)
    except Unreadable as exc:
        _unreadable(exc, event)  # no invocationId to answer: the job counts the task failed
        raise
    results = [_batch_task(invocation, task, attempt) for task in invocation.tasks]
    return batch.answer(invocation, results)


def _batch_task(
    invocation: batch.Invocation, task: batch.Task, attempt: Attempt
) -> batch.TaskResult:
    """Do one task and log one line saying what became of it; never raises."""
    line: dict[str, Any] = {"job_id": invocation.job_id, "task_id": task.task_id}
    line |= {"bucket": task.bucket, "key": task.key, "version_id": task.version_id or None}
    problem = invocation.problem or task.problem
    level = logging.INFO
    if problem:
        result, level = batch.refused(problem), logging.WARNING
    elif (skip := _outside(task.key, settings())) is not None:
        result = batch.done(skip)
    else:
        try:
            done = rerender.rerender(
                task.bucket,
                task.key,
                task.version_id,
                settings(),
                attempt.request_id,
                attempt.until,
                invocation.force,
            )
        except Exception as exc:
            result = batch.failed(exc)
            if result.code is batch.ResultCode.PERMANENT_FAILURE:
                logger.exception("batch task %s failed", task.task_id)
        else:
            line |= {"outcome": done.outcome, "ms": dict(done.ms), **done.facts}
            result = batch.done(done.outcome, _detail(done))
            level = logging.WARNING if done.outcome is Outcome.REJECTED else level
    log_json(logger, level, "batch-task", **line, result=result.code, result_string=result.text)
    return result


def _detail(result: lifecycle.Result) -> str:
    """What the report shows next to the outcome: why a file was rejected, which version a task
    named that is not current."""
    if result.outcome is Outcome.REJECTED:
        return str(result.facts.get("reason", ""))
    if result.outcome is Outcome.SKIPPED_NONCURRENT:
        return f"version {result.facts.get('version_id')} is not current"
    return ""


def _unreadable(exc: Exception, what: object, message_id: str | None = None) -> None:
    log_json(
        logger,
        logging.ERROR,
        "unreadable-message",
        message_id=message_id,
        error=str(exc),
        body=(what if isinstance(what, str) else reprlib.repr(what))[:_BODY_CHARS],
    )


def process(
    obj: ObjectEvent, config: ResizeSettings | None = None, attempt: Attempt | None = None
) -> Outcome:
    """Render and index one created object, or act on one removal; log one line saying what
    became of it. Returns the outcome: ok, rejected, deleted or a skip. ``attempt``: the
    invocation (a fresh one, lasting Lambda's longest timeout, when not given)."""
    config = config or settings()
    attempt = attempt or Attempt(uuid.uuid4().hex, _end(None))
    owner, until = store.owner_of(obj, attempt.request_id), attempt.until
    skip = _guard(obj, config)
    if isinstance(obj, ObjectRemoved):
        result = lifecycle.Result(skip) if skip else lifecycle.remove(obj, config, owner, until)
        log_json(logger, logging.INFO, "delete", **_line(obj, result))
        return result.outcome
    if skip:
        result = lifecycle.Result(skip, {"bytes_in": obj.size})
    else:
        result = lifecycle.create(obj, config, owner, until)
    hints = advice(result.outcome, obj.key)  # for skips a user would not expect: why, what to do
    level = logging.WARNING if result.outcome is Outcome.REJECTED or hints else logging.INFO
    log_json(logger, level, "resize", **_line(obj, result), **hints)
    return result.outcome


def _line(obj: ObjectEvent, result: lifecycle.Result) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "ms": dict(result.ms),
        "bucket": obj.bucket,
        "key": obj.key,
        **result.facts,
    }


def _guard(obj: ObjectEvent, config: ResizeSettings) -> Outcome | None:
    """Why this event is none of ours, or None."""
    if (outside := _outside(obj.key, config)) is not None:
        return outside
    if store.is_stale(config.index_table, obj):
        return Outcome.SKIPPED_STALE
    return None


def _outside(key: str, config: ResizeSettings) -> Outcome | None:
    """Why this key is none of ours to render, or None."""
    if key.startswith(config.thumbnail_prefix):
        return Outcome.SKIPPED_THUMBNAIL_PREFIX  # our own output: processing it would loop forever
    if not key.startswith(config.source_prefix) or key.endswith("/"):
        return Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX
    return None
