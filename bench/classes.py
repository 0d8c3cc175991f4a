"""Every input class at every rendition size: tuned against the floor, pyvips and sharp on one
thread, and Image.thumbnail(), the methods interleaved.

    python -m bench.classes --out DIR/classes.json [--rounds 11] [--warm-up 1]
                            [--classes jpeg-12mp,heic] [--sizes 200,400] [--methods tuned,sharp]
    (make bench-classes; make bench-results)

The classes (CLASSES) are the inputs the resize function meets, each one generated sample
(devstack/samples.py): baseline JPEGs of 12, 24 and 48 MP, a phone's JPEG (4:2:0, EXIF
orientation 6), progressive JPEGs of 12 and 24 MP, an opaque PNG screenshot, a PNG with
transparency, a WebP photo and a phone's HEIC. A sample's name works as a class too.

For each class and size the methods are timed in turns (bench/interleave.py: each warmed up, then
--rounds rounds in an order that rotates), keeping every call's wall and CPU time: CPU time
is this process's for the Python methods, the worker's own for sharp (bench.peers). Every method
runs on one thread, and Lambda below 1,769 MB gives a function CPU in proportion to its memory,
so CPU time is what a function's duration scales with; the report's ratios are of CPU-time
medians, with the wall-time medians beside them.

Image.thumbnail() runs at 200 px only (METHOD_SIZES: its goal is there). A method that is
not available here, does not read a class (the floor decodes JPEG only; the pyvips and sharp
wheels cannot decode HEIC) or fails on it is left out, with its reason in "skipped". Each method's
first thumbnail gives its size, bytes, format and PSNR (bench/quality.py: against Pillow's full
decode, EXIF-oriented, resized with LANCZOS).

The JSON written (bench/class_report.py renders it):

    {"rounds", "warm_up", "sizes", "methods", "clock": "cpu", "seconds", "machine",
     "ipc_overhead_ms": {peer: ms},
     "classes": [{"class", "sample", "label", "kind", "held_out", "bytes", "width", "height"}],
     "results": [{"class", "size", "method", "wall_ms": [...], "cpu_ms": [...],
                  "out_width", "out_height", "out_bytes", "out_format", "psnr_db"}],
     "skipped": [{"class", "size", "method", "reason"}]}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import quality
from bench.interleave import interleaved
from bench.methods import (
    METHODS,
    declines,
    register_heif_opener,
    unavailable,
    why_not_reads,
)
from bench.peers import PEERS
from devstack import samples


@dataclass(frozen=True)
class InputClass:
    name: str
    sample: str  # a devstack.samples.SPECS name
    label: str


CLASSES: Final = (
    InputClass("jpeg-12mp", "photo-12mp", "baseline JPEG, 12 MP"),
    InputClass("jpeg-24mp", "photo-24mp", "baseline JPEG, 24 MP"),
    InputClass("jpeg-48mp", "photo-48mp", "baseline JPEG, 48 MP"),
    InputClass("phone-jpeg", "phone-portrait", "phone JPEG, 12 MP, 4:2:0, EXIF orientation 6"),
    InputClass("progressive-12mp", "photo-12mp-progressive", "progressive JPEG, 12 MP"),
    InputClass(
        "progressive-24mp", "photo-24mp-progressive-heldout", "progressive JPEG, 24 MP (held out)"
    ),
    InputClass("png-screenshot", "screenshot-4k", "PNG screenshot, 3840x2160"),
    InputClass("png-rgba", "screenshot-rgba", "RGBA PNG, a window and its shadow, 2560x1600"),
    InputClass("webp", "photo-12mp-webp", "WebP photo, 12 MP"),
    InputClass("heic", "photo-12mp-heic", "phone HEIC, 12 MP, 4:2:0"),
)
SIZES: Final = (200, 400, 800, 1024, 1600)
METHODS_RUN: Final = ("tuned", "floor", "pyvips", "sharp", "pillow-thumbnail")
METHOD_SIZES: Final = {"pillow-thumbnail": (200,)}  # where a method runs, if not at every size
ROUNDS: Final = 11
WARM_UP: Final = 1


def input_class(name: str) -> InputClass:
    """A class of ``CLASSES`` by name, or a sample as a class of its own."""
    for klass in CLASSES:
        if klass.name == name:
            return klass
    if name in samples.SPECS:
        return InputClass(name, name, name)
    known = ", ".join([c.name for c in CLASSES] + list(samples.SPECS))
    raise ValueError(f"unknown class {name!r}: one of {known}")


def _describe(klass: InputClass, data: bytes) -> dict[str, Any]:
    spec = samples.SPECS[klass.sample]
    return {
        "class": klass.name,
        "sample": klass.sample,
        "label": klass.label,
        "kind": spec.kind,
        "held_out": spec.held_out,
        "bytes": len(data),
        "width": spec.width,
        "height": spec.height,
    }


def _output(source: bytes, thumbnail: bytes) -> dict[str, Any]:
    """The thumbnail's size and bytes, and its PSNR (None: no image, or not oriented)."""
    if not thumbnail:  # the floor decodes only
        return {
            "out_width": None,
            "out_height": None,
            "out_bytes": 0,
            "out_format": None,
            "psnr_db": None,
        }
    measured = quality.measure(source, thumbnail)
    psnr = measured.psnr_db
    return {
        "out_width": measured.width,
        "out_height": measured.height,
        "out_bytes": len(thumbnail),
        "out_format": _format(thumbnail),
        "psnr_db": None if psnr is None else round(min(psnr, 99.0), 3),  # JSON has no infinity
    }


