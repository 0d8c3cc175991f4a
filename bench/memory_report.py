"""Peak memory per input class in the report, from DIR/memory.json when the run made one.

``python -m bench.memory_classes --out DIR/memory.json`` writes a JSON list of rows, each at least
``{"class", "memory_mb", "peak_mb", "outcome", "detail"}`` (one input of a class at one memory
size; ``input`` names the input where a class has several). The report gives, per class and
memory size, the highest peak and the outcomes, then every row, and a bar chart of the highest
peaks against the memory sizes. Without the file it says the memory was not measured.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

FAILED: Final = ("killed", "raised")  # outcomes that are deaths or errors, not decisions


@dataclass(frozen=True)
class Row:
    klass: str
    memory_mb: int
    peak_mb: float
    outcome: str
    detail: str
    input: str = ""

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Row:
        return cls(
            klass=str(row["class"]),
            memory_mb=int(row["memory_mb"]),
            peak_mb=float(row["peak_mb"]),
            outcome=str(row["outcome"]),
            detail=str(row.get("detail") or ""),
            input=str(row.get("input") or ""),
        )

    @property
    def failed(self) -> bool:
        return self.outcome.startswith(FAILED)


def load(path: Path) -> list[Row]:
    return [Row.from_json(row) for row in json.loads(path.read_text())]


def _groups(rows: list[Row]) -> dict[tuple[str, int], list[Row]]:
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.klass, row.memory_mb), []).append(row)
    return groups


def _outcome(outcome: str) -> str:
    return f"**{outcome}**" if outcome.startswith(FAILED) else outcome


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables(rows: list[Row]) -> str:
    out = [
        "| class | MemorySetInMB | inputs | highest peak MB | outcomes |",
        "|---|---|---|---|---|",
    ]
    for (klass, memory_mb), group in _groups(rows).items():
        peak = max(r.peak_mb for r in group)
        outcomes = ", ".join(
            _outcome(o) + (f" x{n}" if n > 1 else "")
            for o, n in Counter(r.outcome for r in group).items()
        )
        over = " (over the memory size)" if peak > memory_mb else ""
        out.append(f"| {klass} | {memory_mb} | {len(group)} | {peak:.1f}{over} | {outcomes} |")
    if any(len(g) > 1 for g in _groups(rows).values()) or any(r.detail for r in rows):
        named = any(r.input for r in rows)
        out += [
            "",
            "Every input:",
            "",
            "| class | " + ("input | " if named else "") + "MemorySetInMB | peak MB | outcome "
            "| detail |",
            "|---|" + ("---|" if named else "") + "---|---|---|---|",
        ]
        for r in rows:
            name = f"{_cell(r.input)} | " if named else ""
            outcome = _cell(_outcome(r.outcome))
            out.append(
                f"| {r.klass} | {name}{r.memory_mb} | {r.peak_mb:.1f} | {outcome} | "
                f"{_cell(r.detail[:160])} |"
            )
    return "\n".join(out) + "\n"


def section(path: Path, chart_folder: Path) -> tuple[str, list[Path]]:
    """The markdown of the memory run and its chart; "not measured" without the file."""
    if not path.exists():
        return (
            f"**Not measured** in this run: there is no {path.name} "
            f"(`python -m bench.memory_classes --out DIR/{path.name}` makes it; "
            "`make bench-results` runs it when bench/memory_classes.py is there).\n",
            [],
        )
    rows = load(path)
    if not rows:
        return f"**Not measured**: {path.name} holds no rows.\n", []
    return tables(rows), [chart(rows, chart_folder)]


def chart(rows: list[Row], folder: Path) -> Path:
    """The highest peak per class, a bar per memory size, each memory size a dashed line; a
    hatched bar had an input killed or failing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    groups = _groups(rows)
    classes = list(dict.fromkeys(r.klass for r in rows))
    sizes = sorted({r.memory_mb for r in rows})
    width = 0.8 / len(sizes)
    figure, axis = plt.subplots(figsize=(10, 4))
    for n, memory_mb in enumerate(sizes):
        offset = (n - (len(sizes) - 1) / 2) * width
        xs, peaks, hatches = [], [], []
        for x, klass in enumerate(classes):
            group = groups.get((klass, memory_mb))
            if group:
                xs.append(x + offset)
                peaks.append(max(r.peak_mb for r in group))
                hatches.append("//" if any(r.failed for r in group) else "")
        bars = axis.bar(xs, peaks, width, label=f"at {memory_mb} MB")
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        axis.axhline(memory_mb, color="grey", linestyle="--", linewidth=1)
    axis.set_xticks(range(len(classes)), classes, rotation=20)
    axis.set_ylabel("highest peak, MB")
    axis.set_title("Peak memory per input class (hatched: an input killed or failing)", fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = folder / "memory.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
