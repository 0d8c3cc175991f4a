"""Colour and alpha: embedded profiles (ICC, CMYK, HEIF nclx through handlers.imaging.nclx) to
sRGB with LittleCMS, and alpha channels that are really there."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from PIL.ImageCms import ImageCmsTransform


@lru_cache(maxsize=8)
def _srgb_transform(icc: bytes) -> ImageCmsTransform | None:
    """The profile-to-sRGB transform, cached: camera photos share a handful of profiles and
    building a transform costs more than applying it to a thumbnail."""
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
    transform = _srgb_transform(icc) if icc else None
    if transform is not None and transform.input_mode == colour.mode:
        converted = transform.apply(colour)
    else:
        # Untagged (or unusably tagged) pixels are taken as sRGB already; untagged CMYK gets the
        # device conversion browsers apply to untagged CMYK JPEGs.
        converted = colour.convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, None


def has_transparency(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() != (255, 255)


def drop_opaque_alpha(im: Image.Image) -> Image.Image:
    """``im`` without its alpha channel when every pixel is opaque."""
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() == (255, 255):
        return im.convert(im.mode[:-1])
    return im
