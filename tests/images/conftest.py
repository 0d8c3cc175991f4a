"""The image tier: each Dockerfile built once per session with podman (infra/image_build.py) and
tested from outside and inside. Only ``pytest -m image`` runs it (``make image-check``;
THUMBSTAT_IMAGE_ARCH=arm64 for ``make image-check-arm64``); the default run deselects it.

Where podman, runc, debootstrap or root are missing the tier is skipped, except in CI (CI=true):
there a skipped image tier would pass without having checked anything, so it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

import pytest

from infra import image_build
from infra.functions import Function
from tests.images.probe import Inside, ProbeFailed, look_inside

ARCH_VARIABLE: Final = "THUMBSTAT_IMAGE_ARCH"
# Recorded with record_property by the tests, shown per image at the end of the run.
IMAGE_PROPERTY: Final = "image"


def in_ci() -> bool:
    return bool(os.environ.get("CI"))  # as tests/packaging/test_compose.py reads it


@pytest.fixture(scope="session")
def arch() -> image_build.Arch:
    name = os.environ.get(ARCH_VARIABLE, "amd64")
    if name not in image_build.ARCHES:
        pytest.fail(f"{ARCH_VARIABLE}={name}: not one of {sorted(image_build.ARCHES)}")
    return image_build.ARCHES[name]


@pytest.fixture(scope="session")
def builder(arch: image_build.Arch) -> image_build.Arch:
    """``arch``, once this machine is ready to build for it."""
    reason = image_build.unavailable(arch)
    if reason:
        if in_ci():
            pytest.fail(f"image tier cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    image_build.prepare(arch)
    return arch


@pytest.fixture(scope="session")
def built_image(builder: image_build.Arch) -> Callable[[Function], str]:
    """The function's image, built on first use and kept for the session. A failed build is
    remembered too, so the function's other tests fail at once instead of building again."""
    built: dict[str, str | image_build.BuildFailed] = {}

    def get(function: Function) -> str:
        if function.name not in built:
            try:
                built[function.name] = image_build.build(function, builder)
            except image_build.BuildFailed as exc:
                built[function.name] = exc
        result = built[function.name]
        if isinstance(result, image_build.BuildFailed):
            pytest.fail(f"{function.dockerfile}: {result}", pytrace=False)
        return result

    return get


@pytest.fixture(scope="session")
def inside(built_image: Callable[[Function], str]) -> Callable[[Function], Inside]:
    """The probe's findings in the function's image, one container run per image."""
    seen: dict[str, Inside] = {}

    def get(function: Function) -> Inside:
        if function.name not in seen:
            image = built_image(function)
            try:
                seen[function.name] = look_inside(image)
            except ProbeFailed as exc:
                pytest.fail(str(exc), pytrace=False)
        return seen[function.name]

    return get


@pytest.fixture
def report(record_property: Callable[[str, object], None]) -> Callable[..., None]:
    """Record figures of an image (not asserted), for junit XML and the summary below."""

    def record(image: str, **figures: Any) -> None:
        record_property(IMAGE_PROPERTY, image)
        for name, value in figures.items():
            record_property(name, value)

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per image with the figures its passing tests recorded."""
    lines: dict[str, list[str]] = {}
    for test in terminalreporter.stats.get("passed", []):
        properties = dict(test.user_properties)
        if IMAGE_PROPERTY in properties:
            image = str(properties.pop(IMAGE_PROPERTY))
            lines.setdefault(image, []).extend(f"{k}={v}" for k, v in properties.items())
    if lines:
        terminalreporter.section("image figures")
        for image, figures in lines.items():
            terminalreporter.write_line(f"{image}  {'  '.join(figures)}")
