"""docs/configuration.md's table against the variables the functions read (their settings
modules): every variable is documented, and the table documents nothing the code does not read."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.common import logs
from handlers.index import settings as resize_settings
from handlers.readings import settings as ingest_settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Read outside the settings modules: the log levels (handlers/common/logs.py) and
# botocore's endpoint.
ELSEWHERE = {logs.LOG_LEVEL, logs.AWS_LAMBDA_LOG_LEVEL, "AWS_ENDPOINT_URL"}


def documented() -> set[str]:
    """The variables named in the first column of the configuration table's rows."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", CONFIGURATION.read_text(), re.MULTILINE))


def test_every_variable_is_documented_and_nothing_else() -> None:
    read = {*resize_settings.VARIABLES, *ingest_settings.VARIABLES}
    assert documented() == read | ELSEWHERE
