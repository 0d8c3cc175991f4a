"""Are the bucket, the renditions and the index in agreement? (docs/reconcile.md)

    python -m infra.reconcile --bucket B [--table T] [--source-prefix P] [--thumbnail-prefix P]
        [--thumbnail-bucket B] [--renditions SPEC] [--fix] [--queue-url URL] [--manifest PATH]
        [--json] [--stack NAME] [--segments N] [--page-size ROWS] [--examples N]

Lists the sources (under SOURCE_PREFIX) and the renditions (under THUMBNAIL_PREFIX), scans the
index, and reports each kind of drift with its count and a few examples. --fix sends the
upload queue a synthetic S3 event for each source to render again (and each row whose source is
gone), and deletes orphan renditions (conditional on the ETag listed). --manifest writes the
sources to render again as an S3 Batch Operations CSV manifest.

The settings default to what the resize function reads (handlers.index.settings), from this
environment, or with --stack from the deployed stack's outputs and its function's environment;
the options override both. Exit status: 0 everything agrees, 1 drift found (--fix queues the
repairs: run again once the queue drains to see them done), 2 a usage error, 3 an AWS call or
the manifest's write failed (what failed is on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handlers.common.config import ConfigError
from handlers.imaging import renditions
from handlers.index import settings as resize_settings
from handlers.index.settings import ResizeSettings
from infra import reconcile_fix, reconcile_io
from infra.reconcile_drift import NOT_COUNTED, Findings, Scope, compare

EXAMPLES: Final = 5  # keys shown per kind of drift, unless --examples
DEFAULT_SEGMENTS: Final = 4
MAX_SEGMENTS: Final = 1_000_000  # DynamoDB's limit on TotalSegments
FAILED: Final = 3  # the exit status when a listing, the scan or a repair failed


class Progress:
    """One line on a terminal, rewritten as the counts grow; nothing when not on one."""

    def __init__(self, sink: IO[str] | None) -> None:
        self.sink = sink
        self.counts = {"objects listed": 0, "rows scanned": 0, "fixes": 0}
        self._lock = threading.Lock()
        self._shown = 0.0

    def counter(self, name: str) -> reconcile_io.Progress:
        def add(count: int) -> None:
            with self._lock:
                self.counts[name] += count
                self._show(force=False)

        return add

    def _show(self, force: bool) -> None:
        now = time.monotonic()
        if self.sink is None or (not force and now - self._shown < 0.2):
            return
        self._shown = now
        line = ", ".join(f"{value:,} {name}" for name, value in self.counts.items())
        self.sink.write(f"\r{line}\033[K")
        self.sink.flush()

    def done(self) -> None:
        if self.sink is not None:
            self._show(force=True)
            self.sink.write("\n")


@dataclass
class Report:
    scope: Scope
    table: str
    sources: int
    rows: int
    renditions: int
    scan_pages: int
    read_units: float
    findings: Findings
    seconds: float = 0.0
    phases: dict[str, float] | None = None  # seconds listing, scanning, comparing
    examples: int = EXAMPLES
    fixes: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None

    @property
    def agree(self) -> bool:
        return self.findings.drift == 0

    def to_json(self) -> dict[str, Any]:
        findings = self.findings
        return {
            "bucket": self.scope.bucket,
            "thumbnail_bucket": self.scope.thumbnail_bucket,
            "table": self.table,
            "source_prefix": self.scope.source_prefix,
            "thumbnail_prefix": self.scope.thumbnail_prefix,
            "renditions": self.scope.spec,
            "agree": self.agree,
            "counts": {
                "sources": self.sources,
                "rows": self.rows,
                "renditions": self.renditions,
                "in_flight": findings.in_flight,
                "elsewhere": findings.elsewhere,
                "scan_pages": self.scan_pages,
                "read_units": self.read_units,
            },
            "drift": {
                kind.value: {
                    "count": len(keys),
                    "counted": kind not in NOT_COUNTED,
                    "examples": keys[: self.examples],
                }
                for kind, keys in findings.found.items()
            },
            "to_render": len(findings.rerender),
            "to_remove": len(findings.remove),
            "fixes": self.fixes,
            "manifest": self.manifest,
            "seconds": round(self.seconds, 3),
            "phases": self.phases,
        }

    def text(self) -> str:
        s, f = self.scope, self.findings
        lines = [
            f"s3://{s.bucket}/{s.source_prefix}: {self.sources:,} sources;"
            f" s3://{s.thumbnail_bucket}/{s.thumbnail_prefix}: {self.renditions:,} renditions;"
            f" {self.table}: {self.rows:,} rows ({f.in_flight:,} in flight,"
            f" {f.elsewhere:,} of another bucket or prefix); RENDITIONS={s.spec}"
        ]
        for kind, keys in f.found.items():
            if keys:
                apart = " (not counted as drift)" if kind in NOT_COUNTED else ""
                lines.append(f"  {kind}: {len(keys):,}{apart}")
                lines += [f"    {key}" for key in keys[: self.examples]]
                if len(keys) > self.examples:
                    lines.append(f"    ... and {len(keys) - self.examples:,} more")
        verdict = "they agree" if self.agree else f"{f.drift:,} disagreements"
        lines.append(f"{verdict} ({self.seconds:.1f} s)")
        if self.fixes is not None:
            fixes = self.fixes
            lines.append(
                f"fixed: {fixes['queued_renders']:,} renders and {fixes['queued_removals']:,}"
                f" removals queued, {len(fixes['deleted']):,} orphans deleted,"
                f" {len(fixes['kept']):,} kept (claimed or changed since)"
            )
        if self.manifest is not None:
            lines.append(f"manifest: {self.manifest['lines']:,} sources in {self.manifest['path']}")
        return "\n".join(lines)


def scope_of(settings: ResizeSettings, bucket: str) -> Scope:
    """What the resize function with ``settings``, notified by ``bucket``, should have made."""
    return Scope(
        bucket=bucket,
        thumbnail_bucket=settings.thumbnail_bucket or bucket,
        source_prefix=settings.source_prefix,
        thumbnail_prefix=settings.thumbnail_prefix,
        spec=renditions.render(settings.renditions),
    )


def problems(report: Report) -> list[str]:
    """One line per finding counted as drift: ``KIND: KEY``."""
    return [
        f"{kind}: {key}"
        for kind, keys in report.findings.found.items()
        if kind not in NOT_COUNTED
        for key in keys
    ]


def check(
    scope: Scope,
    table: str,
    *,
    segments: int = DEFAULT_SEGMENTS,
    page_size: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """List, scan and compare. The renditions are listed before the scan: a rendition uploaded
    since its row was read is then in the row's ``uploading``, never taken for an orphan."""
    progress = progress or Progress(None)
    started = time.monotonic()
    listed = progress.counter("objects listed")
    with ThreadPoolExecutor(max_workers=2) as pool:
        sources_ = pool.submit(reconcile_io.list_objects, scope.bucket, scope.source_prefix, listed)
        stored_ = pool.submit(
            reconcile_io.list_objects, scope.thumbnail_bucket, scope.thumbnail_prefix, listed
        )
        sources, stored = sources_.result(), stored_.result()
    listed_at = time.monotonic()
    scanned = reconcile_io.scan(table, segments, progress.counter("rows scanned"), page_size)
    scanned_at = time.monotonic()
    findings = compare(scope, sources, scanned.rows, stored, time.time())
    ended = time.monotonic()
    phases = {
        "list": listed_at - started,
        "scan": scanned_at - listed_at,
        "compare": ended - scanned_at,
    }
    return Report(
        scope,
        table,
        sources=len(sources),
        rows=len(scanned.rows),
        renditions=len(stored),
        scan_pages=scanned.pages,
        read_units=scanned.read_units,
        findings=findings,
        seconds=ended - started,
        phases={name: round(seconds, 3) for name, seconds in phases.items()},
    )


