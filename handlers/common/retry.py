"""Backoff between retries, shared by the store and the device client."""

from __future__ import annotations

import math
import random


def full_jitter(attempt: int, base: float, cap: float = math.inf) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): uniform in [0, base * 2**attempt],
    at most ``cap`` ("full jitter", as AWS recommends: retries of many callers spread out)."""
    return min(random.uniform(0, base * 2**attempt), cap)
