"""LocalStack without Docker, from the command line.

python -m devstack.localstack find-python      the Python 3.13 it would use (exit 1: none)
python -m devstack.localstack install          .venv-localstack (make localstack-install)
python -m devstack.localstack start            start it, run the ready hook, stay up
                                               until Ctrl-C (make localstack)
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

from devstack.localstack.install import (
    VERSION,
    InstallError,
    Layout,
    default_venv,
    find_python,
    install,
)
from devstack.localstack.server import Unavailable, running
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
    parser.add_argument("--venv", type=Path, help="default: LOCALSTACK_VENV or .venv-localstack")
    parser.add_argument("--port", type=int, default=4566, help="start: the gateway's port")
    args = parser.parse_args(argv)
    layout = Layout((args.venv or default_venv()).resolve())

    if args.command in ("find-python", "install"):
        python = find_python()
        if python is None:
            sys.stderr.write(
                "no Python 3.13 found (LOCALSTACK_PYTHON, python3.13 on PATH, pyenv's versions):"
                " LocalStack 4.14 needs one\n"
            )
            return 1
        if args.command == "find-python":
            out(python)
            return 0
        try:
            install(layout, python)
        except InstallError as exc:
            sys.stderr.write(f"devstack.localstack install: {exc}\n")
            return 1
        out(f"LocalStack {VERSION} installed in {layout.venv} (Python: {python})")
        return 0

    log_path = Path(tempfile.mkdtemp(prefix="thumbstat-localstack-log-")) / "localstack.log"
    out(f"Starting LocalStack {VERSION} in host mode (its log: {log_path})")
    signal.signal(signal.SIGTERM, _interrupted)  # `kill PID` stops it cleanly too
    try:
        with (
            log_path.open("wb") as log,
            running(venv=layout.venv, port=args.port, log=log, log_path=log_path) as localstack,
        ):
            out(
                f"LocalStack ready at {localstack.endpoint} after {localstack.ready_s:.1f} s; the"
                " ready hook created the bucket, queues and tables. Until Ctrl-C. Try:\n"
                f"  make demo ENDPOINT={localstack.endpoint}\n"
                f"  make up ENDPOINT={localstack.endpoint}\n"
                f"  aws --endpoint-url {localstack.endpoint} dynamodb list-tables"
            )
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
            out("stopping LocalStack")
    except KeyboardInterrupt:
        out("LocalStack stopped while starting")
        return 130
    except (Unavailable, PortTaken) as exc:
        sys.stderr.write(f"devstack.localstack: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
