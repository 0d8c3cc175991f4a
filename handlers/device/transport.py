"""HTTP between the device and the ingest Function URL: one request, retried, never redirected,
signed with SigV4 when credentials are configured.

Requests are signed (service ``lambda``) through botocore when AWS credentials are configured, as
an IAM-auth Function URL needs; signing is refused over plain ``http://`` except to loopback
(127.0.0.0/8, ::1, localhost). Network errors, timeouts, a cut-short body, 429 and 5xx are
retried with backoff (``Retry-After`` when given), then raise ``Unavailable``. Every other status
is an ``Answer``: whether it is the function's is for the caller to ask (``Answer.from_function``).
Redirects are never followed, so a signed request goes to the configured origin only.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, Final, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

from handlers.common.retry import full_jitter

logger = logging.getLogger(__name__)

_REGION_IN_URL: Final = re.compile(r"\.lambda-url\.([a-z0-9-]+)\.on\.aws")
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")  # eu-west-1, us-gov-east-1


class Unavailable(Exception):
    """The function could not be reached, or answered 429/5xx, after every attempt."""


class Misconfigured(Exception):
    """The client refuses to send as configured (credentials over plain HTTP, a URL that is not
    http(s)); retrying will not help."""


@dataclass(frozen=True)
class Answer:
    """What came back over HTTP, from the function or from whatever stood in its way."""

    status: int
    content_type: str
    body: bytes
    request_id: str = ""  # the x-request-id header
    location: str = ""  # the Location header of a redirect (never followed)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; anything else is wrapped (``error``: the text's start, or
        ``answer``: a JSON value that is not an object)."""
        try:
            parsed = json.loads(self.body)
        except (ValueError, RecursionError):
            return {"error": self.body[:200].decode(errors="replace")}
        return parsed if isinstance(parsed, dict) else {"answer": parsed}

    def from_function(self) -> dict[str, Any] | None:
        """The function's JSON answer, or None when something else answered: the function sets
        ``x-request-id`` and the same ``request_id`` in its JSON body, on every answer."""
        if not self.request_id:
            return None
        parsed = self.json()
        return parsed if parsed.get("request_id") == self.request_id else None

    def describe(self) -> str:
        text = f"HTTP {self.status} ({self.content_type or 'no content type'})"
        if self.location:
            text += f" redirecting to {self.location[:200]} (not followed)"
        return text


