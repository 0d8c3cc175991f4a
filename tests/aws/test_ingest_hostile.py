"""Issue 14, ingest: hostile requests never crash the function, nothing acknowledged is lost, and
order and identity follow the instant. The real handler against moto's server over real HTTP.

Each example from the issue is a regression test here; each class also has a generated test:
the request space fuzzed with hypothesis (``test_no_request_makes_the_function_raise``), and
concurrent writers racing for one record_date (``test_racing_writers_...``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import ingest
from handlers.common import aws
from handlers.readings import store as readings_store
from tests import events
from tests.aws.conftest import ReadingsTable
from tests.aws.dynamodb_proxy import DynamoDBProxy
from tests.unit.readings.test_schema import OTHER_DIGITS, spelled_timestamps

Response = tuple[int, dict[str, Any], dict[str, str]]


def call(event: dict[str, Any]) -> Response:
    response = ingest.handler(event, None)
    body = json.loads(response["body"])
    assert body["request_id"] == event["requestContext"]["requestId"]
    return response["statusCode"], body, response["headers"]


def post_text(text: str) -> Response:
    return call(events.function_url("POST", "/", body=text))


def post(body: Any) -> Response:
    return post_text(json.dumps(body))


def get(path: str, **query: str) -> Response:
    return call(events.function_url("GET", path, query=query))


def reading(record_date: str = "2022-02-03T13:22:22Z", temperature: Any = 65.0) -> dict[str, Any]:
    return {
        "record_date": record_date,
        "thermostat_on": True,
        "temperature": temperature,
        "thermostat_value": 64,
    }


def with_number(field: str, literal: str) -> str:
    """A reading's JSON text with ``field`` set to a number literal json.dumps cannot write."""
    text = json.dumps({**reading(), field: 0})
    return text.replace(f'"{field}": 0', f'"{field}": {literal}')


# --- Crashes: every one of these was Lambda's bare 502 (an exception out of the handler).


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (with_number("temperature", "1" + "0" * 400), "temperature"),  # float(int) overflows
        (with_number("thermostat_value", "1" + "0" * 400), "thermostat_value"),
        (with_number("temperature", "9" * 5000), "temperature"),  # int() refuses 4,301 digits
        (with_number("temperature", "-" + "9" * 5000), "temperature"),
        (with_number("temperature", "1e-200"), "temperature"),  # DynamoDB cannot store it
        (with_number("temperature", '"\u0666\u0665"'), "temperature"),  # Arabic-Indic 65
    ],
    ids=["int-1e400", "setpoint-1e400", "5000-digits", "minus-5000-digits", "1e-200", "arabic"],
)
def test_numbers_no_float_or_table_holds_are_refused_by_field(
    readings_table: ReadingsTable, text: str, field: str
) -> None:
    status, body, _ = post_text(text)
    assert (status, list(body["details"])) == (422, [field])
    assert readings_table.items() == []


def test_a_body_nested_100000_deep_is_a_400(readings_table: ReadingsTable) -> None:
    status, body, _ = post_text("[" * 100_000 + "]" * 100_000)
    assert (status, body["error"]) == (400, "the body is not valid JSON here: nested too deep")


def test_a_5000_digit_body_is_refused(readings_table: ReadingsTable) -> None:
    assert post_text("9" * 5000)[0] == 422  # a number, not a reading


def test_an_unstorable_reading_is_refused_by_index_and_no_longer_fails_its_batch(
    readings_table: ReadingsTable,
) -> None:
    batch = [reading(f"2022-02-03T13:{m:02d}:00Z") for m in range(5)]
    batch[3]["temperature"] = 1e-200
    status, body, _ = post(batch)
    assert (status, list(body["details"])) == (422, ["[3].temperature"])  # was 500, every time
    del batch[3]  # what the device does with a 422: drop the index, resend the rest
    status, body, _ = post(batch)
    assert (status, body["stored"], body["failed"]) == (201, 4, [])


