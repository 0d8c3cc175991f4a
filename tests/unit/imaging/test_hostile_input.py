"""Hostile input: every file is thumbnailed or rejected, within the function's memory and in
bounded CPU, under both memory sizes the function is deployed with.

The files are built here (tests/unit/imaging/hostile_images.py): known decompression bombs,
files sized to the largest the budget admits for each decoder's costly path (so the estimate
itself is put to the test), and mutated real fixtures. They run in a fresh interpreter set up
like the function (tests/unit/imaging/hostile_runner.py), which reports each file's peak RSS
(VmHWM) and CPU time.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from handlers.common.errors import ImageRejected, RejectReason
from handlers.imaging import (
    OutputFormat,
    Renditions,
    RenditionSpec,
    decode,
    make_renditions,
    sizing,
)
from handlers.imaging import budget as decode_budget
from handlers.imaging.limits import (
    BUDGET_BYTES_PER_PIXEL,
    DEFAULT_MAX_PIXELS,
    RUNTIME_BASELINE_MB,
    VIPS_RESIDENT_MB,
)
from handlers.imaging.renditions import encoder_bytes
from handlers.index.settings import ResizeSettings
from tests.conftest import IMAGES, ROOT
from tests.unit.imaging import hostile_images as hostile
from tests.unit.imaging.test_thumbnail import EXPECTED

MEMORY_SIZES = (128, 256)
# A warm function's resident memory before an image, libvips loaded (handlers.imaging.limits).
MODELLED_BASELINE_MB = RUNTIME_BASELINE_MB + VIPS_RESIDENT_MB
# A guard against hangs, far above MAX_CPU_SECONDS: the unfixed decoders took 10 s to minutes.
CPU_LIMIT_S = 4 * decode_budget.MAX_CPU_SECONDS

Build = Callable[[], bytes]


@dataclass(frozen=True)
class Case:
    name: str
    build: Build
    expect: Mapping[int, str]  # memory size -> outcome ("ok", "rejected:too-large", ...)
    detail: str = ""  # what a rejection's detail must say


def both(outcome: str) -> dict[int, str]:
    return dict.fromkeys(MEMORY_SIZES, outcome)


TOO_LARGE = "rejected:too-large"

# Known decompression bombs, one for each decoder's costly path.
BOMB_CASES = [
    Case(
        "jpeg-progressive-23000x23000-frame-over-64x64-data.jpg",
        lambda: hostile.jpeg_declaring((23000, 23000)),
        both(TOO_LARGE),
        "progressive",
    ),
    Case(
        "jpeg-progressive-grey-12000x12000.jpg",
        lambda: hostile.jpeg_declaring((12000, 12000), "L"),
        both(TOO_LARGE),
    ),
    Case(
        "jpeg-progressive-grey-8000x8000-real.jpg",
        lambda: hostile.jpeg((8000, 8000), "L"),
        {128: TOO_LARGE, 256: "ok"},
    ),
    # 1800x1800 to 200 px is a 1/4-scale decode (1/8 leaves under 1.25x), which needs every
    # scan; at 4096x4096 a 1/8-scale decode reads the DC scan alone (handlers.imaging.progressive)
    # and the 5000 scans are never decoded.
    Case(
        "jpeg-5000-scans.jpg",
        lambda: hostile.jpeg_many_scans(5000, (1800, 1800)),
        both(TOO_LARGE),
        "scans",
    ),
    Case(
        "jpeg-5000-scans-after-the-dc-scan.jpg", lambda: hostile.jpeg_many_scans(5000), both("ok")
    ),
    Case(
        "jpeg-progressive-48mp.jpg",
        lambda: hostile.jpeg_declaring((8000, 6000)),
        {128: TOO_LARGE, 256: "ok"},
    ),
    Case(
        "gif-65535x8000-frame-in-1x1-canvas.gif",
        lambda: hostile.gif_frame((65535, 8000)),
        both(TOO_LARGE),
        "frame 65535x8000",
    ),
    Case("gif-65535x65535-frame.gif", lambda: hostile.gif_frame((65535, 65535)), both(TOO_LARGE)),
    Case(
        "tiff-16x16-32768x32768-deflate-tiles.tif",
        lambda: hostile.tiff((16, 16), tile=(32768, 32768)),
        both(TOO_LARGE),
        "tiles of 32768x32768",
    ),
    Case(
        "avif-ispe-16384x16384.avif",
        lambda: hostile.avif_with_ispe(hostile.avif(), (16384, 16384)),
        both(TOO_LARGE),
    ),
    Case(
        "avif-corrupt-av1-data.avif",  # libavif's RuntimeError: a rejection, not a retry
        lambda: hostile.corrupt_avif(),
        both("rejected:corrupt"),
        "Failed to decode",
    ),
    # libvips streams 8-bit PNGs and resamples as it decodes, so it is thumbnailed in a few MB
    # (Pillow would decode it whole, as RGBA). The key colour's cost still
    # counts where Pillow decodes: 16-bit below.
    Case(
        "png-5016x5016-rgb-trns.png",
        lambda: hostile.png((5016, 5016), trns=b"\0\1\0\2\0\3"),
        both("ok"),
    ),
    Case(
        "png-5016x5016-rgb16-trns.png",
        lambda: hostile.png((5016, 5016), depth=16, trns=b"\0\1\0\2\0\3"),
        both(TOO_LARGE),
        "tRNS",
    ),
    Case(
        "png-5016x5016-grey16.png",
        lambda: hostile.png((5016, 5016), depth=16, colour=0),
        both(TOO_LARGE),
    ),
    # libvips decodes lossy WebP scaled and in place, so it fits both sizes (Pillow's animation
    # decoder, ~15 bytes a pixel, would not at 128 MB). Lossless stays Pillow's.
    Case("webp-3264x2448.webp", lambda: hostile.webp((3264, 2448)), both("ok")),
    Case(
        "webp-lossless-3264x2448.webp",
        lambda: hostile.webp((3264, 2448), lossless=True),
        {128: TOO_LARGE, 256: "ok"},
    ),
]

# Other members of the same classes.
CLASS_CASES = [
    Case(
        "avif-grid-of-repeated-tile-16384x16384.avif",
        lambda: hostile.avif_grid((512, 512), (32, 32)),
        both(TOO_LARGE),
        "grid",
    ),
    Case(
        "webp-vp8x-canvas-16383x16383.webp",
        lambda: hostile.webp_with_canvas(hostile.webp((64, 64)), (16383, 16383)),
        both(TOO_LARGE),
    ),
    Case(
        "bmp-rle4-5000x5000.bmp",  # Pillow's BMP run-length decoder is pure Python
        lambda: hostile.bmp_rle((5000, 5000)),
        both(TOO_LARGE),
    ),
    Case(
        "bmp-header-60000x60000.bmp", lambda: hostile.bmp_declaring((60000, 60000)), both(TOO_LARGE)
    ),
    Case(
        "jpeg-600000-empty-app-segments.jpg",
        lambda: hostile.jpeg_with_segments(
            hostile.jpeg(progressive=False), hostile.app_segment(0xE5, b""), 700_000
        ),
        both(TOO_LARGE),
    ),
    Case(
        "jpeg-3mb-of-fill-bytes.jpg",  # Pillow's header loop reads fill bytes one by one
        lambda: hostile.jpeg_with_segments(hostile.jpeg(progressive=False), b"\xff", 3_000_000),
        both(TOO_LARGE),
        "CPU",
    ),
    Case(
        "png-60-ztxt-bombs.png",
        lambda: hostile.png_text_bomb(60),
        {128: TOO_LARGE, 256: "ok"},
    ),
    Case(
        "png-400000-private-chunks.png",
        lambda: hostile.png_many_chunks(400_000),
        both(TOO_LARGE),
    ),
    Case(
        "tiff-1000000-rational-resolution.tif",
        lambda: hostile.tiff_with_tag((64, 64), 282, 5, 1_000_000),
        both(TOO_LARGE),
    ),
    Case(
        "gif-30000-comment-blocks.gif",  # read and joined in Python before the first frame
        lambda: hostile.gif_with_comments(30_000),
        both("rejected:corrupt"),  # its one pixel of LZW data ends early
    ),
    # Metadata items read whole by libheif and pillow-heif before the image, each extent of
    # each item copied, even where all of them point at one region of the file.
    Case(
        "heic-60-exif-items-over-one-8mb-region.heic",
        lambda: hostile.heif_with_metadata_items(60, 8 * 2**20),
        both(TOO_LARGE),
        "61 metadata items",
    ),
    Case(
        "heic-900-xmp-items-over-one-4mb-region.heic",
        lambda: hostile.heif_with_metadata_items(900, 4 * 2**20, b"mime"),
        both(TOO_LARGE),
        "metadata items",
    ),
    Case(
        "heic-4-exif-items-over-one-8mb-region.heic",  # 72 MB held: fits 256 MB only
        lambda: hostile.heif_with_metadata_items(4, 8 * 2**20),
        {128: TOO_LARGE, 256: "ok"},
    ),
    Case(  # a large XMP packet, as photo editors write: thumbnailed
        "heic-xmp-of-2mb.heic",
        lambda: hostile.heif_with_metadata_items(1, 2 * 2**20, b"mime"),
        both("ok"),
    ),
    # ICC profiles: honoured up to MAX_ICC_BYTES, dropped past it (never a rejection), priced
    # in the budget as the decode holds them.
    Case(
        "png-16-bit-with-a-2mb-icc-profile.png",
        lambda: hostile.png_with_icc((2000, 1500), hostile.icc_profile(2 * 2**20)),
        both("ok"),
    ),
    Case(
        "png-with-a-40mb-icc-profile.png",
        lambda: hostile.png_with_icc((640, 480), bytes(40 * 2**20), depth=8),
        both("ok"),
    ),
    Case(
        "webp-with-a-20mb-icc-profile.webp",  # copied out whole, then dropped
        lambda: hostile.webp_with_icc((640, 480), hostile.icc_profile(20 * 2**20)),
        {128: TOO_LARGE, 256: "ok"},
    ),
    Case(
        "webp-lossless-with-a-20mb-icc-profile.webp",
        lambda: hostile.webp_with_icc((640, 480), hostile.icc_profile(20 * 2**20), lossless=True),
        {128: TOO_LARGE, 256: "ok"},
    ),
    Case(  # over the input cap at 128 MB (refused unread), over the budget at 256 MB
        "webp-with-a-48mb-icc-profile.webp",
        lambda: hostile.webp_with_icc((640, 480), hostile.icc_profile(48 * 2**20)),
        both(TOO_LARGE),
    ),
    Case(
        "webp-with-a-3mb-icc-profile.webp",  # honoured
        lambda: hostile.webp_with_icc((1600, 1200), hostile.icc_profile(3 * 2**20)),
        both("ok"),
    ),
    Case(
        "tiff-raw-1x1-tiles.tif",
        lambda: hostile.tiff((1024, 1024), tile=(1, 1), compression=1),
        both(TOO_LARGE),
    ),
]


# --- files at the budget's edge ----------------------------------------------------------


def budget_of(memory_mb: int) -> int:
    """What the decode may take: the budget less the reserve for the 200 px ``auto`` encoder."""
    settings = ResizeSettings.from_env({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)})
    reserve = encoder_bytes((RenditionSpec(200, OutputFormat.AUTO),))
    return settings.max_pixels * BUDGET_BYTES_PER_PIXEL - reserve


def _thumbnail(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Renditions:
    """One ``auto`` rendition of 200 pixels: the function's default first size."""
    specs = (RenditionSpec(200, OutputFormat.AUTO),)
    return make_renditions(data, specs, max_pixels=max_pixels, placeholder=False)


