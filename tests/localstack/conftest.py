"""The localstack tier (``-m localstack``, ``make test-localstack``): a real LocalStack 4.14 in host
mode, started once for the session by devstack.localstack with the generated ready hook in its
init directory, and the embedded stack's router and functions pointed at it.

Where LocalStack cannot start (not installed, no Python 3.13, a failed start) the tier is skipped
with the reason; under CI it fails instead, since .ci/run runs it only where it can install it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from devstack.localstack.server import LocalStack, Unavailable, running
from devstack.stack import EmbeddedStack, embedded


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    log_path = tmp_path_factory.mktemp("localstack") / "localstack.log"
    with ExitStack() as scope:
        log = scope.enter_context(log_path.open("wb"))
        try:
            started = scope.enter_context(running(log=log, log_path=log_path))
        except Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"LocalStack did not start: {exc}")
            pytest.skip(f"LocalStack cannot start here: {exc}")
        yield started


@pytest.fixture(scope="module")
def stack(
    localstack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedStack]:
    """The router and both functions under awslambdaric, on LocalStack instead of moto."""
    log = tmp_path_factory.mktemp("functions") / "functions.log"
    with log.open("wb") as sink, embedded(endpoint=localstack.endpoint, log=sink) as running_:
        yield running_
