"""The router's RIE transport and its Function URL adapter, against an RIE-shaped endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from devstack.function_url import serve_in_thread
from devstack.router import RieTransport, Router
from devstack.runtime import InvocationFailed
from handlers import ingest
from tests import events


class FakeRie(BaseHTTPRequestHandler):
    """What the Runtime Interface Emulator's invoke endpoint does: run the handler, answer
    its return value, or the error document when it raised."""

    def do_POST(self) -> None:
        assert self.path == "/2015-03-31/functions/function/invocations"
        event = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if event.get("fail"):
            answer = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
        else:
            answer = ingest.handler(event, None)
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def rie() -> Iterator[str]:
    with serve_in_thread(FakeRie) as url:
        yield url


def test_rie_transport_returns_the_answer_and_times_it(rie: str) -> None:
    answer, report = RieTransport("ingest", rie).invoke(events.function_url("GET", "/health"))
    assert answer["statusCode"] == 200
    assert report.duration_ms > 0


def test_rie_transport_raises_on_a_function_error(rie: str) -> None:
    with pytest.raises(InvocationFailed) as caught:
        RieTransport("ingest", rie).invoke({"fail": True})
    assert caught.value.detail["errorType"] == "ValueError"


def test_unreachable_function_is_a_502_behind_the_function_url() -> None:
    router = Router({"ingest": RieTransport("ingest", "http://127.0.0.1:9", timeout_s=2)})
    answer = router.function_url_answer("ingest", events.function_url("GET", "/health"))
    assert answer["statusCode"] == 502
    assert json.loads(answer["body"]) == {"Message": "Internal Server Error"}
