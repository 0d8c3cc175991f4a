"""The template's ThumbnailCacheControl: the setting's default, and a pattern that takes what
the setting takes (a one-line printable ASCII header value), on both sides of its edge."""

from __future__ import annotations

import re
from typing import Any

import pytest

from handlers.common.config import ConfigError
from handlers.index.settings import THUMBNAIL_CACHE_CONTROL, ResizeSettings


def test_deployed_as_the_setting_with_its_default(template: dict[str, Any]) -> None:
    variables = template["Resources"]["ResizeFunction"]["Properties"]["Environment"]["Variables"]
    assert variables[THUMBNAIL_CACHE_CONTROL] == {"Ref": "ThumbnailCacheControl"}
    default = template["Parameters"]["ThumbnailCacheControl"]["Default"]
    assert default == ResizeSettings().cache_control


@pytest.mark.parametrize(
    "value",
    ["public, max-age=31536000, immutable", " !~", "no-store", "a\nb", "max-âge=1", "x\x7f"],
    ids=["immutable", "printable-edges", "no-store", "newline", "non-ascii", "delete"],
)
def test_the_pattern_takes_what_the_setting_takes(template: dict[str, Any], value: str) -> None:
    pattern = template["Parameters"]["ThumbnailCacheControl"]["AllowedPattern"]
    try:
        ResizeSettings.from_env({THUMBNAIL_CACHE_CONTROL: value})
        taken = True
    except ConfigError:
        taken = False
    assert bool(re.fullmatch(pattern, value)) == taken