@pytest.mark.parametrize(
    "record_date",
    ["\u0662\u0660\u0662\u0662-02-03T13:22:22Z", "2022-02-\u0660\u0663T13:22:22Z"],
    ids=["arabic-year", "arabic-day"],
)
def test_a_record_date_in_other_digits_is_refused(
    readings_table: ReadingsTable, record_date: str
) -> None:
    status, body, _ = post(reading(record_date))
    assert (status, list(body["details"])) == (422, ["record_date"])
    assert readings_table.items() == []  # it was stored under a Record_Day no ?day= finds


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/readings", {"day": "2022-13-45"}, "not a calendar date"),  # was 200
        ("/readings", {"day": "2022-02-03", "limit": "²"}, "limit"),
        ("/readings", {"day": "2022-02-03", "limit": "\u0661\u0660"}, "limit"),
        ("/readings", {"day": "2022-02-03", "limit": "0" * 4999 + "1"}, "limit"),
        ("/readings", {"day": "\u0662\u0660\u0662\u0662-02-03"}, "YYYY-MM-DD"),
        ("/readings", {"from": "2022-02-0\u0663", "to": "2022-02-04"}, "from"),
        ("/readings", {"from": "2022-02-03T0\u0666:00:00Z", "to": "2022-02-04"}, "from"),
        ("/summary", {"day": "2022-02-03", "gap_minutes": "\u0661\u0665"}, "gap_minutes"),
        ("/summary", {"day": "2022-02-03", "gap_minutes": "1" * 5000}, "gap_minutes"),
        ("/chart", {"day": "2022-13-45"}, "not a calendar date"),
        (
            "/readings",
            {"day": "2022-02-03", "cursor": base64.urlsafe_b64encode(b"[" * 5000).decode()},
            "cursor",
        ),
    ],
    ids=[
        "impossible-day",
        "limit-superscript",
        "limit-arabic",
        "limit-5000-digits",
        "day-arabic",
        "from-arabic",
        "from-time-arabic",
        "gap-arabic",
        "gap-5000-digits",
        "chart-impossible-day",
        "cursor-nested-5000",
    ],
)
def test_bad_query_parameters_are_400s(
    readings_table: ReadingsTable, path: str, query: dict[str, str], message: str
) -> None:
    status, body, _ = get(path, **query)
    assert status == 400
    assert message in body["error"]


# --- Order and identity follow the instant, not the spelling.


def test_a_day_is_listed_in_the_order_of_instants(readings_table: ReadingsTable) -> None:
    late_utc, early_local = "2022-02-03T10:46:41Z", "2022-02-03T12:00:00+05:00"  # 07:00Z
    post([reading(late_utc), reading(early_local)])
    listed = [r["record_date"] for r in get("/readings", day="2022-02-03")[1]["readings"]]
    assert listed == [early_local, late_utc]
    ranged = get("/readings", **{"from": "2022-02-03", "to": "2022-02-03"})[1]["readings"]
    assert [r["record_date"] for r in ranged] == [early_local, late_utc]


def test_the_same_instant_in_any_spelling_is_one_reading(readings_table: ReadingsTable) -> None:
    assert post(reading("2022-02-03t13:22:22z"))[0] == 201
    status, body, _ = post(reading("2022-02-03 13:22:22.000+00:00"))
    assert (status, body.get("duplicate")) == (200, True)
    assert post(reading("2022-02-03T13:22:22-00:00", temperature=70))[0] == 409
    status, body, _ = post([reading("2022-02-03T13:22:22Z"), reading("2022-02-03T13:22:22.0Z")])
    assert (status, body["duplicates"]) == (200, [0, 1])
    assert [item["Record_Date"]["S"] for item in readings_table.items()] == ["2022-02-03T13:22:22Z"]


def test_the_original_devices_timestamps_are_stored_and_listed_as_before(
    readings_table: ReadingsTable,
) -> None:
    assert call(events.load("function-url-post"))[0] == 201  # "2022-02-03T13:22:22", no offset
    [item] = readings_table.items()
    assert (item["Record_Day"], item["Record_Date"]) == (
        {"S": "2022-02-03"},
        {"S": "2022-02-03T13:22:22"},
    )
    listed = get("/readings", day="2022-02-03")[1]["readings"]
    assert [r["record_date"] for r in listed] == ["2022-02-03T13:22:22"]


@given(spelled_timestamps())
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_spelling_resent_is_a_duplicate(
    readings_table: ReadingsTable, pair: tuple[str, str]
) -> None:
    canonical, spelled = pair
    status, _, _ = post(reading(canonical))
    assert status in (200, 201)  # 200: an earlier example drew the same timestamp
    status, body, _ = post(reading(spelled))
    assert (status, body.get("duplicate")) == (200, True)


# --- Batches report each reading exactly, whatever the table holds.

A = reading(temperature=60.0)
B = reading(temperature=70.0)  # a different reading at the same record_date


def test_a_batch_reports_the_reading_the_table_holds_as_a_duplicate(
    readings_table: ReadingsTable,
) -> None:
    post(B)
    status, body, _ = post([A, B])
    assert (status, body["conflicts"], body["duplicates"]) == (409, [0], [1])  # was [0, 1], []


def test_a_repeated_reading_conflicting_with_the_table_is_a_conflict_every_time(
    readings_table: ReadingsTable,
) -> None:
    post(B)
    status, body, _ = post([A, A])
    assert (status, body["conflicts"], body["duplicates"]) == (409, [0, 1], [])  # was [0], [1]


