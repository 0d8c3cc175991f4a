"""A look inside a built image: one container run of a small script, as the image's user."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Final

from tests.packaging.closure import FUNCTION_DIR, NOT_SHIPPED

# Run inside the image, as its user, with its Python (3.11 on the arm64 stand-in), so written for
# both. Arguments: the function directory, then the project's names. Prints one JSON object.
_PROBE: Final = r"""
import importlib.util, json, os, shutil, sys

FUNCTION_DIR, PROJECT = sys.argv[1], sys.argv[2:]
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "clang++", "tcc")

def bytecode():
    checked, problems = 0, []
    for folder, dirs, files in os.walk(FUNCTION_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith(".py"):
                continue
            source = os.path.join(folder, name)
            checked += 1
            try:
                with open(importlib.util.cache_from_source(source), "rb") as pyc:
                    header = pyc.read(8)
            except OSError:
                problems.append(source + ": no bytecode")
                continue
            if header[:4] != importlib.util.MAGIC_NUMBER:
                problems.append(source + ": bytecode of another Python")
            elif int.from_bytes(header[4:8], "little") != 0b01:  # hash-based, unchecked
                problems.append(source + ": not unchecked-hash bytecode")
    return checked, problems

def named(wanted):
    found = []
    for folder, dirs, _ in os.walk("/"):
        if folder == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        found += [os.path.join(folder, d) for d in dirs if d == wanted]
    return found

def files(top):
    return sorted(
        os.path.relpath(os.path.join(folder, name), FUNCTION_DIR)
        for folder, dirs, names in os.walk(top)
        if "__pycache__" not in folder.split(os.sep)
        for name in names
    )

def botocore_data():
    # Where botocore finds each service model the trimmed data holds (infra/botocore_models.py).
    path = os.environ.get("AWS_DATA_PATH", "")
    manifest_file = os.path.join(path, "thumbstat-botocore-data.json")
    found = {"AWS_DATA_PATH": path, "manifest": None, "models": {}}
    if not path or not os.path.exists(manifest_file):
        return found
    with open(manifest_file) as manifest:
        found["manifest"] = json.load(manifest)
    import botocore.session
    loader = botocore.session.get_session().get_component("data_loader")
    for service in found["manifest"]["services"]:
        version = loader.determine_latest_version(service, "service-2")
        _, where = loader.load_data_with_path(service + "/" + version + "/service-2")
        model = loader.load_service_model(service, "service-2")
        found["models"][service] = {"path": where, "operations": sorted(model["operations"])}
    return found

checked, problems = bytecode()
print(json.dumps({
    "uid": os.getuid(),
    "compilers": [c for c in COMPILERS if shutil.which(c)],
    "pillow": importlib.util.find_spec("PIL") is not None,
    "handlers": files(os.path.join(FUNCTION_DIR, "handlers")),
    "bytecode_checked": checked,
    "bytecode_problems": problems,
    "devstack_dirs": named("devstack"),
    "importable_project": [m for m in PROJECT if importlib.util.find_spec(m) is not None],
    "botocore_data": botocore_data(),
}))
"""


@dataclass(frozen=True)
class Inside:
    """What the probe saw inside an image."""

    uid: int
    compilers: list[str]
    pillow: bool
    handlers: list[str]  # files under /opt/function/handlers, relative to /opt/function
    bytecode_checked: int
    bytecode_problems: list[str]
    devstack_dirs: list[str]
    importable_project: list[str]
    # AWS_DATA_PATH, the trimmed data's manifest, and per service where botocore loads its model
    # from and the operations it holds.
    botocore_data: dict[str, Any]


class ProbeFailed(Exception):
    pass


def look_inside(image: str) -> Inside:
    run = ["podman", "run", "--rm", "--pull=never", "--entrypoint=python", image]
    result = subprocess.run(
        [*run, "-c", _PROBE, FUNCTION_DIR, *sorted(NOT_SHIPPED)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode:
        raise ProbeFailed(f"probe in {image} failed:\n{result.stderr[-2000:]}")
    return Inside(**json.loads(result.stdout))
