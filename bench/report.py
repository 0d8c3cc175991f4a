"""The benchmark report: the original blog's CloudWatch table, for every method and image.

    python -m bench.report      (make bench-report; make bench-results runs everything)

Reads pytest-benchmark's JSON (bench/results/core.json) and, when present, the end-to-end run
(bench/results/e2e.json); writes bench/RESULTS.md and its charts. Every figure comes from those
files; the only constants are Lambda's pricing and its CPU-per-memory rule, cited below.

Lambda model. Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB,
so a measured CPU time t becomes t * 1769 / M at M MB below that (never less than the wall time
measured here). Memory Used is the peak RSS of a fresh Python process making one thumbnail (the
runtime client and botocore add about 20 MB in a real function: see the end-to-end table).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

RESULTS: Final = Path(__file__).resolve().parent / "results"
REPORT: Final = Path(__file__).resolve().parent / "RESULTS.md"

FULL_VCPU_MB: Final = 1769  # AWS Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
MEMORY_SIZES: Final = (128, 256, 512, 768, 1024, 1536, 1769, 2048, 3008, 4096, 10240)
# AWS Lambda pricing, arm64, us-east-1, first tier (as published on aws.amazon.com/lambda/pricing).
ARM64_USD_PER_GB_SECOND: Final = 0.0000133334
USD_PER_REQUEST: Final = 0.20 / 1_000_000
METHOD_ORDER: Final = ("naive", "pillow-thumbnail", "tuned", "pyvips", "floor")


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
        """Duration at ``memory_mb`` under Lambda's CPU-share rule."""
        return max(self.median_ms, self.cpu_ms * FULL_VCPU_MB / memory_mb)

    def fits(self, memory_mb: int) -> bool:
        return self.memory_used_mb <= memory_mb

    def cost_per_million(self, memory_mb: int) -> float:
        billed_s = math.ceil(self.estimate_ms(memory_mb)) / 1000
        per_call = billed_s * memory_mb / 1024 * ARM64_USD_PER_GB_SECOND + USD_PER_REQUEST
        return per_call * 1_000_000

    def cheapest(self) -> int | None:
        """The memory size that costs least among those the measured peak fits in.

        Below one vCPU, CPU-bound work costs the same at every size (duration shrinks as the
        price per millisecond grows), so sizes within 1% of the least cost count as equal and
        the fastest of them wins.
        """
        sizes = [m for m in MEMORY_SIZES if self.fits(m)]
        if not sizes:
            return None
        least = min(self.cost_per_million(m) for m in sizes)
        equal = [m for m in sizes if self.cost_per_million(m) <= least * 1.01]
        return min(equal, key=self.estimate_ms)


def _is_core(bench: dict[str, Any]) -> bool:
    return bench["extra_info"].get("method") in METHOD_ORDER


def load_core(path: Path) -> tuple[list[Measurement], dict[str, Any]]:
    data = json.loads(path.read_text())
    found = []
    for bench in filter(_is_core, data["benchmarks"]):
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


def _ratio(a: Measurement | None, b: Measurement | None) -> str:
    return f"{a.median_ms / b.median_ms:.2f}" if a and b else "-"


