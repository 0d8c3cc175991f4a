"""Box renditions (WIDTHxHEIGHT:FORMAT[:POSITION]): the grammar and its limits, the cover and box
sizes, where each position puts the crop on images whose subject is known, the focal point, and
the crop rectangle mapped back to the source under every EXIF orientation."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageOps

from handlers.imaging import (
    Focus,
    InvalidFocus,
    OutputFormat,
    Position,
    Rect,
    RenditionSpec,
    make_renditions,
    parse,
    vips,
)
from handlers.imaging import crop as cropping
from handlers.imaging.renditions import MAX_RENDITIONS, MAX_SIZE
from handlers.imaging.sizing import box_size, cover_size
from handlers.index import lifecycle
from handlers.index.keys import MAX_KEY_BYTES, KeyTooLong, rendition_key
from handlers.index.settings import ResizeSettings
from tests.unit.imaging.test_pipeline import DecodeCounter

ReadImage = Callable[[str], bytes]

# --- the grammar --------------------------------------------------------------------------


def test_a_box_item_reads_width_height_format_and_position() -> None:
    assert parse("400x400:webp,1200x630:jpeg:entropy,300X200:png:Center,64x48:jpg:centre") == (
        RenditionSpec.boxed(400, 400, OutputFormat.WEBP, Position.ATTENTION),
        RenditionSpec.boxed(1200, 630, OutputFormat.JPEG, Position.ENTROPY),
        RenditionSpec.boxed(300, 200, OutputFormat.PNG, Position.CENTRE),
        RenditionSpec.boxed(64, 48, OutputFormat.JPEG, Position.CENTRE),
    )


def test_the_name_is_the_canonical_text_and_the_folder_the_box() -> None:
    box, size = parse("400x300:webp:center,200:auto")
    assert (box.name, box.folder) == ("400x300:webp:centre", "400x300")
    assert (size.name, size.folder) == ("200:auto", "200")
    assert parse("400x400:webp")[0].name == "400x400:webp:attention"
    assert parse(",".join(s.name for s in parse("1200x630:jpeg:entropy,200:webp"))) == parse(
        "1200x630:jpeg:entropy,200:webp"
    )


@pytest.mark.parametrize("side", [1, MAX_SIZE], ids=["smallest", "largest"])
def test_each_side_of_a_box_may_be_1_to_max_size(side: int) -> None:
    assert parse(f"{side}x{side}:jpeg")[0].box is not None
    assert parse(f"{side}x7:jpeg")[0].box.size == (side, 7)  # type: ignore[union-attr]
    assert parse(f"7x{side}:jpeg")[0].box.size == (7, side)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0x400:webp", "width must be 1..10000"),
        ("400x0:webp", "height must be 1..10000"),
        (f"{MAX_SIZE + 1}x400:webp", "width must be 1..10000"),
        (f"400x{MAX_SIZE + 1}:webp", "height must be 1..10000"),
        ("400x:webp", "height '' is not a whole number"),
        ("x400:webp", "width '' is not a whole number"),
        ("4x4x4:webp", "not a whole number"),
        ("400x400:webp:north", "unknown position 'north'"),
        ("400x400:webp:", "unknown position ''"),
        ("400x400:gif", "unknown format"),
        ("400:webp:centre", "only a box"),
        ("400x400", "not SIZE:FORMAT or WIDTHxHEIGHT"),
        ("400x400:webp,400x400:webp", "listed twice"),
        ("400x400:webp:attention,400x400:webp:centre", r"same \.webp key under 400x400/"),
        ("400x400:auto,400x400:jpeg:entropy", r"same \.jpg key under 400x400/"),
        ("400x400:auto,400x400:png", r"same \.png key under 400x400/"),
    ],
)
def test_invalid_box_items_are_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_a_box_and_a_size_never_share_a_key_and_other_formats_may_share_a_box() -> None:
    specs = parse("400x400:jpeg,400:jpeg,400x400:webp:centre,400x400:avif:entropy")
    assert len({(s.folder, s.format) for s in specs}) == 4


def test_boxes_count_towards_max_renditions() -> None:
    items = [f"{n}x{n}:jpeg" for n in range(1, MAX_RENDITIONS)]
    assert len(parse(",".join([*items, "200:auto"]))) == MAX_RENDITIONS
    with pytest.raises(ValueError, match=f"at most {MAX_RENDITIONS}"):
        parse(",".join([*items, "200:auto", "300x300:webp"]))


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "box", "cover", "made"),
    [
        ((4000, 3000), (400, 400), (533, 400), (400, 400)),
        ((4000, 3000), (400, 300), (400, 300), (400, 300)),  # no 401x301 from float error
        ((3000, 4000), (1200, 630), (1200, 1600), (1200, 630)),
        ((4000, 3001), (400, 400), (533, 400), (400, 400)),
        ((400, 400), (400, 400), (400, 400), (400, 400)),  # exactly the box: no resample
        ((300, 200), (400, 400), (300, 200), (200, 200)),  # too small: never upscaled
        ((1000, 200), (400, 400), (1000, 200), (200, 200)),
        ((1000, 200), (1200, 630), (1000, 200), (381, 200)),
    ],
)
def test_cover_and_box_sizes(
    source: tuple[int, int], box: tuple[int, int], cover: tuple[int, int], made: tuple[int, int]
) -> None:
    assert cover_size(source, box) == cover
    assert box_size(source, box) == made


@given(
    st.tuples(st.integers(1, 9000), st.integers(1, 9000)),
    st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
)
def test_the_cover_always_holds_the_box_shaped_crop(
    source: tuple[int, int], box: tuple[int, int]
) -> None:
    cover, made = cover_size(source, box), box_size(source, box)
    assert made[0] <= cover[0] and made[1] <= cover[1]
    assert cover[0] <= source[0] and cover[1] <= source[1]  # never upscaled
    # The source's shape, as near as whole pixels allow (one side exact, the other rounded).
    assert abs(cover[0] * source[1] - cover[1] * source[0]) <= max(source) / 2
    if box[0] <= source[0] and box[1] <= source[1]:
        assert made == box
        assert cover[0] == box[0] or cover[1] == box[1]  # scaled just enough
    else:  # the box's shape, as near as whole pixels allow, and one side the source's
        assert made[0] == source[0] or made[1] == source[1]
        assert abs(made[0] * box[1] - made[1] * box[0]) <= max(box) / 2 or min(made) == 1


# --- the choice, on images whose subject is known -----------------------------------------

W, H = 1600, 1000  # the source
SUBJECT = 180  # the subject's diameter


def _busy(seed: int = 7) -> Image.Image:
    """A grey, low-saturation, noisy background (a wall, gravel), the same every run."""
    rng = np.random.default_rng(seed)
    grey = rng.normal(110, 18, (H // 4, W // 4)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").resize((W, H), Image.Resampling.BILINEAR).convert("RGB")


def _plain() -> Image.Image:
    return Image.new("RGB", (W, H), (96, 104, 110))


def _disc(im: Image.Image, centre: tuple[int, int]) -> Image.Image:
    """A bright, saturated disc (a face-like skin-toned blob with a red edge)."""
    x, y = centre
    r = SUBJECT // 2
    draw = ImageDraw.Draw(im)
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(225, 40, 40))
    draw.ellipse((x - r // 2, y - r // 2, x + r // 2, y + r // 2), fill=(232, 170, 130))
    return im


def _texture(im: Image.Image, centre: tuple[int, int]) -> Image.Image:
    """A sharp, high-contrast textured patch (print, foliage)."""
    rng = random.Random(3)
    x, y = centre
    r = SUBJECT // 2
    patch = Image.new("L", (SUBJECT, SUBJECT))
    patch.putdata([rng.randrange(256) for _ in range(SUBJECT * SUBJECT)])
    im.paste(patch.convert("RGB"), (x - r, y - r))
    return im


def _jpeg(im: Image.Image, orientation: int = 1) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    im.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


# The subject's centre: corners, edges and the centre of the source (inset so it fits whole).
M = SUBJECT // 2 + 10
PLACES = {
    "top-left": (M, M),
    "top-right": (W - M, M),
    "bottom-left": (M, H - M),
    "bottom-right": (W - M, H - M),
    "left": (M, H // 2),
    "right": (W - M, H // 2),
    "top": (W // 2, M),
    "bottom": (W // 2, H - M),
    "centre": (W // 2, H // 2),
}
BOXES = ["300x300", "400x200", "200x400"]


def _holds(rect: Rect, centre: tuple[int, int]) -> bool:
    """True when the whole subject around ``centre`` lies inside ``rect`` (source pixels)."""
    r = SUBJECT // 2
    x, y = centre
    return (
        rect.left <= x - r
        and x + r <= rect.left + rect.width
        and rect.top <= y - r
        and y + r <= rect.top + rect.height
    )


def _fits(rect: Rect, source: tuple[int, int]) -> bool:
    return (
        rect.left >= 0
        and rect.top >= 0
        and rect.left + rect.width <= source[0]
        and rect.top + rect.height <= source[1]
    )


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("background", ["busy", "plain"])
@pytest.mark.parametrize("place", list(PLACES))
def test_attention_keeps_a_saturated_subject(place: str, background: str, box: str) -> None:
    source = _disc(_busy() if background == "busy" else _plain(), PLACES[place])
    made = make_renditions(_jpeg(source), parse(f"{box}:png:attention"), placeholder=False)
    rendition = made.default
    assert (rendition.width, rendition.height) == tuple(map(int, box.split("x")))
    assert rendition.crop is not None and _fits(rendition.crop, (W, H))
    assert _holds(rendition.crop, PLACES[place]), (place, rendition.crop)


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("background", ["gradient", "plain"])
@pytest.mark.parametrize("place", list(PLACES))
def test_entropy_keeps_a_textured_subject(place: str, background: str, box: str) -> None:
    if background == "gradient":
        ramp = Image.linear_gradient("L").resize((W, H)).convert("RGB")
        base = Image.blend(ramp, _plain(), 0.5)
    else:
        base = _plain()
    source = _texture(base, PLACES[place])
    made = make_renditions(_jpeg(source), parse(f"{box}:png:entropy"), placeholder=False)
    rendition = made.default
    assert (rendition.width, rendition.height) == tuple(map(int, box.split("x")))
    assert rendition.crop is not None and _fits(rendition.crop, (W, H))
    assert _holds(rendition.crop, PLACES[place]), (place, rendition.crop)


@pytest.mark.parametrize("box", BOXES)
def test_centre_takes_the_middle(box: str) -> None:
    made = make_renditions(_jpeg(_plain()), parse(f"{box}:jpeg:centre"), placeholder=False)
    rect = made.default.crop
    assert rect is not None
    assert abs(rect.left + rect.width / 2 - W / 2) <= 2
    assert abs(rect.top + rect.height / 2 - H / 2) <= 2


@pytest.mark.parametrize("position", list(Position))
@pytest.mark.parametrize("place", ["top-left", "bottom-right", "right", "centre"])
def test_a_focal_point_wins_over_every_position(position: Position, place: str) -> None:
    """The subject is a decoy on the other side; the focal point names an empty spot, which
    the crop is centred on as far as the image allows."""
    decoy = (W - PLACES[place][0], H - PLACES[place][1])
    source = _disc(_busy(), decoy)
    x, y = PLACES[place]
    focus = Focus(x / W, y / H)
    spec = RenditionSpec.boxed(300, 300, OutputFormat.JPEG, position)
    made = make_renditions(_jpeg(source), (spec,), focus=focus, placeholder=False)
    rect = made.default.crop
    assert rect is not None and _holds(rect, (x, y))
    # As close to the crop's centre as the image allows: centred, or against an edge.
    for centre, start, side, total in (
        (x, rect.left, rect.width, W),
        (y, rect.top, rect.height, H),
    ):
        wanted = min(max(round(centre - side / 2), 0), total - side)
        assert abs(start - wanted) <= 2, (place, rect)


def test_a_focal_point_at_the_corners_pins_the_crop_to_them() -> None:
    data = _jpeg(_plain())
    spec = parse("400x200:jpeg")
    low = make_renditions(data, spec, focus=Focus(0, 0), placeholder=False).default.crop
    high = make_renditions(data, spec, focus=Focus(1, 1), placeholder=False).default.crop
    assert low == Rect(0, 0, 1600, 800)
    assert high == Rect(0, 200, 1600, 800)


@pytest.mark.parametrize(
    ("text", "focus"),
    [("0.3,0.6", Focus(0.3, 0.6)), ("0,1", Focus(0, 1)), (" 1 , 0 ", Focus(1, 0))],
)
def test_a_focus_reads_two_fractions(text: str, focus: Focus) -> None:
    assert Focus.parse(text) == focus


@pytest.mark.parametrize(
    "text", ["", "0.5", "0.5,0.5,0.5", "a,b", "-0.001,0.5", "0.5,1.001", "nan,0.5", "inf,0"]
)
def test_an_invalid_focus_is_refused(text: str) -> None:
    with pytest.raises(InvalidFocus):
        Focus.parse(text)


def test_the_crop_filled_exactly_even_when_rounding_leaves_a_spare_pixel() -> None:
    """4000x3001 into 400x400 covers at 533x400 (or 534x401): the box is still exact."""
    im = Image.new("RGB", (4000, 3001), (10, 120, 200))
    made = make_renditions(_jpeg(im), parse("400x400:jpeg,200:jpeg"), placeholder=False)
    assert (made.default.width, made.default.height) == (400, 400)
    assert made.renditions[1].crop is None


def test_a_source_smaller_than_the_box_is_cropped_to_its_shape_not_upscaled() -> None:
    im = _disc(Image.new("RGB", (300, 200), (40, 40, 40)), (230, 100))
    made = make_renditions(_jpeg(im), parse("400x400:png"), placeholder=False)
    assert (made.default.width, made.default.height) == (200, 200)
    assert made.default.crop == Rect(100, 0, 200, 200)


# --- the rectangle maps back to the source under every orientation -------------------------

_UNDO = {  # the transpose that stores an upright image so EXIF ``orientation`` displays it
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("spec", ["300x200:png:attention", "200x300:png:entropy"])
def test_the_rectangle_maps_back_to_the_source_under_every_orientation(
    orientation: int, spec: str
) -> None:
    upright = _texture(_disc(_busy(), PLACES["bottom-right"]), PLACES["top-left"])
    transpose = _UNDO[orientation]
    stored = upright if transpose is None else upright.transpose(transpose)
    data = _jpeg(stored, orientation)
    assert ImageOps.exif_transpose(Image.open(io.BytesIO(data))).size == (W, H)

    rendition = make_renditions(data, parse(spec), placeholder=False).default
    rect = rendition.crop
    assert rect is not None and _fits(rect, (W, H))
    # The page's view: the upright source cut at the rectangle and scaled to the box.
    displayed = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    drawn = displayed.crop(rect.box).resize(
        (rendition.width, rendition.height), Image.Resampling.LANCZOS
    )
    made = Image.open(io.BytesIO(rendition.data))
    assert _psnr(made, drawn) > 30, (orientation, rect)
    # Same subject and place whatever the stored orientation: within a pixel of orientation 1's.
    reference = make_renditions(_jpeg(upright), parse(spec), placeholder=False).default.crop
    assert reference is not None
    assert all(abs(a - b) <= 2 for a, b in zip(rect.box, reference.box, strict=True))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_focal_point_is_read_on_the_image_as_displayed(orientation: int) -> None:
    transpose = _UNDO[orientation]
    upright = _plain()
    stored = upright if transpose is None else upright.transpose(transpose)
    spec = parse("300x300:jpeg:centre")
    focus = Focus(0.1, 0.5)  # the left edge of the image as displayed
    rect = make_renditions(_jpeg(stored, orientation), spec, focus=focus).default.crop
    assert rect == Rect(0, 0, 1000, 1000)


# --- real photos: a smoke check --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["2569067123_aca715a2ee_o.jpg", "concert.jpg", "flowers.jpeg", "Portrait_6.jpg"]
)
def test_real_photos_make_every_position(read_image: ReadImage, name: str) -> None:
    specs = parse("200:auto,400x400:jpeg,1200x630:webp:entropy,300x500:png:centre")
    made = make_renditions(read_image(name), specs)
    source = (made.source_width, made.source_height)
    # The upright original in sRGB, as the pipeline sees it (some fixtures carry an ICC profile).
    whole = parse(f"{max(source)}:png")
    original = Image.open(io.BytesIO(make_renditions(read_image(name), whole).default.data))
    for rendition in made.renditions[1:]:
        box = rendition.spec.box
        assert box is not None and rendition.crop is not None
        shown = Image.open(io.BytesIO(rendition.data))
        assert shown.size == (rendition.width, rendition.height)
        upright = source if name != "Portrait_6.jpg" else (source[1], source[0])
        assert shown.size == box_size(upright, box.size)
        assert _fits(rendition.crop, upright)
        # The page's view of the rectangle on the upright original: the same picture.
        assert original.size == upright
        drawn = original.crop(rendition.crop.box).resize(shown.size, Image.Resampling.LANCZOS)
        assert _psnr(shown, drawn) > 28, (name, rendition.spec.name)


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("2569067123_aca715a2ee_o.jpg", "400x400:webp,1200x630:jpeg:entropy,200:auto"),
        ("2569067123_aca715a2ee_o.jpg", "1600:webp,100x100:png:centre"),
        ("with-alpha.png", "200:auto,120x80:webp,64x64:png:entropy"),
        ("Landscape_6.jpg", "300x200:jpeg,200:webp"),
        ("Portrait_5.jpg", "90x160:jpeg:entropy"),
    ],
)
def test_box_renditions_still_decode_once(
    read_image: ReadImage, monkeypatch: pytest.MonkeyPatch, name: str, spec: str
) -> None:
    counter = DecodeCounter(monkeypatch)
    made = make_renditions(read_image(name), parse(spec))
    assert counter.count == 1
    assert [r.spec.name for r in made.renditions] == [s.name for s in parse(spec)]


def test_choose_places_a_window_within_the_image() -> None:
    im = Image.new("RGB", (533, 400))
    for position in Position:
        rect = cropping.choose(im, (400, 400), position)
        assert rect.width == 400 and rect.height == 400
        assert 0 <= rect.left <= 133 and rect.top == 0


# --- keys -----------------------------------------------------------------------------------


def test_a_box_rendition_is_stored_under_its_box_folder() -> None:
    box, size = parse("400x400:webp,400:webp")
    assert rendition_key("uploads/a/x.jpg", "uploads/", "thumbnails/", box.folder, "WEBP") == (
        "thumbnails/400x400/a/x.jpg.webp"
    )
    assert rendition_key("uploads/a/x.jpg", "uploads/", "thumbnails/", size.folder, "WEBP") == (
        "thumbnails/400/a/x.jpg.webp"
    )


def test_a_box_key_too_long_for_s3_is_refused_before_the_download() -> None:
    config = ResizeSettings.from_env({"RENDITIONS": "200:jpeg,400x400:webp"})
    longest = MAX_KEY_BYTES - len("thumbnails/400x400/") - len(".webp")
    fits = "uploads/" + "a" * longest
    lifecycle.check_keys(fits, config)  # the box's key is exactly 1,024 bytes
    assert len(lifecycle.key_of(fits, config, "400x400", "WEBP").encode()) == MAX_KEY_BYTES
    with pytest.raises(KeyTooLong):
        lifecycle.check_keys(fits + "a", config)


@pytest.mark.parametrize("name", ["2569067123_aca715a2ee_o.jpg", "with-alpha.png"])
def test_the_crop_is_the_same_without_libvips(
    read_image: ReadImage, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The choice is Pillow's alone: where pyvips is missing (Pillow decodes and resamples
    everything), every box gets the same rectangle, within one pixel of the analysis map (the
    two resamplers' pixels differ a little), and from the same window nearly the same pixels."""
    specs = parse("400x400:png,300x120:png:entropy,90x160:png:centre")
    with_vips = make_renditions(read_image(name), specs, placeholder=False)
    monkeypatch.setattr(vips, "_pyvips", lambda: None)  # as if pyvips were absent
    without = make_renditions(read_image(name), specs, placeholder=False)
    for a, b in zip(with_vips.renditions, without.renditions, strict=True):
        assert (a.width, a.height) == (b.width, b.height)
        assert a.crop is not None and b.crop is not None
        # One pixel of the analysis map, in source pixels.
        slack = max(with_vips.source_width, with_vips.source_height) / cropping.ANALYSIS_SIDE
        assert all(abs(x - y) <= slack for x, y in zip(a.crop.box, b.crop.box, strict=True))
        if a.crop == b.crop:  # the same window: the same picture, resampled apart
            assert _psnr(Image.open(io.BytesIO(a.data)), Image.open(io.BytesIO(b.data))) > 30
