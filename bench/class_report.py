"""The classes run in the report: tuned against each peer by class and size, judged on the goals.

Reads DIR/classes.json (bench/classes.py). A ratio is tuned's median CPU time over the peer's,
both from the same interleaved run (below 1.00: tuned is faster). Each goal (``GOALS``) is judged
on the ratio as printed, to two decimals, so a reader can check every mark: **met** at or below
its limit, **missed** above it, **n/a** where the peer was not measured on that class (the reason
is listed under the table), **not measured** where tuned was not.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

LABELS: Final = {
    "tuned": "tuned",
    "floor": "floor",
    "pyvips": "pyvips-1t",
    "sharp": "sharp-1t",
    "pillow-thumbnail": "Image.thumbnail()",
    "naive": "naive",
    "rust-image": "rust-image",
}
ORDER: Final = ("tuned", "floor", "pyvips", "sharp", "pillow-thumbnail", "naive", "rust-image")


def label(method: str) -> str:
    return LABELS.get(method, method)


@dataclass(frozen=True)
class Goal:
    peer: str
    limit: float  # tuned's CPU time over the peer's, at most
    sizes: tuple[int, ...] | None = None  # None: every size

    def applies(self, size: int) -> bool:
        return self.sizes is None or size in self.sizes

    def describe(self) -> str:
        where = "at every size and class" if self.sizes is None else (
            "at " + ", ".join(f"{s} px" for s in self.sizes) + ", every class it reads"
        )  # fmt: skip
        return f"tuned <= {self.limit:.2f}x {label(self.peer)} {where}"


GOALS: Final = (
    Goal("sharp", 0.90),
    Goal("pyvips", 0.90),
    Goal("floor", 1.05, (200,)),
    Goal("pillow-thumbnail", 0.85, (200,)),
)


@dataclass(frozen=True)
class Result:
    klass: str
    size: int
    method: str
    wall_ms: tuple[float, ...]
    cpu_ms: tuple[float, ...]
    psnr_db: float | None
    out_format: str | None = None

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_ms)


@dataclass(frozen=True)
class ClassRun:
    classes: tuple[dict[str, Any], ...]
    sizes: tuple[int, ...]
    methods: tuple[str, ...]
    rounds: int
    warm_up: int
    seconds: float
    results: dict[tuple[str, int, str], Result]
    skipped: dict[tuple[str, int, str], str]
    ipc_overhead_ms: dict[str, float]
    machine: dict[str, Any]

    @property
    def class_names(self) -> list[str]:
        return [str(c["class"]) for c in self.classes]

    def result(self, klass: str, size: int, method: str) -> Result | None:
        return self.results.get((klass, size, method))

    def ratio(self, klass: str, size: int, peer: str) -> float | None:
        """tuned's CPU-time median over ``peer``'s, rounded as printed; None if one is missing."""
        tuned, other = self.result(klass, size, "tuned"), self.result(klass, size, peer)
        if tuned is None or other is None or other.cpu <= 0:
            return None
        return round(tuned.cpu / other.cpu, 2)

    def why_missing(self, klass: str, size: int, method: str) -> str:
        return self.skipped.get((klass, size, method), f"{label(method)} was not run")


def load(path: Path) -> ClassRun:
    data = json.loads(path.read_text())
    results = {
        (r["class"], int(r["size"]), r["method"]): Result(
            r["class"],
            int(r["size"]),
            r["method"],
            tuple(r["wall_ms"]),
            tuple(r["cpu_ms"]),
            r.get("psnr_db"),
            r.get("out_format"),
        )
        for r in data["results"]
        if r["cpu_ms"]
    }
    skipped = {(s["class"], int(s["size"]), s["method"]): s["reason"] for s in data["skipped"]}
    return ClassRun(
        classes=tuple(data["classes"]),
        sizes=tuple(int(s) for s in data["sizes"]),
        methods=tuple(data["methods"]),
        rounds=int(data["rounds"]),
        warm_up=int(data.get("warm_up", 1)),
        seconds=float(data.get("seconds", 0)),
        results=results,
        skipped=skipped,
        ipc_overhead_ms=dict(data.get("ipc_overhead_ms", {})),
        machine=dict(data.get("machine", {})),
    )


# --- the goals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    goal: Goal
    klass: str
    size: int
    ratio: float | None
    status: str  # met, missed, n/a (the peer not measured), not measured (tuned not)
    reason: str = ""


def judge(run: ClassRun, goals: Sequence[Goal] = GOALS) -> list[Verdict]:
    """Every goal on every class at every size it applies to, from the run's own medians."""
    verdicts = []
    for goal in goals:
        for klass in run.class_names:
            for size in run.sizes:
                if not goal.applies(size):
                    continue
                ratio = run.ratio(klass, size, goal.peer)
                if run.result(klass, size, "tuned") is None:
                    why = run.why_missing(klass, size, "tuned")
                    verdicts.append(Verdict(goal, klass, size, None, "not measured", why))
                elif ratio is None:
                    why = run.why_missing(klass, size, goal.peer)
                    verdicts.append(Verdict(goal, klass, size, None, "n/a", why))
                else:
                    status = "met" if ratio <= goal.limit else "missed"
                    verdicts.append(Verdict(goal, klass, size, ratio, status))
    return verdicts


