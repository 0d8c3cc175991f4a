"""Build the functions' images from their Dockerfiles with podman, with no registry in reach.

    python -m infra.image_build                        both images for amd64
    python -m infra.image_build --arch arm64 resize    one image for arm64 (qemu emulation)
    python -m infra.image_build --arch arm64 --base-only   the arm64 base only, into the cache

The image tests (tests/images, make image-check) build through build; this entry point
only builds, for make demo IMAGES=1 or a look inside with podman run.

The Dockerfiles are built unchanged, as users build them; what a registry would give is made here:

- python:3.12-slim-bookworm is a stand-in: debootstrap --variant=minbase bookworm with
  the shared libraries CPython's modules need, this machine's own CPython 3.12 copied into
  /usr/local (arm64: Debian's python3, 3.11, as no arm64 3.12 is on the machine), pip, the
  python/pip links, the standard library precompiled. It is imported under the official
  name, so FROM python:3.12-slim-bookworm resolves locally (--pull=never).
- Wheels are downloaded on the host for the image's platform and handed to the build through a
  build-time /etc/pip.conf (no-index, find-links) mounted with -v.

The base tarball and the wheels are cached under THUMBSTAT_IMAGE_CHECK_CACHE, keyed by their inputs.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from infra.functions import BY_NAME, Function
from infra.podman import ensure_podman_conf

logger = logging.getLogger(__name__)

ROOT: Final = Path(__file__).resolve().parent.parent
CACHE: Final = Path(
    os.environ.get(
        "THUMBSTAT_IMAGE_CHECK_CACHE", Path.home() / ".cache" / "thumbstat" / "image-check"
    )
)
BASE_IMAGE: Final = "docker.io/library/python:3.12-slim-bookworm"
MIRROR: Final = "http://deb.debian.org/debian"
_PYENV_VERSIONS: Final = Path("/root/.pyenv/versions")  # where the amd64 base's CPython comes from
# The shared libraries CPython's extension modules load (ssl, sqlite3, ctypes, lzma, ...).
BASE_PACKAGES: Final = (
    "libssl3",
    "libsqlite3-0",
    "libffi8",
    "liblzma5",
    "libbz2-1.0",
    "libuuid1",
    "libreadline8",
    "libncursesw6",
    "zlib1g",
    "libexpat1",
    "ca-certificates",
    "tzdata",
)
TOOLS: Final = ("podman", "runc", "debootstrap")
_RECIPE_VERSION: Final = 2  # bump when the base recipe changes


@dataclass(frozen=True)
class Arch:
    name: str  # amd64 or arm64: podman's and Debian's name alike
    wheel_platforms: tuple[str, ...]
    python_version: str  # of the stand-in base

    @property
    def platform(self) -> str:
        return f"linux/{self.name}"


ARCHES: Final = {
    "amd64": Arch(
        "amd64",
        ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"),
        "3.12",
    ),
    "arm64": Arch(
        "arm64",
        ("manylinux_2_28_aarch64", "manylinux2014_aarch64", "manylinux_2_17_aarch64"),
        "3.11",
    ),
}


class BuildFailed(Exception):
    pass


def run(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        raise BuildFailed(
            f"{' '.join(command[:4])} ... failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def _key(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps([_RECIPE_VERSION, *parts], default=str).encode())
    return digest.hexdigest()[:12]


def image_name(function: Function, arch: Arch) -> str:
    """The local tag of ``function``'s image (``make demo IMAGES=1`` runs the amd64 ones)."""
    return f"localhost/{function.repository}:check-{arch.name}"


# --- what the machine must have --------------------------------------------------------------
def unavailable(arch: Arch) -> str | None:
    """Why images cannot be built here, or None. (debootstrap and rootful podman need root.)"""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install {' '.join(TOOLS)}"
    if os.geteuid() != 0:
        return "building the stand-in base (debootstrap, chroot) needs root"
    if arch.name == "amd64" and _host_python_312() is None:
        return f"no CPython 3.12 in {_PYENV_VERSIONS} to put in the stand-in base"
    if arch.name == "arm64" and not _arm64_emulation_possible():
        return "arm64 emulation: apt-get install qemu-user-static binfmt-support"
    return None


def prepare(arch: Arch) -> None:
    """Set up what the builds need: the cache, podman's settings, emulation for arm64."""
    reason = unavailable(arch)
    if reason:
        raise BuildFailed(reason)
    CACHE.mkdir(parents=True, exist_ok=True)
    ensure_podman_conf()
    if arch.name == "arm64":
        _enable_arm64_emulation()


_BINFMT: Final = Path("/proc/sys/fs/binfmt_misc")


