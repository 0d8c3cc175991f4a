"""A moto server in a process of its own, for the tests of an endpoint already running: moto's
in-process servers share one state, so resources made under the stack's fixed names there would
be seen by every later stack in the session; another process, like LocalStack, has its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from devstack.ports import free_port


def moto_process() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"moto's server exited with {server.returncode}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto's server did not listen"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def other_moto() -> Iterator[str]:
    """An endpoint already running, standing for LocalStack: moto's server, another process."""
    yield from moto_process()


@pytest.fixture(scope="module")
def module_moto() -> Iterator[str]:
    yield from moto_process()
