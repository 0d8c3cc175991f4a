"""The benchmark report's Lambda model and rendering (figures come from the JSON files)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bench import quality
from bench.report import (
    FULL_VCPU_MB,
    Invocation,
    Measurement,
    cheapest,
    e2e_sizes_table,
    e2e_table,
    init_section,
    render,
)


def measurement(
    method: str = "tuned", cpu_ms: float = 100.0, memory_mb: float = 60.0, image: str = "photo-12mp"
) -> Measurement:
    return Measurement(
        method=method,
        image=image,
        median_ms=cpu_ms,
        min_ms=cpu_ms * 0.9,
        max_ms=cpu_ms * 1.2,
        cpu_ms=cpu_ms,
        memory_used_mb=memory_mb,
        rounds=15,
    )


def test_duration_scales_with_the_cpu_share() -> None:
    m = measurement(cpu_ms=100)
    assert m.estimate_ms(128) == pytest.approx(100 * 1769 / 128)
    assert m.estimate_ms(FULL_VCPU_MB) == pytest.approx(100)
    assert m.estimate_ms(4096) == pytest.approx(100)  # one thread gains nothing past one vCPU


def test_cost_bills_whole_milliseconds_at_arm64_prices() -> None:
    m = measurement(cpu_ms=100)
    billed_s = math.ceil(100 * 1769 / 128) / 1000
    expected = (billed_s * 128 / 1024 * 0.0000133334 + 0.2e-6) * 1e6
    assert m.cost_per_million(128) == pytest.approx(expected)


def test_cheapest_is_the_smallest_size_within_the_tolerance_of_the_least() -> None:
    assert cheapest({128: 1.00, 256: 1.04, 512: 0.99, 1769: 1.20}) == 128  # 1.00 <= 0.99 * 1.05
    assert cheapest({128: 1.10, 256: 1.00, 512: 1.02}) == 256  # 1.10 is over 1.05
    assert cheapest({128: 1.10, 256: 1.00}, tolerance=0.2) == 128
    assert cheapest({}) is None


@pytest.mark.parametrize("cpu_ms", [20.0, 35.0, 35.7, 100.0, 480.0, 2000.0])
def test_cheapest_size_of_cpu_bound_work_does_not_flip_with_its_duration(cpu_ms: float) -> None:
    # Below one vCPU the cost is flat: an exact minimum would pick a size by rounding noise.
    assert measurement(cpu_ms=cpu_ms, memory_mb=60).cheapest() == 128


def test_cheapest_size_must_hold_the_peak_memory() -> None:
    assert measurement(memory_mb=200).cheapest() == 256
    assert measurement(memory_mb=2000).cheapest() == 2048
    assert measurement(memory_mb=20_000).cheapest() is None


def invocation(**changes: Any) -> dict[str, Any]:
    row = {
        "image": "photo-12mp",
        "start": "warm",
        "memory_size_mb": 128,
        "duration_ms": 700.0,
        "max_memory_used_mb": 60,
        "peak_rss_mb": 70,
        "init_duration_ms": None,
        "init_cpu_ms": None,
        "cpu_ms": 50.0,
        "status": "ok",
        "outcome": "ok",
        "mode": "measured",
    }
    return {**row, **changes}


def test_measured_invocations_are_taken_as_they_are() -> None:
    measured = Invocation.from_json(invocation())
    assert (measured.duration_ms, measured.billed_ms, measured.status) == (700.0, 700, "ok")
    assert measured.measured and measured.made_it


def test_modelled_invocations_follow_lambdas_rule() -> None:
    modelled = Invocation.from_json(invocation(mode="modelled", duration_ms=60.0))
    assert modelled.duration_ms == pytest.approx(50 * 1769 / 128)
    assert not modelled.measured
    too_big = Invocation.from_json(invocation(mode="modelled", max_memory_used_mb=140))
    assert too_big.status == "out of memory" and not too_big.made_it


def test_end_to_end_tables_show_deaths_and_rejections() -> None:
    rows = [
        Invocation.from_json(r)
        for r in (
            invocation(start="cold", duration_ms=4000.0, init_duration_ms=400.0, init_cpu_ms=300),
            invocation(),
            invocation(image="screenshot-5k", start="cold", outcome="rejected"),
            invocation(
                image="photo-48mp",
                start="cold",
                status="out of memory",
                outcome=None,
                max_memory_used_mb=128,
            ),
            invocation(start="cold", memory_size_mb=1769, duration_ms=300.0),
            invocation(memory_size_mb=1769, duration_ms=100.0),
            invocation(image="photo-48mp", start="cold", memory_size_mb=1769),
            invocation(image="photo-48mp", memory_size_mb=1769, duration_ms=30.0),
        )
    ]
    at_128 = e2e_table(rows, 128)
    assert "At 128 MB, measured" in at_128
    assert "| photo-12mp | cold | 400 | 300 | 4000 | 4000 | 128 | 60 | 70 | ok |" in at_128
    assert (
        "| photo-48mp | cold | - | - | 700 | 700 | 128 | 128 | 70 | **out of memory** |" in at_128
    )
    every = e2e_sizes_table(rows, held_out={"photo-48mp"})
    assert "| photo-12mp | 4000 / 700 (60 MB) | 300 / 100 (60 MB) | 128 ($1.37 per 1M) |" in every
    # Only the sizes where the thumbnail was made count for the cheapest.
    assert "| photo-48mp (held out) | OOM (128 MB) | 700 / 30 (60 MB) | 1769 (" in every
    assert "| screenshot-5k | rejected | - | - |" in every


def test_psnr_is_the_mean_squared_error_in_decibels() -> None:
    black, grey = Image.new("RGB", (8, 8), (0, 0, 0)), Image.new("RGB", (8, 8), (1, 1, 1))
    assert quality.psnr(black, grey) == pytest.approx(10 * math.log10(255**2))
    assert quality.psnr(grey, grey) == math.inf
    transparent = Image.new("RGBA", (8, 8), (200, 10, 10, 0))
    assert quality.psnr(transparent, black) == math.inf  # compared over black
    with pytest.raises(ValueError):
        quality.psnr(black, Image.new("RGB", (8, 9)))


def _jpeg(im: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=95, **options)
    return buffer.getvalue()


def test_quality_is_measured_on_the_displayed_orientation() -> None:
    pixels = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated: 48 x 64
    source = _jpeg(pixels, exif=exif)
    upright = _jpeg(pixels.transpose(Image.Transpose.ROTATE_270).resize((24, 32)))
    measured = quality.measure(source, upright)
    assert measured.oriented and measured.psnr_db is not None and measured.psnr_db > 30
    sideways = quality.measure(source, _jpeg(pixels.resize((32, 24))))
    assert not sideways.oriented and sideways.psnr_db is None


def test_report_renders_tables_and_charts_from_the_json(tmp_path: Path) -> None:
    benchmarks = []
    for method, seconds, rss in (("naive", 0.160, 88.9), ("tuned", 0.030, 40.2)):
        benchmarks.append(
            {
                "extra_info": {
                    "method": method,
                    "image": "photo-12mp",
                    "cpu_ms": seconds * 1000,
                    "max_rss_mb": rss,
                },
                "stats": {
                    "median": seconds,
                    "min": seconds * 0.9,
                    "max": seconds * 1.1,
                    "rounds": 15,
                },
            }
        )
    for spec, name, seconds in (
        ("200:auto", "single", 0.040),
        ("200:auto,800:webp", "+800:webp", 0.070),
    ):
        benchmarks.append(
            {
                "extra_info": {
                    "method": f"renditions {name}",
                    "image": "photo-12mp",
                    "spec": spec,
                    "cpu_ms": seconds * 1000,
                    "max_rss_mb": 70.0,
                    "added_mb": 5.0,
                    "out_bytes": {"200:auto": 9000},
                },
                "stats": {"median": seconds, "min": seconds, "max": seconds, "rounds": 15},
            }
        )
    benchmarks.append(
        {
            "extra_info": {"method": "placeholder", "image": "photo-12mp"},
            "stats": {"median": 0.0012, "min": 0.001, "max": 0.002, "rounds": 200},
        }
    )
    core = tmp_path / "core.json"
    core.write_text(
        json.dumps(
            {
                "benchmarks": benchmarks,
                "machine_info": {
                    "cpu": {"brand_raw": "Test CPU", "count": 2},
                    "libraries": {"Pillow": "13.0.0"},
                },
            }
        )
    )

    text = render(core, tmp_path / "missing-e2e.json", tmp_path / "charts")

    assert "| naive | 160.0 (144.0-176.0) | 2211 | 2212 | 128 | 89 | 128 | 2211 |" in text
    assert "tuned/naive 0.19" in text
    assert "Not measured on this image: pillow-thumbnail, pyvips, sharp, rust-image, floor" in text
    assert "| +800:webp | `200:auto,800:webp` | 70.0 (70.0-70.0) | +30.0 |" in text
    assert "| photo-12mp | 1.20 (1.00-2.00) | 200 |" in text
    assert "Test CPU" in text and "Pillow 13.0.0" in text
    assert "make bench-e2e" in text  # says the end-to-end part is missing, invents nothing
    assert (tmp_path / "charts/durations.png").stat().st_size > 10_000
    assert (tmp_path / "charts/power-tuning.png").stat().st_size > 10_000


def test_report_says_what_is_modelled(tmp_path: Path) -> None:
    bench = {
        "extra_info": {"method": "tuned", "image": "photo-12mp", "cpu_ms": 30.0, "max_rss_mb": 40},
        "stats": {"median": 0.030, "min": 0.029, "max": 0.031, "rounds": 15},
    }
    core = tmp_path / "core.json"
    core.write_text(json.dumps({"benchmarks": [bench], "machine_info": {}}))
    e2e = tmp_path / "e2e.json"
    rows = [invocation(start="cold", init_duration_ms=300.0), invocation(duration_ms=80.0)]
    for row in rows:
        del row["mode"]
    e2e.write_text(
        json.dumps({"mode": "modelled", "why_modelled": "not root", "invocations": rows})
    )

    text = render(core, e2e, tmp_path, markdown_folder=tmp_path.parent)

    assert "**Modelled** (not root)" in text and "At 128 MB, modelled" in text
    # 50 ms of CPU at 128 MB: 691.02 ms (billed 692), whatever the unlimited run took.
    assert "| photo-12mp | warm | - | - | 691 | 692 | 128 |" in text
    assert f"![power-tuning.png]({tmp_path.name}/power-tuning.png)" in text
    assert (tmp_path / "power-tuning.png").stat().st_size > 10_000


def test_the_cold_start_section_is_the_run_s_tables_or_says_it_was_not_measured(
    tmp_path: Path,
) -> None:
    tables = tmp_path / "init.md"
    assert "Not measured" in init_section(tables)
    tables.write_text("| container start | Init |\n| --- | --- |\n| 1169 (1157) | 382 (380) |\n")
    assert init_section(tables) == tables.read_text()
