"""Where each rendition of an upload goes in the bucket.

``THUMBNAIL_PREFIX + FOLDER + "/" + <the source key below SOURCE_PREFIX> + "." + EXT``, e.g.
``uploads/holiday/beach.jpg`` -> ``thumbnails/200/holiday/beach.jpg.webp``. FOLDER is the spec's
size folder (``RenditionSpec.folder``): the longer side, ``200``, or a box, ``400x400``
(``thumbnails/400x400/holiday/beach.jpg.webp``). The source's own name
is kept whole, extension included, so ``x.png`` and ``x.jpg`` never share a thumbnail; the size
folder and the fixed extension are taken off unambiguously, so two source keys (or two
renditions of one) never map to the same key. A key over S3's 1,024 UTF-8 bytes is not
shortened: ``rendition_key`` raises KeyTooLong and the upload is rejected with that reason.
"""

from __future__ import annotations

from typing import Final

from handlers.imaging.renditions import EXTENSION

MAX_KEY_BYTES: Final = 1024  # S3's limit on a key, in UTF-8 bytes


class KeyTooLong(ValueError):
    """A rendition key would be longer than S3 allows."""

    def __init__(self, key: str) -> None:
        size = len(key.encode())
        super().__init__(
            f"the rendition key would be {size:,} UTF-8 bytes, over S3's limit of "
            f"{MAX_KEY_BYTES:,}: {key[:80]}..."
        )
        self.key = key


def rendition_key(
    source_key: str,
    source_prefix: str,
    thumbnail_prefix: str,
    folder: str | int,
    pillow_format: str,
) -> str:
    """The key of one rendition (see the module docstring); ``folder`` is its size folder, a
    size (``200``) or a box (``"400x400"``). Raises KeyTooLong."""
    below = source_key[len(source_prefix) :] if source_key.startswith(source_prefix) else source_key
    key = f"{thumbnail_prefix}{folder}/{below}.{EXTENSION[pillow_format]}"
    if len(key.encode()) > MAX_KEY_BYTES:
        raise KeyTooLong(key)
    return key