def _arm64_emulation_possible() -> bool:
    entry = _BINFMT / "qemu-aarch64"
    if entry.exists() and entry.read_text().startswith("enabled"):
        return True
    return (
        shutil.which("update-binfmts") is not None and Path("/usr/bin/qemu-aarch64-static").exists()
    )


def _enable_arm64_emulation() -> None:
    """arm64 binaries run through qemu-user-static, registered with binfmt_misc (flag F, so it
    works inside chroots and containers)."""
    entry = _BINFMT / "qemu-aarch64"
    if entry.exists() and entry.read_text().startswith("enabled"):
        return
    if not (_BINFMT / "register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(_BINFMT)])
    run(["update-binfmts", "--enable", "qemu-aarch64"])


# --- the stand-in base image -------------------------------------------------------------------
def _host_python_312() -> Path | None:
    found = sorted(glob.glob(str(_PYENV_VERSIONS / "3.12.*")))
    return Path(found[-1]) if found else None


def _base_rootfs(arch: Arch, rootfs: Path) -> None:
    packages = list(BASE_PACKAGES)
    if arch.name == "arm64":
        packages += ["python3", "python3-pip", "python3-venv"]
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--arch={arch.name}",
            f"--include={','.join(packages)}",
            "bookworm",
            str(rootfs),
            MIRROR,
        ],
        timeout=1800,
    )
    for junk in (
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
    ):
        shutil.rmtree(rootfs / junk, ignore_errors=True)
    local_bin = rootfs / "usr/local/bin"
    if arch.name == "amd64":
        # Static libraries too: the official image has none.
        excluded = (
            "site-packages",
            "test",
            "idlelib",
            "tkinter",
            "turtledemo",
            "__pycache__",
            "*.a",
        )
        source = _host_python_312()
        assert source is not None  # unavailable() said so before
        shutil.copytree(
            source,
            rootfs / "usr/local",
            dirs_exist_ok=True,
            symlinks=True,
            ignore=shutil.ignore_patterns(*excluded),
        )
        (rootfs / "usr/local/lib/python3.12/site-packages").mkdir(exist_ok=True)
        run(["chroot", str(rootfs), "/sbin/ldconfig"])
        run(
            ["chroot", str(rootfs), "/usr/local/bin/python3.12", "-m", "ensurepip", "--default-pip"]
        )
        for link, target in (
            ("python", "python3.12"),
            ("python3", "python3.12"),
            ("pip", "pip3.12"),
        ):
            (local_bin / link).unlink(missing_ok=True)
            (local_bin / link).symlink_to(target)
        python, stdlib = "/usr/local/bin/python3.12", "/usr/local/lib"
    else:
        local_bin.mkdir(parents=True, exist_ok=True)
        for link, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
            (local_bin / link).symlink_to(target)
        # Debian marks its Python externally managed; the official image's pip is not.
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        python, stdlib = "/usr/bin/python3", "/usr/lib/python3.11"
    run(["chroot", str(rootfs), python, "-m", "compileall", "-q", "-j", "0", stdlib], timeout=900)
    modules = "import ssl, sqlite3, ctypes, lzma, bz2, uuid, zlib, pyexpat"
    run(["chroot", str(rootfs), python, "-c", modules])


def _base_key(arch: Arch) -> str:
    host_python = _host_python_312()
    python = host_python.name if host_python and arch.name == "amd64" else "debian"
    return _key("base", arch.name, BASE_PACKAGES, python)


def base_tarball(arch: Arch) -> Path:
    """The stand-in base's root file system for ``arch``, a tarball in the cache built once per
    recipe. It touches no podman image, so it may run beside other builds: CI builds the arm64
    one (debootstrap under qemu, most of the arm64 tier's time from nothing) during the tests."""
    tarball = CACHE / f"base-{arch.name}-{_base_key(arch)}.tar"
    if not tarball.exists():
        logger.info("building the stand-in base for %s (debootstrap, once per recipe)", arch.name)
        with tempfile.TemporaryDirectory(dir=CACHE) as work:
            rootfs = Path(work) / "rootfs"
            _base_rootfs(arch, rootfs)
            partial = Path(work) / "base.tar"
            run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], timeout=600)
            partial.replace(tarball)
    return tarball


