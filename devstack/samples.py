"""Deterministic, generated benchmark and quality-test images: nothing is downloaded.

Photo-like images have camera-like structure (smooth colour fields, textured mid-frequency detail
and per-pixel sensor noise), so their file sizes and decode costs are realistic; screenshots have
flat UI areas and lots of small text. Each image is built once and cached on disk by its spec.

Held out (``Spec.held_out``): images the tuned pipeline must not be tuned on, so that a figure on
them says whether the tuning generalises (progressive photos with other seeds than
``photo-12mp-progressive``). The other images, old and new, are the classes tuned for.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str  # "photo" (JPEG), "webp" or "heic" (the same kind of photo, so encoded), or
    # "screenshot" (PNG)
    width: int  # as stored: an EXIF-rotated photo is displayed the other way round
    height: int
    quality: int = 92
    progressive: bool = False
    seed: int = 1
    orientation: int = 1  # EXIF Orientation (6: rotate 90 degrees clockwise to display)
    alpha: bool = False  # a screenshot with transparency (a window and its shadow), RGBA
    held_out: bool = False  # not to be tuned on (module docstring)

    @property
    def suffix(self) -> str:
        return {"photo": ".jpg", "webp": ".webp", "heic": ".heic"}.get(self.kind, ".png")


# Fields added after the first images were generated: left out of the cache key at their
# defaults, so the existing images keep their file names (and bytes).
_LATER_FIELDS = {"orientation": 1, "alpha": False, "held_out": False}


SPECS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec("photo-12mp", "photo", 4000, 3000, seed=12),
        Spec("photo-24mp", "photo", 6000, 4000, seed=24),
        Spec("cat-2mb", "photo", 3024, 4032, quality=80, seed=7),
        Spec("photo-12mp-progressive", "photo", 4000, 3000, progressive=True, seed=12),
        Spec("screenshot-1440p", "screenshot", 2560, 1440, seed=3),
        Spec("screenshot-4k", "screenshot", 3840, 2160, seed=4),
        Spec("screenshot-small", "screenshot", 800, 600, seed=5),
        Spec("photo-48mp", "photo", 8000, 6000, seed=48),
        Spec(
            "photo-12mp-progressive-heldout",
            "photo",
            4000,
            3000,
            progressive=True,
            seed=112,
            held_out=True,
        ),
        Spec(
            "photo-24mp-progressive-heldout",
            "photo",
            6000,
            4000,
            progressive=True,
            seed=124,
            held_out=True,
        ),
        Spec("photo-12mp-webp", "webp", 4000, 3000, quality=85, seed=13),
        # A phone's portrait photo: stored landscape, EXIF orientation 6, shown 3024x4032.
        Spec("phone-portrait", "photo", 4032, 3024, quality=90, seed=6, orientation=6),
        Spec("screenshot-5k", "screenshot", 5120, 2880, seed=6),  # a 5K display, full screen
        Spec("screenshot-rgba", "screenshot", 2560, 1600, seed=8, alpha=True),
        # A phone's HEIC: 12 MP, 4:2:0, about 1.2 MB (photo's docstring: how it is encoded).
        Spec("photo-12mp-heic", "heic", 4032, 3024, quality=50, seed=14),
    )
}


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "thumbstat" / "images"
    return Path(os.environ.get("THUMBSTAT_IMAGE_CACHE", default))


def path_for(name: str) -> Path:
    """The cached file for ``name``, generated first if needed."""
    spec = SPECS[name]
    fields = {
        k: v for k, v in asdict(spec).items() if not (k in _LATER_FIELDS and _LATER_FIELDS[k] == v)
    }
    key = hashlib.sha256(repr((_GENERATOR_VERSION, fields)).encode()).hexdigest()[:12]
    path = cache_dir() / f"{spec.name}-{key}{spec.suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = screenshot(spec) if spec.kind == "screenshot" else photo(spec)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: parallel test workers never read half a file
    return path


def load(name: str) -> bytes:
    return path_for(name).read_bytes()


def _upscaled_noise(
    rng: np.random.Generator, grid: tuple[int, int], size: tuple[int, int], bands: int
) -> Image.Image:
    cells = rng.integers(0, 256, size=(grid[1], grid[0], bands), dtype=np.uint8)
    mode = "RGB" if bands == 3 else "L"
    return Image.fromarray(cells.squeeze() if bands == 1 else cells, mode).resize(
        size, Image.Resampling.BICUBIC
    )


def photo_pixels(spec: Spec) -> Image.Image:
    rng = np.random.default_rng(spec.seed)
    size = (spec.width, spec.height)
    base = np.asarray(_upscaled_noise(rng, (9, 7), size, 3), dtype=np.int16)
    texture = np.asarray(
        _upscaled_noise(rng, (spec.width // 6, spec.height // 6), size, 1), dtype=np.int16
    )
    pixels = base // 2 + 40 + (texture[..., None] - 128) // 3
    pixels += rng.integers(-6, 7, size=pixels.shape, dtype=np.int16)  # sensor noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def photo(spec: Spec) -> bytes:
    """The photo encoded as its spec says. HEIC: pillow-heif's libheif and x265 (its 4:2:0
    default), x265's ``ultrafast`` preset, so the 12 MP file takes seconds to make, not minutes;
    decoding is libde265's work whatever the preset, and the quality puts the file near a phone's
    (1-3 MB for 12 MP)."""
    buffer = io.BytesIO()
    if spec.kind == "heic":
        import pillow_heif

        heif = pillow_heif.from_pillow(photo_pixels(spec))
        heif.save(buffer, quality=spec.quality, enc_params={"preset": "ultrafast"})
        return buffer.getvalue()
    if spec.kind == "webp":
        photo_pixels(spec).save(buffer, "WEBP", quality=spec.quality)
        return buffer.getvalue()
    options: dict[str, object] = {}
    if spec.orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = spec.orientation  # Orientation
        options["exif"] = exif
    photo_pixels(spec).save(
        buffer, "JPEG", quality=spec.quality, progressive=spec.progressive, **options
    )
    return buffer.getvalue()


def screenshot(spec: Spec) -> bytes:
    im = screenshot_pixels(spec)
    if spec.alpha:
        im = _window_capture(im, np.random.default_rng(spec.seed + 1))
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


def _window_capture(window: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A window captured with its shadow, as a desktop's window screenshot is: the window's
    rounded rectangle opaque, a soft shadow around it, transparent beyond."""
    w, h = window.size
    margin = max(16, w // 40)
    inner = (w - 2 * margin, h - 2 * margin)
    shadow_alpha = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow_alpha).rounded_rectangle(
        (margin, margin + margin // 3, w - margin, h - margin + margin // 3), radius=14, fill=110
    )
    shadow_alpha = shadow_alpha.filter(ImageFilter.GaussianBlur(margin / 2.5))
    out = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    out.putalpha(shadow_alpha)
    mask = Image.new("L", inner, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, inner[0] - 1, inner[1] - 1), radius=14, fill=255)
    x, y = int(rng.integers(0, 4)), int(rng.integers(0, 4))  # content offset in the window
    content = window.crop((x, y, x + inner[0], y + inner[1])).convert("RGBA")
    out.paste(content, (margin, margin), mask)
    return out


