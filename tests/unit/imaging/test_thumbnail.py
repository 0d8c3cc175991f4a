"""The thumbnail core on real encoded images: the vendored fixtures and generated large photos."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from bench import methods
from devstack import samples as generated
from handlers.imaging import (
    ImageRejected,
    OutputFormat,
    RejectReason,
    Renditions,
    RenditionSpec,
    fit_within,
    make_renditions,
)

ROOT = Path(__file__).resolve().parents[3]
ReadImage = Callable[[str], bytes]


def thumbnail(data: bytes, max_size: int = 200) -> Renditions:
    """One ``auto`` rendition of ``max_size``, the resize function's default set."""
    return make_renditions(data, (RenditionSpec(max_size, OutputFormat.AUTO),), placeholder=False)


def decode(made: Renditions) -> Image.Image:
    im = Image.open(io.BytesIO(made.default.data))
    im.load()
    return im


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


# What users expect of each fixture (see tests/fixtures/images/README.md): output format and whether
# transparency survives.
EXPECTED = [
    ("2569067123_aca715a2ee_o.jpg", "JPEG", "RGB"),
    ("flowers.jpeg", "JPEG", "RGB"),
    ("4.webp", "JPEG", "RGB"),
    ("pitm.avif", "JPEG", "RGB"),
    ("G31D.TIF", "JPEG", "L"),
    ("uncompressed_tiff.tiff", "JPEG", "RGB"),
    ("concert.jpg", "JPEG", "L"),
    ("gamma_dalai_lama_gray.jpg", "JPEG", "RGB"),
    ("p3.png", "JPEG", "RGB"),
    ("prophoto.png", "JPEG", "RGB"),
    ("Channel_digital_image_CMYK_color.jpg", "JPEG", "RGB"),
    ("Channel_digital_image_CMYK_color_no_profile.jpg", "JPEG", "RGB"),
    ("Flag_of_the_Netherlands-16bit.png", "JPEG", "RGB"),
    ("tbgn2c16.png", "PNG", "RGBA"),
    ("with-alpha.png", "PNG", "RGBA"),
    ("full-transparent.png", "PNG", "RGBA"),
    ("grey-8bit-alpha.png", "PNG", "LA"),
    ("bgbn4a08.png", "PNG", "LA"),
    ("16-bit-grey-alpha.png", "PNG", "RGBA"),
    ("grey-plus-alpha.gif", "PNG", "RGBA"),
    ("animated-loop-3.gif", "JPEG", "RGB"),
    ("rotating-squares.gif", "PNG", "RGBA"),
    ("animated-loop-3.webp", "JPEG", "RGB"),
    ("giant-image.jpg", "JPEG", "L"),
]

REJECTED = [
    ("check.svg", RejectReason.UNSUPPORTED),
    ("truncated.jpg", RejectReason.CORRUPT),
    ("truncated.png", RejectReason.CORRUPT),
    ("corrupt-header.jpg", RejectReason.CORRUPT),
    ("65536-uint32-limit.png", RejectReason.TOO_LARGE),
]