def draft(size: tuple[int, int]) -> tuple[int, int] | None:
    return sizing._draft_request(size, 200)


def accepted(data: bytes, budget: int) -> bool:
    """Whether make_renditions' two checks (the decode's estimate, the decoded pixels) pass."""
    try:
        estimate = decode_budget.check(data, decode.READABLE_FORMATS, budget=budget, draft=draft)
    except ImageRejected:
        return False
    assert estimate is not None
    width, height = decode_budget.decoded_size(estimate, draft)
    return width * height <= budget // BUDGET_BYTES_PER_PIXEL


def largest(make: Callable[[int], bytes], budget: int, low: int, high: int) -> int:
    """The largest n in [low, high] whose file the budget admits (make(low) must be)."""
    assert accepted(make(low), budget)
    while low < high:
        middle = (low + high + 1) // 2
        if accepted(make(middle), budget):
            low = middle
        else:
            high = middle - 1
    return low


Sized = Callable[[int], bytes]


def side(make: Callable[..., bytes], *args: Any, **kwargs: Any) -> Sized:
    """``make((n, n), ...)`` as a function of the side n."""
    return lambda n: make((n, n), *args, **kwargs)


RGB_KEY, GREY_KEY, PALETTE_KEY = b"\0\1\0\2\0\3", b"\0\7", b"\0"
Edge = tuple[str, Sized, "Sized | None", int, int]


