"""What every built image promises, seen from inside it: a non-root user, no compiler, Pillow only
where the function needs it, bytecode compiled at build time, of the project's code only the
handler's import closure, and botocore on the trimmed models of the operations it calls."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore import xform_name

from infra import botocore_models, image_build
from infra.functions import FUNCTIONS, Function
from tests.images.probe import Inside
from tests.packaging import closure

pytestmark = pytest.mark.image

IDS = [function.name for function in FUNCTIONS]


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_runs_as_non_root(function: Function, inside: Callable[[Function], Inside]) -> None:
    assert inside(function).uid != 0


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_has_no_compiler(function: Function, inside: Callable[[Function], Inside]) -> None:
    # Every wheel is binary: a compiler in the image would be dead weight and attack surface.
    assert inside(function).compilers == []


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_has_pillow_only_where_needed(
    function: Function, inside: Callable[[Function], Inside]
) -> None:
    assert inside(function).pillow == function.needs_pillow


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_bytecode_is_precompiled(function: Function, inside: Callable[[Function], Inside]) -> None:
    # Lambda's file system is read-only: what is not compiled at build time is compiled again at
    # every cold start. Unchecked-hash bytecode is used without even a look at the source.
    found = inside(function)
    assert found.bytecode_checked > 0
    assert found.bytecode_problems == []


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_holds_only_the_handler_closure(
    function: Function, inside: Callable[[Function], Inside]
) -> None:
    assert inside(function).handlers == closure.shipped_files(function.module)


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_holds_no_project_tooling(function: Function, inside: Callable[[Function], Inside]) -> None:
    found = inside(function)
    assert found.devstack_dirs == []
    assert found.importable_project == []


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_size_is_reported(
    function: Function,
    built_image: Callable[[Function], str],
    report: Callable[..., None],
) -> None:
    # Recorded, not asserted: the stand-in base is not the official image (README).
    image = built_image(function)
    size = image_build.image_size(image)
    report(image, size_mb=round(size / 1e6, 1), size_bytes=size)


@pytest.mark.parametrize("function", FUNCTIONS, ids=IDS)
def test_botocore_loads_the_trimmed_models(
    function: Function, inside: Callable[[Function], Inside], tmp_path: Path
) -> None:
    # The operations the image's own handlers call (its closure, as the build stage walked it),
    # each in the model botocore loads, from the trimmed data (infra/botocore_models.py).
    for name in closure.shipped_files(function.module):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(closure.ROOT / name, tmp_path / name)
    used = botocore_models.used(tmp_path / closure.PACKAGE)
    found = inside(function).botocore_data
    assert found["AWS_DATA_PATH"] == botocore_models.IMAGE_DATA_PATH
    assert found["manifest"] is not None, "no trimmed data in the image"
    assert set(found["models"]) == set(used)
    for service, uses in used.items():
        model = found["models"][service]
        assert model["path"].startswith(botocore_models.IMAGE_DATA_PATH + "/"), model["path"]
        assert model["operations"] == found["manifest"]["services"][service]["operations"]
        names = {xform_name(operation) for operation in model["operations"]}
        assert uses.methods <= names, f"{service}: {sorted(uses.methods - names)} not kept"
