"""What of handlers/ each image holds: the handler module's import closure within the package.

Derived with ``ast`` from the source, never listed by hand, so a module split off, added or
dropped shows up as a difference with the Dockerfile's COPY list (tests/packaging/test_images.py)
and with the built image (tests/images). Imports count wherever they are written (top level or
inside a function, as a lazy import still runs in the image), except under ``if TYPE_CHECKING:``,
which never runs. Dynamic imports (``importlib.import_module``) cannot be followed, so a module
using one is refused rather than silently missed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
PACKAGE: Final = "handlers"
# Shipped with every function: the package itself and its PEP 561 marker.
ALWAYS: Final = (f"{PACKAGE}/__init__.py", f"{PACKAGE}/py.typed")
# Where the Dockerfiles put the function's code (PYTHONPATH in the image).
FUNCTION_DIR: Final = "/opt/function"
# The project's code beside the functions (and the test double of AWS): never in an image.
NOT_SHIPPED: Final = frozenset({"devstack", "bench", "infra", "tests", "moto"})


class UnfollowableImport(Exception):
    """A module imports by computed name: its closure cannot be derived."""


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def package_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package, by dotted name (subpackages included)."""
    return {
        _module_name(path, root): path
        for path in sorted((root / PACKAGE).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and its descendants, without the bodies of ``if TYPE_CHECKING:``."""
    yield node
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: Iterable[ast.AST] = node.orelse
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from _runtime_nodes(child)


def _resolve(module: str, level: int, importer: str, is_package: bool) -> str:
    if not level:
        return module
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


@cache
def imports(module: str, root: Path = ROOT) -> frozenset[str]:
    """The absolute names ``module`` imports at run time: for ``from a import b``, ``a.b`` when
    that is a module of the package, else ``a``."""
    modules = package_modules(root)
    path = modules[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node.module or "", node.level, module, is_package)
            found.add(source)
            found.update(
                f"{source}.{alias.name}"
                for alias in node.names
                if f"{source}.{alias.name}" in modules
            )
        elif isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in ("import_module", "__import__"):
                raise UnfollowableImport(f"{path.relative_to(root)}:{node.lineno}: {name}(...)")
    return frozenset(found)


def _with_parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])


def closure(module: str, root: Path = ROOT) -> frozenset[str]:
    """``module`` and every module of the package it imports, directly or not, with the packages
    that hold them (importing ``a.b`` runs ``a/__init__.py`` first)."""
    modules = package_modules(root)
    seen: set[str] = set()
    pending = [module]
    while pending:
        for name in _with_parents(pending.pop()):
            if name in modules and name not in seen:
                seen.add(name)
                pending.extend(imports(name, root))
    return frozenset(seen)


def closure_files(module: str, root: Path = ROOT) -> list[str]:
    """The files of ``closure(module)``, relative to the project root, with ALWAYS: what the
    image must copy of the package."""
    modules = package_modules(root)
    files = {modules[name].relative_to(root).as_posix() for name in closure(module, root)}
    return sorted(files.union(ALWAYS))


def packages(module: str, root: Path = ROOT) -> list[str]:
    """The subpackages of the package that ``closure(module)`` reaches into (``handlers.common``
    and the like): an image copies each of them whole."""
    modules = package_modules(root)
    return sorted(
        {
            ".".join(name.split(".")[:2])
            for name in closure(module, root)
            if name.count(".") >= 1 and modules[".".join(name.split(".")[:2])].name == "__init__.py"
        }
    )


def shipped_files(module: str, root: Path = ROOT) -> list[str]:
    """What the image of ``module`` holds of the package: the packages its closure reaches into,
    whole, the top-level modules it imports, and ALWAYS."""
    files = set(closure_files(module, root))
    for package in packages(module, root):
        folder = root / package.replace(".", "/")
        files.update(
            path.relative_to(root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        )
    return sorted(files)


def external_imports(modules: Iterable[str], root: Path = ROOT) -> frozenset[str]:
    """The top-level names imported by ``modules`` from outside the package."""
    return frozenset(
        name.split(".")[0]
        for module in modules
        for name in imports(module, root)
        if name.split(".")[0] != PACKAGE
    )


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    found: list[str] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        found.append(pending + stripped)
        pending = ""
    return found


@dataclass(frozen=True)
class Copy:
    source: str
    destination: str  # the path in the image the source lands at


def package_copies(dockerfile: Path, root: Path = ROOT) -> list[Copy]:
    """The COPY instructions (from the build context) that put files of the package into the
    image, one entry per source file (a folder copied stands for every file below it)."""
    found: list[Copy] = []
    for instruction in instructions(dockerfile):
        words = instruction.split()
        if words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        *sources, target = [w for w in words[1:] if not w.startswith("--")]
        for source in sources:
            if not re.match(rf"{PACKAGE}(/|$)", source):
                continue
            if (root / source).is_dir():
                found.extend(
                    Copy(
                        path.relative_to(root).as_posix(),
                        target.rstrip("/") + "/" + path.relative_to(root / source).as_posix(),
                    )
                    for path in sorted((root / source).rglob("*"))
                    if path.is_file() and "__pycache__" not in path.parts
                )
                continue
            landing = target + Path(source).name if target.endswith("/") else target
            found.append(Copy(source, landing))
    return found
