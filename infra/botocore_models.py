"""Trimmed botocore data: each service model cut down to the operations the handlers call.

    python infra/botocore_models.py HANDLERS_DIR OUT_DIR     (each Dockerfile's build stage)
    python -m infra.botocore_models                          the operations found, per service

botocore loads a client's whole service model (S3: 116 operations and 727 shapes, DynamoDB: 62
and 553) to serve a handful. Put first on botocore's search path (AWS_DATA_PATH), a
service-2.json holding only the operations used, the shapes they reach and no documentation
is what both clients load instead; every other file (endpoint rule sets, endpoints.json,
partitions.json, paginators, other services) still comes from botocore's own data, whole, so
endpoint resolution is exactly botocore's.

Which operations: found in the source, never listed by hand. handlers/common/aws.py defines the
client factories (a function calling create_client("<service>"), with its return type); an
ast walk over the handlers finds every method called on a client, a client being a call of a
factory (aws.s3()), a name bound to one, or a parameter annotated with a factory's return
type. client.exceptions.X keeps the error shape X. Operations botocore itself calls on a
client of its own accord are kept too (IMPLIED): S3's region redirector calls HeadBucket and
its Express session cache CreateSession; an endpoint-discovery operation stays with its service.
A call the walk cannot map to an operation of the service is an error, not a silent gap.

Runs with the standard library and botocore only (the build stage has nothing else), from a file
copied into that stage: it imports nothing of the project.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

FACTORIES_MODULE: Final = "common/aws.py"  # in the handlers directory
# Where each Dockerfile writes the trimmed data (its AWS_DATA_PATH).
IMAGE_DATA_PATH: Final = "/opt/function/botocore-data"
# Written beside the models: what was kept, for people and for the tests.
MANIFEST: Final = "thumbstat-botocore-data.json"
# Operations botocore calls on a client itself (botocore/utils.py: S3RegionRedirectorv2 and
# S3RegionRedirector call head_bucket, S3ExpressIdentityCache create_session).
IMPLIED: Final[Mapping[str, tuple[str, ...]]] = {"s3": ("HeadBucket", "CreateSession")}
# Client attributes that are not operations and need no model data of their own.
NOT_OPERATIONS: Final = frozenset({"meta", "close"})
CACHE: Final = Path(
    os.environ.get(
        "THUMBSTAT_BOTOCORE_DATA_CACHE", Path.home() / ".cache" / "thumbstat" / "botocore-data"
    )
)
HANDLERS: Final = Path(__file__).resolve().parent.parent / "handlers"


class Unfollowable(Exception):
    """A use of a client the walk cannot turn into operations."""


@dataclass
class Uses:
    """What the handlers use of one service's client."""

    methods: set[str] = field(default_factory=set)  # python names: get_object
    exceptions: set[str] = field(default_factory=set)  # error shape names
    where: dict[str, str] = field(default_factory=dict)  # method -> first file:line


# --- what the handlers call ----------------------------------------------------------------------
def factories(handlers: Path) -> tuple[dict[str, str], dict[str, str]]:
    """From aws.py: {factory function: service} and {client type name: service}."""
    source = handlers / FACTORIES_MODULE
    by_function: dict[str, str] = {}
    by_type: dict[str, str] = {}
    for node in ast.parse(source.read_text(), str(source)).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        services = {
            call.args[0].value
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "create_client"
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        }
        if len(services) != 1:
            continue
        (service,) = services
        by_function[node.name] = service
        if node.returns is not None:
            by_type[_annotation_name(node.returns)] = service
    return by_function, by_type


def _annotation_name(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1]
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


