"""The device client's summary and chart commands, signed, against the real ingest handler served
locally behind a check of every request's SigV4 signature (as an AWS_IAM Function URL checks)."""

from __future__ import annotations

import base64
import hmac
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from devstack.function_url import serving
from handlers import ingest
from handlers.device.sender import ReadingClient
from handlers.readings.schema import Reading
from tests.aws.conftest import ReadingsTable

ROOT = Path(__file__).resolve().parents[2]
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def signature_problem(event: Mapping[str, Any]) -> str | None:
    """Recompute the SigV4 signature of the request an event describes; None if it matches."""
    headers = event["headers"]
    match = _AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    if match is None:
        return "missing or malformed Authorization"
    if (match["key"], match["service"]) != ("testing", "lambda"):
        return f"signed for {match['service']} with {match['key']}"
    url = f"http://{headers['host']}{event['rawPath']}"
    if event.get("rawQueryString"):
        url += f"?{event['rawQueryString']}"
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    signed = {name: headers[name] for name in match["signed"].split(";")}
    request = AWSRequest(
        method=event["requestContext"]["http"]["method"], url=url, data=data, headers=signed
    )
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials("testing", "testing", "testing"), "lambda", match["region"])
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    return None if hmac.compare_digest(expected, match["signature"]) else "signature mismatch"


@pytest.fixture
def iam_url(aws_env: str, readings_table: ReadingsTable) -> Iterator[str]:
    """The ingest handler behind a SigV4 check: unsigned or tampered requests get 403."""

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        problem = signature_problem(event)
        if problem:
            return {"statusCode": 403, "body": json.dumps({"error": problem})}
        return ingest.handler(event, None)

    with serving(invoke) as url:
        yield url


def heating_morning(tmp_path: Path, url: str) -> None:
    """A day every 10 minutes, heating on 06:00-09:00, sent (signed) by the device client."""
    device = ReadingClient(url, spool_path=tmp_path / "device.sqlite3", region="us-east-1")
    for m in range(0, 24 * 60, 10):
        device.spool.add(
            Reading(f"2026-11-21T{m // 60:02d}:{m % 60:02d}:00Z", 360 <= m < 540, 19.5, 20)
        )
    report = device.flush()
    device.close()
    assert (report.sent, report.pending, report.error) == (144, 0, None)


def cli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "handlers.device",
            "--url",
            url,
            "--spool",
            str(tmp_path / "s"),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_summary_prints_the_days_summary(iam_url: str, tmp_path: Path) -> None:
    heating_morning(tmp_path, iam_url)
    args = ["summary", "--json", "--day", "2026-11-21", "--gap-minutes", "20"]
    done = cli(iam_url, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["tz"], answer["gap_minutes"]) == ("UTC", 20)
    [day] = answer["days"]
    assert (day["count"], day["heating_minutes"], day["known_minutes"]) == (144, 180.0, 1440.0)
    assert day["gaps"] == []  # the last reading holds to midnight, within the 20-minute cap
    assert not (tmp_path / "s").exists()  # reading needs no spool


def test_summary_of_a_range_in_a_zone(iam_url: str, tmp_path: Path) -> None:
    heating_morning(tmp_path, iam_url)
    args = ["summary", "--json", "--from", "2026-11-20", "--to", "2026-11-22"]
    args += ["--tz", "America/New_York"]
    done = cli(iam_url, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    days = json.loads(done.stdout)["days"]
    assert [d["day"] for d in days] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    # New York is 5 hours behind: 00:00-04:50Z fall on the 20th, the rest on the 21st.
    assert [d["count"] for d in days] == [30, 114, 0]


def test_chart_saves_the_svg(iam_url: str, tmp_path: Path) -> None:
    heating_morning(tmp_path, iam_url)
    out = tmp_path / "day.svg"
    done = cli(iam_url, tmp_path, "chart", "--day", "2026-11-21", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"chart": str(out), "bytes": out.stat().st_size}
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "144 readings" in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "--day", "2026-02-30"], "400: day: 2026-02-30 is not a calendar date"),
        (["summary", "--from", "2026-01-01", "--to", "2026-03-01"], "400: at most 31 days"),
        (["chart", "--day", "2026-11-21", "--tz", "Nowhere/Land"], "400: tz: 'Nowhere/Land'"),
    ],
    ids=["impossible-day", "long-range", "bad-zone"],
)
def test_refusals_are_reported_and_nothing_is_saved(
    iam_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "x.svg"
    done = cli(iam_url, tmp_path, *args, *(["--out", str(out)] if args[0] == "chart" else []))
    assert done.returncode == 1
    assert message in done.stderr
    assert not out.exists()


def test_the_check_refuses_unsigned_and_tampered_requests(iam_url: str, tmp_path: Path) -> None:
    done = cli(iam_url, tmp_path, "--no-sign", "summary", "--day", "2026-11-21")
    assert done.returncode == 78  # EX_CONFIG: the credentials or the URL are wrong
    assert "403: missing or malformed Authorization" in done.stderr

    device = ReadingClient(iam_url, sign=True, region="us-east-1")
    signed_for = f"{iam_url}/summary?day=2026-11-21"
    headers = device.transport.headers(b"", "GET", signed_for)
    request = urllib.request.Request(f"{iam_url}/summary?day=2026-11-22", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert json.loads(refused.value.read()) == {"error": "signature mismatch"}
    with urllib.request.urlopen(urllib.request.Request(signed_for, headers=headers)) as answer:
        assert answer.status == 200


def test_query_values_are_encoded_as_sigv4_canonicalises_them(aws_env: str) -> None:
    seen: list[str] = []

    def record(event: dict[str, Any]) -> Mapping[str, Any]:
        seen.append(event["rawQueryString"])
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}

    with serving(record) as url:
        device = ReadingClient(url, sign=False)
        device.get("/readings", {"from": "2026-11-21T06:00:00+01:00", "tz": "Europe/London"})
        device.get("/summary", {"day": "2026-11-21", "tz": "Mars Base"})
    assert seen == [
        "from=2026-11-21T06%3A00%3A00%2B01%3A00&tz=Europe%2FLondon",
        "day=2026-11-21&tz=Mars%20Base",  # %20, never "+": SigV4 would not match
    ]
