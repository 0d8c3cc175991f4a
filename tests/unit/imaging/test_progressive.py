"""Progressive JPEGs decoded from their DC scans alone (handlers.imaging.progressive,
make_renditions),
on real encoded files: Pillow's (libjpeg-turbo's) script, libvips's, MozJPEG's, and jpegtran's
scripts in tests/fixtures/images (how each was made: its README)."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from devstack import samples
from handlers.imaging import (
    ImageRejected,
    RejectReason,
    Renditions,
    dc_scale_serves,
    fit_within,
    jpeg,
    make_renditions,
    pipeline,
    progressive,
    renditions,
    sizing,
)
from handlers.imaging import budget as decode_budget
from handlers.imaging.progressive import PrefixScanner, Status
from handlers.imaging.renditions import OutputFormat, RenditionSpec
from handlers.imaging.sizing import DRAFT_GAP
from tests.conftest import IMAGES
from tests.unit.imaging.test_pipeline import decode, psnr

# --- the files -----------------------------------------------------------------------------


@cache
def _fixture(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


@cache
def _photo() -> Image.Image:
    """A camera photo at 512x418: a 32 px rendition is made from its 1/8-scale decode."""
    im = Image.open(io.BytesIO(_fixture("2569067123_aca715a2ee_o.jpg")))
    return im.resize((512, 418), Image.Resampling.LANCZOS)


def _pillow(im: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=85, progressive=True, **options)
    return buffer.getvalue()


def _resaved(name: str) -> bytes:
    """A fixture re-encoded progressive by Pillow, keeping its EXIF, ICC profile and mode."""
    im = Image.open(io.BytesIO(_fixture(name)))
    options = {k: im.info[k] for k in ("exif", "icc_profile") if k in im.info}
    return _pillow(im, **options)


def _libvips() -> bytes:
    pyvips = pytest.importorskip("pyvips")
    buffer = io.BytesIO()
    _photo().save(buffer, "PNG")
    image = pyvips.Image.new_from_buffer(buffer.getvalue(), "")
    return bytes(image.jpegsave_buffer(Q=85, interlace=True))


SPEC_32 = renditions.parse("32:auto")

# (id, build, renditions): files whose DC scans are all the renditions need.
ELIGIBLE: list[tuple[str, Callable[[], bytes], str]] = [
    ("pillow-rgb", lambda: _pillow(_photo()), "32:auto"),
    ("pillow-rgb-444", lambda: _pillow(_photo(), subsampling=0), "32:auto"),
    ("pillow-grey", lambda: _pillow(_photo().convert("L")), "32:auto"),
    ("pillow-grey-icc", lambda: _resaved("concert.jpg"), "16:auto"),  # 400x267 with a grey profile
    ("pillow-cmyk-icc", lambda: _resaved("Channel_digital_image_CMYK_color.jpg"), "24:auto"),
    ("pillow-cmyk-no-profile", lambda: _pillow(_photo().convert("CMYK")), "32:auto"),
    ("pillow-exif-orientation-6", lambda: _resaved("Landscape_6.jpg"), "32:auto"),
    ("pillow-restart-markers", lambda: _pillow(_photo(), restart_marker_blocks=3), "32:auto"),
    ("pillow-several-renditions", lambda: _pillow(_photo()), "32:auto,32:webp,24:png,8:avif"),
    ("libvips", _libvips, "32:auto"),
    ("jpegtran-y-then-chroma-dc", lambda: _fixture("progressive-y-then-chroma-dc.jpg"), "32:auto"),
    ("jpegtran-mozjpeg-style", lambda: _fixture("progressive-mozjpeg-style.jpg"), "32:jpeg"),
    ("mozjpeg", lambda: _fixture("progressive-mozjpeg.jpg"), "32:auto"),
]

# (id, build, renditions, why): files decoded whole.
INELIGIBLE: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("baseline", lambda: _fixture("flowers.jpeg"), "32:auto", "SOF0"),
    ("arithmetic", lambda: _fixture("progressive-arithmetic.jpg"), "32:auto", "SOF10"),
    (
        "ac-before-chroma-dc",
        lambda: _fixture("progressive-ac-before-chroma-dc.jpg"),
        "32:auto",
        "coefficients 1-63",
    ),
    (
        "dc-refined-before-chroma-dc",
        lambda: _fixture("progressive-dc-refined-before-chroma.jpg"),
        "32:auto",
        "refines DC",
    ),
    ("rendition-over-an-eighth", lambda: _pillow(_photo()), "32:auto,52:webp", "renditions"),
    ("rendition-larger-than-source", lambda: _pillow(_photo()), "600:auto", "renditions"),
]


def whole_file(data: bytes, specs: tuple[RenditionSpec, ...]) -> Renditions:
    """make_renditions as it was before the DC prefix: the whole file decoded."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "dc_prefix", lambda data, specs: None)
        return make_renditions(data, specs)