class _Walker:
    """One module: scopes of names bound to clients, and what is called on them."""

    def __init__(
        self,
        path: Path,
        by_function: Mapping[str, str],
        by_type: Mapping[str, str],
        uses: dict[str, Uses],
    ) -> None:
        self.path, self.by_function, self.by_type, self.uses = path, by_function, by_type, uses
        # local name -> service (from handlers.common.aws import)
        self.factory_names: dict[str, str] = {}
        self.module_names: set[str] = set()  # local names of handlers.common.aws itself

    def walk(self) -> None:
        tree = ast.parse(self.path.read_text(), str(self.path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                node.module == "handlers.common.aws" or (node.level and node.module == "aws")
            ):
                for alias in node.names:
                    if alias.name in self.by_function:
                        self.factory_names[alias.asname or alias.name] = self.by_function[
                            alias.name
                        ]
            if isinstance(node, ast.ImportFrom) and node.module in ("handlers.common", None):
                self.module_names.update(
                    alias.asname or alias.name for alias in node.names if alias.name == "aws"
                )
            if isinstance(node, ast.Import):
                self.module_names.update(
                    alias.asname or alias.name
                    for alias in node.names
                    if alias.name == "handlers.common.aws"
                )
        self._scope(tree.body, {})

    def service_of(self, node: ast.expr, scope: Mapping[str, str]) -> str | None:
        """The service of the client ``node`` evaluates to, or None if it is no client."""
        if isinstance(node, ast.Name):
            return scope.get(node.id)
        if isinstance(node, ast.Call) and not node.args:
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in self.module_names
            ):
                return self.by_function.get(func.attr)
            if isinstance(func, ast.Name):
                return self.factory_names.get(func.id)
        return None

    def _scope(self, body: Iterable[ast.stmt], enclosing: Mapping[str, str]) -> None:
        scope = dict(enclosing)
        statements = list(body)
        # Bindings first (a function's names are bound wherever in it they are assigned).
        for statement in statements:
            for node in _own_nodes(statement):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        self._bind(target, node.value, scope)
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    self._bind(node.target, node.value, scope)
        for statement in statements:
            for node in _own_nodes(statement):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    inner = dict(scope)
                    arguments = node.args
                    for argument in [
                        *arguments.posonlyargs,
                        *arguments.args,
                        *arguments.kwonlyargs,
                    ]:
                        service = (
                            self.by_type.get(_annotation_name(argument.annotation))
                            if argument.annotation is not None
                            else None
                        )
                        if service:
                            inner[argument.arg] = service
                        else:
                            inner.pop(argument.arg, None)
                    body_ = node.body if isinstance(node.body, list) else [ast.Expr(node.body)]
                    self._scope(body_, inner)
                elif isinstance(node, ast.Attribute):
                    self._attribute(node, scope)

    def _bind(self, target: ast.expr, value: ast.expr, scope: dict[str, str]) -> None:
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            for one, other in zip(target.elts, value.elts, strict=False):
                self._bind(one, other, scope)
        elif isinstance(target, ast.Name):
            service = self.service_of(value, scope)
            if service:
                scope[target.id] = service

    def _attribute(self, node: ast.Attribute, scope: Mapping[str, str]) -> None:
        service = self.service_of(node.value, scope)
        if service is None:
            return
        uses = self.uses.setdefault(service, Uses())
        where = f"{self.path.name}:{node.lineno}"
        if node.attr in NOT_OPERATIONS:
            return
        if node.attr == "exceptions":
            parent = getattr(node, "parent_attr", None)
            if parent is None:
                raise Unfollowable(f"{where}: {service} client's exceptions used whole")
            uses.exceptions.add(parent)
            return
        if node.attr in ("get_paginator", "get_waiter", "can_paginate"):
            raise Unfollowable(
                f"{where}: {node.attr} needs paginator/waiter data, which the trimmer does not "
                "keep: teach infra/botocore_models.py to, or call the operation itself"
            )
        uses.methods.add(node.attr)
        uses.where.setdefault(node.attr, where)


def _own_nodes(statement: ast.stmt) -> Iterator[ast.AST]:
    """``statement`` and its descendants in its own scope: a function or lambda met (the
    statement itself included) is yielded with its defaults and decorators, which run here, but
    not entered. Marks the ``exceptions`` node of ``client.exceptions.X`` with X."""
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(node.args.defaults)
            pending.extend(d for d in node.args.kw_defaults if d is not None)
            if not isinstance(node, ast.Lambda):
                pending.extend(node.decorator_list)
            continue
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "exceptions"
        ):
            node.value.parent_attr = node.attr  # type: ignore[attr-defined]
        pending.extend(ast.iter_child_nodes(node))


def used(handlers: Path = HANDLERS) -> dict[str, Uses]:
    """Per service, what the modules in ``handlers`` use of its client (aws.py excluded)."""
    by_function, by_type = factories(handlers)
    uses: dict[str, Uses] = {}
    for path in sorted(handlers.rglob("*.py")):
        if path != handlers / FACTORIES_MODULE and "__pycache__" not in path.parts:
            _Walker(path, by_function, by_type, uses).walk()
    return {service: found for service, found in uses.items() if found.methods or found.exceptions}


# --- the trimmed models --------------------------------------------------------------------------
def _loader() -> Any:
    """botocore's own data only (no AWS_DATA_PATH, no ~/.aws/models): the source to trim."""
    from botocore.loaders import Loader

    return Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)


def operation_names(model: Mapping[str, Any]) -> dict[str, str]:
    """{python method name: operation name}, as botocore names client methods."""
    from botocore import xform_name

    return {xform_name(name): name for name in model["operations"]}


def _shape_refs(shape: Mapping[str, Any]) -> Iterator[str]:
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]
    for member in shape.get("members", {}).values():
        yield member["shape"]


