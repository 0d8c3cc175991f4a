"""What ``python -m infra.reconcile`` compares, with no AWS call: the sources listed under the
source prefix, the index rows scanned, and the renditions listed under the thumbnail prefix, into
the kinds of drift (docs/reconcile.md) and what would repair each.

The promise checked is docs/index-protocol.md's: a source has a settled row recording its ETag
that names exactly the renditions in the bucket, made under the current ``RENDITIONS``; a key that
holds nothing has no row or a ``deleted`` one; no rendition is left that no row names. A row
whose lease is live is part-way through an event and is not judged; what it is uploading or has
left to delete is nobody's orphan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from handlers.imaging.renditions import EXTENSION
from handlers.index import store
from handlers.index.outcomes import PENDING, Outcome

_EXTENSIONS: Final = frozenset(EXTENSION.values())
_FOLDER: Final = re.compile(r"[0-9]+(x[0-9]+)?")  # RenditionSpec.folder: a size, or a box


class Drift(StrEnum):
    """The kinds of drift, as the report and ``--json`` name them."""

    SOURCE_WITHOUT_ROW = "source-without-row"  # no row, or a `deleted` one, for a source
    ROW_FOR_ANOTHER_VERSION = "row-for-another-version"  # source-etag is not the source's ETag
    ROW_WITHOUT_SOURCE = "row-without-source"  # not `deleted`, and nothing at its key
    ROW_UNDER_ANOTHER_SPEC = "row-under-another-spec"  # rendered under another RENDITIONS
    ROW_WITH_UNKNOWN_SPEC = "row-with-unknown-spec"  # written before rows recorded their spec
    RENDITION_MISSING = "rendition-missing"  # a row names a rendition the bucket does not hold
    ORPHAN_RENDITION = "orphan-rendition"  # a rendition no row names
    LEASE_EXPIRED = "lease-expired"  # a lease left behind past its lease-until


# Reported, but not counted as drift: a row from before ``renditions-spec`` whose renditions bear
# the current spec's names may well be right; nothing says it is not.
NOT_COUNTED: Final = frozenset({Drift.ROW_WITH_UNKNOWN_SPEC})


@dataclass(frozen=True)
class Listed:
    """One object as ListObjectsV2 lists it."""

    key: str
    etag: str  # without the quotes
    size: int


@dataclass(frozen=True)
class Row:
    """What reconcile reads of an index row (``handlers.index.store`` owns its shape)."""

    key: str
    status: str
    source_bucket: str | None = None
    source_etag: str = ""
    sequencer: str = ""
    spec: str | None = None  # renditions-spec
    renditions: Mapping[str, str] = field(default_factory=dict)  # key -> ETag, as named
    names: frozenset[str] = frozenset()  # the renditions map's names (spec items)
    thumbnail_bucket: str | None = None
    lease: str | None = None
    lease_until: int = 0
    in_flight: frozenset[str] = frozenset()  # uploading and pending-deletes: the protocol's own

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Row:
        def text(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        listed = item.get("renditions", {}).get("M", {})
        renditions = {
            entry["M"]["key"]["S"]: entry["M"].get("etag", {}).get("S", "")
            for entry in listed.values()
        }
        path = text("thumbnail-path")
        if path and path not in renditions:
            renditions[path] = ""  # a row from before the renditions map
        in_flight = set(item.get(store.UPLOADING, {}).get("SS", []))
        in_flight |= set(item.get(store.PENDING_DELETES, {}).get("M", {}))
        spec = item.get(store.RENDITIONS_SPEC, {}).get("S")
        return cls(
            key=text("id"),
            status=text("status"),
            source_bucket=text("source-bucket") or None,
            source_etag=text("source-etag").strip('"'),
            sequencer=text("sequencer"),
            spec=None if spec is None else str(spec),
            renditions=renditions,
            names=frozenset(listed),
            thumbnail_bucket=text("thumbnail-bucket") or None,
            lease=text(store.LEASE) or None,
            lease_until=int(item.get(store.LEASE_UNTIL, {}).get("N", "0")),
            in_flight=frozenset(in_flight),
        )


# What a scan needs to read of each row (a projection saves transfer, not read units).
ATTRIBUTES: Final = (
    "id",
    "status",
    "source-bucket",
    "source-etag",
    "sequencer",
    store.RENDITIONS_SPEC,
    "renditions",
    "thumbnail-path",
    "thumbnail-bucket",
    store.LEASE,
    store.LEASE_UNTIL,
    store.UPLOADING,
    store.PENDING_DELETES,
)


@dataclass(frozen=True)
class Scope:
    """What is compared: where the sources and renditions are, and the spec they should have."""

    bucket: str
    thumbnail_bucket: str  # the source bucket unless THUMBNAIL_BUCKET
    source_prefix: str
    thumbnail_prefix: str
    spec: str  # the canonical RENDITIONS text (handlers.imaging.renditions.render)

    @property
    def spec_names(self) -> frozenset[str]:
        return frozenset(self.spec.split(","))


@dataclass(frozen=True)
class Rerender:
    """A source to render again: a synthetic ObjectCreated for it, ordered with its row."""

    source: Listed
    sequencer: str


@dataclass
class Findings:
    found: dict[Drift, list[str]] = field(default_factory=lambda: {kind: [] for kind in Drift})
    rerender: dict[str, Rerender] = field(default_factory=dict)
    remove: dict[str, str] = field(default_factory=dict)  # key -> the row's sequencer
    orphans: list[Listed] = field(default_factory=list)
    in_flight: int = 0  # rows with a live lease: not judged
    elsewhere: int = 0  # rows of another bucket or outside the source prefix

    @property
    def drift(self) -> int:
        return sum(len(keys) for kind, keys in self.found.items() if kind not in NOT_COUNTED)


def is_source(key: str, scope: Scope) -> bool:
    """A key the function renders: under the source prefix, not a folder marker, and not under
    the thumbnail prefix of the same bucket (settings refuse that overlap; this keeps it out)."""
    if not key.startswith(scope.source_prefix) or key.endswith("/"):
        return False
    return scope.thumbnail_bucket != scope.bucket or not key.startswith(scope.thumbnail_prefix)


def source_of(rendition: str, source_prefix: str, thumbnail_prefix: str) -> str | None:
    """The source key a rendition key was made for (``handlers.index.keys`` inverted), or None for
    a key that is no rendition's."""
    if not rendition.startswith(thumbnail_prefix):
        return None
    folder, sep, rest = rendition[len(thumbnail_prefix) :].partition("/")
    below, dot, extension = rest.rpartition(".")
    if not (sep and dot and _FOLDER.fullmatch(folder) and extension in _EXTENSIONS and below):
        return None
    return source_prefix + below


