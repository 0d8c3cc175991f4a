"""The classes run (bench/classes.py, bench/interleave.py) and its report: ratios of CPU-time
medians judged on the goals, the peak-memory table, each from small fake JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench import class_report, classes, memory_report, methods
from bench.class_report import GOALS, Goal, judge, load
from bench.interleave import interleaved
from bench.report import render


def result(klass: str, size: int, method: str, cpu: float, **extra: Any) -> dict[str, Any]:
    # Three rounds around ``cpu``: the median is ``cpu``, the wall time a little more.
    return {
        "class": klass,
        "size": size,
        "method": method,
        "cpu_ms": [cpu * 1.2, cpu, cpu * 0.9],
        "wall_ms": [cpu * 1.3, cpu + 1, cpu],
        "psnr_db": None if method == "floor" else 35.0,
        **extra,
    }


HEIC_REASON = "pyvips cannot decode HEIC here: its libheif has no HEVC decoder"


def run_json(**changes: Any) -> dict[str, Any]:
    """jpeg-12mp at 200 and 800 px against every peer, and a HEIC only tuned and
    Image.thumbnail() read. At 200 px on the JPEG: tuned 45 ms against pyvips 60 (0.75, met),
    sharp 50 (0.90, met: the limit itself), floor 40 (1.12, missed), Image.thumbnail() 50 (0.90,
    missed); at 800 px: tuned 90 against pyvips 90 (1.00, missed), sharp 120 (0.75, met), floor
    40 (2.25: no goal there)."""
    data = {
        "rounds": 3,
        "warm_up": 1,
        "sizes": [200, 800],
        "methods": ["tuned", "floor", "pyvips", "sharp", "pillow-thumbnail"],
        "clock": "cpu",
        "seconds": 125.0,
        "machine": {"cpu": "Test CPU", "cpus": 2, "libraries": {}},
        "ipc_overhead_ms": {"sharp": 0.03},
        "classes": [
            {"class": "jpeg-12mp", "sample": "photo-12mp", "label": "baseline JPEG, 12 MP"},
            {"class": "heic", "sample": "photo-12mp-heic", "label": "phone HEIC"},
        ],
        "results": [
            result("jpeg-12mp", 200, "tuned", 45.0),
            result("jpeg-12mp", 200, "pyvips", 60.0),
            result("jpeg-12mp", 200, "sharp", 50.0),
            result("jpeg-12mp", 200, "floor", 40.0),
            result("jpeg-12mp", 200, "pillow-thumbnail", 50.0),
            result("jpeg-12mp", 800, "tuned", 90.0),
            result("jpeg-12mp", 800, "pyvips", 90.0),
            result("jpeg-12mp", 800, "sharp", 120.0),
            result("jpeg-12mp", 800, "floor", 40.0),
            result("heic", 200, "tuned", 400.0, out_format="JPEG"),
            result("heic", 200, "pillow-thumbnail", 500.0),
            result("heic", 800, "tuned", 420.0),
        ],
        "skipped": [
            {"class": "heic", "size": size, "method": method, "reason": reason}
            for size in (200, 800)
            for method, reason in (
                ("pyvips", HEIC_REASON),
                ("sharp", "sharp cannot decode HEIC here: its libheif has no HEVC decoder"),
                ("floor", "floor does not read HEIC"),
            )
        ],
    }
    return {**data, **changes}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def statuses(path: Path) -> dict[tuple[str, str, int], tuple[str, float | None]]:
    return {(v.goal.peer, v.klass, v.size): (v.status, v.ratio) for v in judge(load(path))}


def test_goals_are_judged_from_the_runs_own_medians(tmp_path: Path) -> None:
    found = statuses(write(tmp_path / "classes.json", run_json()))
    assert found[("pyvips", "jpeg-12mp", 200)] == ("met", 0.75)
    assert found[("sharp", "jpeg-12mp", 200)] == ("met", 0.90)  # at the limit: met
    assert found[("floor", "jpeg-12mp", 200)] == ("missed", 1.12)
    assert found[("pillow-thumbnail", "jpeg-12mp", 200)] == ("missed", 0.90)
    assert found[("pyvips", "jpeg-12mp", 800)] == ("missed", 1.0)
    assert found[("sharp", "jpeg-12mp", 800)] == ("met", 0.75)
    assert ("floor", "jpeg-12mp", 800) not in found  # the floor's goal is at 200 px only
    assert found[("pyvips", "heic", 800)] == ("n/a", None)
    assert found[("pillow-thumbnail", "heic", 200)] == ("met", 0.80)


def test_a_faster_peer_turns_a_met_goal_into_a_missed_one(tmp_path: Path) -> None:
    data = run_json()
    for row in data["results"]:
        if (row["class"], row["size"], row["method"]) == ("jpeg-12mp", 200, "pyvips"):
            row["cpu_ms"] = [30.0, 30.0, 30.0]
    found = statuses(write(tmp_path / "classes.json", data))
    assert found[("pyvips", "jpeg-12mp", 200)] == ("missed", 1.5)


def test_wall_time_does_not_decide_a_goal(tmp_path: Path) -> None:
    data = run_json()
    for row in data["results"]:
        if row["method"] == "tuned":
            row["wall_ms"] = [1000.0, 1000.0, 1000.0]  # a descheduled tuned: CPU time is fair
    found = statuses(write(tmp_path / "classes.json", data))
    assert found[("pyvips", "jpeg-12mp", 200)] == ("met", 0.75)


def table(text: str, title: str) -> str:
    """The markdown table that follows the bold ``title``."""
    start = text.index(f"**{title}**")
    return text[start : text.index("\n\n", text.index("| class", start))]


def test_the_report_marks_each_cell_and_says_why_one_is_not_applicable(tmp_path: Path) -> None:
    path = write(tmp_path / "classes.json", run_json())

    text, charts = class_report.section(path, tmp_path / "charts")

    assert "| jpeg-12mp | 0.75 met | **1.00 missed** |" in table(text, "tuned / pyvips-1t")
    assert "| heic | n/a | n/a |" in table(text, "tuned / pyvips-1t")
    assert f"n/a on heic: {HEIC_REASON}." in text
    assert "| jpeg-12mp | 0.90 met | 0.75 met |" in table(text, "tuned / sharp-1t")
    # The floor is judged at 200 px only; its 800 px ratio is shown unmarked.
    assert "| jpeg-12mp | **1.12 missed** | 2.25 |" in table(text, "tuned / floor")
    thumbnail = table(text, "tuned / Image.thumbnail()")
    assert "| class | 200 px |" in thumbnail  # measured at 200 px only
    assert "| jpeg-12mp | **0.90 missed** |" in thumbnail and "| heic | 0.80 met |" in thumbnail
    for goal in GOALS:
        assert goal.describe() in text
    assert "tuned <= 0.90x sharp-1t at every size and class" in text
    assert "tuned <= 1.05x floor at 200 px" in text
    assert "tuned <= 0.85x Image.thumbnail() at 200 px" in text
    # Met: pyvips 1, sharp 2, floor 0, Image.thumbnail() 1; judged: 2 + 2 + 1 + 2.
    assert "| tuned <= 0.90x pyvips-1t at every size and class | 1 | 1 | 2 | 0 |" in text
    assert "Goals met in 4 of the 7 cells measured." in text
    assert "**Ratios are of CPU-time medians**" in text and "2.1 min" in text
    # Absolute medians: CPU (wall) and PSNR; the floor makes no image.
    assert "| 200 | 45.0 (46.0), 35.0 dB | 40.0 (41.0) | 60.0 (61.0), 35.0 dB |" in text
    assert charts == [tmp_path / "charts/classes.png"]
    assert charts[0].stat().st_size > 10_000


def test_a_missing_tuned_result_is_not_measured_not_met(tmp_path: Path) -> None:
    data = run_json()
    data["results"] = [r for r in data["results"] if (r["class"], r["method"]) != ("heic", "tuned")]
    data["skipped"].append(
        {"class": "heic", "size": 200, "method": "tuned", "reason": "ImageRejected: too big"}
    )
    found = statuses(write(tmp_path / "classes.json", data))
    assert found[("pillow-thumbnail", "heic", 200)] == ("not measured", None)


def test_without_a_classes_run_the_report_lists_the_goals_and_says_so(tmp_path: Path) -> None:
    text, charts = class_report.section(tmp_path / "classes.json", tmp_path)
    assert "make bench-classes" in text and "tuned <= 0.90x pyvips-1t" in text
    assert charts == []


MEMORY = [
    {"class": "jpeg", "memory_mb": 128, "peak_mb": 61.5, "outcome": "ok", "detail": "1 rendition"},
    {
        "class": "heif",
        "input": "bomb.heic",
        "memory_mb": 128,
        "peak_mb": 131.0,
        "outcome": "killed",
        "detail": "exit -9, 1 OOM kills",
    },
    {
        "class": "heif",
        "input": "phone.heic",
        "memory_mb": 128,
        "peak_mb": 95.2,
        "outcome": "rejected:pixels",
        "detail": "over the budget",
    },
]


def test_the_memory_table_is_rendered_when_memory_json_exists(tmp_path: Path) -> None:
    path = write(tmp_path / "memory.json", MEMORY)

    text, charts = memory_report.section(path, tmp_path)

    assert "| jpeg | 128 | 1 | 61.5 | ok |" in text
    assert "| heif | 128 | 2 | 131.0 (over the memory size) | **killed**, rejected:pixels |" in text
    assert "| heif | bomb.heic | 128 | 131.0 | **killed** | exit -9, 1 OOM kills |" in text
    assert charts == [tmp_path / "memory.png"] and charts[0].stat().st_size > 5_000


def test_a_missing_memory_json_says_not_measured(tmp_path: Path) -> None:
    text, charts = memory_report.section(tmp_path / "memory.json", tmp_path)
    assert "**Not measured**" in text and "bench.memory_classes" in text
    assert charts == []


def core_json(path: Path) -> Path:
    bench = {
        "extra_info": {"method": "tuned", "image": "photo-12mp", "cpu_ms": 30.0, "max_rss_mb": 40},
        "stats": {"median": 0.030, "min": 0.029, "max": 0.031, "rounds": 15},
    }
    return write(path / "core.json", {"benchmarks": [bench], "machine_info": {}})


def test_the_report_reads_classes_and_memory_beside_core(tmp_path: Path) -> None:
    core = core_json(tmp_path)
    write(tmp_path / "classes.json", run_json())
    write(tmp_path / "memory.json", MEMORY)

    text = render(core, tmp_path / "e2e.json", tmp_path, markdown_folder=tmp_path)

    assert "## Every class at every size" in text and "![classes.png](classes.png)" in text
    assert "| jpeg-12mp | 0.75 met | **1.00 missed** |" in text
    assert "## Peak memory per input class" in text and "![memory.png](memory.png)" in text
    assert "| heif | bomb.heic | 128 | 131.0 | **killed** |" in text


def test_the_report_without_classes_or_memory_invents_nothing(tmp_path: Path) -> None:
    text = render(core_json(tmp_path), tmp_path / "e2e.json", tmp_path, markdown_folder=tmp_path)
    assert "_No classes run in classes.json: `make bench-classes` makes one._" in text
    assert "**Not measured** in this run: there is no memory.json" in text
    assert not (tmp_path / "classes.png").exists() and not (tmp_path / "memory.png").exists()


def test_a_goal_at_some_sizes_applies_there_only() -> None:
    goal = Goal("floor", 1.05, (200,))
    assert goal.applies(200) and not goal.applies(400)
    assert Goal("sharp", 0.9).applies(1600)


# --- the run ------------------------------------------------------------------------------------


def fake(name: str, calls: list[str], fail: bool = False) -> Callable[[bytes, int], bytes]:
    def thumbnail(data: bytes, max_size: int) -> bytes:
        calls.append(name)
        if fail:
            raise ValueError(f"{name} cannot read this\nsecond line")
        return b"out"

    return thumbnail


def test_methods_take_turns_in_a_rotating_order(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("a", "b", "c"):
        monkeypatch.setitem(methods.METHODS, name, fake(name, calls))
    monkeypatch.setitem(methods.METHODS, "broken", fake("broken", calls, fail=True))

    measured = interleaved(["a", "broken", "b", "c"], b"image", 200, rounds=3, warm_up=2)

    warm_up, rounds = calls[:7], calls[7:]
    assert warm_up == ["a", "a", "broken", "b", "b", "c", "c"]
    assert rounds == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert measured.failed == {"broken": "ValueError: broken cannot read this"}
    assert set(measured.timings) == {"a", "b", "c"}
    assert all(len(t.cpu_ms) == len(t.wall_ms) == 3 for t in measured.timings.values())
    assert measured.outputs == {"a": b"out", "b": b"out", "c": b"out"}


def test_a_class_run_writes_what_the_report_reads(tmp_path: Path) -> None:
    """One small PNG at 200 px: tuned and Image.thumbnail() timed, the floor left out."""
    out = tmp_path / "classes.json"
    classes.main(
        [
            "--out",
            str(out),
            "--classes",
            "screenshot-small",
            "--sizes",
            "200",
            "--rounds",
            "1",
            "--methods",
            "tuned,floor,pillow-thumbnail",
        ]
    )
    data = json.loads(out.read_text())
    assert {(r["method"], r["size"]) for r in data["results"]} == {
        ("tuned", 200),
        ("pillow-thumbnail", 200),
    }
    assert data["skipped"] == [
        {
            "class": "screenshot-small",
            "size": 200,
            "method": "floor",
            "reason": "floor does not read PNG",
        }
    ]
    tuned = next(r for r in data["results"] if r["method"] == "tuned")
    assert tuned["out_width"] == 200 and tuned["psnr_db"] > 20
    run = load(out)
    assert run.ratio("screenshot-small", 200, "pillow-thumbnail") is not None


def test_every_class_is_a_sample() -> None:
    from devstack import samples

    for klass in classes.CLASSES:
        assert klass.sample in samples.SPECS
    assert samples.SPECS["photo-12mp-heic"].suffix == ".heic"
    assert classes.input_class("screenshot-small").sample == "screenshot-small"
    with pytest.raises(ValueError, match="unknown class"):
        classes.input_class("gif")
