"""The resize function: S3 notifications (direct or through SQS/SNS) -> renditions + row.

Entry point only: unpack the event (``handlers.index.events``), guard against recursion and stale
deliveries, run the object's create or delete (``handlers.index.lifecycle``) and log one line per
object. Every AWS error that a retry may fix propagates (direct S3 invocations) or becomes a
``batchItemFailures`` entry (SQS), so Lambda retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

from handlers.common.logs import get_logger, lambda_context, log_json
from handlers.index import events, lifecycle, store
from handlers.index.events import ObjectEvent, ObjectRemoved
from handlers.index.outcomes import Outcome, advice
from handlers.index.settings import ResizeSettings

logger = get_logger(__name__)


@cache
def settings() -> ResizeSettings:
    return ResizeSettings.from_env()


@lambda_context  # the lines of the invocation carry its requestId
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any] | None:
    if events.is_sqs(event):
        return {"batchItemFailures": _handle_sqs(event["Records"])}
    for notification in events.direct_notifications(event):  # S3 -> Lambda, or through SNS
        for obj in events.object_events(notification):
            process(obj)
    return None


def _handle_sqs(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    failures = []
    for message in messages:
        try:
            notification = events.parse_body(message.get("body", ""))
        except ValueError as exc:
            # Not an S3 notification: no retry can fix it, but deleting it would lose it. Reported
            # as failed (Powertools' batch convention), so the queue's redrive policy moves it to
            # the dead-letter queue, where it can be inspected.
            log_json(
                logger,
                logging.ERROR,
                "unreadable-message",
                message_id=message.get("messageId"),
                error=str(exc),
                body=str(message.get("body", ""))[:1000],
            )
            failures.append({"itemIdentifier": str(message["messageId"])})
            continue
        try:
            for obj in events.object_events(notification):
                process(obj)
        except Exception:
            logger.exception("resize failed; message %s will be retried", message.get("messageId"))
            failures.append({"itemIdentifier": str(message["messageId"])})
    return failures


def process(obj: ObjectEvent, config: ResizeSettings | None = None) -> Outcome:
    """Render and index one created object, or delete one removed object's renditions; log one
    line saying what became of it. Returns the outcome: ok, rejected, deleted or a skip."""
    config = config or settings()
    skip = _guard(obj, config)
    if isinstance(obj, ObjectRemoved):
        result = lifecycle.Result(skip) if skip else lifecycle.remove(obj, config)
        log_json(logger, logging.INFO, "delete", **_line(obj, result))
        return result.outcome
    result = (
        lifecycle.Result(skip, {"bytes_in": obj.size}) if skip else lifecycle.create(obj, config)
    )
    hints = advice(
        result.outcome, obj.key
    )  # why, and what to do: for skips a user would not expect
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
    if obj.key.startswith(config.thumbnail_prefix):
        return Outcome.SKIPPED_THUMBNAIL_PREFIX  # our own output: processing it would loop forever
    if not obj.key.startswith(config.source_prefix) or obj.key.endswith("/"):
        return Outcome.SKIPPED_OUTSIDE_SOURCE_PREFIX
    if store.is_stale(config.index_table, obj):
        return Outcome.SKIPPED_STALE
    return None
