"""The benchmark report: the original blog's CloudWatch table, for every method and image.

    python -m bench.report [--results DIR] [--markdown FILE]
    (make bench-report: a run's own DIR; make bench-results: the committed bench/RESULTS.md)

Reads pytest-benchmark's JSON (DIR/core.json) and, when present, the classes run
(DIR/classes.json, bench/classes.py: tuned against its peers on every input class at every
rendition size, judged on the goals; bench/class_report.py), the end-to-end run (DIR/e2e.json,
bench/e2e.py) and the peak memory per class (DIR/memory.json, bench.memory_classes;
bench/memory_report.py); writes the markdown and its charts (into DIR). Every figure comes from
those files; the only constants are Lambda's pricing and its CPU-per-memory rule, cited below,
and the goals (bench/class_report.py's GOALS).

Measured and modelled. The end-to-end run measures each memory size where cgroups can be written
(devstack/cgroups.py: Lambda's CPU share as a CPU quota, the memory size as a memory limit); its
figures are "measured". Everything else is "modelled", and says so: Lambda gives a function CPU
in proportion to its memory, one full vCPU at 1,769 MB, so a CPU time t measured here becomes
t * 1769 / M at M MB below that (never less than the wall time measured here), and a peak memory
over M means out of memory.

Cheapest MemorySetInMB (cheapest): among the memory sizes considered (every Lambda size the
peak memory fits in, for the modelled core tables; the sizes measured without an out-of-memory
death or a rejection, for the end-to-end table), the smallest whose cost per invocation is within
COST_TOLERANCE (5%) of the least. Below one vCPU a CPU-bound function costs about the same at
every size (its duration shrinks as the price per millisecond grows), so an exact minimum would
flip between runs on noise; the tolerance and the preference for the smaller size make it stable.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import class_report, memory_report
from devstack.cgroups import FULL_VCPU_MB as FULL_VCPU_MB  # Lambda's one vCPU; re-exported

BENCH: Final = Path(__file__).resolve().parent
RESULTS: Final = BENCH / "results"  # the committed run (make bench-results)
RUN: Final = RESULTS / "run"  # a run's own output (make bench, bench-e2e, bench-report)
REPORT: Final = BENCH / "RESULTS.md"

MEMORY_SIZES: Final = (128, 256, 512, 768, 1024, 1536, 1769, 2048, 3008, 4096, 10240)
# AWS Lambda pricing, arm64, us-east-1, first tier (as published on aws.amazon.com/lambda/pricing).
ARM64_USD_PER_GB_SECOND: Final = 0.0000133334
USD_PER_REQUEST: Final = 0.20 / 1_000_000
COST_TOLERANCE: Final = 0.05
METHOD_ORDER: Final = (
    "naive",
    "pillow-thumbnail",
    "tuned",
    "pyvips",
    "sharp",
    "rust-image",
    "floor",
)
# What tuned is compared with, in every ratio line.
PEERS: Final = ("naive", "pillow-thumbnail", "pyvips", "sharp", "rust-image", "floor")
NOT_CORE: Final = ("renditions", "placeholder", "crop")
E2E_SIZE: Final = 128  # the original blog's memory size: the end-to-end table in full


def cost_per_million(billed_ms: float, memory_mb: int) -> float:
    """Dollars per million invocations billed ``billed_ms`` at ``memory_mb`` (arm64)."""
    per_call = (
        math.ceil(billed_ms) / 1000 * memory_mb / 1024 * ARM64_USD_PER_GB_SECOND + USD_PER_REQUEST
    )
    return per_call * 1_000_000


def cheapest(costs: Mapping[int, float], tolerance: float = COST_TOLERANCE) -> int | None:
    """The smallest memory size whose cost is within ``tolerance`` of the least (module
    docstring); None when there is no size to choose from."""
    if not costs:
        return None
    least = min(costs.values())
    return min(size for size, cost in costs.items() if cost <= least * (1 + tolerance))


@dataclass(frozen=True)
class Measurement:
    method: str
    image: str
    median_ms: float
    min_ms: float
    max_ms: float
    cpu_ms: float
    memory_used_mb: float
    rounds: int

    def estimate_ms(self, memory_mb: int) -> float:
        """Duration at ``memory_mb`` under Lambda's CPU-share rule (modelled)."""
        return max(self.median_ms, self.cpu_ms * FULL_VCPU_MB / memory_mb)

    def fits(self, memory_mb: int) -> bool:
        return self.memory_used_mb <= memory_mb

    def cost_per_million(self, memory_mb: int) -> float:
        return cost_per_million(self.estimate_ms(memory_mb), memory_mb)

    def cheapest(self) -> int | None:
        """The cheapest Lambda size the measured peak fits in (``cheapest``), modelled."""
        return cheapest({m: self.cost_per_million(m) for m in MEMORY_SIZES if self.fits(m)})


