"""What each Dockerfile does for a cold start: the official python images ship the standard library
without bytecode, and Lambda's file system is read-only, so the image that runs (the base stage,
which runtime and local build on) compiles it itself, or every cold start would (docs/images.md)."""

from __future__ import annotations

import pytest

from infra.functions import FUNCTIONS, Function
from tests.packaging.test_images import stages

IDS = [function.name for function in FUNCTIONS]


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_the_base_stage_compiles_the_standard_library(function: Function) -> None:
    base = stages(function.dockerfile)["base"]
    compiling = [line for line in base if line.startswith("RUN") and "compileall" in line]
    assert compiling, f"{function.dockerfile}: the base stage compiles no bytecode"
    [line] = compiling
    assert 'sysconfig.get_path("stdlib")' in line  # the running Python's own library
    # Forced: a base that brings timestamp-checked bytecode gets unchecked hashes too, as
    # /opt/function has (no stat of each source at import).
    assert " -f " in line and "--invalidation-mode unchecked-hash" in line
    # Before the user switch (the library is root's) and before the function is copied in, so
    # the layer is cached across code changes.
    assert base.index(line) < base.index("USER 10001")
    copy = next(i for i, text in enumerate(base) if text.startswith("COPY --from=build"))
    assert base.index(line) < copy


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_the_image_writes_no_bytecode_at_run_time(function: Function) -> None:
    environment = " ".join(stages(function.dockerfile)["base"])
    assert "PYTHONDONTWRITEBYTECODE=1" in environment  # read-only in Lambda: nothing to write
