"""The ingest function's CloudWatch metrics in the Embedded Metric Format (EMF): one JSON line per
request on stdout, which CloudWatch Logs turns into metrics (no PutMetricData call, no IAM grant).

    ReadingsStored   readings this request wrote
    Duplicates       readings already stored, identical (a device resending): not written again
    Rejected         readings refused for good: invalid (422: the indexes named, or 1), in
                     conflict with a different stored reading (409); a POST refused before its
                     readings could be counted (not JSON, too large, not JSON content...) is 1

    ColdStart        1 on the first invocation of a container, absent after (Powertools' metric of
                     the same name, with the same function name dimension)

Namespace ``thumbstat``, one dimension, ``FunctionName``: four series per function, whatever the
traffic. The counts are read from the answer the device gets (``stored``, ``duplicate(s)``,
``conflicts``, ``details``), so the two cannot disagree. Other requests report zeros: the silence
alarm sums ReadingsStored, and a period without any line is silence too (missing data breaches).

The line is written to stdout in one write, not through ``logging``: a log format must not wrap
it, as CloudWatch reads EMF only from a line that is the JSON object itself.

The line carries ``"level": "FATAL"`` (``LEVEL``). With the JSON log format, Lambda filters the
function's JSON lines on stdout by their ``level`` against the application log level
(``ApplicationLogLevel``: TRACE, DEBUG, INFO, WARN, ERROR or FATAL) and keeps a line only at that
level or above. FATAL is the one level every setting keeps, so the metrics survive an application
log level raised to quiet the logs (WARN, ERROR, even FATAL). It says nothing of the request's
health: queries for failures should look at ``status`` or exclude lines with ``_aws``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from handlers.readings.schema import item_index

NAMESPACE: Final = "thumbstat"
DIMENSION: Final = "FunctionName"
READINGS_STORED: Final = "ReadingsStored"
DUPLICATES: Final = "Duplicates"
REJECTED: Final = "Rejected"
COLD_START: Final = "ColdStart"
# The highest of Lambda's application log levels: kept whatever ApplicationLogLevel is (above).
LEVEL: Final = "FATAL"

_cold = True  # no invocation of this container has emitted its metrics yet


def cold_start() -> bool:
    """True for the first invocation of this container (the first call), False after."""
    global _cold
    first, _cold = _cold, False
    return first


@dataclass(frozen=True)
class Counts:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def counts(method: str, status: int, body: object) -> Counts:
    """What a request did to readings, from its answer."""
    if method != "POST" or not isinstance(body, Mapping):
        return Counts()
    duplicates = body.get("duplicates")
    conflicts = body.get("conflicts")
    rejected = len(conflicts) if isinstance(conflicts, list) else 0
    if status == 422:
        details = body.get("details")
        keys = details if isinstance(details, Mapping) else {}
        indexes = {index for key in keys if (index := item_index(key)) is not None}
        rejected = len(indexes) or 1
    elif 400 <= status < 500 and not rejected:
        rejected = 1
    if isinstance(duplicates, list):
        duplicated = len(duplicates)
    else:
        duplicated = int(body.get("duplicate") is True)
    return Counts(stored=_count(body.get("stored")), duplicates=duplicated, rejected=rejected)


def line(
    function_name: str,
    done: Counts,
    *,
    timestamp_ms: int,
    cold: bool = False,
    **properties: Any,
) -> str:
    """The EMF document, one line; ``properties`` ride along for Logs Insights (not dimensions).
    ``cold``: the container's first invocation, counted as ColdStart 1."""
    values = {READINGS_STORED: done.stored, DUPLICATES: done.duplicates, REJECTED: done.rejected}
    if cold:
        values[COLD_START] = 1
    document = {
        "level": LEVEL,
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
                }
            ],
        },
        DIMENSION: function_name,
        **values,
        **properties,
    }
    return json.dumps(document, separators=(",", ":"))


def emit(text: str) -> None:
    """One write of one line to stdout, where Lambda sends it to CloudWatch Logs as it is."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