def mark(verdict: Verdict) -> str:
    if verdict.status == "met":
        return f"{verdict.ratio:.2f} met"
    if verdict.status == "missed":
        return f"**{verdict.ratio:.2f} missed**"
    return verdict.status


def goals_summary(verdicts: Sequence[Verdict], goals: Sequence[Goal] = GOALS) -> str:
    out = [
        "| goal | met | missed | n/a | not measured |",
        "|---|---|---|---|---|",
    ]
    for goal in goals:
        mine = [v for v in verdicts if v.goal == goal]
        counts = [
            sum(v.status == s for v in mine) for s in ("met", "missed", "n/a", "not measured")
        ]
        out.append(f"| {goal.describe()} | " + " | ".join(map(str, counts)) + " |")
    met = sum(v.status == "met" for v in verdicts)
    judged = sum(v.status in ("met", "missed") for v in verdicts)
    out.append("")
    out.append(f"Goals met in {met} of the {judged} cells measured.")
    return "\n".join(out) + "\n"


def _class_label(run: ClassRun, klass: str) -> str:
    for c in run.classes:
        if c["class"] == klass:
            return f"{klass} ({c.get('label', c.get('sample', ''))})"
    return klass


def goal_table(run: ClassRun, goal: Goal, verdicts: Sequence[Verdict]) -> str:
    """Class by size: the ratio against ``goal.peer``, marked where the goal applies."""
    sizes = [
        s
        for s in run.sizes
        if goal.applies(s) or any(run.ratio(k, s, goal.peer) for k in run.class_names)
    ]
    out = [
        f"**tuned / {label(goal.peer)}**, CPU time (below 1.00: tuned is faster); goal: "
        f"{goal.describe()}\n",
        "| class | " + " | ".join(f"{s} px" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    by_cell = {(v.klass, v.size): v for v in verdicts if v.goal == goal}
    reasons: dict[str, set[str]] = {}
    for klass in run.class_names:
        cells = []
        for size in sizes:
            verdict = by_cell.get((klass, size))
            if verdict is not None:
                cells.append(mark(verdict))
                if verdict.reason:
                    reasons.setdefault(verdict.reason, set()).add(klass)
                continue
            ratio = run.ratio(klass, size, goal.peer)
            cells.append("-" if ratio is None else f"{ratio:.2f}")
        out.append(f"| {klass} | " + " | ".join(cells) + " |")
    for reason, classes in reasons.items():
        out.append(f"\nn/a on {', '.join(sorted(classes))}: {reason}.")
    return "\n".join(out) + "\n"


def _cell(result: Result | None) -> str:
    if result is None:
        return "-"
    psnr = "" if result.psnr_db is None else f", {result.psnr_db:.1f} dB"
    written = "" if result.out_format in (None, "JPEG") else f", {result.out_format}"
    return f"{result.cpu:.1f} ({result.wall:.1f}){psnr}{written}"


def detail_tables(run: ClassRun) -> str:
    """Per class: every method's medians at every size, then tuned's ratios."""
    methods = [m for m in ORDER if m in run.methods] + [m for m in run.methods if m not in ORDER]
    peers = [m for m in methods if m != "tuned"]
    out = [
        "Every method per class: median CPU ms (median wall ms), and the PSNR of the thumbnail "
        "against Pillow's full decode, EXIF-oriented, resized with LANCZOS (the floor makes no "
        "image), and the format written where it is not JPEG; then tuned's CPU-time ratio "
        "against each.\n"
    ]
    for klass in run.class_names:
        out.append(f"#### {_class_label(run, klass)}\n")
        out.append(
            "| size | "
            + " | ".join(label(m) for m in methods)
            + " | "
            + " | ".join(f"tuned / {label(p)}" for p in peers)
            + " |"
        )
        out.append("|---|" + "---|" * (len(methods) + len(peers)))
        for size in run.sizes:
            cells = [_cell(run.result(klass, size, m)) for m in methods]
            ratios = [run.ratio(klass, size, p) for p in peers]
            cells += ["-" if r is None else f"{r:.2f}" for r in ratios]
            out.append(f"| {size} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _heif_versions(run: ClassRun) -> str:
    """What read the HEIC (the core's versions line has the rest)."""
    libraries = run.machine.get("libraries", {})
    if "libheif" not in libraries:
        return ""
    heif, libheif = libraries.get("pillow-heif"), libraries["libheif"]
    return f" HEIC read with pillow-heif {heif}, libheif {libheif}."


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def section(path: Path, chart_folder: Path) -> tuple[str, list[Path]]:
    """The markdown of the classes run, and its chart; says so when there is no run."""
    goals = "\n".join(f"- {goal.describe()}" for goal in GOALS)
    if not path.exists():
        return (
            f"Goals:\n\n{goals}\n\n_No classes run in {path.name}: `make bench-classes` "
            "makes one._\n",
            [],
        )
    run = load(path)
    verdicts = judge(run)
    overhead = ", ".join(f"{label(p)} {ms * 1000:.0f} µs" for p, ms in run.ipc_overhead_ms.items())
    classes = "; ".join(_class_label(run, k) for k in run.class_names)
    text = [
        f"bench/classes.py, one run of {_duration(run.seconds)}: for each class and size the "
        f"methods took turns ({run.warm_up} warm-up call each, then {run.rounds} round"
        f"{'s' if run.rounds != 1 else ''} in an "
        "order rotating each round), so a burst of load on this shared machine slows them "
        "alike. **Ratios are of CPU-time medians**: this process's CPU time for tuned, the floor, "
        "pyvips and Image.thumbnail(), the worker's own for sharp (neither the pipe round trip"
        + (f", {overhead} per call," if overhead else "")
        + " nor time spent waiting for the CPU counts). Every method runs on one thread, and "
        "below 1,769 MB Lambda's duration scales with CPU time. Image.thumbnail() runs at 200 "
        "px only. Each ratio is one run's: on this machine a ratio near its limit can fall "
        "either side of it in another run.",
        "",
        f"Classes: {classes}.{_heif_versions(run)}",
        "",
        "Goals, each cell judged on the ratio as printed:",
        "",
        goals,
        "",
        goals_summary(verdicts),
        *[goal_table(run, goal, verdicts) for goal in GOALS],
        detail_tables(run),
    ]
    return "\n".join(text), [chart(run, chart_folder)]


# --- the chart ---------------------------------------------------------------------------------


def chart(run: ClassRun, folder: Path) -> Path:
    """tuned / pyvips-1t and tuned / sharp-1t by class and size; tuned / floor and tuned /
    Image.thumbnail() at 200 px; each goal a dashed line. Log scale: 0.1 and 10 are as far from
    parity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    folder.mkdir(parents=True, exist_ok=True)
    classes = run.class_names
    figure, axes = plt.subplots(3, 1, figsize=(13, 11.5), sharex=True)
    by_peer = {goal.peer: goal for goal in GOALS}
    panels: list[tuple[Any, Sequence[tuple[str, int]], str]] = [
        (axes[0], [("pyvips", s) for s in run.sizes], "tuned / pyvips-1t, CPU time, by size"),
        (axes[1], [("sharp", s) for s in run.sizes], "tuned / sharp-1t, CPU time, by size"),
        (
            axes[2],
            [("floor", 200), ("pillow-thumbnail", 200)],
            "at 200 px: tuned / floor and tuned / Image.thumbnail(), CPU time",
        ),
    ]
    for axis, series, title in panels:
        width = 0.8 / max(1, len(series))
        measured: set[int] = set()
        for n, (peer, size) in enumerate(series):
            xs, ys = _points(run, classes, peer, size)
            measured.update(xs)
            name = f"{size} px" if axis is not axes[2] else label(peer)
            offset = (n - (len(series) - 1) / 2) * width  # each group centred on its class
            # From parity: up where tuned is slower, down where it is faster.
            heights = [y - 1 for y in ys]
            axis.bar([x + offset for x in xs], heights, width, bottom=1, label=name)
        for x in set(range(len(classes))) - measured:
            axis.annotate("n/a", xy=(x, 1), ha="center", va="bottom", fontsize=8, color="grey")
        goals = [by_peer[p] for p in dict.fromkeys(p for p, _ in series) if p in by_peer]
        for n, goal in enumerate(goals):
            above = n == 0 or goal.limit > goals[0].limit
            axis.axhline(goal.limit, color="black", linestyle="--", linewidth=1)
            axis.annotate(
                f"goal: {label(goal.peer)} x {goal.limit:.2f}",
                xy=(0.0, goal.limit),
                xycoords=("axes fraction", "data"),
                xytext=(4, 3 if above else -3),
                textcoords="offset points",
                ha="left",
                va="bottom" if above else "top",
                fontsize=8,
            )
        axis.axhline(1.0, color="grey", linewidth=0.8)
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_yticks([0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 4])
        axis.set_title(title, fontsize=10)
        axis.set_ylabel("ratio (below 1: tuned faster)")
        axis.grid(True, axis="y", alpha=0.3)
        axis.legend(fontsize=8, ncols=len(series), loc="upper left")
    axes[2].set_xticks(range(len(classes)), classes, rotation=20)
    figure.suptitle("tuned against its peers on every class (one interleaved run)", fontsize=11)
    figure.tight_layout()
    path = folder / "classes.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _points(
    run: ClassRun, classes: Iterable[str], peer: str, size: int
) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for n, klass in enumerate(classes):
        ratio = run.ratio(klass, size, peer)
        if ratio is not None:
            xs.append(n)
            ys.append(ratio)
    return xs, ys