def core_tables(grouped: dict[str, dict[str, Measurement]]) -> str:
    out = []
    for image, methods in grouped.items():
        out.append(f"### {image}\n")
        out.append(
            "| method | here: median (min-max) ms | DurationInMS @128 MB | "
            "BilledDurationInMS | MemorySetInMB | MemoryUsedInMB | cheapest MemorySetInMB "
            "| DurationInMS there | $ per 1M images there |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for name in METHOD_ORDER:
            m = methods.get(name)
            if m is None:
                continue
            at_128 = m.estimate_ms(128)
            fits = "" if m.fits(128) else " (over 128 MB: out of memory)"
            best = m.cheapest()
            cheapest = (
                f"{best} | {m.estimate_ms(best):.0f} | {m.cost_per_million(best):.2f}"
                if best
                else "- | - | -"
            )
            out.append(
                f"| {name} | {m.median_ms:.1f} ({m.min_ms:.1f}-{m.max_ms:.1f}) | "
                f"{at_128:.0f}{fits} | {math.ceil(at_128)} | 128 | "
                f"{m.memory_used_mb:.0f} | {cheapest} |"
            )
        tuned = methods.get("tuned")
        out.append(
            f"\nRatios of medians, one run: tuned/naive {_ratio(tuned, methods.get('naive'))}"
            f", tuned/pyvips {_ratio(tuned, methods.get('pyvips'))}, tuned/floor "
            f"{_ratio(tuned, methods.get('floor'))}.\n"
        )
    return "\n".join(out)


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
    if not out:
        return "_No renditions benchmarks in bench/results/core.json: `make bench` runs them._\n"
    return "\n".join(out)


def e2e_table(path: Path) -> str:
    if not path.exists():
        return "_No end-to-end run in bench/results/e2e.json: `make bench-e2e` makes one._\n"
    invocations = json.loads(path.read_text())["invocations"]
    out = [
        "| image | start | Init Duration ms | DurationInMS | BilledDurationInMS | "
        "MemorySetInMB | MemoryUsedInMB |",
        "|---|---|---|---|---|---|---|",
    ]
    for i in invocations:
        init = f"{i['init_duration_ms']:.0f}" if i["init_duration_ms"] is not None else "-"
        out.append(
            f"| {i['image']} | {i['start']} | {init} | {i['duration_ms']:.0f} | "
            f"{i['billed_duration_ms']} | {i['memory_size_mb']} | "
            f"{i['max_memory_used_mb']} |"
        )
    return "\n".join(out) + "\n"


def charts(grouped: dict[str, dict[str, Measurement]], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    images = list(grouped)
    methods = [m for m in METHOD_ORDER if any(m in grouped[i] for i in images)]
    width = 0.8 / len(methods)
    figure, (durations, memory) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    for n, method in enumerate(methods):
        xs = [i + n * width for i in range(len(images)) if method in grouped[images[i]]]
        present = [grouped[image][method] for image in images if method in grouped[image]]
        durations.bar(xs, [m.estimate_ms(128) for m in present], width, label=method)
        memory.bar(xs, [m.memory_used_mb for m in present], width, label=method)
    durations.set_yscale("log")
    durations.set_ylabel("estimated ms at 128 MB (log)")
    memory.set_ylabel("peak RSS, MB")
    memory.axhline(128, color="grey", linestyle="--", linewidth=1)
    memory.set_xticks([i + 0.4 - width / 2 for i in range(len(images))], images, rotation=20)
    durations.legend(ncols=len(methods))
    durations.set_title("Thumbnail to 200 px: duration at 128 MB (estimated) and memory")
    figure.tight_layout()
    figure.savefig(folder / "durations.png", dpi=90)
    plt.close(figure)

    figure, (time_axis, cost_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    for image in ("photo-12mp", "screenshot-4k"):
        for method in ("naive", "tuned"):
            m = grouped.get(image, {}).get(method)
            if m is None:
                continue
            sizes = [s for s in MEMORY_SIZES if m.fits(s)]
            label = f"{method}, {image}"
            time_axis.plot(sizes, [m.estimate_ms(s) for s in sizes], marker="o", label=label)
            cost_axis.plot(sizes, [m.cost_per_million(s) for s in sizes], marker="o", label=label)
    for axis, label in ((time_axis, "estimated duration, ms"), (cost_axis, "$ per 1M images")):
        axis.set_xscale("log")
        axis.set_xlabel("memory size, MB")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    time_axis.set_yscale("log")
    cost_axis.legend(fontsize=8)
    figure.suptitle("Power tuning: duration and cost against memory size (arm64 prices)")
    figure.tight_layout()
    figure.savefig(folder / "power-tuning.png", dpi=90)
    plt.close(figure)
    return ["results/durations.png", "results/power-tuning.png"]


def render(core: Path, e2e: Path, chart_folder: Path) -> str:
    measurements, machine = load_core(core)
    grouped = by_image(measurements)
    pictures = charts(grouped, chart_folder)
    libraries = machine.get("libraries", {})
    versions = ", ".join(f"{k} {v}" for k, v in libraries.items())
    rounds = sorted({m.rounds for m in measurements})
    return "\n".join(
        [
            "# Benchmark results",
            "",
            "Regenerate with `make bench-results` (core benchmarks, end-to-end run, this "
            "report). Every figure below is read from `bench/results/core.json` and "
            "`bench/results/e2e.json`.",
            "",
            f"- Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
            f"{machine.get('cpu', {}).get('count', '?')} cores, {machine.get('system', '?')} "
            f"{machine.get('machine', '')}",
            f"- Versions: {versions}",
            f"- Timings: medians over {', '.join(map(str, rounds))} rounds after 2 warm-up rounds, "
            "with min and max; memory: peak RSS of a fresh process making one thumbnail.",
            "- Lambda estimates: CPU time x 1769 / MemorySetInMB below one vCPU (1,769 MB); "
            f"cost at arm64 prices, ${ARM64_USD_PER_GB_SECOND:.10f} per GB-second and $0.20 per "
            "million requests; the cheapest size is the one, among sizes the peak fits in, "
            "that costs least.",
            "",
            *[f"![{p}]({p})" for p in pictures],
            "",
            "## Core: every method on every image, to 200 px",
            "",
            "Methods: **naive** (what the original function did: full decode, LANCZOS resize, "
            "save), **pillow-thumbnail** (`Image.thumbnail()`), **tuned** "
            "(`handlers.thumbnail.make_thumbnail`), **pyvips** (`thumbnail_buffer`), **floor** "
            "(libjpeg-turbo's DCT-scaled decode alone, via simplejpeg: no resize, no encode).",
            "",
            core_tables(grouped),
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
            e2e_table(e2e),
        ]
    )


def main() -> None:
    core = RESULTS / "core.json"
    if not core.exists():
        sys.exit("no bench/results/core.json: run `make bench` first")
    REPORT.write_text(render(core, RESULTS / "e2e.json", RESULTS))
    sys.stdout.write(f"wrote {REPORT}\n")


if __name__ == "__main__":
    main()
