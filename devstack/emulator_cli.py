"""The command line both emulator launchers share (``python -m devstack.localstack`` and
``python -m devstack.ministack``): find-python, install, start. Each package's ``__main__``
describes its emulator in an ``Emulator`` and hands it to ``main``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from devstack.ports import PortTaken


@dataclass(frozen=True)
class Emulator:
    name: str  # as said in messages: "LocalStack", "MiniStack"
    module: str  # devstack.localstack
    version: str
    how: str  # how it runs, said when starting: " in host mode", or ""
    venv_default: str  # the --venv help: "LOCALSTACK_VENV or .venv-localstack"
    no_python: str  # what to say when find_python finds none
    layout: Callable[[Path], Any]  # the venv -> its Layout
    default_venv: Callable[[], Path]
    find_python: Callable[[], str | None]
    install: Callable[[Any, str], None]
    install_error: type[Exception]
    running: Callable[..., contextlib.AbstractContextManager[Any]]
    unavailable: type[Exception]
    ready: Callable[[Any, Any], str]  # (the running server, the layout) -> what to print


def _interrupted(signum: int, frame: object) -> NoReturn:
    """SIGTERM stops it as Ctrl-C does, even while it starts; a second one is ignored, so that
    it cannot cut the stopping short and leave the server running."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(emulator: Emulator, doc: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("find-python", "install", "start"))
    parser.add_argument("--venv", type=Path, help=f"default: {emulator.venv_default}")
    parser.add_argument("--port", type=int, default=4566, help="start: the gateway's port")
    args = parser.parse_args(argv)
    layout = emulator.layout((args.venv or emulator.default_venv()).resolve())
    if args.command in ("find-python", "install"):
        return _install(emulator, layout, args.command == "install")
    return _start(emulator, layout, args.port)


def _install(emulator: Emulator, layout: Any, install: bool) -> int:
    python = emulator.find_python()
    if python is None:
        sys.stderr.write(emulator.no_python + "\n")
        return 1
    if not install:
        out(python)
        return 0
    try:
        emulator.install(layout, python)
    except emulator.install_error as exc:
        sys.stderr.write(f"{emulator.module} install: {exc}\n")
        return 1
    out(f"{emulator.name} {emulator.version} installed in {layout.venv} (Python: {python})")
    return 0


def _start(emulator: Emulator, layout: Any, port: int) -> int:
    slug = emulator.name.lower()
    log_path = Path(tempfile.mkdtemp(prefix=f"thumbstat-{slug}-log-")) / f"{slug}.log"
    out(f"Starting {emulator.name} {emulator.version}{emulator.how} (its log: {log_path})")
    signal.signal(signal.SIGTERM, _interrupted)  # `kill PID` stops it cleanly too
    try:
        with (
            _logged(log_path) as log,
            emulator.running(venv=layout.venv, port=port, log=log, log_path=log_path) as server,
        ):
            out(emulator.ready(server, layout))
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
            out(f"stopping {emulator.name}")
    except KeyboardInterrupt:
        out(f"{emulator.name} stopped while starting")
        return 130
    except (emulator.unavailable, PortTaken) as exc:
        sys.stderr.write(f"{emulator.module}: {exc}\n")
        return 1
    return 0


@contextlib.contextmanager
def _logged(path: Path) -> Iterator[IO[bytes]]:
    with path.open("wb") as log:
        yield log
