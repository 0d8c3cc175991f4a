"""The ingest function: Lambda Function URL requests (payload format 2.0) for thermostat readings.

    POST /                      one reading, or a JSON array of readings (a device's backlog)
    GET  /readings?day=DATE     that local day's readings in time order, paginated with `cursor`
    GET  /readings?from=&to=    readings across days (at most 31), in time order
    (handlers.readings.history)
    GET  /summary?day=DATE      per-day summaries, also for from=&to= (handlers.readings.history)
    GET  /chart?day=DATE        the day as an SVG chart (handlers.readings.history)
    GET  /readings/held?day=DATE  clock-suspect readings held apart, by the date they carry
    GET  /health

Every request also writes one Embedded Metric Format line to stdout (handlers.readings.metrics).

Errors map to statuses through one table (``STATUS``), batch outcomes included; storage failures
are logged with their detail and answered with a generic message. Only the errors in ``ANSWERED``
are answered: anything else is a bug, and propagates for the runtime to report. Hostile input is
not a bug: a body nested 100,000 deep or holding a 5,000-digit number, non-ASCII digits, an
impossible date are answered 400 or 422 (tests/aws/test_ingest_hostile.py fuzzes the request
space and checks that nothing else ever happens without an injected storage failure).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final

from handlers.common.errors import (
    BadRequest,
    BodyTooLarge,
    DuplicateReading,
    InvalidReading,
    MethodNotAllowed,
    NotFound,
    RequestError,
    StorageError,
    StorageThrottled,
    ThumbstatError,
    UnsupportedMediaType,
)
from handlers.common.logs import get_logger, lambda_context, log_json
from handlers.readings import history, http_events, metrics
from handlers.readings import store as readings_store
from handlers.readings.history import Answer, Document
from handlers.readings.schema import Reading, item_errors, parse_reading, unknown_fields
from handlers.readings.settings import BATCH_RESERVE_SECONDS, IngestSettings
from handlers.readings.store import Remaining

logger = get_logger(__name__)

NOT_SAVED: Final = "The reading was not saved"

# The errors ingest can meet, with their subclasses (ImageRejected is resize's).
ANSWERED: Final = (RequestError, DuplicateReading, StorageError)

STATUS: Final[dict[type[ThumbstatError], int]] = {
    RequestError: 400,
    BadRequest: 400,
    NotFound: 404,
    MethodNotAllowed: 405,
    DuplicateReading: 409,
    BodyTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidReading: 422,
    StorageError: 500,
    StorageThrottled: 503,
}


@cache
def settings() -> IngestSettings:
    return IngestSettings.from_env()


Route = Callable[[Mapping[str, Any], IngestSettings, Remaining], Answer]


def _remaining(context: object) -> Remaining:
    """Seconds left before Lambda stops this invocation (no context, as in a direct call: no
    limit)."""
    left = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(left):
        return lambda: math.inf
    return lambda: float(left()) / 1000


@lambda_context  # the lines of the invocation carry its requestId
def handler(event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
    started = time.perf_counter()
    method, path, request_id = http_events.request_line(event, context)  # payload 2.0 or 1.0
    try:
        status, body, headers = _route(method, path)(event, settings(), _remaining(context))
    except ANSWERED as exc:
        status, body, headers = _error_answer(exc)
    log_json(
        logger,
        logging.INFO,
        "request",
        method=method,
        path=path,
        status=status,
        request_id=request_id,
        ms=round((time.perf_counter() - started) * 1000, 2),
    )
    metrics.emit(
        metrics.line(
            settings().function_name,
            metrics.counts(method, status, body),
            timestamp_ms=int(time.time() * 1000),
            cold=metrics.cold_start(),
            request_id=request_id,
            status=status,
        )
    )
    if isinstance(body, Document):
        headers = {"content-type": body.media_type, "x-request-id": request_id, **headers}
        return {"statusCode": status, "headers": headers, "body": body.text}
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-request-id": request_id, **headers},
        "body": json.dumps({**body, "request_id": request_id}),
    }


def status_for(error: type[ThumbstatError]) -> int:
    """The status of an error class, or of its nearest listed ancestor."""
    for cls in error.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise LookupError(f"{error.__name__} has no status: list it (or an ancestor) in STATUS")


def _error_answer(exc: ThumbstatError) -> Answer:
    status = status_for(type(exc))
    headers: dict[str, str] = {}
    if isinstance(exc, StorageError):
        # The cause (DynamoDB's own words) goes to the log only.
        logger.error("storage failed: %s", exc, exc_info=exc.__cause__ or exc)
        body: dict[str, Any] = {"error": NOT_SAVED}
        if isinstance(exc, StorageThrottled):
            headers.update(_retry_after(exc))
        return status, body, headers
    body = {"error": str(exc)}
    if isinstance(exc, InvalidReading):
        body = {"error": "invalid reading", "details": exc.errors}
    if isinstance(exc, MethodNotAllowed):
        headers["allow"] = ", ".join(exc.allowed)
    return status, body, headers


def _retry_after(exc: StorageThrottled) -> dict[str, str]:
    return {"retry-after": str(exc.retry_after)}


def _route(method: str, path: str) -> Route:
    if not method:
        raise BadRequest(http_events.SPOKEN)
    routes = _ROUTES.get(path.rstrip("/") or "/")
    if routes is None:
        raise NotFound(f"no such path: {path}")
    if method not in routes:
        raise MethodNotAllowed(f"{method} is not allowed on {path}", tuple(routes))
    return routes[method]


def _post_readings(
    event: Mapping[str, Any], config: IngestSettings, remaining: Remaining
) -> Answer:
    payload = _json_body(event, config)
    if isinstance(payload, list):
        return _store_batch(payload, config, remaining)
    reading = parse_reading(payload)
    extra = _ignored([payload])
    if reading.clock_suspect:  # stored apart from trusted readings (handlers.readings.store)
        extra["held"] = True
    if readings_store.put_reading(config.readings_table, reading, config.retention_days):
        return 201, {"stored": 1, **extra}, {}
    return 200, {"stored": 0, "duplicate": True, **extra}, {}


def _store_batch(payload: list[Any], config: IngestSettings, remaining: Remaining) -> Answer:
    if not payload:
        raise InvalidReading({"readings": "must not be empty"})
    if len(payload) > config.max_batch:
        raise BodyTooLarge(f"{len(payload)} readings; send at most {config.max_batch} at once")
    parsed: list[Reading] = []
    errors: dict[str, str] = {}
    for index, obj in enumerate(payload):
        try:
            parsed.append(parse_reading(obj))
        except InvalidReading as exc:
            errors.update(item_errors(index, exc.errors))
    if errors:
        # All or nothing: the device drops exactly the invalid indexes and resends the rest.
        raise InvalidReading(errors)
    result = readings_store.put_batch(
        config.readings_table,
        parsed,
        config.retention_days,
        remaining=remaining,
        reserve=BATCH_RESERVE_SECONDS,
    )
    body: dict[str, Any] = {
        "stored": len(result.stored),
        "duplicates": result.duplicates,
        "conflicts": result.conflicts,
        "failed": result.failed,
    }
    if result.held:
        body["held"] = result.held
    body.update(_ignored(payload))
    if result.failed:
        # Still throttled after the store's retries, or out of time: the device resends the
        # failed indexes.
        throttled = StorageThrottled("some readings were not written")
        body["error"] = NOT_SAVED
        return status_for(StorageThrottled), body, _retry_after(throttled)
    if result.conflicts:
        body["error"] = "other readings are already stored for some record_date values"
        return status_for(DuplicateReading), body, {}
    return (201 if result.stored else 200), body, {}


def _ignored(objs: list[Any]) -> dict[str, Any]:
    """The unknown fields of all the readings, for the answer (none: no key)."""
    unknown = sorted(
        {name for obj in objs if isinstance(obj, Mapping) for name in unknown_fields(obj)}
    )
    return {"ignored_fields": unknown} if unknown else {}


def _json_body(event: Mapping[str, Any], config: IngestSettings) -> Any:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType("send readings as JSON (content-type: application/json)")
    raw = event.get("body") or ""
    too_large = BodyTooLarge(f"the body is over {config.max_body_bytes:,} bytes")
    if event.get("isBase64Encoded"):
        if len(raw) > (config.max_body_bytes + 2) // 3 * 4:
            raise too_large
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid base64") from None
    else:
        # A lone surrogate cannot be UTF-8: kept as bytes here, refused as not JSON below.
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > config.max_body_bytes:
        raise too_large
    try:
        return json.loads(data, parse_int=_json_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON here: nested too deep") from None


_MAX_INT_DIGITS: Final = 100


def _json_int(text: str) -> int | float:
    """A JSON integer; one of over 100 digits becomes a float (inf when beyond a float's range),
    which no field's range admits: the field is refused by name (422), where int() would raise
    on 4,301 digits and float(int) on 310."""
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


def _health(event: Mapping[str, Any], config: IngestSettings) -> Answer:
    return 200, {"status": "ok"}, {}


def _untimed(route: Callable[[Mapping[str, Any], IngestSettings], Answer]) -> Route:
    """A route that reads at most a month of partitions: it needs no deadline of its own."""
    return lambda event, config, remaining: route(event, config)


_ROUTES: Final[dict[str, dict[str, Route]]] = {
    "/": {"POST": _post_readings},
    "/readings": {"GET": _untimed(history.get_readings), "POST": _post_readings},
    "/readings/held": {"GET": _untimed(history.get_held)},
    "/health": {"GET": _untimed(_health)},
    "/summary": {"GET": _untimed(history.get_summary)},
    "/chart": {"GET": _untimed(history.get_chart)},
}