def screenshot_pixels(spec: Spec) -> Image.Image:
    rng = np.random.default_rng(spec.seed)
    w, h = spec.width, spec.height
    im = Image.new("RGB", (w, h), (246, 247, 249))
    draw = ImageDraw.Draw(im)
    scale = h / 1080
    font = ImageFont.load_default(size=max(10, round(14 * scale)))
    bar = round(40 * scale)
    draw.rectangle((0, 0, w, bar), fill=(32, 34, 40))
    sidebar = w // 6
    draw.rectangle((0, bar, sidebar, h), fill=(236, 238, 242))
    line = round(22 * scale)
    words = [
        "thumbstat",
        "resize",
        "ingest",
        "lambda",
        "bucket",
        "reading",
        "42.5",
        "ok",
        "2026-11-21T13:22:22Z",
        "Shop_Thermostat",
        "image_metadata",
        "def",
        "return",
    ]
    for y in range(bar + line, h - line, line):
        draw.text((12, y), " ".join(rng.choice(words, 2)), fill=(60, 60, 70), font=font)
    for _ in range(12):  # panels, buttons and coloured charts
        x0 = int(rng.integers(sidebar, w - 200))
        y0 = int(rng.integers(bar, h - 120))
        colour = tuple(int(c) for c in rng.integers(40, 230, 3))
        draw.rounded_rectangle(
            (x0, y0, x0 + int(rng.integers(80, 400)), y0 + int(rng.integers(30, 200))),
            radius=8,
            fill=colour,
        )
    for y in range(bar + line, h - line, line):
        text = " ".join(rng.choice(words, int(rng.integers(4, 14))))
        draw.text((sidebar + 24, y), text, fill=(20, 20, 20), font=font)
    return im