def _core_method(bench: dict[str, Any]) -> bool:
    method = str(bench["extra_info"].get("method", ""))
    return bool(method) and not method.startswith(NOT_CORE)


def load_core(path: Path) -> tuple[list[Measurement], dict[str, Any]]:
    data = json.loads(path.read_text())
    found = []
    for bench in filter(_core_method, data["benchmarks"]):
        info, stats = bench["extra_info"], bench["stats"]
        found.append(
            Measurement(
                method=info["method"],
                image=info["image"],
                median_ms=stats["median"] * 1000,
                min_ms=stats["min"] * 1000,
                max_ms=stats["max"] * 1000,
                cpu_ms=info["cpu_ms"],
                memory_used_mb=info["max_rss_mb"],
                rounds=stats["rounds"],
            )
        )
    return found, data["machine_info"]


def by_image(measurements: Iterable[Measurement]) -> dict[str, dict[str, Measurement]]:
    grouped: dict[str, dict[str, Measurement]] = {}
    for m in measurements:
        grouped.setdefault(m.image, {})[m.method] = m
    return grouped


def ordered_methods(names: Iterable[str]) -> list[str]:
    """The known methods in their order, then any other method the JSON holds."""
    present = set(names)
    return [m for m in METHOD_ORDER if m in present] + sorted(present - set(METHOD_ORDER))


def _held_out() -> set[str]:
    try:
        from devstack import samples
    except ImportError:  # pragma: no cover - the report is read from JSON alone
        return set()
    return {name for name, spec in samples.SPECS.items() if spec.held_out}


def _label(image: str, held_out: AbstractSet[str]) -> str:
    return f"{image} (held out)" if image in held_out else image


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def ratio_line(methods: Mapping[str, Measurement]) -> str:
    tuned = methods.get("tuned")
    parts = [
        f"tuned/{peer} {_ratio(tuned.median_ms if tuned else None, m.median_ms)}"
        for peer in PEERS
        if (m := methods.get(peer)) is not None
    ]
    missing = [peer for peer in PEERS if peer not in methods]
    text = "Ratios of medians, one run: " + (", ".join(parts) or "-") + "."
    if missing:
        text += f" Not measured on this image: {', '.join(missing)}."
    return text


