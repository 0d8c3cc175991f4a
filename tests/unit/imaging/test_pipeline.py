"""make_renditions on real encoded images: every format and size from one decode."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.peak_rss import in_fresh_process
from handlers.imaging import (
    OutputFormat,
    Renditions,
    RenditionSpec,
    fit_within,
    make_renditions,
    parse,
    pipeline,
    sizing,
    vips,
)
from handlers.imaging.decode import Decoded

ROOT = Path(__file__).resolve().parents[3]
ReadImage = Callable[[str], bytes]
EVERY_FORMAT = parse("199:auto,200:jpeg,200:png,200:webp,200:avif,800:webp,1600:avif")


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_every_format_and_size_is_made_and_decodes(read_image: ReadImage) -> None:
    data = read_image("2569067123_aca715a2ee_o.jpg")  # 2725x2225
    made = make_renditions(data, EVERY_FORMAT)

    assert [r.spec for r in made.renditions] == list(EVERY_FORMAT)
    expected_formats = ["JPEG", "JPEG", "PNG", "WEBP", "AVIF", "WEBP", "AVIF"]
    for rendition, out_format in zip(made.renditions, expected_formats, strict=True):
        im = decode(rendition.data)
        assert (rendition.format, im.format) == (out_format, out_format)
        assert rendition.content_type == Image.MIME[out_format]
        assert im.size == (rendition.width, rendition.height)
        assert im.size == fit_within((2725, 2225), rendition.spec.size)
        assert "exif" not in im.info
    reference = decode(made.renditions[2].data)  # the lossless PNG
    for rendition in made.renditions[1:5]:
        assert psnr(decode(rendition.data), reference) > 30, rendition.spec.name


class DecodeCounter:
    """Counts decodes of an image's pixels: Pillow's file decoders (not the "raw" one that
    frombuffer uses to take pixels back from libvips) and libvips' decodes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = Image._getdecoder
        streamed = vips.load_resampled

        def counting(mode: str, decoder_name: str, *args: Any, **kwargs: Any) -> Any:
            self.count += decoder_name != "raw"
            return original(mode, decoder_name, *args, **kwargs)

        def counting_streamed(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return streamed(*args, **kwargs)

        def counting_jpeg(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return jpeg(*args, **kwargs)

        jpeg = vips.load_jpeg_resampled
        monkeypatch.setattr(Image, "_getdecoder", counting)
        monkeypatch.setattr(vips, "load_resampled", counting_streamed)
        monkeypatch.setattr(vips, "load_jpeg_resampled", counting_jpeg)


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("2569067123_aca715a2ee_o.jpg", "200:jpeg,200:webp,800:webp,1600:avif"),
        ("2569067123_aca715a2ee_o.jpg", "1600:webp,1200:jpeg,200:png"),
        ("flowers.jpeg", "100:auto,200:avif,400:webp,800:jpeg"),
        ("with-alpha.png", "200:auto,200:webp,64:avif"),
        ("Landscape_6.jpg", "200:jpeg,200:webp,800:webp,1600:avif"),
    ],
)
def test_one_decode_per_upload(
    read_image: ReadImage, monkeypatch: pytest.MonkeyPatch, name: str, spec: str
) -> None:
    data = read_image(name)
    counter = DecodeCounter(monkeypatch)
    made = make_renditions(data, parse(spec))
    assert counter.count == 1
    assert len(made.renditions) == spec.count(",") + 1


@pytest.mark.parametrize(
    "spec",
    ["200:jpeg,200:webp,800:webp,1600:avif", "1600:jpeg,1200:jpeg,700:jpeg,200:jpeg"],
    ids=["halving", "close-sizes"],
)
def test_each_rendition_is_as_good_as_made_alone(read_image: ReadImage, spec: str) -> None:
    """Made from the decoded image or a larger rendition at least twice its size: as close to a
    full decode's LANCZOS as a rendition made on its own (which resamples from its own, maybe
    smaller, DCT-scaled decode), and close to it in absolute terms."""
    data = read_image("2569067123_aca715a2ee_o.jpg")
    full = decode(data).convert("RGB")
    together = make_renditions(data, parse(spec))
    for rendition in together.renditions:
        alone = make_renditions(data, (RenditionSpec(rendition.spec.size, OutputFormat.PNG),))
        reference = full.resize((rendition.width, rendition.height), Image.Resampling.LANCZOS)
        made, own = decode(rendition.data), decode(alone.default.data)
        assert psnr(made, own) > 30, rendition.spec.name
        # JPEG and WebP lose a little to their own coding; the PNG made alone loses nothing.
        assert psnr(made, reference) > min(psnr(own, reference), 36) - 1.5, rendition.spec.name


def test_orientation_and_colour_apply_once_to_every_rendition(read_image: ReadImage) -> None:
    spec = parse("400:png,200:png,100:png")
    upright = make_renditions(read_image("Landscape_1.jpg"), spec)
    for orientation in range(2, 9):
        rotated = make_renditions(read_image(f"Landscape_{orientation}.jpg"), spec)
        for a, b in zip(upright.renditions, rotated.renditions, strict=True):
            assert (b.width, b.height) == (a.width, a.height)
            assert a.width > a.height
            assert psnr(decode(a.data), decode(b.data)) > 20, (orientation, a.spec.name)


