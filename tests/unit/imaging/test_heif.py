"""HEIC/HEIF input through pillow-heif: orientation once, ICC and nclx colour to sRGB, 10-bit,
and the pixel budget checked before decoding (a HEIC bomb).

The HEIC files are encoded here with pillow-heif's own libheif/x265 from the vendored photos
(the EXIF orientation set, MIT), the way phones write them: EXIF orientation kept *and* the
rotation stored as an irot transform, the camera's ICC profile or an nclx colour box.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms

from bench.methods import tuned
from handlers.imaging import ImageRejected, RejectReason, make_renditions, parse
from tests.conftest import IMAGES, ROOT
from tests.unit.imaging.test_thumbnail import peak_rss_added

ReadImage = Callable[[str], bytes]


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im.convert("RGB")


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255**2 / max(float(((x - y) ** 2).mean()), 1e-9)))


def heic(im: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "HEIF", quality=90, **options)
    return buffer.getvalue()


def test_heic_is_read_and_every_format_written(read_image: ReadImage) -> None:
    source = Image.open(io.BytesIO(read_image("Landscape_1.jpg")))
    data = heic(source.convert("RGB"))
    made = make_renditions(data, parse("200:jpeg,200:webp,400:avif,800:png"))
    assert made.source_format == "HEIF"
    assert (made.source_width, made.source_height) == (600, 450)
    reference = decode(tuned(read_image("Landscape_1.jpg")))
    assert psnr(decode(made.default.data), reference) > 30


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_is_applied_exactly_once(read_image: ReadImage, orientation: int) -> None:
    """pillow-heif writes the EXIF orientation as an irot transform and keeps the EXIF tag, as
    phones do: applying both would turn the picture twice."""
    stored = Image.open(io.BytesIO(read_image(f"Landscape_{orientation}.jpg")))
    data = heic(stored.convert("RGB"), exif=stored.info["exif"])
    assert b"irot" in data  # the transform is in the file, and so is the EXIF tag
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(io.BytesIO(data)).info["exif"])
    assert exif[0x0112] == orientation
    upright = decode(tuned(read_image("Landscape_1.jpg")))

    rotated = decode(make_renditions(data).default.data)

    assert rotated.size == upright.size  # landscape, like orientation 1
    assert psnr(rotated, upright) > 20


def test_an_icc_profile_is_converted_to_srgb(read_image: ReadImage) -> None:
    p3 = Image.open(io.BytesIO(read_image("p3.png")))
    profile = p3.info["icc_profile"]
    photo = Image.open(io.BytesIO(read_image("Landscape_1.jpg"))).convert("RGB")
    data = heic(photo, icc_profile=profile)
    expected = ImageCms.profileToProfile(
        photo, io.BytesIO(profile), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert expected is not None
    expected = expected.resize((200, 150), Image.Resampling.LANCZOS)

    thumb = decode(make_renditions(data, parse("200:png")).default.data)

    assert psnr(thumb, expected) > 33
    assert psnr(thumb, expected) > psnr(thumb, photo.resize((200, 150))) + 3


def test_an_nclx_display_p3_box_is_converted_to_srgb(read_image: ReadImage) -> None:
    photo = Image.open(io.BytesIO(read_image("Landscape_1.jpg"))).convert("RGB")
    data = heic(photo, color_primaries=12, transfer_characteristics=13, matrix_coefficients=6)
    assert b"nclx" in data
    p3_profile = Image.open(io.BytesIO(read_image("p3.png"))).info["icc_profile"]  # Display P3
    expected = ImageCms.profileToProfile(
        photo, io.BytesIO(p3_profile), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert expected is not None
    expected = expected.resize((200, 150), Image.Resampling.LANCZOS)

    thumb = decode(make_renditions(data, parse("200:png")).default.data)

    assert psnr(thumb, expected) > 33
    assert psnr(thumb, expected) > psnr(thumb, photo.resize((200, 150))) + 3


def test_ten_bit_heic_gives_the_right_8_bit_colours(read_image: ReadImage) -> None:
    photo = Image.open(io.BytesIO(read_image("Landscape_1.jpg"))).convert("RGB")
    wide = np.asarray(photo).astype(np.uint16) * 257  # 16-bit samples, saved as 10-bit
    heif = pillow_heif.from_bytes(mode="RGB;16", size=photo.size, data=wide.tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, quality=90)
    assert (
        pillow_heif.open_heif(io.BytesIO(buffer.getvalue()), convert_hdr_to_8bit=False).info[
            "bit_depth"
        ]
        == 10
    )

    thumb = decode(make_renditions(buffer.getvalue(), parse("200:png")).default.data)

    assert psnr(thumb, photo.resize((200, 150), Image.Resampling.LANCZOS)) > 30


def heic_bomb(read_image: ReadImage) -> bytes:
    """A small HEIC whose header claims 30000x30000 (900 megapixels)."""
    tile = Image.open(io.BytesIO(read_image("Landscape_1.jpg"))).convert("RGB").resize((128, 64))
    data = bytearray(heic(tile))
    at = data.index(b"ispe")  # the image's spatial extents: version+flags, width, height
    data[at + 8 : at + 16] = struct.pack(">II", 30000, 30000)
    return bytes(data)


def test_a_heic_bomb_is_rejected_before_decoding(read_image: ReadImage, tmp_path: Path) -> None:
    data = heic_bomb(read_image)
    with pytest.raises(ImageRejected) as caught:
        make_renditions(data)
    assert caught.value.reason is RejectReason.TOO_LARGE
    assert "30000x30000 HEIF" in caught.value.detail

    path = tmp_path / "bomb.heic"
    path.write_bytes(data)
    # Warmed on a real HEIC, so the plugins' first load is not counted as the bomb's.
    warm_up = tmp_path / "small.heic"
    warm_up.write_bytes(heic(Image.new("RGB", (64, 48), (10, 120, 200))))
    measured = peak_rss_added(path, warm_up)
    assert measured["outcome"] == "too-large"
    assert isinstance(measured["added_mb"], float) and measured["added_mb"] < 2


def test_the_heif_and_avif_plugins_load_with_the_first_isobmff_file(tmp_path: Path) -> None:
    """libheif and libavif (56 ms and 10.6 MB measured) stay out of a function that has seen
    only JPEGs; the first HEIC loads them and is read."""
    path = tmp_path / "photo.heic"
    path.write_bytes(heic(Image.new("RGB", (64, 48), (200, 30, 30))))
    script = f"""
import sys
from pathlib import Path
from handlers.imaging import make_renditions
lazy = ("pillow_heif", "PIL.AvifImagePlugin")
make_renditions(Path({str(IMAGES / "Landscape_1.jpg")!r}).read_bytes())
print([m for m in lazy if m in sys.modules])
made = make_renditions(Path({str(path)!r}).read_bytes())
print([m for m in lazy if m in sys.modules], made.source_format)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.splitlines()
    assert out == ["[]", "['pillow_heif', 'PIL.AvifImagePlugin'] HEIF"]