@pytest.mark.parametrize(("name", "out_format", "mode"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_fixture_is_thumbnailed(
    read_image: ReadImage, name: str, out_format: str, mode: str
) -> None:
    data = read_image(name)
    source = Image.open(io.BytesIO(data))
    made = thumbnail(data)
    thumb, im = made.default, decode(made)

    assert (thumb.format, im.format, im.mode) == (out_format, out_format, mode)
    assert thumb.content_type == Image.MIME[out_format]
    assert (made.source_width, made.source_height) == source.size
    assert (im.width, im.height) == (thumb.width, thumb.height)
    assert max(im.size) == min(200, max(source.size))
    assert made.source_format == source.format


@pytest.mark.parametrize(("name", "reason"), REJECTED, ids=[r[0] for r in REJECTED])
def test_broken_or_hostile_input_is_rejected_with_a_reason(
    read_image: ReadImage, name: str, reason: RejectReason
) -> None:
    with pytest.raises(ImageRejected) as caught:
        thumbnail(read_image(name))
    assert caught.value.reason is reason
    assert caught.value.detail


def test_rejection_reasons_keep_their_logged_values() -> None:
    # Operators query the index table and logs by these strings.
    assert {str(r) for r in RejectReason} == {
        "unsupported",
        "corrupt",
        "too-large",
        "empty",
        "key-too-long",
    }


def test_empty_input_is_rejected() -> None:
    with pytest.raises(ImageRejected, match="empty") as caught:
        thumbnail(b"")
    assert caught.value.reason is RejectReason.EMPTY


@pytest.mark.parametrize("family", ["Landscape", "Portrait"])
@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_is_applied(read_image: ReadImage, family: str, orientation: int) -> None:
    upright = decode(thumbnail(read_image(f"{family}_1.jpg"))).convert("RGB")
    rotated = decode(thumbnail(read_image(f"{family}_{orientation}.jpg"))).convert("RGB")

    assert rotated.size == upright.size
    assert (upright.width > upright.height) == (family == "Landscape")
    # Same picture up to JPEG noise and the digit drawn on each (25-30 dB here); a wrong flip
    # or rotation scores 9-14 dB.
    assert psnr(rotated, upright) > 20


def test_cmyk_with_profile_matches_a_reference_conversion(read_image: ReadImage) -> None:
    data = read_image("Channel_digital_image_CMYK_color.jpg")
    source = Image.open(io.BytesIO(data))
    srgb = ImageCms.createProfile("sRGB")
    reference = ImageCms.profileToProfile(
        source, io.BytesIO(source.info["icc_profile"]), srgb, outputMode="RGB"
    )
    assert reference is not None
    reference = reference.resize(fit_within(source.size, 200), Image.Resampling.LANCZOS)

    assert psnr(decode(thumbnail(data)), reference) > 30


def test_cmyk_without_profile_is_not_inverted(read_image: ReadImage) -> None:
    tagged = decode(thumbnail(read_image("Channel_digital_image_CMYK_color.jpg")))
    untagged = decode(thumbnail(read_image("Channel_digital_image_CMYK_color_no_profile.jpg")))
    inverted = Image.eval(tagged, lambda v: 255 - v)
    # Device conversion is more saturated than the profile's, yet far nearer it than a negative.
    assert psnr(untagged, tagged) > 18
    assert psnr(untagged, tagged) > psnr(untagged, inverted) + 10


def test_wide_gamut_is_converted_to_untagged_srgb(read_image: ReadImage) -> None:
    data = read_image("p3.png")
    source = Image.open(io.BytesIO(data)).convert("RGB")
    thumb = decode(thumbnail(data))
    assert "icc_profile" not in thumb.info
    expected = ImageCms.profileToProfile(
        source,
        io.BytesIO(Image.open(io.BytesIO(data)).info["icc_profile"]),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    assert expected is not None
    assert psnr(thumb, expected) > psnr(thumb, source)


def test_grey_image_keeps_its_profile(read_image: ReadImage) -> None:
    data = read_image("concert.jpg")
    thumb = decode(thumbnail(data))
    assert thumb.info["icc_profile"] == Image.open(io.BytesIO(data)).info["icc_profile"]


def test_transparency_is_kept_not_blackened(read_image: ReadImage) -> None:
    im = decode(thumbnail(read_image("full-transparent.png")))
    assert im.getchannel("A").getextrema() == (0, 0)
    im = decode(thumbnail(read_image("with-alpha.png")))
    assert int(np.asarray(im.getchannel("A")).min()) < 255


def test_sixteen_bit_colours_are_not_clipped(read_image: ReadImage) -> None:
    im = decode(thumbnail(read_image("Flag_of_the_Netherlands-16bit.png"))).convert("RGB")
    column = np.asarray(im)[:, im.width // 2].astype(int)
    top, middle, bottom = column[5], column[im.height // 2], column[-5]
    assert top[0] > 150 and top[1] < 80  # red
    assert min(middle) > 230  # white
    assert bottom[2] > 100 and bottom[0] < 80  # blue


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 400, dtype=np.uint16), (300, 1))
    source = Image.fromarray(ramp)  # 16-bit grey ("I;16")
    buffer = io.BytesIO()
    source.save(buffer, "PNG")
    im = decode(thumbnail(buffer.getvalue()))
    row = np.asarray(im)[im.height // 2].astype(int)
    assert row[5] < 20 and 100 < row[im.width // 2] < 160 and row[-5] > 235


def test_animation_gives_its_first_frame(read_image: ReadImage) -> None:
    data = read_image("animated-loop-3.gif")
    first = Image.open(io.BytesIO(data)).convert("RGB")
    expected = first.resize(fit_within(first.size, 200), Image.Resampling.LANCZOS)
    assert psnr(decode(thumbnail(data)).convert("RGB"), expected) > 28


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "ThumbstatCam"  # Make
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(
        buffer, "JPEG", exif=exif.tobytes(), icc_profile=b""
    )
    return buffer.getvalue()


def test_exif_and_gps_are_never_copied() -> None:
    data = _jpeg_with_exif()
    assert b"ThumbstatCam" in data
    made = thumbnail(data)
    im = decode(made)
    assert im.size == (150, 200)  # orientation 6 applied
    assert not im.getexif()
    assert b"Exif" not in made.default.data and b"ThumbstatCam" not in made.default.data


@pytest.mark.parametrize(
    ("size", "max_size", "expected"),
    [
        ((4000, 3000), 200, (200, 150)),
        ((3000, 4000), 200, (150, 200)),
        ((100, 50), 200, (100, 50)),
        ((5000, 10), 200, (200, 1)),
        ((640, 480), 64, (64, 48)),
    ],
    ids=["landscape", "portrait", "never-upscaled", "extreme-aspect", "custom-size"],
)
def test_output_size(size: tuple[int, int], max_size: int, expected: tuple[int, int]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "PNG")
    made = thumbnail(buffer.getvalue(), max_size)
    assert (made.default.width, made.default.height) == expected == decode(made).size


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_images_raise_only_image_rejected(
    read_image: ReadImage, data: st.DataObject
) -> None:
    seed = read_image("Landscape_3.jpg")
    cut = data.draw(st.integers(0, len(seed)))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), max_size=8)
    )
    mangled = bytearray(seed[:cut])
    for index, value in flips:
        if index < len(mangled):
            mangled[index] = value
    try:
        made = thumbnail(bytes(mangled))
    except ImageRejected as rejected:
        assert rejected.reason in set(RejectReason)
    else:
        assert made.default.data


PEAK_RSS = """
import json, sys
from bench.peak_rss import measure
from handlers.imaging import ImageRejected, make_renditions, parse

def outcome(data):
    try:
        return make_renditions(data, parse("200:auto"), placeholder=False).default.format
    except ImageRejected as rejected:
        return rejected.reason

outcome(open(sys.argv[2], "rb").read())  # warm up the decoders' own allocations
result, memory = measure(outcome, open(sys.argv[1], "rb").read())
print(json.dumps({"outcome": result, **memory}))
"""


def peak_rss_added(path: Path, warm_up: Path) -> dict[str, object]:
    """Peak RSS a thumbnail adds, measured in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path), str(warm_up)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("name", "outcome", "limit_mb"),
    [("65536-uint32-limit.png", "too-large", 2), ("giant-image.jpg", "JPEG", 16)],
    ids=["4-gigapixel-png-bomb", "280-megapixel-jpeg"],
)
def test_huge_images_stay_in_bounded_memory(
    images_dir: Path, name: str, outcome: str, limit_mb: float
) -> None:
    # Warmed on a PNG: libvips (which resamples the giant JPEG's 1/8 decode as it streams) is
    # loaded once per container, its libraries counted in the budget (VIPS_RESIDENT_MB).
    measured = peak_rss_added(images_dir / name, images_dir / "with-alpha.png")
    assert measured["outcome"] == outcome
    assert isinstance(measured["added_mb"], float) and measured["added_mb"] < limit_mb


@pytest.mark.slow
def test_24_megapixel_jpeg_adds_little_memory(images_dir: Path) -> None:
    measured = peak_rss_added(generated.path_for("photo-24mp"), images_dir / "Landscape_1.jpg")
    assert measured["outcome"] == "JPEG"
    assert isinstance(measured["added_mb"], float) and measured["added_mb"] <= 12


@pytest.mark.slow
@pytest.mark.parametrize("name", ["photo-12mp", "cat-2mb", "photo-12mp-progressive"])
def test_quality_is_within_1db_of_the_naive_pipeline(name: str) -> None:
    data = generated.load(name)
    source = Image.open(io.BytesIO(data))
    size = fit_within(source.size, 200)
    reference = source.convert("RGB").resize(size, Image.Resampling.LANCZOS)

    naive = Image.open(io.BytesIO(methods.naive(data)))
    tuned = decode(thumbnail(data))
    assert tuned.size == naive.size == size
    assert psnr(tuned, reference) >= psnr(naive, reference) - 1.0
