"""The device client's former single module, now an alias: ``python -m handlers.device.client``
runs the command line as ``python -m handlers.device`` does, and the names it defined are
imported from where they live (spool, transport, sender, cli)."""

from __future__ import annotations

import sys

from handlers.device.cli import main, now_rfc3339
from handlers.device.sender import (
    CONFIGURATION,
    EXIT_CONFIG,
    EXIT_REFUSED,
    EXIT_SENT,
    EXIT_SPOOLED,
    NOT_THE_FUNCTION,
    UNAVAILABLE,
    FlushReport,
    ReadingClient,
)
from handlers.device.spool import DEFAULT_SPOOL, Spool
from handlers.device.transport import Answer, Misconfigured, Unavailable

__all__ = [
    "CONFIGURATION",
    "DEFAULT_SPOOL",
    "EXIT_CONFIG",
    "EXIT_REFUSED",
    "EXIT_SENT",
    "EXIT_SPOOLED",
    "NOT_THE_FUNCTION",
    "UNAVAILABLE",
    "Answer",
    "FlushReport",
    "Misconfigured",
    "ReadingClient",
    "Spool",
    "Unavailable",
    "main",
    "now_rfc3339",
]

if __name__ == "__main__":
    sys.exit(main())