def test_sizes_round_like_pillow_libvips_and_sharp() -> None:
    assert fit_within((3840, 2160), 200) == (200, 113)  # round(112.5) would give 112


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 400))
def test_sizes_are_those_of_image_thumbnail(width: int, height: int, max_size: int) -> None:
    im = Image.new("1", (width, height))
    im.thumbnail((max_size, max_size))
    assert fit_within((width, height), max_size) == im.size


def test_a_rendition_larger_than_the_source_is_made_at_the_source_size(
    read_image: ReadImage,
) -> None:
    data = read_image("Landscape_1.jpg")  # 600x450
    made = make_renditions(data, parse("200:webp,800:webp,1600:webp,1600:jpeg"))
    sizes = [(r.width, r.height) for r in made.renditions]
    assert sizes == [(200, 150), (600, 450), (600, 450), (600, 450)]
    assert made.renditions[1].data == made.renditions[2].data  # encoded once, stored twice
    assert decode(made.renditions[3].data).size == (600, 450)


def alpha_of(data: bytes) -> Image.Image:
    return decode(data).convert("RGBA").getchannel("A")


def test_webp_and_avif_keep_alpha_and_jpeg_flattens_it_on_white(read_image: ReadImage) -> None:
    data = read_image("full-transparent.png")
    made = make_renditions(data, parse("201:auto,200:webp,200:avif,200:jpeg"))
    auto, webp, avif, jpeg = made.renditions
    assert auto.format == "PNG"
    for rendition in (auto, webp, avif):
        assert alpha_of(rendition.data).getextrema() == (0, 0), rendition.format
    assert decode(jpeg.data).mode == "RGB"
    assert decode(jpeg.data).getextrema() == ((255, 255),) * 3
    spec = parse("100:png,100:webp,100:avif")
    png, *lossy = make_renditions(read_image("with-alpha.png"), spec).renditions
    expected = np.asarray(alpha_of(png.data), dtype=int)
    assert expected.max() < 255  # translucent throughout
    for rendition in lossy:
        alpha = np.asarray(alpha_of(rendition.data), dtype=int)
        assert np.abs(alpha - expected).mean() < 3, rendition.format


def test_grey_images_stay_grey_in_every_format(read_image: ReadImage) -> None:
    made = make_renditions(read_image("concert.jpg"), parse("200:jpeg,200:webp,200:avif"))
    jpeg, webp, avif = (decode(r.data) for r in made.renditions)
    assert jpeg.mode == "L" and "icc_profile" in jpeg.info  # grey keeps its profile
    for im in (webp, avif):
        r, g, b = (np.asarray(band, int) for band in im.convert("RGB").split())
        assert max(np.abs(r - g).max(), np.abs(g - b).max()) <= 8
    assert psnr(webp, jpeg) > 30


def test_every_ok_upload_gets_a_placeholder(read_image: ReadImage) -> None:
    made: Renditions = make_renditions(read_image("flowers.jpeg"))
    assert made.placeholder is not None
    assert made.placeholder.thumbhash and made.placeholder.dominant_color


def peak_rss(spec: str, image: str) -> dict[str, float]:
    """Peak RSS of make_renditions(spec) on a generated image, in a fresh interpreter."""
    return in_fresh_process(f"renditions:{spec}", image)


@pytest.mark.slow
def test_renditions_up_to_a_quarter_of_a_24_mp_jpeg_add_no_more_than_one_thumbnail() -> None:
    """Draft mode decodes at 1/4 scale while the largest rendition is at most a quarter of the
    source: the same 12 MB bound as the single thumbnail."""
    assert peak_rss("200:jpeg,200:webp,600:webp,600:avif", "photo-24mp")["added_mb"] <= 12


@pytest.mark.slow
def test_the_example_set_on_a_24_mp_jpeg_fits_the_default_function_memory() -> None:
    """A 1600 px rendition of a 6000x4000 JPEG needs the full decode (1/2 scale would leave less
    than twice 1600): ~96 MB of pixels, measured near 110 MB added. It must fit the 256 MB
    function with the ~20 MB the runtime client and botocore add (bench/RESULTS.md)."""
    measured = peak_rss("200:jpeg,200:webp,800:webp,1600:avif", "photo-24mp")
    assert measured["max_rss_mb"] < 256 - 20