Writer = Callable[[dict[str, Any]], Response]


def as_batch(body: dict[str, Any]) -> Response:
    return post([body])


def as_single(body: dict[str, Any]) -> Response:
    return post(body)


def stored_by(answer: Response) -> bool:
    status, body, _ = answer
    return status == 201 and body["stored"] == 1


def race(
    barrier: threading.Barrier,
    answers: dict[str, Response],
    name: str,
    writer: Writer,
    body: dict[str, Any],
) -> None:
    barrier.wait()  # both threads leave together, so their writes overlap
    answers[name] = writer(body)


@pytest.mark.parametrize(
    ("first", "second"),
    [(as_batch, as_single), (as_batch, as_batch), (as_single, as_single)],
    ids=["batch-vs-single", "batch-vs-batch", "single-vs-single"],
)
def test_racing_writers_of_one_record_date_acknowledge_exactly_what_is_stored(
    readings_table: ReadingsTable, dynamodb_proxy: DynamoDBProxy, first: Writer, second: Writer
) -> None:
    """The issue's 96 of 200: a batch [A] and a single B both answered 201 and the table kept A.
    Here every trial must have one writer answer stored and the other a conflict, and the table
    hold the reading whose writer was told it was stored. Through the serializing proxy, as
    moto's own conditional writes are not atomic under concurrency (DynamoDB's are)."""
    dynamodb_proxy.serialized = True
    aws.dynamodb()  # one client, made before the threads share it
    trials = 30  # the old batch path failed at the first trial; it lost 48% of them
    for trial in range(trials):
        record_date = f"2022-02-03T{trial // 60:02d}:{trial % 60:02d}:00Z"
        a, b = reading(record_date, 60.0), reading(record_date, 70.0)
        barrier = threading.Barrier(2)
        answers: dict[str, Response] = {}
        threads = [
            threading.Thread(target=race, args=(barrier, answers, "a", first, a)),
            threading.Thread(target=race, args=(barrier, answers, "b", second, b)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        winners = [name for name in ("a", "b") if stored_by(answers[name])]
        assert len(winners) == 1, f"trial {trial}: {answers}"
        loser = answers["b" if winners == ["a"] else "a"]
        assert loser[0] == 409
        if "conflicts" in loser[1]:
            assert loser[1]["conflicts"] == [0]
        [item] = [i for i in readings_table.items() if i["Record_Date"]["S"] == record_date]
        expected = a if winners == ["a"] else b
        assert readings_store.from_item(item).temperature == expected["temperature"]


# --- The whole request space: the function answers, it never raises.


def mostly(usual: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> Any:
    """``usual`` four times in five, else one of ``others``: requests that get as far as the
    store are where the bugs were, so most of each field is valid."""
    return st.integers(0, 4).flatmap(lambda n: usual if n else st.one_of(*others))


@st.composite
def with_other_digits(draw: st.DrawFn, text: str) -> str:
    """``text`` with one ASCII digit replaced by the same digit of another script."""
    positions = [i for i, c in enumerate(text) if c in "0123456789"]
    if not positions:
        return text
    at = draw(st.sampled_from(positions))
    same = [c for c in OTHER_DIGITS if int(c) == int(text[at])]
    return text[:at] + draw(st.sampled_from(same)) + text[at + 1 :]


# A few instants, so that examples meet each other's readings: duplicates and conflicts.
FEW_INSTANTS = [f"2022-02-03T{h:02d}:00:00" for h in (6, 12, 23)] + ["2022-02-04T00:30:00"]
timestamps = mostly(
    st.tuples(
        st.sampled_from(FEW_INSTANTS),
        st.sampled_from(["", "Z", "z", "+00:00", ".0Z", "+05:00", "-08:00"]),
    ).map("".join),
    spelled_timestamps().map(lambda pair: pair[1]),
    spelled_timestamps().flatmap(lambda pair: with_other_digits(pair[1])),
    st.sampled_from(["2022-13-45T00:00:00Z", "2022-02-30T00:00:00", "2022-02-03T24:00:00"]),
    st.text(max_size=40),
    st.integers(),
)
numbers = mostly(
    st.one_of(st.integers(0, 200), st.floats(-100, 200), st.integers(0, 200).map(str)),
    st.floats(-1e-120, 1e-120),
    st.floats(),  # NaN and Infinity too: json.dumps writes them, json.loads reads them
    st.integers(-(10**600), 10**600),
    st.integers(0, 70_000).map(str),
    st.floats().map(repr),
    st.floats(-100, 200).map(repr).flatmap(with_other_digits),
    st.text(max_size=10),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
fields = {
    "record_date": timestamps,
    "thermostat_on": mostly(st.booleans(), st.sampled_from(["true", "False", "yes", 1])),
    "temperature": numbers,
    "thermostat_value": numbers,
}
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
reading_objects = mostly(
    st.fixed_dictionaries(fields, optional={"humidity": json_values}),
    st.fixed_dictionaries({}, optional=fields),
    json_values,
)
bodies = mostly(
    st.one_of(
        reading_objects.map(json.dumps), st.lists(reading_objects, max_size=6).map(json.dumps)
    ),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 100_000).map(lambda n: '{"a":' * n),
    st.integers(300, 6000).map(lambda n: with_number("temperature", "9" * n)),
    st.integers(300, 6000).map(lambda n: "[" + with_number("thermostat_value", "1" * n) + "]"),
)
query_values = st.one_of(
    st.sampled_from(
        [
            "2022-02-03",
            "2022-02-04",
            "2022-13-45",
            "2022-02-30",
            "0001-01-01",
            "9999-12-31",
            "2022-02-03T06:00:00Z",
            "2022-02-03T06:00:00 05:00",
            "Europe/London",
            "Asia/Kolkata",
            "Mars/Base",
            "../../etc/passwd",
            "1",
            "0",
            "1000",
            "1001",
            "15",
            "1440",
            "²",
        ]
    ),
    st.sampled_from(["2022-02-03", "2022-02-03T06:00:00Z", "500", "15"]).flatmap(with_other_digits),
    st.integers(1, 6000).map(lambda n: "1" * n),
    json_values.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()),
    st.integers(1, 5000).map(lambda n: base64.urlsafe_b64encode(b"[" * n).decode()),
    st.text(max_size=30),
)
queries = mostly(
    st.fixed_dictionaries(
        {"day": st.sampled_from(["2022-02-03", "2022-02-04"])},
        optional={"tz": st.sampled_from(["UTC", "Asia/Kolkata"]), "limit": st.just("2")},
    ),
    st.dictionaries(
        st.sampled_from(["day", "from", "to", "tz", "limit", "cursor", "gap_minutes", "x"]),
        query_values,
        max_size=4,
    ),
)
routes = st.sampled_from(
    [("POST", "/")] * 4
    + [("GET", "/readings")] * 3
    + [("GET", "/summary"), ("GET", "/chart")] * 2
    + [("POST", "/readings"), ("GET", "/health"), ("DELETE", "/"), ("GET", "/nope")]
)
content_types = mostly(
    st.just("application/json"),
    st.sampled_from(
        ["application/json; charset=utf-8", "APPLICATION/JSON", "application/x+json", "text/plain"]
    ),
    st.text(max_size=20),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, path = draw(routes)
    body = draw(bodies)
    encoding = draw(mostly(st.just("plain"), st.sampled_from(["base64", "bad-base64"])))
    if encoding == "base64":
        body = base64.b64encode(body.encode()).decode()
    elif encoding == "bad-base64":
        body = draw(st.text(max_size=30))
    return events.function_url(
        method,
        path,
        body=body if method == "POST" or draw(st.booleans()) else None,
        query=draw(queries),
        headers={"content-type": draw(content_types)},
        base64_encoded=encoding != "plain",
    )


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    event=requests(),
    fault=st.sampled_from([None, None, None, "PutItem", "TransactWriteItems", "Query"]),
)
def test_no_request_makes_the_function_raise(
    readings_table: ReadingsTable,
    dynamodb_proxy: DynamoDBProxy,
    monkeypatch: pytest.MonkeyPatch,
    event: dict[str, Any],
    fault: str | None,
) -> None:
    """Every answer is well formed, with a 2xx or 4xx status; a 5xx only when the storage failed
    (here: throttling the proxy injected, which botocore is told not to retry)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    dynamodb_proxy.throttled = {fault: 1} if fault else {}
    response = ingest.handler(event, None)  # an exception here is Lambda's bare 502
    injected = bool(fault) and dynamodb_proxy.throttled[str(fault)] == 0
    status = response["statusCode"]
    hypothesis.event(f"{event['requestContext']['http']['method']} {status}")
    assert 200 <= status < 500 or (injected and status in (500, 503)), response
    headers = response["headers"]
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    if headers["content-type"] == "application/json":
        body = json.loads(response["body"])
        assert isinstance(body, dict)
        assert body["request_id"] == headers["x-request-id"]
        assert ("error" in body) == (status >= 400)
    else:
        assert (status, headers["content-type"]) == (200, "image/svg+xml; charset=utf-8")
        assert response["body"].startswith("<svg")