def core_tables(
    grouped: dict[str, dict[str, Measurement]], held_out: AbstractSet[str] = frozenset()
) -> str:
    out = []
    for image, methods in grouped.items():
        out.append(f"### {_label(image, held_out)}\n")
        out.append(
            "| method | here: median (min-max) ms | DurationInMS @128 MB (modelled) | "
            "BilledDurationInMS | MemorySetInMB | MemoryUsedInMB | cheapest MemorySetInMB "
            "| DurationInMS there | $ per 1M images there |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for name in ordered_methods(methods):
            m = methods[name]
            at_128 = m.estimate_ms(128)
            fits = "" if m.fits(128) else " (over 128 MB: out of memory)"
            best = m.cheapest()
            there = (
                f"{best} | {m.estimate_ms(best):.0f} | {m.cost_per_million(best):.2f}"
                if best
                else "- | - | -"
            )
            out.append(
                f"| {name} | {m.median_ms:.1f} ({m.min_ms:.1f}-{m.max_ms:.1f}) | "
                f"{at_128:.0f}{fits} | {math.ceil(at_128)} | 128 | "
                f"{m.memory_used_mb:.0f} | {there} |"
            )
        out.append(f"\n{ratio_line(methods)}\n")
    return "\n".join(out)


# --- end to end (bench/e2e.py) -----------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """One end-to-end invocation, measured under the cgroup limits or modelled from one run
    without them."""

    image: str
    start: str  # cold, warm, or "cold, Init capped"
    memory_mb: int
    duration_ms: float
    billed_ms: int
    max_memory_used_mb: int
    peak_rss_mb: int | None
    init_ms: float | None
    init_cpu_ms: float | None
    cpu_ms: float | None
    status: str  # ok, out of memory, timeout, crash, error
    outcome: str  # the index row's status (ok, rejected) or the status
    measured: bool

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Invocation:
        measured = row.get("mode", "modelled") == "measured"
        memory = int(row["memory_size_mb"])
        duration, status = float(row["duration_ms"]), str(row.get("status", "ok"))
        peak = int(row["max_memory_used_mb"])
        cpu = row.get("cpu_ms")
        if not measured:  # Lambda's rule on a run without limits
            if cpu is not None:
                duration = max(duration, float(cpu) * FULL_VCPU_MB / memory)
            if peak > memory and status == "ok":
                status = "out of memory"
        return cls(
            image=row["image"],
            start=row["start"],
            memory_mb=memory,
            duration_ms=duration,
            billed_ms=max(1, math.ceil(duration)),
            max_memory_used_mb=peak,
            peak_rss_mb=row.get("peak_rss_mb"),
            init_ms=row.get("init_duration_ms"),
            init_cpu_ms=row.get("init_cpu_ms"),
            cpu_ms=cpu,
            status=status,
            outcome=status if status != "ok" else str(row.get("outcome") or "ok"),
            measured=measured,
        )

    @property
    def made_it(self) -> bool:
        return self.status == "ok" and self.outcome == "ok"


def load_e2e(path: Path) -> tuple[list[Invocation], dict[str, Any]]:
    data = json.loads(path.read_text())
    rows = [{"mode": data.get("mode", "modelled"), **row} for row in data["invocations"]]
    return [Invocation.from_json(row) for row in rows], data


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def e2e_table(
    invocations: Sequence[Invocation],
    memory_mb: int = E2E_SIZE,
    held_out: AbstractSet[str] = frozenset(),
) -> str:
    """Every invocation at ``memory_mb``: the REPORT figures, Init's CPU time, the outcome."""
    rows = [i for i in invocations if i.memory_mb == memory_mb]
    if not rows:
        return f"_No end-to-end invocations at {memory_mb} MB._\n"
    how = "measured" if all(i.measured for i in rows) else "modelled"
    out = [
        f"At {memory_mb} MB, {how}:\n",
        "| image | start | Init Duration ms | Init CPU ms | DurationInMS | BilledDurationInMS | "
        "MemorySetInMB | MemoryUsedInMB | peak RSS MB | outcome |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i in rows:
        outcome = "**out of memory**" if i.status == "out of memory" else i.outcome
        out.append(
            f"| {_label(i.image, held_out)} | {i.start} | {_ms(i.init_ms)} | "
            f"{_ms(i.init_cpu_ms)} | "
            f"{i.duration_ms:.0f} | {i.billed_ms} | {i.memory_mb} | {i.max_memory_used_mb} | "
            f"{i.peak_rss_mb if i.peak_rss_mb is not None else '-'} | {outcome} |"
        )
    return "\n".join(out) + "\n"


def e2e_sizes_table(
    invocations: Sequence[Invocation], held_out: AbstractSet[str] = frozenset()
) -> str:
    """Per image and size: cold and warm Duration, Max Memory Used, deaths; the cheapest size."""
    sizes = sorted({i.memory_mb for i in invocations})
    images = list(dict.fromkeys(i.image for i in invocations))
    how = "measured" if all(i.measured for i in invocations) else "modelled"
    out = [
        f"Cold / warm DurationInMS and MemoryUsedInMB at each MemorySetInMB, {how}; OOM: out of "
        "memory, rejected: over the pixel budget of that size.\n",
        "| image | " + " | ".join(f"{s} MB" for s in sizes) + " | cheapest MemorySetInMB |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    for image in images:
        cells = []
        for size in sizes:
            here = {i.start: i for i in invocations if i.image == image and i.memory_mb == size}
            cold, warm = here.get("cold"), here.get("warm")
            if cold is None:
                cells.append("-")
            elif cold.status == "out of memory":
                cells.append(f"OOM ({cold.max_memory_used_mb} MB)")
            elif not cold.made_it:
                cells.append(cold.outcome)
            else:
                warm_ms = f"{warm.duration_ms:.0f}" if warm and warm.made_it else "-"
                peak = max(i.max_memory_used_mb for i in here.values())
                cells.append(f"{cold.duration_ms:.0f} / {warm_ms} ({peak} MB)")
        out.append(
            f"| {_label(image, held_out)} | "
            + " | ".join(cells)
            + f" | {_e2e_cheapest(invocations, image)} |"
        )
    return "\n".join(out) + "\n"


def e2e_costs(invocations: Sequence[Invocation], image: str) -> dict[int, float]:
    """Cost per million at each size where the warm invocation made the thumbnail."""
    return {
        i.memory_mb: cost_per_million(i.billed_ms, i.memory_mb)
        for i in invocations
        if i.image == image and i.start == "warm" and i.made_it
    }


def _e2e_cheapest(invocations: Sequence[Invocation], image: str) -> str:
    costs = e2e_costs(invocations, image)
    best = cheapest(costs)
    return f"{best} (${costs[best]:.2f} per 1M)" if best else "-"


def init_summary(invocations: Sequence[Invocation]) -> str:
    """Init with and without the quota, per size (the first image's cold starts)."""
    capped = [i for i in invocations if i.start == "cold, Init capped"]
    if not capped:
        return ""
    out = [
        "Init, the same cold start with the CPU quota lifted during Init (as the other rows) and "
        "applied from the start:\n",
        "| MemorySetInMB | image | Init Duration ms, quota lifted | Init Duration ms, quota "
        "applied | Init CPU ms (lifted / applied) |",
        "|---|---|---|---|---|",
    ]
    for c in capped:
        free = next(
            (
                i
                for i in invocations
                if i.image == c.image and i.memory_mb == c.memory_mb and i.start == "cold"
            ),
            None,
        )
        out.append(
            f"| {c.memory_mb} | {c.image} | {_ms(free.init_ms if free else None)} | "
            f"{_ms(c.init_ms)} | {_ms(free.init_cpu_ms if free else None)} / "
            f"{_ms(c.init_cpu_ms)} |"
        )
    return "\n".join(out) + "\n"


# --- charts ------------------------------------------------------------------------------------

POWER_IMAGES: Final = (
    "photo-12mp",
    "photo-24mp-progressive-heldout",
    "photo-48mp",
    "phone-portrait",
    "photo-12mp-webp",
    "screenshot-4k",
    "screenshot-5k",
)


def charts(
    grouped: dict[str, dict[str, Measurement]],
    folder: Path,
    invocations: Sequence[Invocation] = (),
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    folder.mkdir(parents=True, exist_ok=True)
    images = list(grouped)
    methods = ordered_methods(m for by in grouped.values() for m in by)
    width = 0.8 / len(methods)
    figure, (durations, memory) = plt.subplots(2, 1, figsize=(13, 8.5), sharex=True)
    for n, method in enumerate(methods):
        xs = [i + n * width for i in range(len(images)) if method in grouped[images[i]]]
        present = [grouped[image][method] for image in images if method in grouped[image]]
        durations.bar(xs, [m.estimate_ms(128) for m in present], width, label=method)
        memory.bar(xs, [m.memory_used_mb for m in present], width, label=method)
    durations.set_yscale("log")
    durations.set_ylabel("ms at 128 MB, modelled (log)")
    memory.set_ylabel("peak RSS of one thumbnail, MB")
    memory.axhline(128, color="grey", linestyle="--", linewidth=1)
    memory.annotate(
        "128 MB: the original's memory size",
        xy=(1.0, 128),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        color="grey",
        fontsize=8,
    )
    memory.set_xticks([i + 0.4 - width / 2 for i in range(len(images))], images, rotation=25)
    # Outside the axes, so it hides no bar.
    durations.legend(ncols=len(methods), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    durations.set_title(
        "Thumbnail to 200 px: duration at 128 MB (modelled: CPU time x 1769/128) and memory",
        pad=30,
    )
    figure.tight_layout()
    figure.savefig(folder / "durations.png", dpi=90)
    plt.close(figure)

    figure, (time_axis, cost_axis) = plt.subplots(1, 2, figsize=(13, 5))
    measured = bool(invocations) and all(i.measured for i in invocations)
    if invocations:
        for image in [i for i in POWER_IMAGES if any(v.image == i for v in invocations)] or list(
            dict.fromkeys(v.image for v in invocations)
        ):
            warm = sorted(
                (v for v in invocations if v.image == image and v.start == "warm" and v.made_it),
                key=lambda v: v.memory_mb,
            )
            if not warm:
                continue
            sizes = [v.memory_mb for v in warm]
            line = time_axis.plot(sizes, [v.duration_ms for v in warm], marker="o", label=image)
            cost_axis.plot(
                sizes,
                [cost_per_million(v.billed_ms, v.memory_mb) for v in warm],
                marker="o",
                label=image,
                color=line[0].get_color(),
            )
            for v in invocations:  # sizes where the image could not be thumbnailed
                if v.image == image and v.start == "cold" and not v.made_it:
                    time_axis.plot(
                        [v.memory_mb],
                        [min(x.duration_ms for x in warm)],
                        marker="x",
                        color=line[0].get_color(),
                        markersize=9,
                    )
        how = (
            "measured at each size (CPU quota and memory limit per size)"
            if measured
            else "modelled (each size's CPU time scaled by 1769/MB: no cgroups here)"
        )
        title = (
            f"Power tuning, resize function end to end, warm: {how}; x: out of memory or rejected"
        )
    else:
        for image in ("photo-12mp", "screenshot-4k"):
            for method in ("naive", "tuned"):  # the core's 200 px figures, extrapolated
                m = grouped.get(image, {}).get(method)
                if m is None:
                    continue
                sizes = [s for s in MEMORY_SIZES if m.fits(s)]
                label = f"{method}, {image}"
                time_axis.plot(sizes, [m.estimate_ms(s) for s in sizes], marker="o", label=label)
                cost_axis.plot(
                    sizes, [m.cost_per_million(s) for s in sizes], marker="o", label=label
                )
        title = "Power tuning, modelled: one measurement scaled by 1769/MB (no end-to-end run)"
    ticks = sorted({v.memory_mb for v in invocations}) or [128, 512, 1769, 4096, 10240]
    for axis, label in ((time_axis, "duration, ms"), (cost_axis, "$ per 1M images (arm64)")):
        axis.set_xscale("log")
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.minorticks_off()
        axis.set_xlabel("memory size, MB")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    time_axis.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:.0f}")
    time_axis.yaxis.set_major_formatter(plain)
    time_axis.yaxis.set_minor_formatter(plain)
    cost_axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(folder / "power-tuning.png", dpi=90)
    plt.close(figure)
    return [folder / "durations.png", folder / "power-tuning.png"]


# --- the whole report --------------------------------------------------------------------------


def renditions_tables(path: Path) -> str:
    """Each rendition set next to the single thumbnail: what an extra rendition costs."""
    benchmarks = json.loads(path.read_text())["benchmarks"]
    sets = [
        b for b in benchmarks if str(b["extra_info"].get("method", "")).startswith("renditions")
    ]
    out: list[str] = []
    for image in dict.fromkeys(b["extra_info"]["image"] for b in sets):
        rows = [b for b in sets if b["extra_info"]["image"] == image]
        single = next((b for b in rows if b["extra_info"]["spec"] == "200:auto"), None)
        base_ms = single["stats"]["median"] * 1000 if single else None
        out.append(f"### {image}\n")
        out.append(
            "| set | RENDITIONS | median (min-max) ms | added to the single thumbnail, ms | "
            "bytes per rendition | peak RSS MB (added) |"
        )
        out.append("|---|---|---|---|---|---|")
        for b in rows:
            info, stats = b["extra_info"], b["stats"]
            median = stats["median"] * 1000
            added = f"{median - base_ms:+.1f}" if base_ms is not None else "-"
            sizes = ", ".join(f"{k} {v:,}" for k, v in info.get("out_bytes", {}).items())
            out.append(
                f"| {info['method'].removeprefix('renditions ')} | `{info['spec']}` | "
                f"{median:.1f} ({stats['min'] * 1000:.1f}-{stats['max'] * 1000:.1f}) | {added} | "
                f"{sizes} | {info['max_rss_mb']:.0f} ({info['added_mb']:+.1f}) |"
            )
        out.append("")
    hints = [b for b in benchmarks if b["extra_info"].get("method") == "placeholder"]
    if hints:
        out.append("### Placeholder (ThumbHash and dominant colour of a 200 px rendition)\n")
        out.append("| image | median (min-max) ms | rounds |")
        out.append("|---|---|---|")
        for b in hints:
            stats = b["stats"]
            out.append(
                f"| {b['extra_info']['image']} | {stats['median'] * 1000:.2f} "
                f"({stats['min'] * 1000:.2f}-{stats['max'] * 1000:.2f}) | {stats['rounds']} |"
            )
        out.append("")
    crops = [b for b in benchmarks if str(b["extra_info"].get("method", "")).startswith("crop ")]
    if crops:
        out.append("### Crop choice (where a 1200x630 box goes in its cover image)\n")
        out.append("| image | position | cover | median (min-max) ms | rounds |")
        out.append("|---|---|---|---|---|")
        for b in crops:
            info, stats = b["extra_info"], b["stats"]
            out.append(
                f"| {info['image']} | {info['method'].removeprefix('crop ')} | "
                f"{'x'.join(map(str, info['cover']))} | {stats['median'] * 1000:.2f} "
                f"({stats['min'] * 1000:.2f}-{stats['max'] * 1000:.2f}) | {stats['rounds']} |"
            )
        out.append("")
    if not out:
        return "_No renditions benchmarks in core.json: `make bench` runs them._\n"
    return "\n".join(out)


def _e2e_section(
    path: Path, held_out: AbstractSet[str] = frozenset()
) -> tuple[str, list[Invocation]]:
    if not path.exists():
        return f"_No end-to-end run in {path.name}: `make bench-e2e` makes one._\n", []
    invocations, data = load_e2e(path)
    if data.get("mode") == "measured":
        how = (
            "**Measured**: each function process ran in a cgroup with Lambda's CPU share "
            f"(cpu.cfs_quota_us = period x MemorySetInMB / {FULL_VCPU_MB}) and its memory size "
            "as a hard limit (memory and memory+swap); MemoryUsedInMB is the cgroup's peak "
            "(memory.max_usage_in_bytes: anonymous memory, the page cache its processes brought "
            "in, kernel memory; pages this machine had cached before stay charged elsewhere, so "
            "it can read lower than the client's own peak RSS, kept beside it); a process killed "
            "at its limit is **out of memory**. The quota is lifted during Init (cold starts of "
            "on-demand functions run near full speed) and applied from the first `GET /next`; "
            "the Init table has both."
        )
    else:
        how = (
            f"**Modelled** ({data.get('why_modelled') or 'no cgroups'}): the invocations ran "
            f"without limits; DurationInMS is max(wall, CPU time x {FULL_VCPU_MB} / MB) and a "
            "peak RSS over the size counts as out of memory."
        )
    parts = [
        how,
        "",
        e2e_table(invocations, E2E_SIZE, held_out),
        init_summary(invocations),
        "### Every memory size\n",
        e2e_sizes_table(invocations, held_out),
    ]
    return "\n".join(parts), invocations


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def render(
    core: Path,
    e2e: Path,
    chart_folder: Path,
    classes: Path | None = None,
    memory: Path | None = None,
    markdown_folder: Path | None = None,
    init: Path | None = None,
) -> str:
    """The whole report; ``classes``, ``memory`` and ``init`` default to classes.json,
    memory.json and init.md beside ``core``."""
    measurements, machine = load_core(core)
    grouped = by_image(measurements)
    held_out = _held_out()
    e2e_text, invocations = _e2e_section(e2e, held_out)
    pictures = charts(grouped, chart_folder, invocations)
    classes_text, class_charts = class_report.section(
        classes or core.with_name("classes.json"), chart_folder
    )
    memory_text, memory_charts = memory_report.section(
        memory or core.with_name("memory.json"), chart_folder
    )
    base = markdown_folder or chart_folder.parent
    libraries = machine.get("libraries", {})
    versions = ", ".join(f"{k} {v}" for k, v in libraries.items())
    rounds = sorted({m.rounds for m in measurements})

    def images(paths: Iterable[Path]) -> str:
        return "\n".join(f"![{p.name}]({_relative(p, base)})" for p in paths)

    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Regenerate with `make bench-results` (core benchmarks, every class at every "
            "rendition size, the end-to-end run, the peak memory per class, this report). Every "
            "figure below is read from `core.json`, `classes.json`, `e2e.json` and "
            "`memory.json` beside the charts; **measured** figures come from runs under Lambda's "
            "limits, **modelled** ones from Lambda's CPU-share rule.",
            "",
            f"- Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
            f"{machine.get('cpu', {}).get('count', '?')} cores, {machine.get('system', '?')} "
            f"{machine.get('machine', '')}",
            f"- Versions: {versions}",
            f"- Core timings: medians over {', '.join(map(str, rounds))} rounds after 2 warm-up "
            "rounds, with min and max; memory: peak RSS of a fresh process making one thumbnail.",
            "- Core tables, modelled: CPU time x 1769 / MemorySetInMB below one vCPU (1,769 MB); "
            f"cost at arm64 prices, ${ARM64_USD_PER_GB_SECOND:.10f} per GB-second and $0.20 per "
            "million requests. Cheapest MemorySetInMB: among the sizes considered (the core "
            "tables: every Lambda size the peak fits in; end to end: the sizes measured where "
            "the thumbnail was made), the smallest whose cost is within "
            f"{COST_TOLERANCE:.0%} of the least.",
            "",
            images(pictures),
            "",
            "## Every class at every size: tuned against its peers, and the goals",
            "",
            images(class_charts),
            "",
            classes_text,
            "## Core: every method on every image, to 200 px",
            "",
            "Methods: **naive** (what the original function did: full decode, LANCZOS resize, "
            "save), **pillow-thumbnail** (`Image.thumbnail()`), **tuned** "
            "(`handlers.imaging.make_renditions`, one JPEG rendition, as every peer writes), "
            "**pyvips** (`thumbnail_buffer`), **sharp** "
            "(node, one thread), **rust-image** (the original's Rust approach: the `image` crate, "
            "`thumbnail`, JPEG q85), **floor** (libjpeg-turbo's DCT-scaled decode alone, via "
            "simplejpeg: no resize, no encode). A method absent from a table was not available "
            "in the run. Held out: images not tuned on.",
            "",
            core_tables(grouped, held_out),
            "## Renditions: the cost of each extra rendition",
            "",
            "`make_renditions` on each set: the single 200 px `auto` thumbnail, the same plus one "
            "rendition, and the example set, from one decode; the difference to the single "
            "thumbnail's median is what the rendition adds. Peak RSS of a fresh process making "
            "the set once.",
            "",
            renditions_tables(core),
            "## End to end: the resize function in the embedded stack",
            "",
            "Upload → S3 notification → SQS → router → resize under awslambdaric → thumbnail and "
            "row, one image per invocation; REPORT figures as the router measures them (Duration "
            "includes the S3 download, upload and index write against moto's server).",
            "",
            e2e_text,
            "## Peak memory per input class",
            "",
            "bench.memory_classes: each class's inputs through the resize function's create path "
            "(download, decode budget, renditions, upload, index row) under the function's "
            "memory size as a limit.",
            "",
            images(memory_charts),
            "",
            memory_text,
            "## Cold starts in the container",
            "",
            "`make bench-init` (python -m infra.runtime_cost --cold): each image's own entrypoint "
            "under podman against a Runtime API, one event each (a 1024x768 JPEG upload for "
            "resize, a posted reading for ingest), on one full core: Lambda gives an invocation "
            "memory/1,769 of one (docs/architecture.md, Cold starts in the container).",
            "",
            init_section(init or core.with_name("init.md")),
        ]
    )


def init_section(path: Path) -> str:
    """The cold-start tables ``make bench-init`` wrote, or why there are none."""
    if not path.exists():
        return "**Not measured** in this run (no init.md: `make bench-init` needs podman).\n"
    return path.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=RUN, help="the run's JSON; charts go here")
    parser.add_argument("--markdown", type=Path, help="default: RESULTS.md in --results")
    args = parser.parse_args()
    core = args.results / "core.json"
    if not core.exists():
        sys.exit(f"no {core}: run `make bench` first")
    markdown = args.markdown or args.results / "RESULTS.md"
    markdown.write_text(
        render(
            core,
            args.results / "e2e.json",
            args.results,
            classes=args.results / "classes.json",
            memory=args.results / "memory.json",
            markdown_folder=markdown.parent,
        )
    )
    sys.stdout.write(f"wrote {markdown}\n")


if __name__ == "__main__":
    main()