class _Failure(NamedTuple):
    """An attempt that is worth another: why, and how long the server asked to wait."""

    problem: str
    retry_after: float | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would resend the Authorization and X-Amz-* headers to
    wherever it points (and turn a POST into a GET). The 3xx is answered as it is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Transport:
    """Requests to one Function URL (module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        sign: bool | None = None,
        region: str | None = None,
        profile: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout, self.max_attempts = timeout, max_attempts
        self.backoff, self.max_backoff = backoff, max_backoff
        self._sign, self._region = sign, region  # sign: None signs when credentials exist
        self._profile = profile  # None: botocore's own choice (AWS_PROFILE, else default)
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirects)

    def post(self, payload: Any) -> Answer:
        """POST ``payload`` as JSON to the Function URL itself."""
        return self.request("POST", self.url, json.dumps(payload).encode())

    def get(self, path: str, query: Mapping[str, str]) -> Answer:
        """GET a route under the Function URL (``/summary``, ``/chart``, ``/readings``)."""
        url = self.url + path.lstrip("/")
        if query:
            url += "?" + urlencode(query, quote_via=quote)  # %20, not +: SigV4's encoding
        return self.request("GET", url, b"")

    def request(self, method: str, url: str, body: bytes) -> Answer:
        """The answer, after up to ``max_attempts``. Raises Unavailable when every attempt
        failed or was answered 429/5xx, Misconfigured when the request must not be sent."""
        problem = "no attempt"
        for attempt in range(self.max_attempts):
            request = urllib.request.Request(
                url,
                data=body if method == "POST" else None,
                method=method,
                headers=self.headers(body, method, url),  # raises Misconfigured
            )
            outcome = self._attempt(request)
            if isinstance(outcome, Answer):
                return outcome
            problem = outcome.problem
            logger.info("attempt %d of %d failed: %s", attempt + 1, self.max_attempts, problem)
            if attempt + 1 < self.max_attempts:
                delay = outcome.retry_after or full_jitter(attempt, self.backoff)
                self._sleep(min(delay, self.max_backoff))
        raise Unavailable(f"{problem} after {self.max_attempts} attempts")

    def _attempt(self, request: urllib.request.Request) -> Answer | _Failure:
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:  # before URLError and OSError, its ancestors
            return _error_status(exc)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            # Refused, reset, timed out; or a body cut short (IncompleteRead): the function
            # may have stored the readings, and resending them is answered "duplicate".
            return _Failure(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")

    def headers(self, body: bytes, method: str = "POST", url: str | None = None) -> dict[str, str]:
        """The request's headers, signed unless signing is off or there are no credentials.
        Raises Misconfigured for a URL that is not http(s), or signing over plain HTTP."""
        target = url or self.url
        if urlsplit(target).scheme not in ("http", "https"):
            raise Misconfigured(f"{target[:100]!r}: the Function URL must be https:// (or http://)")
        headers = {"content-type": "application/json"} if method == "POST" else {}
        if self._sign is False:
            return headers
        import botocore.session  # only devices that sign pay for botocore's import
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.exceptions import BotoCoreError

        try:
            session = botocore.session.Session(profile=self._profile)
            credentials = session.get_credentials()
            configured_region = session.get_config_variable("region")
        except BotoCoreError as exc:  # ProfileNotFound, a config or credentials file unread
            raise Misconfigured(f"AWS configuration: {exc}") from exc
        if credentials is None:
            if self._sign:
                raise Misconfigured("signing was asked for but no AWS credentials are configured")
            self._sign = False  # look once, not on every request
            return headers
        if not may_carry_credentials(target):
            raise Misconfigured(
                f"refusing to sign a request to {urlsplit(target).netloc} over plain HTTP: "
                "credentials go over https:// only (or to loopback); use the https:// URL, or "
                "--no-sign for a URL without IAM auth"
            )
        match = _REGION_IN_URL.search(self.url)
        region = str(
            self._region or (match.group(1) if match else None) or configured_region or "us-east-1"
        )
        if not _REGION.fullmatch(region):
            raise Misconfigured(f"{region[:50]!r} is not an AWS region name (e.g. eu-west-1)")
        try:
            frozen = credentials.get_frozen_credentials()
        except BotoCoreError as exc:  # a credential_process or SSO token that fails
            raise Misconfigured(f"AWS credentials: {exc}") from exc
        request = AWSRequest(method=method, url=target, data=body, headers=headers)
        SigV4Auth(frozen, "lambda", region).add_auth(request)
        return dict(request.headers.items())


def may_carry_credentials(url: str) -> bool:
    """https://, or http:// to this machine (the local stack, the tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error_status(exc: urllib.error.HTTPError) -> Answer | _Failure:
    """An error status is an answer, but for 429, 5xx and a body cut short: worth another try."""
    with exc:
        try:
            data = exc.read()
        except (http.client.HTTPException, OSError) as cut:
            return _Failure(f"HTTP {exc.code}, then {type(cut).__name__}")
    if exc.code != 429 and exc.code < 500:
        return _answer(exc.code, exc.headers, data)
    return _Failure(f"HTTP {exc.code}", _seconds(exc.headers.get("retry-after")))


def _answer(status: int, headers: Message, body: bytes) -> Answer:
    return Answer(
        status,
        headers.get_content_type() if headers.get("content-type") else "",
        body,
        request_id=str(headers.get("x-request-id") or ""),
        location=str(headers.get("location") or ""),
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