def compare(
    scope: Scope,
    sources: Mapping[str, Listed],
    rows: Iterable[Row],
    renditions: Mapping[str, Listed],
    now: float,
) -> Findings:
    """Every disagreement between the three listings, and what would repair it."""
    findings = Findings()
    protected: set[str] = set()  # what some row names, or is writing or deleting
    seen: set[str] = set()
    for row in rows:
        protected.update(row.renditions, row.in_flight)
        if row.source_bucket not in (None, scope.bucket) or not is_source(row.key, scope):
            findings.elsewhere += 1
            continue
        seen.add(row.key)
        if row.lease and row.lease_until >= now:
            findings.in_flight += 1
            continue
        _judge(scope, row, sources.get(row.key), renditions, findings)
    for key, source in sources.items():
        if key not in seen and is_source(key, scope):
            findings.found[Drift.SOURCE_WITHOUT_ROW].append(key)
            findings.rerender[key] = Rerender(source, "")
    findings.orphans = [r for key, r in renditions.items() if key not in protected]
    findings.found[Drift.ORPHAN_RENDITION] = [r.key for r in findings.orphans]
    for keys in findings.found.values():
        keys.sort()
    return findings


def _judge(
    scope: Scope,
    row: Row,
    source: Listed | None,
    renditions: Mapping[str, Listed],
    findings: Findings,
) -> None:
    """The drift of one settled row (or one whose lease lapsed), and its repair: render the
    source again, or, with no source, the removal that marks the row deleted."""
    kinds: list[Drift] = []
    if row.lease or row.status == PENDING:
        kinds.append(Drift.LEASE_EXPIRED)
    if source is None:
        if row.status != Outcome.DELETED:
            kinds.append(Drift.ROW_WITHOUT_SOURCE)
    elif row.status == Outcome.DELETED:
        kinds.append(Drift.SOURCE_WITHOUT_ROW)
    elif row.status in (Outcome.OK, Outcome.REJECTED) and row.source_etag != source.etag:
        kinds.append(Drift.ROW_FOR_ANOTHER_VERSION)
    if row.status == Outcome.OK:
        if row.spec is not None and row.spec != scope.spec:
            kinds.append(Drift.ROW_UNDER_ANOTHER_SPEC)
        elif row.spec is None:
            other = row.names != scope.spec_names
            kinds.append(Drift.ROW_UNDER_ANOTHER_SPEC if other else Drift.ROW_WITH_UNKNOWN_SPEC)
        if (row.thumbnail_bucket or scope.bucket) == scope.thumbnail_bucket:
            missing = sorted(key for key in row.renditions if key not in renditions)
            findings.found[Drift.RENDITION_MISSING].extend(missing)
            if missing:
                kinds.append(Drift.RENDITION_MISSING)
    for kind in kinds:
        if kind is not Drift.RENDITION_MISSING:
            findings.found[kind].append(row.key)
    if not set(kinds) - NOT_COUNTED:
        return
    if source is None:
        findings.remove[row.key] = row.sequencer
    else:
        findings.rerender[row.key] = Rerender(source, row.sequencer)
