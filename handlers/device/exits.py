"""The command line's exit codes, and which failure ends in which: the one definition that
``cli``, ``sender`` and docs/device-client.md (checked by a test) follow.

The codes above 2 are sysexits.h's, so a cron wrapper can tell "try again later" (75) from "fix
the configuration" (78) from "the disk" (74).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class ExitCode(IntEnum):
    SENT = 0  # every reading is sent (summary, chart: answered)
    SET_ASIDE = 1  # readings will not be sent: refused by the function, quarantined, moved aside
    USAGE = 2  # bad arguments, or an invalid reading given to send (argparse's own code)
    SENT_UNSPOOLED = 74  # EX_IOERR: the spool cannot be written; the reading went directly
    TEMPFAIL = 75  # EX_TEMPFAIL: kept for later, or (said in the message) not kept: try again
    CONFIG = 78  # EX_CONFIG: retrying will not help until the configuration changes


# What each code tells the person or cron job that ran the command (--help, the docs' table).
MEANING: Final[dict[ExitCode, str]] = {
    ExitCode.SENT: "done: every reading is sent (summary, chart: fetched)",
    ExitCode.SET_ASIDE: "readings set aside for good: refused by the function (dropped), "
    "quarantined in the spool, or in a damaged spool moved aside (summary, chart: the function "
    "refused the request)",
    ExitCode.USAGE: "bad arguments, or an invalid reading given to send (nothing spooled)",
    ExitCode.SENT_UNSPOOLED: "the spool cannot be written (disk full, a file-size limit): this "
    "reading was sent directly and the function stored it; free space",
    ExitCode.TEMPFAIL: "try again later: readings stay spooled (the function unreachable or "
    "busy, something else answered, another flush running); or, when the message says the "
    "reading was NOT kept, it could be neither spooled nor sent",
    ExitCode.CONFIG: "fix the configuration: the URL, the profile, credentials or region "
    "(401, 403, 404, signing refused); readings stay spooled",
}

# Each failure the client meets, as docs/device-client.md's table names it, and how it exits.
FAILURES: Final[dict[str, ExitCode]] = {
    "spool cannot be written, function reachable": ExitCode.SENT_UNSPOOLED,
    "spool cannot be written, function unreachable": ExitCode.TEMPFAIL,
    "damaged spool file": ExitCode.SET_ASIDE,
    "spooled row not a valid reading": ExitCode.SET_ASIDE,
    "another flush running": ExitCode.TEMPFAIL,
    "clock obviously wrong": ExitCode.SENT,
    "profile, credentials or region unusable": ExitCode.CONFIG,
    "function unreachable or busy": ExitCode.TEMPFAIL,
    "function refuses a reading": ExitCode.SET_ASIDE,
    "function refuses the request as configured": ExitCode.CONFIG,
    "invalid arguments or reading": ExitCode.USAGE,
}