def png_edge(name: str, depth: int, colour: int, key: bytes | None = None) -> Edge:
    header, real = (
        side(hostile.png_header, depth, colour, key),
        side(hostile.png, depth, colour, key),
    )
    return name, header, real, 16, 20000


# For each decoder's costly path: a file of side n whose header the estimate reads (the search
# runs on it), the real file of that side if the header-only one is not it, and the range of n.
EDGES: list[Edge] = [
    ("jpeg-progressive-420.jpg", side(hostile.jpeg_declaring), None, 64, 30000),
    ("jpeg-progressive-grey.jpg", side(hostile.jpeg_declaring, "L"), None, 64, 30000),
    ("jpeg-progressive-cmyk.jpg", side(hostile.jpeg_declaring, "CMYK", True, 0), None, 64, 30000),
    ("jpeg-baseline-draft.jpg", side(hostile.jpeg_declaring, progressive=False), None, 64, 65535),
    ("jpeg-250-scans.jpg", lambda n: hostile.jpeg_many_scans(250, (n, n)), None, 64, 8192),
    ("gif-disposal-frame.gif", side(hostile.gif_frame), None, 16, 65535),
    (
        "gif-transparent.gif",
        lambda n: hostile.gif_frame((n, n), (n, n), transparent=True),
        lambda n: hostile.gif_frame((n, n), (n, n), transparent=True, data=True),
        16,
        65535,
    ),
    png_edge("png-rgb-trns.png", 8, 2, RGB_KEY),
    png_edge("png-grey16.png", 16, 0),
    png_edge("png-rgba16.png", 16, 6),
    png_edge("png-grey-trns.png", 8, 0, GREY_KEY),
    png_edge("png-palette-trns.png", 8, 3, PALETTE_KEY),
    ("webp-lossy.webp", side(hostile.webp_header), side(hostile.webp), 16, 16383),
    (
        "webp-lossless-alpha.webp",
        side(hostile.webp_header, lossless=True, alpha=True),
        side(hostile.webp, lossless=True, alpha=True),
        16,
        16383,
    ),
    ("tiff-deflate-tile.tif", lambda n: hostile.tiff((16, 16), tile=(n, n)), None, 16, 65535),
    (
        "tiff-deflate-rgb.tif",
        side(hostile.tiff_header, samples=3, photometric=2),
        side(hostile.tiff, samples=3, photometric=2),
        16,
        20000,
    ),
    ("bmp-rle4.bmp", side(hostile.bmp_rle), None, 16, 20000),
    ("avif-grid.avif", lambda n: hostile.avif_grid((256, 256), (n, n)), None, 1, 64),
    ("avif-ispe-scaled-up.avif", lambda n: hostile.avif_declaring((n, n)), None, 64, 16384),
]  # fmt: skip