def fix(report: Report, queue_url: str, progress: Progress) -> dict[str, Any]:
    """Delete the orphans first (so no render this sends can race their deletes), then queue the
    renders and removals."""
    scope, findings = report.scope, report.findings
    counter = progress.counter("fixes")
    deleted, kept = reconcile_fix.delete_orphans(scope, report.table, findings.orphans, counter)
    notifications = [reconcile_fix.created(scope.bucket, r) for r in findings.rerender.values()]
    notifications += [
        reconcile_fix.removed(scope.bucket, key, sequencer)
        for key, sequencer in findings.remove.items()
    ]
    reconcile_fix.send(queue_url, notifications, counter)
    return {
        "queued_renders": len(findings.rerender),
        "queued_removals": len(findings.remove),
        "deleted": deleted,
        "kept": kept,
    }


# --- the command ----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.reconcile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bucket", help="the upload bucket (default: the stack's BucketName)")
    parser.add_argument("--table", help=f"the index table (default: {resize_settings.INDEX_TABLE})")
    parser.add_argument("--source-prefix", help=f"default: {resize_settings.SOURCE_PREFIX}")
    parser.add_argument("--thumbnail-prefix", help=f"default: {resize_settings.THUMBNAIL_PREFIX}")
    parser.add_argument("--thumbnail-bucket", help=f"default: {resize_settings.THUMBNAIL_BUCKET}")
    parser.add_argument(
        "--renditions", metavar="SPEC", help=f"default: {resize_settings.RENDITIONS}"
    )
    parser.add_argument("--stack", metavar="NAME", help="read the defaults from a deployed stack")
    parser.add_argument("--fix", action="store_true", help="queue renders, delete orphans")
    parser.add_argument("--queue-url", help="the upload queue (default: the stack's)")
    parser.add_argument(
        "--manifest", type=Path, metavar="PATH", help="write a Batch Operations CSV"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--examples", type=int, default=EXAMPLES, help=f"keys shown per kind (default {EXAMPLES})"
    )
    parser.add_argument(
        "--segments",
        type=int,
        default=DEFAULT_SEGMENTS,
        help=f"parallel Scan segments, 1..{MAX_SEGMENTS:,} (default {DEFAULT_SEGMENTS})",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        metavar="ROWS",
        help="rows per Scan page (default: DynamoDB's 1 MB pages; smaller for a slow emulator)",
    )
    return parser


