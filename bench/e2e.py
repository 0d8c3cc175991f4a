"""End-to-end benchmark: every benchmark image through the embedded stack, cold and warm.

    python -m bench.e2e [--out bench/results/e2e.json]      (make bench-e2e)

Each image is uploaded twice: once right after the resize function's process was stopped (a
cold start, with Init Duration) and once to the warm process. The REPORT figures come from the
router, measured as Lambda measures them (see devstack/runtime.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.versions import library_versions
from devstack import samples
from devstack.resources import SOURCE_PREFIX
from devstack.runtime import FunctionProcess, Report
from devstack.stack import EmbeddedStack, embedded
from handlers import aws

RESULTS = Path(__file__).resolve().parent / "results"


def _process(
    stack: EmbeddedStack, resize: FunctionProcess, key: str, data: bytes, timeout_s: float = 120
) -> Report:
    seen = len(resize.reports)
    aws.s3().put_object(Bucket=stack.resources.bucket, Key=key, Body=data)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = (
            aws.dynamodb()
            .get_item(TableName=stack.resources.index_table, Key={"id": {"S": key}})
            .get("Item")
        )
        if row is not None and len(resize.reports) > seen:
            return resize.reports[-1]
        time.sleep(0.05)
    raise SystemExit(f"{key} was not indexed within {timeout_s:.0f} s")


def _wait_for_test_event(resize: FunctionProcess, timeout_s: float = 60) -> None:
    """S3 sends s3:TestEvent when the notification is configured; let it be processed first,
    or it would take the cold start meant for an image."""
    deadline = time.monotonic() + timeout_s
    while not resize.reports and time.monotonic() < deadline:
        time.sleep(0.05)


def run() -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryFile() as log, embedded(log=log) as stack:
        resize = stack.functions["resize"]
        _wait_for_test_event(resize)
        for name, spec in samples.SPECS.items():
            data = samples.load(name)
            for start in ("cold", "warm"):
                if start == "cold":
                    resize.close()  # the next invocation starts a fresh process
                key = f"{SOURCE_PREFIX}bench/{name}-{start}{spec.suffix}"
                report = _process(stack, resize, key, data)
                results.append(
                    {
                        "image": name,
                        "start": start,
                        "bytes": len(data),
                        **asdict(report),
                        "billed_duration_ms": report.billed_duration_ms,
                    }
                )
                sys.stdout.write(f"{name:24s} {start}  {report.line()}\n")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "e2e.json")
    args = parser.parse_args()
    results = run()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"libraries": library_versions(), "invocations": results}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