# --- make_renditions -----------------------------------------------------------------------


@pytest.mark.parametrize(("build", "spec"), [c[1:] for c in ELIGIBLE], ids=[c[0] for c in ELIGIBLE])
def test_dc_prefix_makes_what_the_whole_file_makes(build: Callable[[], bytes], spec: str) -> None:
    data = build()
    specs = renditions.parse(spec)
    head = progressive.scan(data)
    assert head.status is Status.COMPLETE

    made = make_renditions(data, specs)
    whole = whole_file(data, specs)

    assert made.dc_prefix and not whole.dc_prefix
    assert made.bytes_decoded == head.end < len(data) == whole.bytes_decoded
    assert (made.source_format, made.source_width, made.source_height) == (
        whole.source_format,
        whole.source_width,
        whole.source_height,
    )
    for ours, theirs in zip(made.renditions, whole.renditions, strict=True):
        a, b = decode(ours.data), decode(theirs.data)
        assert (ours.format, ours.width, ours.height) == (
            theirs.format,
            theirs.width,
            theirs.height,
        )
        assert (a.mode, a.size, a.info.get("icc_profile")) == (
            b.mode,
            b.size,
            b.info.get("icc_profile"),
        )
        # 35-46 dB here; a wrong colour transform or flip scores under 20 dB.
        assert psnr(a, b) > 32, ours.spec.name