def _undocumented(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _undocumented(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_undocumented(item) for item in value]
    return value


def trim(
    model: Mapping[str, Any], operations: Iterable[str], errors: Iterable[str] = ()
) -> dict[str, Any]:
    """The service model with only ``operations``, the shapes they reach (input, output,
    errors, and ``errors``), and no documentation. Everything else is kept as it is."""
    kept_operations = {name: model["operations"][name] for name in sorted(set(operations))}
    pending = [*errors]
    for operation in kept_operations.values():
        for key in ("input", "output"):
            if key in operation:
                pending.append(operation[key]["shape"])
        pending.extend(error["shape"] for error in operation.get("errors", []))
    shapes: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in shapes:
            continue
        shapes[name] = model["shapes"][name]
        pending.extend(_shape_refs(shapes[name]))
    trimmed = {key: value for key, value in model.items() if key != "documentation"}
    trimmed["operations"] = _undocumented(kept_operations)
    trimmed["shapes"] = _undocumented(dict(sorted(shapes.items())))
    return trimmed


def kept_operations(service: str, model: Mapping[str, Any], uses: Uses) -> list[str]:
    """The operations to keep for ``uses``: raises Unfollowable for a method that is none."""
    names = operation_names(model)
    unknown = sorted(method for method in uses.methods if method not in names)
    if unknown:
        places = ", ".join(f"{m} ({uses.where.get(m, '?')})" for m in unknown)
        raise Unfollowable(f"{service} has no operation for {places}")
    kept = {names[method] for method in uses.methods}
    kept.update(name for name in IMPLIED.get(service, ()) if name in model["operations"])
    kept.update(
        name
        for name, operation in model["operations"].items()
        if operation.get("endpointoperation")
    )
    return sorted(kept)


def generate(handlers: Path, out: Path) -> dict[str, Any]:
    """Write ``out/<service>/<api version>/service-2.json`` for each service the handlers use,
    and the manifest; returns the manifest."""
    import botocore

    loader = _loader()
    manifest: dict[str, Any] = {"botocore": botocore.__version__, "services": {}}
    for service, uses in sorted(used(handlers).items()):
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_service_model(service, "service-2", version)
        operations = kept_operations(service, model, uses)
        missing = sorted(name for name in uses.exceptions if name not in model["shapes"])
        if missing:
            raise Unfollowable(f"{service} has no error shape {', '.join(missing)}")
        trimmed = trim(model, operations, sorted(uses.exceptions))
        folder = out / service / version
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(trimmed, separators=(",", ":"), sort_keys=False)
        (folder / "service-2.json").write_text(text)
        manifest["services"][service] = {
            "api_version": version,
            "operations": operations,
            "exceptions": sorted(uses.exceptions),
            "shapes": len(trimmed["shapes"]),
            "of_operations": len(model["operations"]),
            "of_shapes": len(model["shapes"]),
            "bytes": len(text),
        }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def read_manifest(data: Path) -> dict[str, Any]:
    """What ``generate`` wrote into ``data``."""
    manifest: dict[str, Any] = json.loads((data / MANIFEST).read_text())
    return manifest


def _cache_key(handlers: Path) -> str:
    import botocore

    found = {
        service: [sorted(uses.methods), sorted(uses.exceptions)]
        for service, uses in sorted(used(handlers).items())
    }
    payload = json.dumps([botocore.__version__, Path(__file__).read_text(), found])
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def ensure_cached(handlers: Path = HANDLERS) -> Path:
    """The trimmed data for this checkout's handlers and this botocore, generated once into the
    cache (the embedded stack's function processes and the benches use it, as the images do)."""
    folder = CACHE / _cache_key(handlers)
    if not (folder / MANIFEST).exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = CACHE / f"{folder.name}.part-{os.getpid()}"
        generate(handlers, partial)
        try:
            partial.rename(folder)
        except OSError:  # another process made it first
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("handlers", nargs="?", type=Path, default=HANDLERS)
    parser.add_argument("out", nargs="?", type=Path, help="write the trimmed data here")
    args = parser.parse_args(argv)
    try:
        if args.out is None:
            for service, uses in sorted(used(args.handlers).items()):
                sys.stdout.write(f"{service}: {', '.join(sorted(uses.methods))}\n")
            return 0
        manifest = generate(args.handlers, args.out)
    except Unfollowable as exc:
        sys.stderr.write(f"botocore_models: {exc}\n")
        return 1
    for service, kept in manifest["services"].items():
        sys.stdout.write(
            f"{service} {kept['api_version']}: {len(kept['operations'])} of "
            f"{kept['of_operations']} operations, {kept['shapes']} of {kept['of_shapes']} shapes, "
            f"{kept['bytes']:,} bytes\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
