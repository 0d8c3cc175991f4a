"""The local stack on an endpoint already running (``make up ENDPOINT=``), the router's
``--endpoint``, and the ports checked before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.endpoints import LOCAL_CREDENTIALS
from devstack.invoke import PATH
from devstack.ports import PortTaken, free_port
from devstack.resources import BUCKET, QUEUE
from devstack.stack import embedded
from handlers.common import aws

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken() -> Iterator[int]:
    """A port with a listener on it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_the_stack_uses_the_endpoint_given_and_leaves_the_environment_as_it_was(
    other_moto: str, read_image: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the user's own, say
    with embedded(endpoint=other_moto) as stack:
        assert (stack.endpoint, stack.backend) == (other_moto, "the endpoint given")
        aws.s3().put_object(Bucket=BUCKET, Key="uploads/f.jpeg", Body=read_image("flowers.jpeg"))
        deadline = time.monotonic() + 60
        while not aws.dynamodb().scan(TableName=stack.resources.index_table)["Items"]:
            assert time.monotonic() < deadline, "no index row"
            time.sleep(0.2)
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    # What the stack made is on that server, and stays there after the stack stopped.
    monkeypatch.setenv("AWS_ENDPOINT_URL", other_moto)
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    aws.clear()
    try:
        listed = aws.s3().list_objects_v2(Bucket=BUCKET)["Contents"]
        assert {o["Key"] for o in listed} == {"uploads/f.jpeg", "thumbnails/200/f.jpeg.jpg"}
    finally:
        aws.clear()


def test_the_router_takes_the_endpoint(other_moto: str) -> None:
    """The router (compose's, run here) finds its queue at --endpoint, with no AWS_ENDPOINT_URL
    in its environment, and reaches ingest through the stack's RIE-compatible endpoint."""
    with embedded(endpoint=other_moto, invoke_port=0) as stack:
        port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.update(LOCAL_CREDENTIALS)
        rie = {name: url.removesuffix(PATH) for name, url in stack.invoke_urls.items()}
        router = subprocess.Popen(
            [
                *(sys.executable, "-m", "devstack.router", "--endpoint", other_moto),
                *("--resize-url", rie["resize"], "--ingest-url", rie["ingest"]),
                *("--queue-name", QUEUE, "--listen", f"127.0.0.1:{port}"),
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert router.poll() is None, router.stderr.read() if router.stderr else ""
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert time.monotonic() < deadline, "the router never served"
                    time.sleep(0.2)
        finally:
            router.terminate()
            router.wait(10)


@pytest.mark.parametrize(
    ("option", "setting"),
    [("moto_port", "MOTO_PORT="), ("url_port", "PORT="), ("invoke_port", "INVOKE_PORT=")],
    ids=["moto", "function-url", "invoke"],
)
def test_a_taken_port_is_named_with_the_setting_that_moves_it(
    taken: int, option: str, setting: str
) -> None:
    with pytest.raises(PortTaken) as caught, embedded(**{option: taken}):  # type: ignore[arg-type]
        pass
    assert caught.value.port.number == taken
    assert f"port {taken} " in str(caught.value) and setting in str(caught.value)


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,  # a hang is a failure, not a wait
    )


def test_make_up_says_which_port_is_taken_instead_of_hanging(taken: int) -> None:
    result = demo("--stay-up", "--moto-port", str(taken))
    assert result.returncode == 1
    assert f"port {taken} (moto's server) is taken" in result.stderr
    assert f"make up MOTO_PORT={taken + 1}" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_up_says_when_nothing_answers_at_the_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = demo("--endpoint", endpoint)
    assert result.returncode == 1
    assert f"nothing answers at {endpoint}" in result.stderr and "make localstack" in result.stderr
