"""The emulator tier: the whole flow on a real emulator, each started once for the session with the
generated ready hook run against it, and the embedded stack's router and functions pointed at it.

- ``-m localstack`` (``make test-localstack``): LocalStack 4.14 in host mode (devstack.localstack),
  which runs the hook from its init directory itself;
- ``-m ministack`` (``make test-ministack``): MiniStack (devstack.ministack), the hook run by the
  launcher once MiniStack answers ready.

The flow tests take ``stack`` (or ``emulator``) and so run once per emulator, marked with its
name. Where an emulator cannot start (not installed, no Python 3.13 for LocalStack, a failed
start) its tests are skipped with the reason; under CI they fail instead, since .ci/run runs each
tier only where it installs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import pytest

from devstack.function_url import NONE
from devstack.localstack import server as localstack_server
from devstack.localstack.server import LocalStack
from devstack.ministack import server as ministack_server
from devstack.ministack.server import MiniStack
from devstack.stack import EmbeddedStack, embedded

T = TypeVar("T")

# Each emulator's name is its pytest marker (pyproject.toml) and the tests' id.
EMULATORS: Final = ("localstack", "ministack")


@dataclass(frozen=True)
class Emulator:
    name: str  # "localstack" or "ministack"
    endpoint: str


def _start(
    name: str,
    running: Callable[..., AbstractContextManager[T]],
    unavailable: type[Exception],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[T]:
    log_path = tmp_path_factory.mktemp(name) / f"{name}.log"
    with ExitStack() as scope:
        log: IO[bytes] = scope.enter_context(log_path.open("wb"))
        try:
            started = scope.enter_context(running(log=log, log_path=log_path))
        except unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"{name} did not start: {exc}")
            pytest.skip(f"{name} cannot start here: {exc}")
        yield started


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from _start(
        "localstack", localstack_server.running, localstack_server.Unavailable, tmp_path_factory
    )


@pytest.fixture(scope="session")
def ministack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniStack]:
    yield from _start(
        "ministack", ministack_server.running, ministack_server.Unavailable, tmp_path_factory
    )


@pytest.fixture(
    scope="session",
    params=[pytest.param(name, marks=getattr(pytest.mark, name), id=name) for name in EMULATORS],
)
def emulator(request: pytest.FixtureRequest) -> Emulator:
    """Each emulator in turn (its own session fixture, started on first use)."""
    started: Any = request.getfixturevalue(request.param)
    return Emulator(request.param, started.endpoint)


@pytest.fixture(scope="module")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """The router and both functions under awslambdaric, on the emulator instead of moto. The
    Function URL's auth is NONE: the readings test posts unsigned and reads with plain urllib, as
    tests/e2e does (AWS_IAM is tested there)."""
    log: Path = tmp_path_factory.mktemp("functions") / "functions.log"
    with (
        log.open("wb") as sink,
        embedded(endpoint=emulator.endpoint, log=sink, function_url_auth=NONE) as running_,
    ):
        yield running_
