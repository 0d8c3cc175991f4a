"""Where each peer comes from: checked cheaply, built on demand the first time it is used.

sharp       Node.js 20.9 or later; sharp as pinned by sharp/package-lock.json, installed by
            ``npm ci`` into sharp/node_modules (from the npm registry, the first time only).
rust-image  cargo and the crates Debian packages (``apt-get install librust-image-dev``), built
            offline by ``cargo build --release`` into rust-image/target.

``*_unavailable()`` gives the reason a peer cannot be used (a tool is missing: the benchmark skips
it, saying what to install), or None. ``*_command()`` builds what is missing and gives the
worker's command line; a build that fails with its tools present is a BuildFailed, not a skip.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
SHARP_DIR: Final = HERE / "sharp"
RUST_DIR: Final = HERE / "rust-image"
RUST_BINARY: Final = RUST_DIR / "target" / "release" / "thumbstat-bench-rust-image"
DEBIAN_REGISTRY: Final = Path("/usr/share/cargo/registry")
NODE_MINIMUM: Final = (20, 9)  # sharp 0.35's engines field
OUTPUT_TAIL: Final = 3000  # characters of a failed build's output quoted in the error


class BuildFailed(RuntimeError):
    """A peer's tools are there but installing or compiling it failed."""


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """One build at a time (a benchmark's peak-memory subprocess may start one too)."""
    with (directory / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(what: str, command: list[str], cwd: Path, timeout_s: float) -> None:
    logger.info("%s: %s (in %s)", what, " ".join(command), cwd)
    try:
        subprocess.run(
            command,
            cwd=cwd,
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.CalledProcessError as exc:
        output = (exc.stdout + exc.stderr)[-OUTPUT_TAIL:].strip()
        raise BuildFailed(f"{what} failed: {' '.join(command)} in {cwd}:\n{output}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildFailed(f"{what} took more than {timeout_s:.0f} s: {' '.join(command)}") from exc


# sharp


@functools.cache
def node_version() -> tuple[int, ...] | None:
    node = shutil.which("node")
    if node is None:
        return None
    found = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\s*", found.stdout)
    return tuple(int(part) for part in match.groups()) if match else None


def sharp_pinned() -> str:
    lock = json.loads((SHARP_DIR / "package-lock.json").read_text())
    version: str = lock["packages"]["node_modules/sharp"]["version"]
    return version


def sharp_installed() -> str | None:
    manifest = SHARP_DIR / "node_modules" / "sharp" / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version


def sharp_unavailable() -> str | None:
    version = node_version()
    if version is None:
        return "sharp needs Node.js 20.9 or later on PATH (apt-get install nodejs)"
    if version[:2] < NODE_MINIMUM:
        found = ".".join(map(str, version))
        return f"sharp {sharp_pinned()} needs Node.js 20.9 or later; this is Node.js {found}"
    if sharp_installed() != sharp_pinned() and shutil.which("npm") is None:
        return (
            f"sharp {sharp_pinned()} is not in {SHARP_DIR / 'node_modules'} and there is no npm "
            "to install it (apt-get install npm)"
        )
    return None


def sharp_command() -> list[str]:
    with _build_lock(SHARP_DIR):
        if sharp_installed() != sharp_pinned():
            npm = shutil.which("npm") or "npm"
            command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
            _run("installing sharp (from the npm registry)", command, SHARP_DIR, timeout_s=600)
    node = shutil.which("node") or "node"
    return [node, str(SHARP_DIR / "worker.js")]


def sharp_versions() -> dict[str, str]:
    """sharp's own version and the libvips (and others) bundled with it, if it is installed."""
    node = shutil.which("node")
    if node is None or sharp_installed() is None:
        return {}
    script = "process.stdout.write(JSON.stringify(require('sharp').versions))"
    found = subprocess.run(
        [node, "-e", script], cwd=SHARP_DIR, capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        return {}
    versions: dict[str, str] = json.loads(found.stdout)
    return versions


# rust-image


def _registry_crate(name: str, series: str) -> Path | None:
    found = sorted(DEBIAN_REGISTRY.glob(f"{name}-{series}.*"))
    return found[-1] if found else None


def rust_unavailable() -> str | None:
    if shutil.which("cargo") is None:
        return (
            "rust-image needs cargo and Debian's image crate: "
            "apt-get install cargo librust-image-dev"
        )
    if _registry_crate("image", "0.24") is None:
        return (
            f"rust-image needs Debian's image 0.24 crate in {DEBIAN_REGISTRY} (it builds offline): "
            "apt-get install librust-image-dev"
        )
    return None


def rust_command() -> list[str]:
    """Build (cargo's own checks make it a no-op when nothing changed) and give the binary."""
    cargo = shutil.which("cargo") or "cargo"
    command = [cargo, "build", "--release", "--quiet", "--target-dir", str(RUST_DIR / "target")]
    with _build_lock(RUST_DIR):
        # From the crate's directory: cargo reads .cargo/config.toml (the offline Debian
        # registry) from where it runs, not from where the manifest is.
        _run("building rust-image (offline, Debian's crates)", command, RUST_DIR, timeout_s=900)
    return [str(RUST_BINARY)]


def image_crate_version() -> str | None:
    """The image crate the binary was built with (its Cargo.lock), else the one Debian has."""
    lock = RUST_DIR / "Cargo.lock"
    if lock.exists():
        for package in tomllib.loads(lock.read_text()).get("package", []):
            if package["name"] == "image":
                version: str = package["version"]
                return version
    crate = _registry_crate("image", "0.24")
    return crate.name.removeprefix("image-") if crate else None


def rustc_version() -> str | None:
    rustc = shutil.which("rustc")
    if rustc is None:
        return None
    found = subprocess.run([rustc, "--version"], capture_output=True, text=True, check=False)
    return found.stdout.strip().removeprefix("rustc ") or None
