"""Reading configuration from environment variables: the parsers both functions' settings use.

Each function's settings (``handlers.index.settings``, ``handlers.readings.settings``) are a
frozen dataclass built once per container by ``from_env(environ)``, which takes the environment as
a parameter (``None`` means ``os.environ``), so tests pass a plain dict instead of patching the
process environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

MEMORY_SIZE: Final = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda
FUNCTION_NAME: Final = "AWS_LAMBDA_FUNCTION_NAME"  # set by Lambda


class ConfigError(ValueError):
    """An environment variable holds a value thumbstat cannot use."""


def integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """``name`` as a whole number in ``low..high``; ``default`` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def prefix(env: Mapping[str, str], name: str, default: str) -> str:
    """A key prefix, ending in ``/`` unless empty."""
    value = env.get(name, default)
    if value and not value.endswith("/"):
        value += "/"  # "uploads" must not match "uploads-old/..."
    return value
