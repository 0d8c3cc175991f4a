"""The local Function URL's AWS_IAM auth over real HTTP: requests SigV4-signed with the local
stack's credentials, for ``lambda`` in its region, dated within 5 minutes, reach the function;
others are answered 403 in AWS's shape and never reach it. The device client's own signer passes,
and the embedded stack checks it by default."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devstack.endpoints import LOCAL_CREDENTIALS
from devstack.function_url import (
    AWS_IAM,
    FORBIDDEN,
    INCOMPLETE,
    MAX_SKEW,
    MISMATCH,
    NONE,
    UNKNOWN_KEY,
    IamAuth,
    auth_for,
    serving,
)
from devstack.stack import EmbeddedStack, embedded
from handlers.device.sender import ReadingClient
from handlers.device.transport import Transport
from handlers.readings.schema import Reading
from tests.infra.conftest import load_template

KEY, SECRET = LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
REGION = "us-east-1"
T0 = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
STAMP = "%Y%m%dT%H%M%SZ"


class Function:
    """The function behind the URL: what reached it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": json.dumps({"path": event["rawPath"]})}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def function() -> Function:
    return Function()


@pytest.fixture
def url(function: Function, clock: Clock) -> Iterator[str]:
    with serving(function, auth=IamAuth(KEY, SECRET, REGION, clock)) as served:
        yield served


def signed(
    url: str,
    body: bytes = b'{"a": 1}',
    *,
    key: str = KEY,
    secret: str = SECRET,
    service: str = "lambda",
    region: str = REGION,
    at: datetime | None = None,
    token: str | None = None,
) -> urllib.request.Request:
    """A POST signed by botocore's SigV4Auth as given, at ``at`` (default: now)."""
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    signer = SigV4Auth(Credentials(key, secret, token), service, region)
    if at is None:
        signer.add_auth(request)
    else:  # add_auth's steps at another time, from botocore's public methods
        stamp = at.strftime(STAMP)
        request.context["timestamp"] = stamp
        request.headers["X-Amz-Date"] = stamp
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        names = signer.signed_headers(signer.headers_to_sign(request))
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={names}, Signature={signature}"
        )
    return urllib.request.Request(url, data=body, headers=dict(request.headers), method="POST")


def send(request: urllib.request.Request) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def refused(request: urllib.request.Request, function: Function) -> tuple[str, str]:
    """The 403's error type and message; the function was not reached."""
    status, headers, body = send(request)
    assert status == 403, body
    assert function.events == []
    [message] = body.values()
    return headers["x-amzn-ErrorType"], message


def test_a_request_signed_with_the_local_credentials_reaches_the_function(
    url: str, function: Function
) -> None:
    assert send(signed(url + "/readings"))[:1] == (200,)
    assert [e["rawPath"] for e in function.events] == ["/readings"]


