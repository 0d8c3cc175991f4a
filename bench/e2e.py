"""End-to-end benchmark: every benchmark image through the embedded stack, at Lambda's limits.

    python -m bench.e2e [--out DIR/e2e.json] [--sizes 128,256] [--images photo-12mp,...]
    (make bench-e2e)

At each memory size (128, 256, 512, 1,024 and 1,769 MB) every image is uploaded twice: once right
after the resize function's process was stopped (a cold start, with Init Duration) and once to the
warm process. The REPORT figures come from the router, measured as Lambda measures them (see
devstack/runtime.py). The function sees the memory size (AWS_LAMBDA_FUNCTION_MEMORY_SIZE: its
pixel budget follows it).

Measured, where cgroup v1 can be written (devstack/cgroups.py): the function process runs in a
cgroup with Lambda's CPU share (memory / 1,769 of a CPU) and its memory size as a hard limit, so
Duration is what the quota stretches it to, Max Memory Used is the cgroup's peak, and a function
over its size is killed and recorded as "out of memory". Init runs without the quota (as Lambda's
on-demand cold starts are observed to); at each size the first image is also started once with
the quota applied during Init ("cold, Init capped"), so both Init figures and Init's CPU time are
in the results.

Modelled, elsewhere (not root, cgroup v2 only): the same invocations without limits, recorded
with "mode": "modelled"; bench/report.py then scales their CPU time by Lambda's rule and says
so on every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from bench.versions import library_versions
from devstack import cgroups, clients, samples
from devstack.cgroups import Cgroup
from devstack.resources import SOURCE_PREFIX
from devstack.runtime import FunctionProcess, Interpreter, Launcher, Report
from devstack.stack import EmbeddedStack, embedded
from handlers.common import aws

RUN: Final = Path(__file__).resolve().parent / "results" / "run"
MEMORY_SIZES: Final = (128, 256, 512, 1024, 1769)
CAPPED_INIT: Final = "cold, Init capped"


def _process(
    stack: EmbeddedStack, resize: FunctionProcess, key: str, data: bytes, timeout_s: float = 180
) -> tuple[Report, str | None]:
    """Upload ``key``; the invocation's report and the index row's status (None: no row)."""
    seen = len(resize.reports)
    aws.s3().put_object(Bucket=stack.resources.bucket, Key=key, Body=data)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(resize.reports) > seen and resize.reports[-1].status != "ok":
            # Killed, timed out or failed: the message would come back after the visibility
            # timeout and take a later image's cold start. This run retries nothing.
            clients.sqs().purge_queue(QueueUrl=stack.resources.queue_url)
            return resize.reports[-1], None
        row = (
            aws.dynamodb()
            .get_item(TableName=stack.resources.index_table, Key={"id": {"S": key}})
            .get("Item")
        )
        if row is not None and len(resize.reports) > seen:
            return resize.reports[-1], row.get("status", {}).get("S")
        time.sleep(0.05)
    raise SystemExit(f"{key} was not indexed within {timeout_s:.0f} s")


def _wait_for_test_event(resize: FunctionProcess, timeout_s: float = 60) -> None:
    """S3 sends s3:TestEvent when the notification is configured; let it be processed first,
    or it would take the cold start meant for an image."""
    deadline = time.monotonic() + timeout_s
    while not resize.reports and time.monotonic() < deadline:
        time.sleep(0.05)


def _restart(resize: FunctionProcess, memory_mb: int, launcher: Launcher) -> None:
    """The next invocation starts a fresh execution environment of ``memory_mb``."""
    resize.close()
    resize.memory_mb, resize.launcher = memory_mb, launcher


def run(
    images: Sequence[str], sizes: Sequence[int], measured: bool, log: Any = None
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryFile() as scratch, embedded(log=log or scratch) as stack:
        resize = stack.functions["resize"]
        _wait_for_test_event(resize)
        for memory_mb in sizes:
            plan = [(images[0], CAPPED_INIT)] if measured else []
            plan += [(name, start) for name in images for start in ("cold", "warm")]
            died: set[str] = set()
            for name, start in plan:
                if start == "warm" and name in died:
                    continue  # its cold start died: the next start would be cold again
                if start != "warm":
                    launcher = Cgroup(cap_init=start == CAPPED_INIT) if measured else Interpreter()
                    _restart(resize, memory_mb, launcher)
                data, spec = samples.load(name), samples.SPECS[name]
                slug = start.replace(", ", "-").replace(" ", "-").lower()
                key = f"{SOURCE_PREFIX}bench/{memory_mb}mb/{name}-{slug}{spec.suffix}"
                report, row_status = _process(stack, resize, key, data)
                if report.status != "ok":
                    died.add(name)
                results.append(
                    {
                        "image": name,
                        "start": start,
                        "bytes": len(data),
                        "held_out": spec.held_out,
                        "mode": "measured" if measured else "modelled",
                        **asdict(report),
                        "billed_duration_ms": report.billed_duration_ms,
                        "outcome": row_status or report.status,
                    }
                )
                sys.stdout.write(f"{name:32s} {start:18s} {report.line()}\n")
                sys.stdout.flush()
        _restart(resize, resize.memory_mb, Interpreter())  # remove the last cgroup
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RUN / "e2e.json")
    parser.add_argument(
        "--sizes", default=",".join(map(str, MEMORY_SIZES)), help="memory sizes, MB"
    )
    parser.add_argument("--images", default=",".join(samples.SPECS), help="sample names")
    parser.add_argument(
        "--modelled", action="store_true", help="no cgroups even where they can be written"
    )
    args = parser.parse_args()
    why_not = "--modelled was given" if args.modelled else cgroups.unavailable()
    if why_not:
        sys.stdout.write(f"cgroups cannot be used ({why_not}): figures will be modelled\n")
    images = [name for name in args.images.split(",") if name]
    unknown = set(images) - set(samples.SPECS)
    if unknown:
        parser.error(f"unknown images: {', '.join(sorted(unknown))}")
    sizes = [int(size) for size in args.sizes.split(",")]
    started = time.monotonic()
    results = run(images, sizes, measured=why_not is None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "libraries": library_versions(),
                "mode": "modelled" if why_not else "measured",
                "why_modelled": why_not,
                "full_vcpu_mb": cgroups.FULL_VCPU_MB,
                "sizes": sizes,
                "seconds": round(time.monotonic() - started),
                "invocations": results,
            },
            indent=2,
        )
        + "\n"
    )
    sys.stdout.write(f"wrote {args.out} in {time.monotonic() - started:.0f} s\n")


if __name__ == "__main__":
    main()
