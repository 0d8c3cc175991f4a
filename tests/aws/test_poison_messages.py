"""Any shape of message, judged alone: a body that is JSON of the wrong shape (an SNS envelope
whose Message is a number, null or an object; records that are not objects; deeply nested arrays)
never takes the rest of its SQS batch down with it, and a direct or SNS invocation that carries no
S3 notification fails with ``Unreadable`` saying why, never with whatever the shape tripped."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import resize
from handlers.index.events import Unreadable
from tests import events
from tests.aws.conftest import Bucket

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
S3_SHAPED = st.fixed_dictionaries(  # close to a notification, wrong inside
    {"Records": st.lists(JSON | st.fixed_dictionaries({"eventName": JSON, "s3": JSON}), max_size=3)}
)
SNS_ENVELOPES = st.builds(
    lambda message: {"Type": "Notification", "Message": message}, JSON | S3_SHAPED
)
DEEP = st.integers(1_000, 200_000).map(lambda depth: "[" * depth + "]" * depth)
BODIES = st.one_of(
    JSON.map(json.dumps),
    S3_SHAPED.map(json.dumps),
    SNS_ENVELOPES.map(json.dumps),
    DEEP,
    st.text(max_size=50),
)
_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def good(bucket: Bucket, image: bytes) -> str:
    """The body of a real upload's notification."""
    return json.dumps(events.s3_event(bucket.upload("uploads/good.jpg", image)))


@_SETTINGS
@given(poison=BODIES)
def test_a_poison_message_fails_alone(bucket: Bucket, good: str, poison: str) -> None:
    batch = events.sqs_event(good, poison, good)

    answer = resize.handler(batch, None)

    assert answer is not None
    # A body that is S3's shape but holds nothing to do (no records) is no failure.
    assert answer["batchItemFailures"] in ([], [{"itemIdentifier": "message-1"}])
    row = bucket.row("uploads/good.jpg")
    assert row is not None and row["status"] == "ok"


@pytest.mark.parametrize(
    "poison",
    [
        "[" * 100_000 + "]" * 100_000,
        "42",
        "null",
        "not json",
        json.dumps({"Type": "Notification", "Message": 42}),
        json.dumps({"Type": "Notification", "Message": None}),
        json.dumps({"Type": "Notification", "Message": {"Records": []}}),
        json.dumps({"Records": [42]}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": []}]}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]}),
    ],
    ids=[
        "deep-array",
        "number",
        "null",
        "not-json",
        "sns-message-number",
        "sns-message-null",
        "sns-message-object",
        "record-number",
        "s3-list",
        "no-bucket-name",
    ],
)
def test_a_body_holding_no_notification_is_reported_alone(
    bucket: Bucket, good: str, poison: str
) -> None:
    answer = resize.handler(events.sqs_event(good, poison, good), None)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}


def _fails_readably(event: Any) -> None:
    with contextlib.suppress(
        Unreadable
    ):  # it fails saying why; the on-failure destination keeps it
        resize.handler(event, None)


@_SETTINGS
@given(event=JSON | S3_SHAPED)
def test_a_direct_invocation_of_any_shape_fails_only_as_unreadable(
    bucket: Bucket, event: Any
) -> None:
    _fails_readably(event)


@_SETTINGS
@given(message=BODIES | JSON)
def test_an_sns_invocation_of_any_shape_fails_only_as_unreadable(
    bucket: Bucket, message: Any
) -> None:
    _fails_readably({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]})