def test_the_device_clients_signer_passes(
    url: str, function: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    transport = Transport(url, sign=True)
    assert transport.post({"temperature": 65.2}).status == 200
    # A query SigV4 encodes (%20, a colon, a plus) is signed as the server reads it.
    answer = transport.get(
        "/summary", {"from": "2026-12-01", "tz": "America/New York", "x": "a+b:c"}
    )
    assert answer.status == 200
    assert [e["rawPath"] for e in function.events] == ["/", "/summary"]


def test_unsigned_is_forbidden(url: str, function: Function) -> None:
    request = urllib.request.Request(url, data=b"{}", method="POST")
    assert refused(request, function) == FORBIDDEN


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"secret": "wrong"}, MISMATCH),
        ({"key": "AKIDSOMEONEELSE"}, UNKNOWN_KEY),
        (
            {"service": "execute-api"},
            (
                "IncompleteSignatureException",
                "Credential should be scoped to correct service: 'lambda'.",
            ),
        ),
        (
            {"region": "eu-west-1"},
            ("IncompleteSignatureException", "Credential should be scoped to a valid region."),
        ),
    ],
    ids=["wrong-secret", "unknown-key", "wrong-service", "wrong-region"],
)
def test_wrong_credentials_or_scope_are_refused(
    url: str, function: Function, change: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert refused(signed(url, **change), function) == expected


def test_a_changed_body_or_path_no_longer_matches(url: str, function: Function) -> None:
    request = signed(url)
    tampered = urllib.request.Request(
        url, data=b'{"a": 2}', headers=dict(request.header_items()), method="POST"
    )
    assert refused(tampered, function) == MISMATCH
    elsewhere = urllib.request.Request(
        url + "/readings", data=b'{"a": 1}', headers=dict(request.header_items()), method="POST"
    )
    assert refused(elsewhere, function) == MISMATCH


@pytest.mark.parametrize(
    ("offset", "passes"),
    [
        (MAX_SKEW, True),
        (MAX_SKEW + timedelta(seconds=1), False),
        (-MAX_SKEW, True),
        (-MAX_SKEW - timedelta(seconds=1), False),
    ],
    ids=["5-min-old", "5-min-1-s-old", "5-min-ahead", "5-min-1-s-ahead"],
)
def test_the_date_may_be_5_minutes_off(
    url: str, function: Function, clock: Clock, offset: timedelta, passes: bool
) -> None:
    """The server's clock is ``offset`` past the signature's date, to the second."""
    clock.now = T0 + offset
    request = signed(url, at=T0)
    if passes:
        assert send(request)[0] == 200
    else:
        error_type, message = refused(request, function)
        assert error_type == MISMATCH[0]
        assert message.startswith(
            "Signature expired: 20261206T120000Z is now earlier than"
            if offset > timedelta(0)
            else "Signature not yet current: 20261206T120000Z is still later than"
        )


def test_none_lets_anything_through(function: Function) -> None:
    """NONE, as Lambda's: not even a wrong signature is looked at."""
    with serving(function) as url:
        assert send(urllib.request.Request(url, data=b"{}", method="POST"))[0] == 200
        assert send(signed(url, secret="wrong"))[0] == 200
    assert len(function.events) == 2


def test_auth_types_are_the_templates() -> None:
    template = load_template()
    allowed = template["Parameters"]["FunctionUrlAuthType"]["AllowedValues"]
    assert sorted(allowed) == sorted((AWS_IAM, NONE))
    assert template["Parameters"]["FunctionUrlAuthType"]["Default"] == AWS_IAM
    assert auth_for(NONE, {}) is None
    assert auth_for(AWS_IAM, {**LOCAL_CREDENTIALS}) == IamAuth(KEY, SECRET, REGION)
    with pytest.raises(ValueError, match="AWS_IAM, NONE"):
        auth_for("aws_iam", LOCAL_CREDENTIALS)
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        auth_for(AWS_IAM, {"AWS_ACCESS_KEY_ID": KEY})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    log = tmp_path_factory.mktemp("logs") / "functions.log"
    with log.open("wb") as sink, embedded(log=sink) as running:  # the default: AWS_IAM
        yield running


def test_the_embedded_stack_checks_aws_iam_by_default(stack: EmbeddedStack, tmp_path: Path) -> None:
    """Inside the stack's scope this process holds the local credentials, as `make up`'s printed
    commands export them: the device client signs and its reading is stored; unsigned is 403."""
    client = ReadingClient(stack.function_url, spool_path=tmp_path / "spool.sqlite3", sign=True)
    report = client.send(Reading("2026-12-06T10:00:00+00:00", True, 65.2, 64))
    assert (report.sent, report.pending, report.problem) == (1, 0, None)
    unsigned = urllib.request.Request(stack.function_url + "/readings?day=2026-12-06")
    status, _, body = send(unsigned)
    assert (status, body) == (403, {"Message": "Forbidden"})
    status, _, _ = send(signed(stack.function_url + "/", b"{}", key="test", secret="test"))
    assert status == 403


def test_a_malformed_authorization_or_a_scope_of_another_day_is_refused(
    url: str, function: Function
) -> None:
    garbled = urllib.request.Request(
        url, data=b"{}", headers={"Authorization": "AWS4-HMAC-SHA256 garbage"}, method="POST"
    )
    assert refused(garbled, function) == INCOMPLETE
    request = signed(url)
    headers = dict(request.header_items())
    stamp = headers["X-amz-date"]
    other_day = (datetime.strptime(stamp, STAMP) - timedelta(days=1)).strftime("%Y%m%d")
    headers["Authorization"] = headers["Authorization"].replace(f"/{stamp[:8]}/", f"/{other_day}/")
    moved = urllib.request.Request(url, data=b'{"a": 1}', headers=headers, method="POST")
    error_type, message = refused(moved, function)
    assert error_type == MISMATCH[0] and message.startswith("Date in Credential scope")