def _format(data: bytes) -> str:
    """The encoded format, from its first bytes."""
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data.startswith(b"\x89PNG"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        return data[8:12].decode("ascii", "replace").strip().upper()  # AVIF, HEIC
    return "?"


def run(
    classes: Sequence[InputClass],
    sizes: Sequence[int],
    methods: Sequence[str],
    rounds: int = ROUNDS,
    warm_up: int = WARM_UP,
    log: Any = None,
) -> dict[str, Any]:
    started = time.monotonic()
    register_heif_opener()  # the PSNR reference decodes HEIC with Pillow
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    described = []
    available = {m: unavailable(m) for m in methods}
    for klass in classes:
        data = samples.load(klass.sample)
        described.append(_describe(klass, data))
        kind = samples.SPECS[klass.sample].kind
        # What a method never reads is said first, wherever it runs; why_not_reads runs a probe,
        # so only for an available method.
        reasons = {m: declines(m, kind) or available[m] or why_not_reads(m, kind) for m in methods}
        for size in sizes:
            due = [m for m in methods if size in METHOD_SIZES.get(m, (size,))]
            here = [m for m in due if not reasons[m]]
            skipped += [
                {"class": klass.name, "size": size, "method": m, "reason": reasons[m]}
                for m in due
                if reasons[m]
            ]
            measured = interleaved(here, data, size, rounds, warm_up)
            skipped += [
                {"class": klass.name, "size": size, "method": m, "reason": why}
                for m, why in measured.failed.items()
            ]
            for method, timings in measured.timings.items():
                results.append(
                    {
                        "class": klass.name,
                        "size": size,
                        "method": method,
                        "wall_ms": [round(ms, 3) for ms in timings.wall_ms],
                        "cpu_ms": [round(ms, 3) for ms in timings.cpu_ms],
                        **_output(data, measured.outputs[method]),
                    }
                )
            if log is not None:
                cells = ", ".join(
                    f"{m} {statistics.median(t.cpu_ms):.1f}"
                    for m, t in measured.timings.items()
                    if t.cpu_ms
                )
                log.write(f"{klass.name:18s} {size:5d} px  CPU ms: {cells}\n")
                log.flush()
    overhead = {
        m: round(PEERS[m].ipc_overhead_s(rounds=200) * 1000, 4)
        for m in methods
        if m in PEERS and not available[m]
    }
    return {
        "rounds": rounds,
        "warm_up": warm_up,
        "sizes": list(sizes),
        "methods": list(methods),
        "clock": "cpu",
        "seconds": round(time.monotonic() - started, 1),
        "machine": _machine(),
        "ipc_overhead_ms": overhead,
        "classes": described,
        "results": results,
        "skipped": skipped,
    }


def _machine() -> dict[str, Any]:
    from bench.versions import library_versions

    libraries = library_versions()
    try:
        import pillow_heif

        libraries["pillow-heif"] = pillow_heif.__version__
        libraries["libheif"] = str(pillow_heif.libheif_version())
    except ImportError:  # pragma: no cover - pillow-heif is a dependency
        libraries["pillow-heif"] = "not installed"
    return {
        "cpu": _cpu_name(),
        "cpus": os.cpu_count(),
        "system": platform.system(),
        "machine": platform.machine(),
        "libraries": libraries,
    }


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "?"


def _csv(text: str) -> list[str]:
    return [word for word in text.split(",") if word]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/run/classes.json"))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--warm-up", type=int, default=WARM_UP)
    parser.add_argument("--classes", default=",".join(c.name for c in CLASSES))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--methods", default=",".join(METHODS_RUN))
    args = parser.parse_args(argv)
    try:
        classes = [input_class(name) for name in _csv(args.classes)]
    except ValueError as exc:
        parser.error(str(exc))
    unknown = set(_csv(args.methods)) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}: one of {', '.join(METHODS)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    data = run(
        classes,
        [int(size) for size in _csv(args.sizes)],
        _csv(args.methods),
        rounds=args.rounds,
        warm_up=args.warm_up,
        log=sys.stdout,
    )
    for skip in {(s["method"], s["class"], s["reason"]) for s in data["skipped"]}:
        sys.stdout.write(f"left out: {skip[0]} on {skip[1]}: {skip[2]}\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    sys.stdout.write(f"wrote {args.out} in {data['seconds']:.0f} s\n")


if __name__ == "__main__":
    main()
