"""LocalStack without Docker, from the command line.

python -m devstack.localstack find-python      the Python 3.13 it would use (exit 1: none)
python -m devstack.localstack install          .venv-localstack (make localstack-install)
python -m devstack.localstack start            start it, run the ready hook, stay up
                                               until Ctrl-C (make localstack)
"""

from __future__ import annotations

import sys
from typing import Any

from devstack import emulator_cli
from devstack.localstack import install, server


def _ready(localstack: Any, layout: install.Layout) -> str:
    return (
        f"LocalStack ready at {localstack.endpoint} after {localstack.ready_s:.1f} s; the"
        " ready hook created the bucket, queues and tables. Until Ctrl-C. Try:\n"
        f"  make demo ENDPOINT={localstack.endpoint}\n"
        f"  make up ENDPOINT={localstack.endpoint}\n"
        f"  aws --endpoint-url {localstack.endpoint} dynamodb list-tables"
    )


LOCALSTACK = emulator_cli.Emulator(
    name="LocalStack",
    module="devstack.localstack",
    version=install.VERSION,
    how=" in host mode",
    venv_default="LOCALSTACK_VENV or .venv-localstack",
    no_python=(
        "no Python 3.13 found (LOCALSTACK_PYTHON, python3.13 on PATH, pyenv's versions):"
        " LocalStack 4.14 needs one"
    ),
    layout=install.Layout,
    default_venv=install.default_venv,
    find_python=install.find_python,
    install=install.install,
    install_error=install.InstallError,
    running=server.running,
    unavailable=server.Unavailable,
    ready=_ready,
)


def main(argv: list[str] | None = None) -> int:
    return emulator_cli.main(LOCALSTACK, __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(main())
