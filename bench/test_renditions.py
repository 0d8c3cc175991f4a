"""Renditions benchmarks: the cost of each extra rendition by size and format, next to the single
thumbnail, on the 12 MP photo and the 4K screenshot; box renditions (a smart crop) by position;
the crop choice alone; and the placeholder's cost.

    make bench     (pytest bench/ --benchmark-only)

Each set is the single 200 px ``auto`` thumbnail plus one extra rendition (or the whole example
set), so a set's median minus the single thumbnail's is what that rendition adds. Peak memory
comes from a fresh subprocess per (set, image), as in bench/test_core.py.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from pytest_benchmark.fixture import BenchmarkFixture

from bench.peak_rss import in_fresh_process
from bench.test_core import ROUNDS
from devstack import samples
from handlers.imaging import Position, crop, fit_within, make_renditions, parse
from handlers.imaging.placeholder import compute_placeholder
from handlers.imaging.sizing import cover_size

IMAGES = ("photo-12mp", "screenshot-4k")
SETS = {
    "single": "200:auto",
    "+200:webp": "200:auto,200:webp",
    "+200:avif": "200:auto,200:avif",
    "+800:jpeg": "200:auto,800:jpeg",
    "+800:webp": "200:auto,800:webp",
    "+800:avif": "200:auto,800:avif",
    "+1600:jpeg": "200:auto,1600:jpeg",
    "+1600:webp": "200:auto,1600:webp",
    "+1600:avif": "200:auto,1600:avif",
    "example": "200:jpeg,200:webp,800:webp,1600:avif",
    "+400x400:webp": "200:auto,400x400:webp",
    "+400x400:webp:entropy": "200:auto,400x400:webp:entropy",
    "+400x400:webp:centre": "200:auto,400x400:webp:centre",
    "+1200x630:jpeg": "200:auto,1200x630:jpeg",
}


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("name", list(SETS))
def test_renditions(benchmark: BenchmarkFixture, name: str, image: str) -> None:
    data = samples.load(image)
    specs = parse(SETS[name])
    benchmark.group = f"renditions {image}"
    benchmark.extra_info.update(
        method=f"renditions {name}",
        image=image,
        spec=SETS[name],
        bytes=len(data),
        **in_fresh_process(f"renditions:{SETS[name]}", image),
    )
    cpu_ms: list[float] = []

    def timed(data: bytes) -> object:
        started = time.process_time()
        result = make_renditions(data, specs)
        cpu_ms.append((time.process_time() - started) * 1000)
        return result

    made = benchmark.pedantic(timed, args=(data,), rounds=ROUNDS, iterations=1, warmup_rounds=2)  # type: ignore[no-untyped-call]
    benchmark.extra_info["cpu_ms"] = sorted(cpu_ms[2:])[len(cpu_ms[2:]) // 2]
    benchmark.extra_info["out_bytes"] = {r.spec.name: len(r.data) for r in made.renditions}


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("position", list(Position))
def test_crop_choice(benchmark: BenchmarkFixture, image: str, position: Position) -> None:
    """Choosing where a 1200x630 box goes in its cover image (1200 px wide), without the decode:
    what the position adds to a box rendition."""
    source = Image.open(io.BytesIO(samples.load(image))).convert("RGB")
    cover = source.resize(cover_size(source.size, (1200, 630)), Image.Resampling.LANCZOS)
    benchmark.group = "crop choice"
    benchmark.extra_info.update(method=f"crop {position}", image=image, cover=list(cover.size))
    benchmark.pedantic(
        crop.choose, args=(cover, (1200, 630), position), rounds=50, iterations=1, warmup_rounds=3
    )  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("image", IMAGES)
def test_placeholder(benchmark: BenchmarkFixture, image: str) -> None:
    """The ThumbHash and dominant colour from a 200 px rendition (the smallest, by default)."""
    source = Image.open(io.BytesIO(samples.load(image))).convert("RGB")
    smallest = source.resize(fit_within(source.size, 200), Image.Resampling.LANCZOS)
    benchmark.group = "placeholder"
    benchmark.extra_info.update(method="placeholder", image=image)
    benchmark.pedantic(
        compute_placeholder, args=(smallest,), rounds=200, iterations=1, warmup_rounds=5
    )  # type: ignore[no-untyped-call]
