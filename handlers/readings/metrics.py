"""The ingest function's CloudWatch metrics in the Embedded Metric Format (EMF): one JSON line per
request on stdout, which CloudWatch Logs turns into metrics (no PutMetricData call, no IAM grant).

    ReadingsStored   readings this request wrote
    Duplicates       readings already stored, identical (a device resending): not written again
    Rejected         readings refused for good: invalid (422: the indexes named, or 1), in
                     conflict with a different stored reading (409); a POST refused before its
                     readings could be counted (not JSON, too large, not JSON content...) is 1

Namespace ``thumbstat``, one dimension, ``FunctionName``: three series per function, whatever the
traffic. The counts are read from the answer the device gets (``stored``, ``duplicate(s)``,
``conflicts``, ``details``), so the two cannot disagree. Other requests report zeros: the silence
alarm sums ReadingsStored, and a period without any line is silence too (missing data breaches).

The line is written to stdout in one write, not through ``logging``: a log format must not wrap
it, as CloudWatch reads EMF only from a line that is the JSON object itself.
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


def line(function_name: str, done: Counts, *, timestamp_ms: int, **properties: Any) -> str:
    """The EMF document, one line; ``properties`` ride along for Logs Insights (not dimensions)."""
    document = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [
                        {"Name": name, "Unit": "Count"}
                        for name in (READINGS_STORED, DUPLICATES, REJECTED)
                    ],
                }
            ],
        },
        DIMENSION: function_name,
        READINGS_STORED: done.stored,
        DUPLICATES: done.duplicates,
        REJECTED: done.rejected,
        **properties,
    }
    return json.dumps(document, separators=(",", ":"))


def emit(text: str) -> None:
    """One write of one line to stdout, where Lambda sends it to CloudWatch Logs as it is."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