def ensure_base(arch: Arch) -> None:
    """The stand-in base for ``arch``, imported once per recipe, under the official name."""
    key = _base_key(arch)
    own_name = f"{BASE_IMAGE}-{arch.name}"
    label = ""
    if _image_exists(own_name):
        inspect = ["podman", "image", "inspect", "--format", '{{index .Labels "thumbstat.base"}}']
        label = run([*inspect, own_name], timeout=60).stdout.strip()
    if label != key:
        tarball = base_tarball(arch)
        changes = (
            "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
            f"LABEL thumbstat.base={key}",
        )
        flags = [flag for change in changes for flag in ("--change", change)]
        run(
            ["podman", "import", f"--arch={arch.name}", *flags, str(tarball), own_name], timeout=600
        )
    # FROM python:3.12-slim-bookworm must resolve to this architecture's stand-in.
    if _image_exists(BASE_IMAGE):
        run(["podman", "untag", BASE_IMAGE, BASE_IMAGE], timeout=60)
    run(["podman", "tag", own_name, BASE_IMAGE], timeout=60)


def _image_exists(name: str) -> bool:
    exists = subprocess.run(["podman", "image", "exists", name], check=False, capture_output=True)
    return exists.returncode == 0


# --- wheels and builds ---------------------------------------------------------------------------
# Pinned packages PyPI publishes as an sdist only (pure Python), which the Dockerfiles build
# (--no-binary); the local build gets the sdist and what building it needs beside the wheels.
SDIST_ONLY: Final = ("pyvips",)
SDIST_BUILD_REQUIRES: Final = ("setuptools", "pkgconfig")  # and cffi, pinned already


def ensure_wheels(function: Function, arch: Arch) -> Path:
    """The function's pinned wheels for ``arch``, downloaded once per requirement set."""
    requirements = ROOT / function.requirements
    key = _key(requirements.read_text(), arch.wheel_platforms, arch.python_version, SDIST_ONLY)
    folder = CACHE / f"wheels-{function.name}-{arch.name}-{key}"
    if not folder.exists():
        partial = folder.with_suffix(".part")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        lines = requirements.read_text().splitlines()
        sdists = [line for line in lines if line.split("==")[0] in SDIST_ONLY]
        binary = partial / "binary-requirements.txt"
        binary.write_text("\n".join(line for line in lines if line not in sdists) + "\n")
        platforms = [flag for p in arch.wheel_platforms for flag in ("--platform", p)]
        download = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(partial)]
        target = ["--python-version", arch.python_version, "--implementation", "cp"]
        run(
            [*download, "--only-binary=:all:", *platforms, *target, "-r", str(binary)],
            timeout=900,
        )
        if sdists:
            run([*download, "--no-deps", "--no-binary=:all:", *sdists], timeout=900)
            run(
                [*download, "--only-binary=:all:", *platforms, *target, *SDIST_BUILD_REQUIRES],
                timeout=900,
            )
        binary.unlink()
        partial.replace(folder)
    return folder


def build(function: Function, arch: Arch) -> str:
    """Build ``function``'s Dockerfile for ``arch`` (its default target, what Lambda runs) and
    return the image's name. Call ``prepare(arch)`` first."""
    ensure_base(arch)
    wheels = ensure_wheels(function, arch)
    image = image_name(function, arch)
    pip_conf = CACHE / "pip.conf"
    pip_conf.write_text("[global]\nno-index = true\nfind-links = /wheels\n")
    logger.info("building %s for %s", function.dockerfile, arch.platform)
    run(
        [
            "podman",
            "build",
            "--pull=never",
            f"--platform={arch.platform}",
            "--file",
            function.dockerfile,
            "--tag",
            image,
            "--volume",
            f"{wheels}:/wheels:ro",
            "--volume",
            f"{pip_conf}:/etc/pip.conf:ro",
            ".",
        ],
        cwd=ROOT,
        timeout=1800,
    )
    return image


def image_size(image: str) -> int:
    """The image's size in bytes, as ``podman images`` counts it."""
    return int(run(["podman", "image", "inspect", "--format", "{{.Size}}", image]).stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(ARCHES), default="amd64")
    parser.add_argument(
        "--base-only", action="store_true", help="only the stand-in base's tarball, in the cache"
    )
    # No argparse choices: Python 3.11 refuses an empty "*" list against them.
    parser.add_argument("functions", nargs="*", metavar="FUNCTION", help=", ".join(BY_NAME))
    args = parser.parse_args(argv)
    if unknown := set(args.functions) - set(BY_NAME):
        parser.error(f"unknown function {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arch = ARCHES[args.arch]
    try:
        prepare(arch)
        if args.base_only:
            logger.info("%s base: %s", arch.name, base_tarball(arch))
            return 0
        for name in args.functions or BY_NAME:
            image = build(BY_NAME[name], arch)
            logger.info("%s: %s, %.0f MB", name, image, image_size(image) / 1e6)
    except BuildFailed as exc:
        logger.error("image build: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