def _eighth(data: bytes) -> np.ndarray[Any, np.dtype[np.int64]]:
    im = Image.open(io.BytesIO(data))
    im.draft("YCbCr", (im.width // 8, im.height // 8))  # colour as coded: no rounding to RGB
    im.load()
    return np.asarray(im, dtype=np.int64)


@pytest.mark.parametrize(
    "case_id", ["pillow-rgb-444", "pillow-grey", "pillow-cmyk-icc", "pillow-cmyk-no-profile"]
)
def test_without_subsampling_the_eighth_scale_decode_is_the_whole_files(case_id: str) -> None:
    """At 1/8 scale libjpeg-turbo keeps one pixel a block, the block's DC: the closed prefix
    decodes to the whole file's pixels but for the DC's last bit (sent later, in a refinement
    scan). Subsampled chroma is decoded at 2x2 a block, from its first AC coefficients too, which
    the prefix does not have: that is where the 4:2:0 files' 37-40 dB come from."""
    data = _build(case_id)
    closed = progressive.closed(data, progressive.scan(data))
    assert np.abs(_eighth(closed) - _eighth(data)).max() <= 1


def test_the_closing_scans_keep_libjpeg_from_smoothing_blocks() -> None:
    """EOI right after the DC scans decodes too, but libjpeg-turbo then estimates the missing AC
    coefficients from neighbouring blocks, slower and further from the whole file."""
    data = _build("pillow-grey")
    head = progressive.scan(data)
    whole = _eighth(data)
    closed = np.abs(_eighth(progressive.closed(data, head)) - whole).max()
    bare = np.abs(_eighth(data[: head.end] + progressive.EOI) - whole).max()
    assert closed <= 1 < bare


@pytest.mark.parametrize(
    ("build", "spec", "why"), [c[1:] for c in INELIGIBLE], ids=[c[0] for c in INELIGIBLE]
)
def test_the_whole_file_is_decoded_otherwise(
    build: Callable[[], bytes], spec: str, why: str
) -> None:
    data = build()
    specs = renditions.parse(spec)
    head = progressive.scan(data, lambda frame: dc_scale_serves(frame.size, specs))
    assert head.status is Status.INELIGIBLE
    assert why in head.reason

    made = make_renditions(data, specs)

    assert not made.dc_prefix
    assert made.bytes_decoded == len(data)
    assert [r.data for r in made.renditions] == [r.data for r in whole_file(data, specs).renditions]


@pytest.mark.parametrize("name", ["photo-12mp-progressive"])
def test_a_12mp_photo_takes_a_tenth_of_its_bytes_at_36_db(name: str) -> None:
    """On the bench's progressive photo: <= 12% of the bytes, >= 36 dB."""
    data = samples.load(name)
    specs = renditions.parse("200:auto")

    made = make_renditions(data, specs)

    assert made.dc_prefix
    assert made.bytes_decoded <= 0.12 * len(data)
    assert psnr(decode(made.default.data), decode(whole_file(data, specs).default.data)) >= 36


@pytest.mark.slow
def test_the_peak_memory_is_below_the_whole_file_decodes() -> None:
    """Fresh processes holding what each reads (the handler's streamed head, or the object) and
    thumbnailing it. Both decodes allocate the same whole-image coefficient buffers (libjpeg-turbo
    does for any progressive frame): what falls is the input not downloaded."""
    from bench.progressive import measure_peak

    path = samples.path_for("photo-12mp-progressive")
    prefix = measure_peak("tuned-dc-prefix", path)
    whole = measure_peak("tuned-whole-file", path)
    assert prefix["added_mb"] < whole["added_mb"]


def test_truncated_in_the_dc_scan_is_corrupt_as_before() -> None:
    data = _pillow(_photo())
    end = progressive.scan(data).end
    for cut in (300, end // 2, end - 1):  # in the headers, in the DC scan, its last byte
        with pytest.raises(ImageRejected) as caught:
            make_renditions(data[:cut], SPEC_32)
        assert caught.value.reason is RejectReason.CORRUPT


def test_truncated_after_the_dc_scans_is_thumbnailed_from_them() -> None:
    """What a 1/8-scale decode needs is all there: the handler, which stops reading at the end
    of the DC scans, never sees the rest, so the core does not look at it either."""
    data = _pillow(_photo())
    end = progressive.scan(data).end
    made = make_renditions(data[: (end + len(data)) // 2], SPEC_32)
    assert made.dc_prefix
    assert made.bytes_decoded == end


def test_the_hostile_checks_run_on_what_is_decoded() -> None:
    """A frame of 23000x23000 over 64x64 of data stays refused when decoded from its DC scan:
    the coefficient buffers are sized by the frame."""
    from tests.unit.imaging import hostile_images as hostile

    data = hostile.jpeg_declaring((23000, 23000))
    assert progressive.scan(data).status is Status.COMPLETE
    with pytest.raises(ImageRejected) as caught:
        make_renditions(data)
    assert caught.value.reason is RejectReason.TOO_LARGE


# --- the scanner on partial input ----------------------------------------------------------

PARTIAL = [
    "pillow-rgb",
    "pillow-restart-markers",
    "jpegtran-y-then-chroma-dc",
    "libvips",
    "mozjpeg",
]


def _build(case_id: str) -> bytes:
    return next(build for name, build, _ in ELIGIBLE if name == case_id)()


def _marker_seen_at(data: bytes, end: int) -> int:
    """How many bytes the scanner needs to see the marker after the DC scans: past the fill."""
    at = end + 1
    while data[at] == 0xFF:
        at += 1
    return at + 1


@pytest.mark.parametrize("case_id", PARTIAL)
def test_every_cut_before_the_marker_needs_more_and_every_cut_after_completes(
    case_id: str,
) -> None:
    data = _build(case_id)
    end = progressive.scan(data).end
    needed = _marker_seen_at(data, end)
    incremental = PrefixScanner()
    for cut in range(needed + 16):
        one_shot = progressive.scan(data[:cut])
        grown = incremental.advance(data[:cut])
        if cut < needed:
            assert one_shot.status is grown.status is Status.NEED_MORE, cut
        else:
            assert (one_shot.status, one_shot.end) == (Status.COMPLETE, end), cut
            assert (grown.status, grown.end) == (Status.COMPLETE, end), cut


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case_id=st.sampled_from(PARTIAL),
    chunks=st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=40),
)
def test_any_chunking_gives_the_one_shot_answer(case_id: str, chunks: list[int]) -> None:
    data = _build(case_id)
    expected = progressive.scan(data)
    scanner = PrefixScanner()
    received = bytearray()
    answer = scanner.head
    sizes = iter(chunks)
    while answer.status is Status.NEED_MORE and len(received) < len(data):
        received += data[len(received) : len(received) + next(sizes, 4096)]
        answer = scanner.advance(received)
    assert (answer.status, answer.end, answer.frame) == (
        expected.status,
        expected.end,
        expected.frame,
    )


def test_fill_bytes_before_the_next_marker_are_left_out() -> None:
    data = _pillow(_photo())
    end = progressive.scan(data).end
    filled = data[:end] + b"\xff" * 5 + data[end:]

    assert progressive.scan(filled).end == end
    made = make_renditions(filled, SPEC_32)
    assert made.dc_prefix
    assert made.default.data == make_renditions(data, SPEC_32).default.data


def _segment_offset(data: bytes, marker: int) -> int:
    """The offset of the first ``marker`` segment's 0xFF (before the first scan)."""
    pos = 2
    while data[pos + 1] != marker:
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    return pos


def _with_byte(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + bytes([value]) + data[offset + 1 :]


def _sof(data: bytes) -> int:
    return _segment_offset(data, 0xC2)


STRUCTURES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("not-a-jpeg", lambda d: b"\x89PNG\r\n\x1a\n" + d, "no SOI"),
    ("junk-between-segments", lambda d: d[:2] + b"junk" + d[2:], "between segments"),
    ("12-bit-samples", lambda d: _with_byte(d, _sof(d) + 4, 12), "12-bit"),
    ("height-from-dnl", lambda d: d[: _sof(d) + 5] + b"\0\0" + d[_sof(d) + 7 :], "DNL"),
    ("two-components", lambda d: _with_byte(d, _sof(d) + 9, 2), "2 components"),
    (
        "multi-picture",
        lambda d: d[:2] + b"\xff\xe2\x00\x08MPF\x00II" + d[2:],
        "MPO",
    ),
    (
        "unknown-marker",
        lambda d: d[:2] + b"\xff\xf7\x00\x04\x00\x00" + d[2:],
        "0xF7",
    ),
    ("short-segment", lambda d: d[:2] + b"\xff\xfe\x00\x01" + d[2:], "length 1"),
]


@pytest.mark.parametrize(
    ("mutate", "why"), [s[1:] for s in STRUCTURES], ids=[s[0] for s in STRUCTURES]
)
def test_anything_unexpected_decodes_the_whole_file(
    mutate: Callable[[bytes], bytes], why: str
) -> None:
    head = progressive.scan(mutate(_pillow(_photo())))
    assert head.status is Status.INELIGIBLE
    assert why in head.reason


def test_the_callers_test_is_asked_once_at_the_frame_header() -> None:
    data = _pillow(_photo())
    asked: list[progressive.Frame] = []

    def wanted(frame: progressive.Frame) -> bool:
        asked.append(frame)
        return False

    head = progressive.scan(data, wanted)
    assert head.status is Status.INELIGIBLE
    assert head.scans == 0  # stopped at the frame header, before any scan
    assert [frame.size for frame in asked] == [(512, 418)]
    assert asked[0].components == (1, 2, 3)


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=1200),
    value=st.integers(min_value=0, max_value=255),
    cut=st.integers(min_value=0, max_value=6000),
)
def test_a_damaged_head_never_raises(offset: int, value: int, cut: int) -> None:
    data = _pillow(_photo())
    damaged = _with_byte(data, offset, value)[:cut]
    head = progressive.scan(damaged)
    assert head.status in Status
    assert head.end <= len(damaged)


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=1200),
    value=st.integers(min_value=0, max_value=255),
    cut=st.integers(min_value=0, max_value=6000),
)
def test_a_damaged_head_gets_the_same_answer_through_a_layout(
    offset: int, value: int, cut: int
) -> None:
    """A scan handed the segments a walk of the same bytes found (the decode budget's) answers
    as the scan that reads the bytes itself."""
    damaged = _with_byte(_pillow(_photo()), offset, value)[:cut]
    layout = jpeg.Layout()
    try:
        for _ in jpeg.walk(damaged, layout, 10**6):
            pass
    except ValueError:
        return  # the budget refuses it: there is no layout to hand down
    assert progressive.scan(damaged, layout=layout) == progressive.scan(damaged)


