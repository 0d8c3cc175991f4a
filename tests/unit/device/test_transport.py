"""The device's HTTP layer without a network: what an answer is, and where credentials may go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.device.transport import Answer, Misconfigured, Transport, may_carry_credentials


def test_only_an_answer_carrying_its_request_id_in_the_body_is_the_functions() -> None:
    body = json.dumps({"stored": 1, "request_id": "req-1"}).encode()
    assert Answer(201, "application/json", body, request_id="req-1").from_function() == {
        "stored": 1,
        "request_id": "req-1",
    }
    assert Answer(201, "application/json", body).from_function() is None  # no header
    assert Answer(201, "application/json", body, request_id="req-2").from_function() is None
    assert Answer(200, "text/html", b"<html>", request_id="req-1").from_function() is None


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        (b'{"error": "busy"}', {"error": "busy"}),
        (b"[1, 2]", {"answer": [1, 2]}),
        (b"<html>Sign in</html>", {"error": "<html>Sign in</html>"}),
        (b"[" * 5000, {"error": "[" * 200}),
    ],
)
def test_any_body_reads_as_a_json_object(body: bytes, parsed: dict[str, object]) -> None:
    assert Answer(200, "", body).json() == parsed


def test_a_redirect_is_described_with_where_it_pointed() -> None:
    answer = Answer(302, "", b"", location="https://portal.example/login")
    assert answer.describe() == (
        "HTTP 302 (no content type) redirecting to https://portal.example/login (not followed)"
    )


@pytest.mark.parametrize(
    ("url", "may"),
    [
        ("https://abc.lambda-url.eu-west-1.on.aws/", True),
        ("http://127.0.0.1:8080/", True),
        ("http://localhost:8080/", True),
        ("http://[::1]:8080/", True),
        ("http://192.0.2.10/", False),
        ("http://127.0.0.1.example.com/", False),
    ],
)
def test_credentials_go_over_https_or_to_loopback_only(url: str, may: bool) -> None:
    assert may_carry_credentials(url) is may


def test_unsigned_headers_and_urls_that_are_not_http() -> None:
    transport = Transport("http://127.0.0.1:9", sign=False)
    assert transport.url == "http://127.0.0.1:9/"
    assert transport.headers(b"{}") == {"content-type": "application/json"}
    assert transport.headers(b"", "GET") == {}
    with pytest.raises(Misconfigured, match="must be https://"):
        Transport("file:///etc/passwd", sign=False).headers(b"{}")


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Keys in the environment, and AWS configuration files of this test's own."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    (tmp_path / "config").write_text("[profile thermostat]\nregion = eu-west-2\n")
    (tmp_path / "credentials").write_text(
        "[thermostat]\naws_access_key_id = AKIDTHERMOSTAT\naws_secret_access_key = s\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("region", "scope"),
    [
        ("eu-west-1", "/eu-west-1/lambda/"),
        ("us-gov-east-1", "/us-gov-east-1/lambda/"),
        ("eu_west_1", None),
        ("mars", None),
        ("eu-west-", None),
    ],
)
def test_a_region_is_a_region_name_or_refused(
    credentials: Path, region: str, scope: str | None
) -> None:
    transport = Transport("http://127.0.0.1:9", region=region)
    if scope is None:
        with pytest.raises(Misconfigured, match="is not an AWS region name"):
            transport.headers(b"{}")
    else:
        assert scope in transport.headers(b"{}")["Authorization"]


def test_the_profile_chooses_the_keys_and_the_region(credentials: Path) -> None:
    authorization = Transport("http://127.0.0.1:9", profile="thermostat").headers(b"{}")[
        "Authorization"
    ]
    assert "Credential=AKIDTHERMOSTAT/" in authorization and "/eu-west-2/lambda/" in authorization
    with pytest.raises(Misconfigured, match="could not be found"):
        Transport("http://127.0.0.1:9", profile="nope").headers(b"{}")


def test_signing_asked_for_without_credentials_is_a_configuration_problem(
    credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance to ask
    with pytest.raises(Misconfigured, match="no AWS credentials"):
        Transport("http://127.0.0.1:9", sign=True).headers(b"{}")
    assert Transport("http://127.0.0.1:9").headers(b"{}") == {"content-type": "application/json"}
