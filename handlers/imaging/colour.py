"""Colour and alpha: embedded profiles (ICC, CMYK, HEIF nclx through handlers.imaging.nclx) to
sRGB with LittleCMS, and alpha channels that are really there."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Final

from PIL import Image

if TYPE_CHECKING:
    from PIL.ImageCms import ImageCmsTransform


# Transforms kept between invocations, by the profile's digest (never the profile's bytes): camera
# photos share a handful of small profiles, and building a transform costs more than applying it
# to a thumbnail. A large profile is built each time, so the cache stays small at 128 MB.
_CACHED_PROFILE_BYTES: Final = 64 * 1024
_CACHED_TRANSFORMS: Final = 8
_transforms: dict[bytes, ImageCmsTransform | None] = {}


def _srgb_transform(icc: bytes) -> ImageCmsTransform | None:
    """The profile-to-sRGB transform, or None for an unusable profile."""
    if len(icc) > _CACHED_PROFILE_BYTES:
        return _build_transform(icc)
    digest = hashlib.sha256(icc).digest()
    if digest not in _transforms:
        if len(_transforms) >= _CACHED_TRANSFORMS:
            _transforms.pop(next(iter(_transforms)))  # the oldest
        _transforms[digest] = _build_transform(icc)
    return _transforms[digest]


def _build_transform(icc: bytes) -> ImageCmsTransform | None:
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        in_mode = "CMYK" if source.profile.xcolor_space.strip() == "CMYK" else "RGB"
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.buildTransform(source, srgb, in_mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # unusable profile


def to_srgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert to sRGB with the embedded profile. Returns the image and the profile to embed."""
    if im.mode in ("L", "LA"):
        return im, icc  # grey profiles are small and converting grey to RGB triples the bytes
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    colour = im.convert("RGB") if alpha is not None else im
    transform = _applicable(im.mode, icc)
    # Untagged (or unusably tagged) pixels are taken as sRGB already; untagged CMYK gets the
    # device conversion browsers apply to untagged CMYK JPEGs.
    converted = transform.apply(colour) if transform is not None else colour.convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, None


def _applicable(mode: str, icc: bytes | None) -> ImageCmsTransform | None:
    """The transform ``to_srgb`` applies to an image of ``mode`` (RGBA: its colour, RGB), or None
    for no profile, one lcms cannot read, or one for another colour space (a CMYK profile on RGB
    pixels)."""
    transform = _srgb_transform(icc) if icc else None
    if transform is None or transform.input_mode != ("RGB" if mode == "RGBA" else mode):
        return None
    return transform


def ignored(mode: str, icc: bytes | None) -> bool:
    """True when ``to_srgb`` would not apply ``icc`` to an image of ``mode`` (not grey, which
    keeps its profile): the pixels are then taken as sRGB."""
    return bool(icc) and mode not in ("L", "LA") and _applicable(mode, icc) is None


def has_transparency(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() != (255, 255)


def drop_opaque_alpha(im: Image.Image) -> Image.Image:
    """``im`` without its alpha channel when every pixel is opaque."""
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() == (255, 255):
        return im.convert(im.mode[:-1])
    return im
