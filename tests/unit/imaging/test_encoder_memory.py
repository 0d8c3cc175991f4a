"""The encoders' memory: each stays within the model the decode budget reserves for it
(handlers.imaging.limits.ENCODER_BYTES), measured in a fresh interpreter, and a spec whose
largest encoder would take the whole budget is refused at cold start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handlers.common.config import ConfigError
from handlers.imaging.limits import ENCODER_BYTES
from handlers.imaging.renditions import encoder_bytes, parse
from handlers.index.settings import ResizeSettings
from tests.conftest import ROOT


@pytest.mark.parametrize("out_format", sorted(ENCODER_BYTES))
@pytest.mark.parametrize("size", [(400, 266), (1600, 1066)], ids=["400px", "1600px"])
def test_each_encoder_stays_within_its_reserve(out_format: str, size: tuple[int, int]) -> None:
    measured = subprocess.run(
        [sys.executable, "-m", "tests.unit.imaging.encoder_peak", out_format, *map(str, size)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    fixed, per_pixel = ENCODER_BYTES[out_format]
    assert int(measured.stdout) <= fixed + per_pixel * size[0] * size[1]


def _largest_accepted(out_format: str, memory_mb: int) -> int:
    """The largest SIZE of SIZE:out_format the model admits at ``memory_mb``."""
    budget = ResizeSettings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)})
    limit = budget.max_pixels * 8
    size = 1
    while encoder_bytes(parse(f"{size + 1}:{out_format}")) < limit:
        size += 1
    return size


@pytest.mark.parametrize(("out_format", "memory_mb"), [("avif", 128), ("webp", 128), ("avif", 256)])
def test_a_spec_whose_encoder_takes_the_budget_is_refused_at_cold_start(
    out_format: str, memory_mb: int
) -> None:
    largest = _largest_accepted(out_format, memory_mb)
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
    ResizeSettings.from_env({**env, "RENDITIONS": f"200:jpeg,{largest}:{out_format}"})
    with pytest.raises(ConfigError, match="decode budget"):
        ResizeSettings.from_env({**env, "RENDITIONS": f"200:jpeg,{largest + 1}:{out_format}"})


def test_a_box_is_reserved_by_its_own_area() -> None:
    fixed, per_pixel = ENCODER_BYTES["AVIF"]
    assert encoder_bytes(parse("1200x100:avif")) == fixed + per_pixel * 1200 * 100
    assert encoder_bytes(parse("1200:avif")) == fixed + per_pixel * 1200 * 1200