@pytest.mark.parametrize("orientation", [1, 6], ids=["upright", "exif-rotated"])
def test_large_jpeg_renditions_through_libvips_match_pillows(
    read_image: ReadImage, monkeypatch: pytest.MonkeyPatch, orientation: int
) -> None:
    """A megapixel JPEG decode goes to libvips (same DCT scale, lanczos3 as the rows come):
    the rendition is the one Pillow's own decode and LANCZOS make, turned the same way."""
    source = Image.open(io.BytesIO(read_image("2569067123_aca715a2ee_o.jpg")))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", quality=90, exif=exif)
    data = buffer.getvalue()
    spec = parse("1600:png,800:png")
    calls: list[object] = []
    real = vips.load_jpeg_resampled

    def spy(*args: Any) -> Image.Image:
        calls.append(args[1:])
        return real(*args)

    monkeypatch.setattr(vips, "load_jpeg_resampled", spy)
    with_vips = make_renditions(data, spec)
    assert calls == [(1, (1600, 1306))]  # a full-scale decode of 2725x2225, to the largest
    monkeypatch.setattr(vips, "_pyvips", lambda: None)  # as if pyvips were absent
    with_pillow = make_renditions(data, spec)
    for ours, theirs in zip(with_vips.renditions, with_pillow.renditions, strict=True):
        assert (ours.width, ours.height) == (theirs.width, theirs.height)
        if orientation == 6:
            assert ours.height > ours.width
        assert psnr(decode(ours.data), decode(theirs.data)) > 40


@pytest.mark.parametrize("name", ["with-alpha.png", "p3.png", "4.webp"])
def test_streamed_formats_fall_back_to_pillow_without_libvips(
    read_image: ReadImage, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    data = read_image(name)
    assert vips.streams(data)
    streamed = make_renditions(data, parse("200:png"))
    monkeypatch.setattr(vips, "_pyvips", lambda: None)
    fallback = make_renditions(data, parse("200:png"))
    ours, theirs = streamed.default, fallback.default
    assert (ours.width, ours.height) == (theirs.width, theirs.height)
    # Both resample differently (libvips: box shrink then lanczos3, alpha premultiplied;
    # Pillow: reduce() then LANCZOS): both are held against one full decode's LANCZOS.
    reference = decode(data).resize((ours.width, ours.height), Image.Resampling.LANCZOS)
    assert psnr(decode(ours.data), reference) > 33
    assert psnr(decode(theirs.data), reference) > 33


# --- the steps, alone ------------------------------------------------------------------------


def test_the_draft_request_picks_the_smallest_dct_scale_within_its_gap() -> None:
    # 1024 px of 4000x3000: 1/8 and 1/4 leave less than 2x, 1/2 leaves 1.95x (its gap is 1.25).
    assert sizing._draft_request((4000, 3000), 1024) == (2000, 1500)
    assert sizing._draft_request((4000, 3000), 200) == (500, 375)  # 1/8
    assert sizing._draft_request((600, 450), 800) is None  # never upscaled: a full decode
    assert sizing.draft_scale((4000, 3000), (2000, 1500)) == 2
    assert sizing.draft_scale((4001, 3001), (501, 376)) == 8  # draft() rounds up
    assert sizing.draft_scale((600, 450), (600, 450)) == 1


def test_the_base_is_the_largest_rendition_only_when_it_serves_every_other() -> None:
    source = (4000, 3000)
    assert sizing.base_size(source, [(800, 600), (200, 150)]) == (800, 600)
    # 500 px cannot come from 800 px (under twice its size): the decode reduced by 2 instead.
    assert sizing.base_size(source, [(800, 600), (500, 375)]) == (2000, 1500)
    assert sizing.rendition_sizes(source, parse("200:png,800:webp,200:jpeg")) == [
        (800, 600),
        (200, 150),
    ]


def test_the_base_step_frees_the_decode_it_no_longer_needs() -> None:
    decoded = Decoded(Image.new("RGB", (800, 600)), 1, None)
    plan = pipeline._Plan("PNG", (800, 600), [(200, 150)], large_resample=False)
    base = pipeline._base(decoded, plan)
    assert base.size == (200, 150)
    with pytest.raises(ValueError, match="closed"):
        decoded.image.getpixel((0, 0))

    kept = Decoded(Image.new("RGB", (200, 150)), 1, None)
    assert pipeline._base(kept, plan) is kept.image
    assert kept.image.getpixel((0, 0)) == (0, 0, 0)


def test_the_orientation_step_turns_the_image_and_its_sizes() -> None:
    im = Image.new("RGBA", (40, 20), (10, 20, 30, 255))
    upright, sizes = pipeline._orient(im, 6, [(40, 20), (20, 10)])
    assert (upright.size, upright.mode) == ((20, 40), "RGB")  # opaque alpha dropped
    assert sizes == [(20, 40), (10, 20)]
    same, kept = pipeline._orient(im, 1, [(40, 20)])
    assert (same.size, kept) == ((40, 20), [(40, 20)])


def test_a_size_over_the_sources_is_encoded_once() -> None:
    pixels = {(60, 45): Image.new("RGB", (60, 45), (200, 30, 30))}
    made = pipeline._encode_all(pixels, parse("800:jpeg,60:jpeg"), (60, 45), 1, 85, None)
    assert [(r.width, r.height, r.format) for r in made] == [(60, 45, "JPEG")] * 2
    assert made[0].data is made[1].data