@dataclass(frozen=True)
class Target:
    scope: Scope
    table: str
    queue_url: str | None


def resolve(
    args: argparse.Namespace, environ: Mapping[str, str], deployed: reconcile_io.Deployed | None
) -> Target:
    """The scope from the options over the stack over the environment, parsed by the function's
    own settings. Raises ConfigError."""
    env = {**environ, **(deployed.environment if deployed else {})}
    options = {
        resize_settings.SOURCE_PREFIX: args.source_prefix,
        resize_settings.THUMBNAIL_PREFIX: args.thumbnail_prefix,
        resize_settings.THUMBNAIL_BUCKET: args.thumbnail_bucket,
        resize_settings.RENDITIONS: args.renditions,
        resize_settings.INDEX_TABLE: args.table,
    }
    if args.renditions is not None:
        env.pop(resize_settings.THUMBNAIL_MAX_SIZE, None)  # RENDITIONS names every size
    env.update({name: value for name, value in options.items() if value is not None})
    outputs = deployed.outputs if deployed else {}
    if args.table is None and reconcile_io.TABLE_OUTPUT in outputs:
        env[resize_settings.INDEX_TABLE] = outputs[reconcile_io.TABLE_OUTPUT]
    settings = ResizeSettings.from_env(env)
    bucket = args.bucket or outputs.get(reconcile_io.BUCKET_OUTPUT)
    if not bucket:
        raise ConfigError("no bucket: give --bucket, or --stack to read it from the stack")
    if not 1 <= args.segments <= MAX_SEGMENTS:
        raise ConfigError(f"--segments must be 1..{MAX_SEGMENTS:,}")
    if args.page_size is not None and args.page_size < 1:
        raise ConfigError("--page-size must be at least 1")
    queue_url = args.queue_url or outputs.get(reconcile_io.QUEUE_OUTPUT)
    if args.fix and not queue_url:
        raise ConfigError("--fix sends renders to the upload queue: give --queue-url or --stack")
    return Target(scope_of(settings, bucket), settings.index_table, queue_url)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        deployed = reconcile_io.deployed(args.stack) if args.stack else None
        target = resolve(args, env, deployed)
    except ConfigError as exc:
        parser.error(str(exc))
    except (ClientError, BotoCoreError) as exc:
        parser.error(f"--stack {args.stack}: {exc}")
    progress = Progress(sys.stderr if sys.stdout.isatty() else None)
    try:
        report = check(
            target.scope,
            target.table,
            segments=args.segments,
            page_size=args.page_size,
            progress=progress,
        )
        report.examples = max(args.examples, 0)
        if args.manifest is not None:
            keys = sorted(report.findings.rerender)
            lines = reconcile_fix.write_manifest(args.manifest, target.scope.bucket, keys)
            report.manifest = {"path": str(args.manifest), "lines": lines}
        if args.fix and target.queue_url:
            report.fixes = fix(report, target.queue_url, progress)
    except (ClientError, BotoCoreError, reconcile_fix.SendFailed, OSError) as exc:
        progress.done()
        sys.stderr.write(f"{parser.prog}: failed: {exc}\n")
        return FAILED
    progress.done()
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    return 0 if report.agree else 1


if __name__ == "__main__":
    sys.exit(main())