def edge_file(header: Sized, real: Sized | None, budget: int, low: int, high: int) -> bytes:
    """The largest file the budget admits: sized on ``header``, then (``real``) built for real
    and shrunk until the real file (whose own bytes count too) is admitted."""
    n = largest(header, budget, low, high)
    while real is not None:
        data = real(n)
        if accepted(data, budget):
            return data
        n = n * 49 // 50
    return header(n)


def edge_cases(memory_mb: int) -> list[Case]:
    """Thumbnailed, or rejected as corrupt (a header-inflated file runs out of data), and never
    over the memory size: the estimate is put to the test where it admits the most."""
    budget = budget_of(memory_mb)
    return [
        Case(
            f"edge-{memory_mb}-{name}",
            functools.partial(edge_file, header, real, budget, low, high),
            {memory_mb: "fits"},
        )
        for name, header, real, low, high in EDGES
    ]


# --- mutated fixtures ----------------------------------------------------------------------

MUTATED_SOURCES = [
    "Landscape_3.jpg",
    "flowers.jpeg",
    "p3.png",
    "tbgn2c16.png",
    "animated-loop-3.gif",
    "grey-plus-alpha.gif",
    "4.webp",
    "animated-loop-3.webp",
    "G31D.TIF",
    "uncompressed_tiff.tiff",
    "pitm.avif",
]
MUTANTS_PER_SOURCE = 6
BIG_VALUES = (0xFF, 0x7F, 0xFFFF, 0x7FFF, 0x4000, 0x3FFF, 0xFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four header mutations: a random byte, a 2- or 4-byte field set to a large value
    (sizes, counts, lengths, offsets live there), or a cut."""
    out = bytearray(data)
    head = min(len(out), 2048)
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        at = rng.randrange(min(head, len(out)))
        if kind < 0.4:
            out[at] = rng.randrange(256)
        elif kind < 0.9:
            width = rng.choice((2, 4))
            value = rng.choice(BIG_VALUES) & (2 ** (8 * width) - 1)
            out[at : at + width] = value.to_bytes(width, rng.choice(("big", "little")))
        else:
            del out[rng.randrange(len(out) // 2, len(out)) :]
    return bytes(out)


def mutated_cases(memory_mb: int) -> list[Case]:
    extra = {"progressive.jpg": hostile.jpeg((640, 480)), "rgb.bmp": hostile.bmp_real((300, 200))}
    sources = {name: (IMAGES / name).read_bytes() for name in MUTATED_SOURCES} | extra
    cases = []
    for name, data in sources.items():
        for i in range(MUTANTS_PER_SOURCE):
            seed = f"{name}-{i}"
            mutant = mutate(data, random.Random(seed))
            cases.append(
                Case(
                    f"mutant-{memory_mb}-{seed}",
                    functools.partial(bytes, mutant),
                    {memory_mb: "any"},
                )
            )
    return cases


# --- the subprocess ------------------------------------------------------------------------


# Fixtures the smallest function refuses once libvips' libraries (VIPS_RESIDENT_MB) are counted
# in its budget: an 8 MP TIFF, which Pillow decodes whole, and a 3.3 MP AVIF grid, whose AV1
# decoder alone takes 24 MB.
REFUSED_FIXTURES = {(128, "G31D.TIF"), (128, "pitm.avif")}


def fixture_cases(memory_mb: int) -> list[Case]:
    """The ordinary fixtures, which must still be thumbnailed (the budget is not a blanket no)."""
    names = [name for name, _, _ in EXPECTED if name != "giant-image.jpg"] + ["giant-image.jpg"]
    return [
        Case(
            f"fixture-{memory_mb}-{name}",
            functools.partial((IMAGES / name).read_bytes),
            {memory_mb: TOO_LARGE if (memory_mb, name) in REFUSED_FIXTURES else "ok"},
        )
        for name in names
    ]


@functools.cache
def built(memory_mb: int) -> list[tuple[Case, bytes]]:
    """Every case run under ``memory_mb``, with its file's bytes (built once a session)."""
    # The edge files first: they come nearest the memory size, and what earlier files leave in
    # the interpreter's heap only makes later peaks read higher.
    cases = (
        edge_cases(memory_mb)
        + BOMB_CASES
        + CLASS_CASES
        + mutated_cases(memory_mb)
        + fixture_cases(memory_mb)
    )
    return [(case, case.build()) for case in cases]


# The kernel stops a runaway decode (no watchdog can stop a C decoder holding the GIL): it fails
# its case with MemoryError instead of taking the machine's memory. Far above any peak judged
# here; address space, not resident memory, so it also covers the threads' reserved arenas.
ADDRESS_SPACE_CAP = 3 * 2**30


def _address_space_cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[int, tuple[list[Case], subprocess.Popen[str]]]]:
    """Both memory sizes' runs, started together (each interpreter is single-file-at-a-time)."""
    started = {}
    for memory_mb in MEMORY_SIZES:
        folder = tmp_path_factory.mktemp(f"hostile-{memory_mb}")
        cases = []
        paths = []
        for case, data in built(memory_mb):
            path = folder / case.name
            path.write_bytes(data)
            cases.append(case)
            paths.append(str(path))
        env = {**os.environ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
        for name in ("MAX_PIXELS", "MAX_INPUT_BYTES"):
            env.pop(name, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.unit.imaging.hostile_runner", *paths],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=_address_space_cap,
        )
        started[memory_mb] = (cases, process)
    yield started
    for _, process in started.values():
        if process.poll() is None:
            process.kill()


def results(run: tuple[list[Case], subprocess.Popen[str]]) -> dict[str, dict[str, Any]]:
    cases, process = run
    stdout, _ = process.communicate(timeout=600)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    found = {line["file"]: line for line in lines}
    missing = [c.name for c in cases if c.name not in found]
    assert not missing, f"the runner stopped (killed?) before {missing[:3]}"
    return found


@pytest.mark.parametrize("memory_mb", MEMORY_SIZES, ids=lambda m: f"{m}MB")
def test_every_hostile_file_is_thumbnailed_or_rejected_within_memory_and_cpu(
    runs: dict[int, tuple[list[Case], subprocess.Popen[str]]], memory_mb: int
) -> None:
    cases = runs[memory_mb][0]
    found = results(runs[memory_mb])
    failures = []
    for case in cases:
        line = found[case.name]
        outcome, peak, cpu = line["outcome"], line["peak_mb"], line["cpu_s"]
        expected = case.expect[memory_mb]
        if line["baseline_mb"] < MODELLED_BASELINE_MB - 1:
            failures.append(
                f"{case.name}: baseline {line['baseline_mb']} MB, unlike the function's"
            )
        if outcome.startswith("raised:"):
            failures.append(f"{case.name}: {outcome} {line['detail']}")
        elif expected == "fits":
            if outcome not in ("ok", "rejected:corrupt"):
                failures.append(f"{case.name}: sized to fit, yet {outcome}: {line['detail']}")
        elif expected != "any" and outcome != expected:
            failures.append(f"{case.name}: {outcome} ({line['detail']}), expected {expected}")
        if case.detail and outcome.startswith("rejected") and case.detail not in line["detail"]:
            failures.append(f"{case.name}: detail {line['detail']!r} does not say {case.detail!r}")
        # This interpreter (the dev install, Python 3.11) may sit above the function's measured
        # baseline; the function's peak is this one less that excess.
        excess = max(0.0, line["baseline_mb"] - MODELLED_BASELINE_MB)
        if peak - excess >= memory_mb:
            failures.append(
                f"{case.name}: peak {peak} MB less {excess:.1f} MB of this interpreter's excess "
                f"baseline >= {memory_mb} MB ({outcome})"
            )
        if cpu >= CPU_LIMIT_S:
            failures.append(f"{case.name}: {cpu} s of CPU ({outcome})")
    assert not failures, "\n".join(failures)


def test_the_edge_files_reach_the_budget() -> None:
    """The edge files must really sit at a limit (the decode's estimate, or the decoded pixels
    for modes that take few bytes), or the memory test above would prove little."""
    for memory_mb in MEMORY_SIZES:
        budget = budget_of(memory_mb)
        for case, data in built(memory_mb):
            if not case.name.startswith("edge-") or "scans" in case.name or "rle" in case.name:
                continue  # the scans and run-length files are sized by CPU
            estimate = decode_budget.check(
                data, decode.READABLE_FORMATS, budget=budget, draft=draft
            )
            assert estimate is not None
            decoded = decode_budget.decoded_size(estimate, draft)
            used = max(
                decode_budget.peak_bytes(estimate, len(data), decoded) / budget,
                decoded[0] * decoded[1] / (budget // BUDGET_BYTES_PER_PIXEL),
            )
            assert used > 0.85, (case.name, used)


# --- in-process checks ---------------------------------------------------------------------


def test_every_readable_format_has_an_estimator() -> None:
    assert set(decode.READABLE_FORMATS) <= set(decode_budget.ESTIMATORS)


def test_a_readable_format_without_an_estimator_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(decode_budget.ESTIMATORS, "PNG")
    with pytest.raises(ImageRejected, match="no decode-budget estimator") as caught:
        _thumbnail((IMAGES / "p3.png").read_bytes())
    assert caught.value.reason is RejectReason.UNSUPPORTED


REFUSED_AT_128 = [c for c in BOMB_CASES + CLASS_CASES if c.expect[128] == TOO_LARGE]


@pytest.mark.parametrize("case", REFUSED_AT_128, ids=lambda c: c.name)
def test_hostile_files_are_refused_before_opening(case: Case) -> None:
    """Refusals come from the estimate, before Image.open (GIF and WebP allocate while opening)."""
    data = case.build()
    budget = budget_of(128)
    opened = []
    real_open = Image.open

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return real_open(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image, "open", spy)
        with pytest.raises(ImageRejected) as caught:
            _thumbnail(data, max_pixels=budget // BUDGET_BYTES_PER_PIXEL)
    assert caught.value.reason is RejectReason.TOO_LARGE
    assert not opened


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(MUTATED_SOURCES),
    seed=st.integers(0, 2**32 - 1),
    memory_mb=st.sampled_from(MEMORY_SIZES),
)
def test_estimators_never_fail_on_mutated_headers(source: str, seed: int, memory_mb: int) -> None:
    """Whatever the header says, check() answers an estimate or an ImageRejected."""
    data = mutate((IMAGES / source).read_bytes(), random.Random(seed))
    try:
        estimate = decode_budget.check(data, decode.READABLE_FORMATS, budget=budget_of(memory_mb))
    except ImageRejected as rejected:
        assert rejected.reason in set(RejectReason)
    else:
        assert estimate is None or estimate.size[0] >= 0


def test_a_corrupt_avif_is_rejected_not_raised() -> None:
    """libavif's RuntimeError is a rejection, not an exception that fails every delivery."""
    with pytest.raises(ImageRejected, match="Failed to decode") as caught:
        _thumbnail(hostile.corrupt_avif())
    assert caught.value.reason is RejectReason.CORRUPT


def test_the_av1_frame_counts_when_ispe_says_less() -> None:
    """libavif scales the decoded frame to ispe either way: the larger of the two is allocated."""
    data = hostile.avif_with_ispe(hostile.avif((1024, 768)), (64, 64))
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (64, 64)
    estimate = decode_budget.ESTIMATORS["AVIF"](data)
    assert estimate.size == (1024, 768)


def test_draft_scale_follows_pillow() -> None:
    data = hostile.jpeg((64, 64), progressive=False)
    with Image.open(io.BytesIO(hostile.jpeg_with_frame_size(data, (4000, 3000)))) as im:
        request = sizing._draft_request(im.size, 200)
        assert request is not None
        im.draft(None, request)
        pillow = im.size
    estimate = decode_budget.ESTIMATORS["JPEG"](hostile.jpeg_with_frame_size(data, (4000, 3000)))
    assert decode_budget.decoded_size(estimate, draft) == pillow
