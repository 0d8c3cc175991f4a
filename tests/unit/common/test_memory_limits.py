"""The input cap and the pixel budget follow the function's memory size (one derivation,
handlers.index.settings), and an explicit setting wins."""

from __future__ import annotations

import pytest

from handlers.imaging.limits import BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS
from handlers.index.settings import ResizeSettings

MiB = 2**20


@pytest.mark.parametrize(
    ("memory_mb", "input_cap", "budget"),
    [
        (128, 44 * MiB, 44 * MiB),
        (134, 49 * MiB, 49 * MiB),  # the last size whose budget is under 50 MiB
        (135, 50 * MiB, 50 * MiB),
        (256, 50 * MiB, 159 * MiB),
        (None, 50 * MiB, DEFAULT_MAX_PIXELS * BUDGET_BYTES_PER_PIXEL),
    ],
    ids=["128MB", "134MB", "135MB", "256MB", "memory-unknown"],
)
def test_the_input_cap_is_the_decode_budget_up_to_50_mib(
    memory_mb: int | None, input_cap: int, budget: int
) -> None:
    env = {} if memory_mb is None else {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
    settings = ResizeSettings.from_env(env)
    assert settings.max_input_bytes == input_cap
    assert settings.max_pixels == min(budget // BUDGET_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS)


def test_max_input_bytes_set_wins_over_the_derived_cap() -> None:
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "MAX_INPUT_BYTES": str(60 * MiB)}
    assert ResizeSettings.from_env(env).max_input_bytes == 60 * MiB
