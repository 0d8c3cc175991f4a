"""MiniStack from the command line.

python -m devstack.ministack find-python      the Python it would use (exit 1: none)
python -m devstack.ministack install          .venv-ministack (make ministack-install)
python -m devstack.ministack start            start it, run the ready hook, stay up
                                              until Ctrl-C (make ministack)
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import NoReturn

from devstack.ministack.install import (
    PYTHON_MIN,
    VERSION,
    InstallError,
    Layout,
    default_venv,
    find_python,
    install,
)
from devstack.ministack.server import Unavailable, running
from devstack.ports import PortTaken


def _interrupted(signum: int, frame: object) -> NoReturn:
    """SIGTERM stops it as Ctrl-C does, even while it starts; a second one is ignored, so that
    it cannot cut the stopping short and leave the server running."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("find-python", "install", "start"))
    parser.add_argument("--venv", type=Path, help="default: MINISTACK_VENV or .venv-ministack")
    parser.add_argument("--port", type=int, default=4566, help="start: the gateway's port")
    args = parser.parse_args(argv)
    layout = Layout((args.venv or default_venv()).resolve())

    if args.command in ("find-python", "install"):
        python = find_python()
        if python is None:
            minimum = ".".join(map(str, PYTHON_MIN))
            sys.stderr.write(f"MiniStack needs Python {minimum} or later (MINISTACK_PYTHON)\n")
            return 1
        if args.command == "find-python":
            out(python)
            return 0
        try:
            install(layout, python)
        except InstallError as exc:
            sys.stderr.write(f"devstack.ministack install: {exc}\n")
            return 1
        out(f"MiniStack {VERSION} installed in {layout.venv} (Python: {python})")
        return 0

    log_path = Path(tempfile.mkdtemp(prefix="thumbstat-ministack-log-")) / "ministack.log"
    out(f"Starting MiniStack {VERSION} (its log: {log_path})")
    signal.signal(signal.SIGTERM, _interrupted)  # `kill PID` stops it cleanly too
    try:
        with (
            log_path.open("wb") as log,
            running(venv=layout.venv, port=args.port, log=log, log_path=log_path) as ministack,
        ):
            out(
                f"MiniStack ready at {ministack.endpoint} after {ministack.started_s:.1f} s, its"
                f" ready hook run after {ministack.ready_s:.1f} s: the bucket, queues and tables"
                " exist. Until Ctrl-C. Try:\n"
                f"  make demo ENDPOINT={ministack.endpoint}\n"
                f"  make up ENDPOINT={ministack.endpoint}\n"
                f"  {layout.bin / 'aws'} --endpoint-url {ministack.endpoint} dynamodb list-tables"
            )
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
            out("stopping MiniStack")
    except KeyboardInterrupt:
        out("MiniStack stopped while starting")
        return 130
    except (Unavailable, PortTaken) as exc:
        sys.stderr.write(f"devstack.ministack: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
