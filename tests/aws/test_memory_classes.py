"""Each class of hostile or large input, from the S3 download on, under the function's memory as a
real limit: its peak stays under the memory size less ``bench.memory_classes.MARGIN_MB`` at 128 and
256 MB, and it becomes what it should (thumbnailed, refused as too large, never corrupt for a
large ICC profile).

The inputs are generated (tests/unit/imaging/memory_classes.py), uploaded to moto's server and
run through the create path in a process set up like a warm function, in a cgroup whose memory
limit is the function's size (cgroup v1; skipped where it cannot be written):
``bench.memory_classes``, which ``python -m bench.memory_classes`` runs the same way.
"""

from __future__ import annotations

import pytest

from bench import memory_classes as harness
from devstack import cgroups
from tests.conftest import moto_environment
from tests.unit.imaging import memory_classes as classes

pytestmark = pytest.mark.slow

MEMORY_SIZES = (128, 256)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[harness.Input]:
    """Every class's inputs, generated once for both memory sizes."""
    folder = tmp_path_factory.mktemp("memory-classes")
    classes.write(folder, classes.inputs())
    return harness.load_manifest(folder)


@pytest.fixture(scope="module")
def endpoint(moto_server: str) -> dict[str, str]:
    return moto_environment(moto_server)


# RLIMIT_AS is no stand-in: it limits address space, which allocators reserve far beyond what
# they touch, so inputs that fit fail with MemoryError under it.
@pytest.mark.skipif(cgroups.unavailable() is not None, reason="cgroup v1 cannot be written here")
@pytest.mark.parametrize("memory_mb", MEMORY_SIZES, ids=lambda m: f"{m}MB")
def test_every_class_stays_within_the_memory_from_the_download_on(
    inputs: list[harness.Input], endpoint: dict[str, str], memory_mb: int
) -> None:
    measured = harness.measure(inputs, memory_mb, endpoint)
    assert [m.input for m in measured] == [i.name for i in inputs]
    failures = [
        wrong
        for item, result in zip(inputs, measured, strict=True)
        for wrong in harness.judge(result, item.expect[str(memory_mb)])
    ]
    assert all(m.limit_mb == memory_mb for m in measured)
    assert not failures, "\n".join(failures)


def test_every_class_has_its_inputs() -> None:
    assert set(classes.CLASSES) == {
        "heif-items", "icc", "near-cap", "animated-webp", "png16-icc", "photos",
    }  # fmt: skip
    # A large ICC profile is honoured, dropped or too large for the memory: never corrupt.
    assert all("corrupt" not in outcome for i in classes.inputs(["icc"]) for outcome in i.expect)


@pytest.mark.skipif(cgroups.unavailable() is not None, reason="cgroup v1 cannot be written here")
def test_the_limit_is_the_memory_size(endpoint: dict[str, str]) -> None:
    """The process runs with the memory size as its cgroup's limit, topped up to the function's
    baseline; a peak over the size less the margin, or a kill, is judged a failure."""
    env = harness.child_environment(harness.create_stack(endpoint), 128, endpoint)
    with harness.Child(128, env) as child:
        assert child.enforced_mb == 128
        assert child.baseline_mb >= harness.BASELINE_MB - 1

    def result(peak_mb: float, outcome: str = "ok") -> harness.Measured:
        return harness.Measured("c", "f", 128, peak_mb, peak_mb, 128, outcome, "", 1)

    assert not harness.judge(result(128 - harness.MARGIN_MB), "ok")
    assert harness.judge(result(128 - harness.MARGIN_MB + 0.1), "ok")
    assert harness.judge(result(100, "killed"))
    assert harness.judge(result(100, "rejected:corrupt"), "ok")
