"""The versions of what the benchmarks exercise."""

from __future__ import annotations

import importlib.metadata
import platform


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, str]:
    from PIL import features

    versions = {
        "python": platform.python_version(),
        "Pillow": _version("pillow") or "?",
        "pillow-simd": _version("pillow-simd") or "not installed",
        "libjpeg-turbo": str(features.version("libjpeg_turbo")),
        "zlib": str(features.version("zlib")),
    }
    try:
        import pyvips

        versions["pyvips"] = _version("pyvips") or "?"
        versions["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    except (ImportError, OSError):
        versions["pyvips"] = "not installed"
    versions["simplejpeg"] = _version("simplejpeg") or "not installed"
    versions.update(_peer_versions())
    return versions


def _peer_versions() -> dict[str, str]:
    """The worker peers': sharp and its bundled libvips, Node.js, the image crate and rustc."""
    from bench.peers import build

    sharp = build.sharp_versions()
    node = build.node_version()
    return {
        "sharp": sharp.get("sharp", "not installed"),
        "sharp libvips": sharp.get("vips", "not installed"),
        "node": ".".join(map(str, node)) if node else "not installed",
        "image crate": build.image_crate_version() or "not installed",
        "rustc": build.rustc_version() or "not installed",
    }