# --- which rendition sets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "spec", "serves"),
    [
        ((4000, 3000), "200:auto", True),
        ((3000, 4000), "200:auto", True),  # portrait: the same test with the sides swapped
        ((4000, 3000), "200:auto,200:webp,150:avif", True),
        ((4000, 3000), "200:auto,800:webp", False),
        ((4000, 3000), "400:auto", True),  # 1/8 is 500x375: exactly 1.25 times 400x300
        ((4000, 3000), "401:auto", False),  # 401x301: 1/8 is under 1.25 times
        ((2000, 1504), "200:auto", True),  # exactly 10 times the long side
        ((1999, 1504), "200:auto", False),
        ((6000, 4000), "600:auto", True),
        ((512, 418), "32:auto", True),
        ((100, 100), "200:auto", False),  # no downscale at all
        ((2000, 1510), "200:auto", False),  # 200x151: the rounded-up short side limits
    ],
    ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v),
)
def test_dc_scale_serves_when_every_rendition_fits_an_eighth(
    size: tuple[int, int], spec: str, serves: bool
) -> None:
    assert dc_scale_serves(size, renditions.parse(spec)) is serves


@settings(max_examples=500, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=20000),
    height=st.integers(min_value=1, max_value=20000),
    sizes=st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=4, unique=True),
)
def test_dc_scale_serves_only_what_draft_decodes_at_an_eighth(
    width: int, height: int, sizes: list[int]
) -> None:
    specs = tuple(RenditionSpec(n, OutputFormat.AUTO) for n in sizes)
    if not dc_scale_serves((width, height), specs):
        return
    eighth = (-(-width // 8), -(-height // 8))
    for spec in specs:  # the rule (on the stored size: orientation swaps both sides)
        target = fit_within((width, height), spec.size)
        assert target[0] * DRAFT_GAP <= eighth[0] and target[1] * DRAFT_GAP <= eighth[1]
    estimate = decode_budget.Estimate("JPEG", (width, height), "RGB", scalable=True)
    assert (
        decode_budget.decoded_size(estimate, lambda size: sizing._draft_request(size, max(sizes)))
        == eighth
    )
