"""MiniStack from the command line.

python -m devstack.ministack find-python      the Python it would use (exit 1: none)
python -m devstack.ministack install          .venv-ministack (make ministack-install)
python -m devstack.ministack start            start it, run the ready hook, stay up
                                              until Ctrl-C (make ministack)
"""

from __future__ import annotations

import sys
from typing import Any

from devstack import emulator_cli
from devstack.ministack import install, server


def _ready(ministack: Any, layout: install.Layout) -> str:
    return (
        f"MiniStack ready at {ministack.endpoint} after {ministack.started_s:.1f} s, its"
        f" ready hook run after {ministack.ready_s:.1f} s: the bucket, queues and tables"
        " exist. Until Ctrl-C. Try:\n"
        f"  make demo ENDPOINT={ministack.endpoint}\n"
        f"  make up ENDPOINT={ministack.endpoint}\n"
        f"  {layout.bin / 'aws'} --endpoint-url {ministack.endpoint} dynamodb list-tables"
    )


MINISTACK = emulator_cli.Emulator(
    name="MiniStack",
    module="devstack.ministack",
    version=install.VERSION,
    how="",
    venv_default="MINISTACK_VENV or .venv-ministack",
    no_python=(
        f"MiniStack needs Python {'.'.join(map(str, install.PYTHON_MIN))} or later"
        " (MINISTACK_PYTHON)"
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
    return emulator_cli.main(MINISTACK, __doc__ or "", argv)


if __name__ == "__main__":
    sys.exit(main())
