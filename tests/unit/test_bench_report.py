"""The benchmark report's Lambda model and rendering (figures come from the JSON files)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.report import FULL_VCPU_MB, Measurement, render


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


def test_cheapest_size_is_the_fastest_of_equal_cost() -> None:
    # CPU-bound: the cost is flat up to one vCPU, then rises; 1,769 MB is as cheap and fastest.
    assert measurement(memory_mb=60).cheapest() == FULL_VCPU_MB


def test_cheapest_size_must_hold_the_peak_memory() -> None:
    assert measurement(memory_mb=2000).cheapest() == 2048
    assert measurement(memory_mb=20_000).cheapest() is None


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

    assert "| naive | 160.0 (144.0-176.0) | 2211 | 2212 | 128 | 89 | 1769 | 160 |" in text
    assert "tuned/naive 0.19" in text
    assert "| +800:webp | `200:auto,800:webp` | 70.0 (70.0-70.0) | +30.0 |" in text
    assert "| photo-12mp | 1.20 (1.00-2.00) | 200 |" in text
    assert "Test CPU" in text and "Pillow 13.0.0" in text
    assert "make bench-e2e" in text  # says the end-to-end part is missing, invents nothing
    assert (tmp_path / "charts/durations.png").stat().st_size > 10_000
    assert (tmp_path / "charts/power-tuning.png").stat().st_size > 10_000
