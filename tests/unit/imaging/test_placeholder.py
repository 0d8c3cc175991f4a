"""Placeholders: the fast ThumbHash encoder against the ``thumbhash`` package's port of the
reference encoder (opaque images: that port fails on alpha), and every hash decoded back, by a
decoder written here from the format, and compared with the image it stands for."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from io import BytesIO

import numpy as np
import pytest
import thumbhash as reference
from PIL import Image

from handlers.imaging import placeholder
from handlers.imaging.placeholder import compute_placeholder

ReadImage = Callable[[str], bytes]
PHOTOS = ["Landscape_1.jpg", "Portrait_1.jpg", "flowers.jpeg", "2569067123_aca715a2ee_o.jpg"]


def rendition(read_image: ReadImage, name: str, size: int = 200) -> Image.Image:
    source = Image.open(BytesIO(read_image(name)))
    source.load()
    im = source.convert("RGBA" if source.mode in ("RGBA", "LA", "P") else "RGB")
    im.thumbnail((size, size))
    return im


def decoded(hash_b64: str) -> Image.Image:
    """The 32 px image a ThumbHash stands for (the format: header fields, then 4-bit AC terms of
    L (lx x ly), P and Q (3x3) and A (5x5), each in the triangular order the encoder writes)."""
    data = base64.b64decode(hash_b64)
    header24 = data[0] | data[1] << 8 | data[2] << 16
    header16 = data[3] | data[4] << 8
    l_dc, l_scale = (header24 & 63) / 63, (header24 >> 18 & 31) / 31
    p_dc, q_dc = (header24 >> 6 & 63) / 31.5 - 1, (header24 >> 12 & 63) / 31.5 - 1
    has_alpha, landscape = header24 >> 23, header16 >> 15
    p_scale, q_scale = (header16 >> 3 & 63) / 63, (header16 >> 9 & 63) / 63
    limit = 5 if has_alpha else 7
    lx = max(3, limit if landscape else header16 & 7)
    ly = max(3, header16 & 7 if landscape else limit)
    a_dc, a_scale = ((data[5] & 15) / 15, (data[5] >> 4) / 15) if has_alpha else (1.0, 0.0)
    nibbles = [n for byte in data[6 if has_alpha else 5 :] for n in (byte & 15, byte >> 4)]

    def terms(nx: int, ny: int) -> list[tuple[int, int]]:
        return [(cx, cy) for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)][1:]

    channels = []
    for nx, ny, scale in [(lx, ly, l_scale), (3, 3, p_scale * 1.25), (3, 3, q_scale * 1.25)] + (
        [(5, 5, a_scale)] if has_alpha else []
    ):
        channels.append([(t, (nibbles.pop(0) / 7.5 - 1) * scale) for t in terms(nx, ny)])
    ratio = lx / ly
    w, h = (32, round(32 / ratio)) if ratio > 1 else (round(32 * ratio), 32)
    out = Image.new("RGBA", (w, h))
    for y in range(h):
        for x in range(w):
            values = []
            for dc, channel in zip((l_dc, p_dc, q_dc, a_dc), channels + [[]] * 4, strict=False):
                values.append(
                    dc
                    + sum(
                        f
                        * math.cos(math.pi / w * (x + 0.5) * cx)
                        * 2
                        * math.cos(math.pi / h * (y + 0.5) * cy)
                        for (cx, cy), f in channel
                    )
                )
            lum, p, q, a = values
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            rgba = (r, r - q, b, a)
            out.putpixel((x, y), tuple(round(255 * max(0.0, min(1.0, v))) for v in rgba))
    return out


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB").resize((32, 32), Image.Resampling.BOX), dtype=float)
    y = np.asarray(b.convert("RGB").resize((32, 32), Image.Resampling.BOX), dtype=float)
    return float(np.abs(x - y).mean())


@pytest.mark.parametrize("name", PHOTOS)
def test_the_thumbhash_decodes_to_a_blur_of_the_image(read_image: ReadImage, name: str) -> None:
    im = rendition(read_image, name)
    hint = compute_placeholder(im)
    blur = decoded(hint.thumbhash)

    # Same orientation and nearly the same aspect ratio.
    assert (blur.width > blur.height) == (im.width > im.height)
    assert abs(blur.width / blur.height - im.width / im.height) < 0.25
    # Near the image it stands for, and far nearer it than the other photos' placeholders.
    own = mean_abs_diff(blur, im)
    assert own < 30
    for other in PHOTOS:
        if other != name:
            assert own < mean_abs_diff(
                decoded(compute_placeholder(rendition(read_image, other)).thumbhash), im
            )


@pytest.mark.parametrize("name", PHOTOS)
def test_the_fast_encoder_agrees_with_the_reference_encoder(
    read_image: ReadImage, name: str
) -> None:
    im = rendition(read_image, name)
    small = im.convert("RGBA").copy()
    small.thumbnail((100, 100))  # the reference's own input limit
    ours = placeholder.thumbhash(placeholder._small_rgba(im))
    theirs = bytes(reference.rgba_to_thumb_hash(small.width, small.height, list(small.tobytes())))
    assert len(ours) == len(theirs)
    assert ours[3] & 7 == theirs[3] & 7  # the aspect ratio's term count
    # Every 4-bit AC term within two quantisation steps of the reference's.
    for a, b in zip(ours[5:], theirs[5:], strict=True):
        assert abs((a & 15) - (b & 15)) <= 2 and abs((a >> 4) - (b >> 4)) <= 2


def test_transparency_is_encoded_and_decoded_back(read_image: ReadImage) -> None:
    hint = compute_placeholder(rendition(read_image, "full-transparent.png"))
    blur = decoded(hint.thumbhash)
    assert np.asarray(blur.getchannel("A")).max() < 16
    assert hint.dominant_color is None  # nothing visible

    im = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    im.paste((20, 200, 40, 255), (0, 0, 100, 100))  # the left half green, the right transparent
    blur = decoded(compute_placeholder(im).thumbhash)
    alpha = np.asarray(blur.getchannel("A"), dtype=int)
    left, right = alpha[:, : blur.width // 4].mean(), alpha[:, -blur.width // 4 :].mean()
    assert left > 200 and right < 60
    assert compute_placeholder(im).dominant_color == "#14c828"


@pytest.mark.parametrize(
    ("colour", "mode"), [((200, 30, 30), "RGB"), ((90, 90, 90), "L"), ((10, 20, 250), "RGB")]
)
def test_the_dominant_colour_is_the_most_common_visible_one(
    colour: tuple[int, int, int], mode: str
) -> None:
    im = Image.new("RGB", (200, 150), colour)
    im.paste((255, 255, 255), (0, 0, 60, 150))  # 30% white, 70% the colour
    im = im.convert(mode) if mode == "L" else im
    assert compute_placeholder(im).dominant_color == "#{:02x}{:02x}{:02x}".format(*colour)


def test_grey_with_alpha_is_encoded_as_its_rgba() -> None:
    im = Image.new("LA", (200, 100), (0, 0))
    im.paste((120, 255), (0, 0, 100, 100))  # the left half grey, the right transparent
    hint = compute_placeholder(im)
    assert hint == compute_placeholder(im.convert("RGBA"))
    assert hint.dominant_color == "#787878"
