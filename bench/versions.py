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
    return versions
