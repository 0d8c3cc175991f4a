"""The ingest handler with Function URL events, against moto's server over real HTTP."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from handlers import ingest
from handlers.common import errors
from handlers.common.errors import DuplicateReading, StorageThrottled, ThumbstatError
from handlers.readings import store as readings_store
from handlers.readings.schema import Reading
from tests import events
from tests.aws.conftest import ReadingsTable
from tests.aws.dynamodb_proxy import DynamoDBProxy

ORIGINAL = {
    "record_date": "2022-02-03T13:22:22",
    "thermostat_on": True,
    "temperature": "65",
    "thermostat_value": "64",
}


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = ingest.handler(event, None)
    body = json.loads(response["body"])
    assert body["request_id"] == event["requestContext"]["requestId"]
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], body, response["headers"]


def post(body: Any, **changes: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    return call(events.function_url("POST", "/", body=json.dumps(body), **changes))


def reading(minute: int, temperature: float = 65.0, day: str = "2022-02-03") -> dict[str, Any]:
    return {
        "record_date": f"{day}T13:{minute // 60:02d}:{minute % 60:02d}Z",
        "thermostat_on": minute % 2 == 0,
        "temperature": temperature,
        "thermostat_value": 64,
    }


def test_the_recorded_device_request_is_stored(readings_table: ReadingsTable) -> None:
    status, body, _ = call(events.load("function-url-post"))
    assert (status, body["stored"]) == (201, 1)
    (item,) = readings_table.items()
    # A number as a number: AWS answers 65.0 as "65", moto as "65.0".
    assert Decimal(item.pop("Temperature")["N"]) == 65
    assert item == {
        "Record_Day": {"S": "2022-02-03"},
        "Record_Date": {"S": "2022-02-03T13:22:22"},
        "Thermostat_On": {"S": "true"},
        "Thermostat_Value": {"N": "64"},
    }


def test_base64_body_is_decoded(readings_table: ReadingsTable) -> None:
    encoded = base64.b64encode(json.dumps(ORIGINAL).encode()).decode()
    status, _, _ = call(events.function_url("POST", "/", body=encoded, base64_encoded=True))
    assert status == 201
    assert len(readings_table.items()) == 1


def test_same_reading_again_is_success_and_stores_nothing_new(
    readings_table: ReadingsTable,
) -> None:
    assert post(ORIGINAL)[0] == 201
    status, body, _ = post(ORIGINAL)
    assert (status, body["stored"], body["duplicate"]) == (200, 0, True)
    assert len(readings_table.items()) == 1


def test_different_reading_at_the_same_time_is_a_conflict(readings_table: ReadingsTable) -> None:
    post(ORIGINAL)
    status, body, _ = post({**ORIGINAL, "temperature": "66"})
    assert status == 409
    assert Decimal(readings_table.items()[0]["Temperature"]["N"]) == 65
    assert "2022-02-03T13:22:22" in body["error"]


def test_batch_backlog_of_1000_is_stored(readings_table: ReadingsTable) -> None:
    backlog = [reading(minute) for minute in range(1000)]
    status, body, _ = post(backlog)
    assert (status, body["stored"], body["failed"], body["conflicts"]) == (201, 1000, [], [])
    assert len(readings_table.items()) == 1000


def test_batch_reports_duplicates_and_conflicts_by_index(readings_table: ReadingsTable) -> None:
    post(reading(0))
    batch = [
        reading(0),
        reading(1),
        reading(1),
        reading(0, temperature=70),
        reading(2),
        reading(2, temperature=71),
    ]
    status, body, _ = post(batch)
    assert status == 409 == ingest.STATUS[DuplicateReading]
    assert (body["stored"], body["duplicates"], body["conflicts"]) == (2, [0, 2], [3, 5])
    assert len(readings_table.items()) == 3


def test_batch_writes_by_conditional_transactions_and_never_reads_first(
    readings_table: ReadingsTable, dynamodb_proxy: DynamoDBProxy
) -> None:
    status, body, _ = post([reading(minute) for minute in range(250)])
    assert (status, body["stored"], body["failed"]) == (201, 250, [])
    # No BatchGetItem then BatchWriteItem: a write between the two would be acknowledged twice.
    # 100 conditional puts per transaction: 250 readings are three calls.
    assert dynamodb_proxy.calls == ["TransactWriteItems"] * 3
    assert len(readings_table.items()) == 250


def test_a_transaction_failing_a_condition_goes_again_without_the_stored_readings(
    readings_table: ReadingsTable, dynamodb_proxy: DynamoDBProxy
) -> None:
    post([reading(minute) for minute in range(0, 150, 3)])  # every third one stored already
    dynamodb_proxy.calls.clear()
    status, body, _ = post([reading(minute) for minute in range(150)])
    assert (status, body["stored"], body["failed"], body["conflicts"]) == (201, 100, [], [])
    assert body["duplicates"] == list(range(0, 150, 3))
    # Each chunk: cancelled once (naming the held keys), then written without them.
    assert dynamodb_proxy.calls == ["TransactWriteItems"] * 4
    assert len(readings_table.items()) == 150


def test_batch_meeting_throttling_writes_the_throttled_transactions_again(
    readings_table: ReadingsTable,
    dynamodb_proxy: DynamoDBProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retries off: the store's show
    dynamodb_proxy.throttled["TransactWriteItems"] = 2
    status, body, _ = post([reading(minute) for minute in range(130)])
    assert (status, body["stored"], body["failed"]) == (201, 130, [])
    assert dynamodb_proxy.calls.count("TransactWriteItems") == 4  # the first chunk went 3 times
    assert len(readings_table.items()) == 130


def test_batch_still_throttled_answers_503_with_exactly_the_failed_indexes(
    readings_table: ReadingsTable,
    dynamodb_proxy: DynamoDBProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    # Every round of the first chunk (indexes 0..99) throttled; the second chunk gets through.
    dynamodb_proxy.throttled["TransactWriteItems"] = readings_store.BATCH_ROUNDS
    batch = [reading(minute) for minute in range(130)]
    status, body, headers = post(batch)
    assert status == 503 == ingest.STATUS[StorageThrottled]
    assert headers["retry-after"] == "1"
    assert body["error"] == ingest.NOT_SAVED
    assert (body["stored"], body["failed"]) == (30, list(range(100)))
    # Exact: the failed indexes are precisely the readings the table does not hold.
    stored = {item["Record_Date"]["S"] for item in readings_table.items()}
    assert len(stored) == 30
    assert {i for i, r in enumerate(batch) if r["record_date"] not in stored} == set(body["failed"])

    status, body, _ = post(batch)  # the device resends: the rest is stored, none twice
    assert (status, body["stored"], len(body["duplicates"]), body["failed"]) == (201, 100, 30, [])
    assert len(readings_table.items()) == 130


def test_throttled_single_put_answers_503(
    readings_table: ReadingsTable,
    dynamodb_proxy: DynamoDBProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    dynamodb_proxy.throttled["PutItem"] = 1
    status, body, headers = post(ORIGINAL)
    assert (status, headers["retry-after"]) == (503, "1")
    assert body == {"error": ingest.NOT_SAVED, "request_id": body["request_id"]}


def test_storage_error_is_logged_and_never_shown(
    aws_env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("READINGS_TABLE", "no-such-table")
    ingest.settings.cache_clear()
    status, body, _ = post(ORIGINAL)
    ingest.settings.cache_clear()
    assert status == 500
    assert body == {"error": "The reading was not saved", "request_id": body["request_id"]}
    assert "ResourceNotFoundException" in caplog.text  # the detail is in the log


@pytest.mark.parametrize(
    ("event", "status", "message"),
    [
        (events.function_url("POST", "/", body="{not json"), 400, "not valid JSON"),
        (events.function_url("POST", "/", body="!!", base64_encoded=True), 400, "base64"),
        (events.function_url("POST", "/", body="x" * 300_000), 413, "over"),
        (events.function_url("POST", "/", headers={"content-type": "text/plain"}), 415, "JSON"),
        (events.function_url("DELETE", "/"), 405, "not allowed"),
        (events.function_url("GET", "/nope"), 404, "no such path"),
        (events.function_url("POST", "/", body="[]"), 422, "invalid"),
        (events.function_url("GET", "/readings", query={"day": "Feb 3"}), 400, "YYYY-MM-DD"),
        (
            events.function_url("GET", "/readings", query={"day": "2022-02-03", "cursor": "zz"}),
            400,
            "cursor",
        ),
    ],
    ids=[
        "not-json",
        "bad-base64",
        "too-large",
        "not-json-content-type",
        "method",
        "path",
        "empty-batch",
        "bad-day",
        "bad-cursor",
    ],
)
def test_bad_requests_get_a_clear_status(
    readings_table: ReadingsTable, event: dict[str, Any], status: int, message: str
) -> None:
    answer_status, body, headers = call(event)
    assert answer_status == status
    assert message in body["error"]
    if status == 405:
        assert headers["allow"] == "POST"
    assert readings_table.items() == []


def test_schema_errors_are_detailed_per_field_and_index(readings_table: ReadingsTable) -> None:
    status, body, _ = post({**ORIGINAL, "temperature": "NaN", "thermostat_value": 70000})
    assert status == 422
    assert set(body["details"]) == {"temperature", "thermostat_value"}

    status, body, _ = post([reading(1), {**reading(2), "record_date": "2022-02-30T00:00:00"}])
    assert status == 422
    assert list(body["details"]) == ["[1].record_date"]
    assert readings_table.items() == []  # all or nothing


def test_unknown_fields_are_stored_without_and_reported(readings_table: ReadingsTable) -> None:
    status, body, _ = post({**ORIGINAL, "humidity": 40})
    assert (status, body["ignored_fields"]) == (201, ["humidity"])


def test_readings_of_a_day_in_time_order_across_pages(readings_table: ReadingsTable) -> None:
    minutes = [7, 3, 11, 0, 5]
    post([reading(m) for m in minutes] + [reading(1, day="2022-02-04")])

    seen: list[dict[str, Any]] = []
    query = {"day": "2022-02-03", "limit": "2"}
    pages = 0
    while True:
        status, body, _ = call(events.function_url("GET", "/readings", query=query))
        assert status == 200
        seen.extend(body["readings"])
        pages += 1
        if not body["next_cursor"]:
            break
        query = {**query, "cursor": body["next_cursor"]}
    assert pages >= 3
    assert seen == [Reading(**reading(m)).to_json() for m in sorted(minutes)]


def test_health(readings_table: ReadingsTable) -> None:
    assert call(events.function_url("GET", "/health"))[:2] == (
        200,
        {"status": "ok", "request_id": "9b5e2d0f-4c3e-5f7a-0b2c-3d4e5f6a7b8c"},
    )


def test_unknown_fields_of_every_reading_in_a_batch_are_reported(
    readings_table: ReadingsTable,
) -> None:
    status, body, _ = post(
        [{**reading(1), "humidity": 40}, {**reading(2), "firmware": "2.1"}, reading(3)]
    )
    assert (status, body["ignored_fields"]) == (201, ["firmware", "humidity"])


def subclasses(cls: type[ThumbstatError]) -> Iterator[type[ThumbstatError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from subclasses(sub)


INGEST_FACING = sorted(
    {cls for root in ingest.ANSWERED for cls in subclasses(root)}, key=lambda c: c.__name__
)


@pytest.mark.parametrize("error", INGEST_FACING, ids=[c.__name__ for c in INGEST_FACING])
def test_every_error_ingest_can_meet_has_a_status(error: type[ThumbstatError]) -> None:
    assert 400 <= ingest.status_for(error) <= 599


def test_the_status_table_agrees_with_the_tree_in_errors_docstring() -> None:
    drawn = {
        match[1]: match[2]
        for match in re.finditer(r"[├└]── (\w+)\s+(?:(\d{3})\b)?", errors.__doc__ or "")
    }
    every_error = {cls.__name__ for cls in subclasses(ThumbstatError)} - {"ThumbstatError"}
    assert set(drawn) == every_error  # the tree names every class, and only those
    assert {cls.__name__: str(status) for cls, status in ingest.STATUS.items()} == {
        name: status for name, status in drawn.items() if status
    }
    assert set(ingest.STATUS) <= set(INGEST_FACING)


def test_an_unlisted_error_is_named_not_a_stop_iteration() -> None:
    with pytest.raises(LookupError, match="ImageRejected"):
        ingest.status_for(errors.ImageRejected)
