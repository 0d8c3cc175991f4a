"""The classes of hostile or large input judged under a real memory limit, and their generators.

python -m tests.unit.imaging.memory_classes DIR [--classes heif-items,icc,...]

writes each class's inputs into DIR with a ``manifest.json`` that ``bench.memory_classes`` reads
(``python -m bench.memory_classes`` runs this first). Nothing here is committed as a binary: each
input is built from Pillow's encoders, ``hostile_images``' structures and ``devstack.samples``'
generated photos. ``tests/unit/imaging/test_memory_classes.py`` runs them from the S3 download on
under a cgroup of each memory size and judges each peak against the size less
``bench.memory_classes.MARGIN_MB``.

Each input says what becomes of it at 128 and 256 MB: ``ok`` (thumbnailed), a rejection
(``rejected:too-large``; never ``rejected:corrupt`` for a large ICC profile: it is honoured or
dropped), or ``config-refused`` (its RENDITIONS are refused at cold start at that size).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image

from tests.unit.imaging import hostile_images as hostile

MB: Final = 2**20
TOO_LARGE: Final = "rejected:too-large"


@dataclass(frozen=True)
class ClassInput:
    klass: str
    name: str
    build: Callable[[], bytes]
    expect: tuple[str, str]  # at 128 MB, at 256 MB
    renditions: str = "200:auto"


# --- generators the hostile images do not have -------------------------------------------------


def noise(size: tuple[int, int], seed: int) -> Image.Image:
    """Incompressible pixels: encoders keep every byte of them."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def _riff_chunks(data: bytes, pos: int, end: int) -> list[tuple[bytes, bytes]]:
    found = []
    while pos + 8 <= end:
        fourcc, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        whole = 8 + size + (size & 1)
        found.append((fourcc, data[pos : pos + whole]))
        pos += whole
    return found


def animated_webp(total: int, size: tuple[int, int] = (1920, 1080)) -> bytes:
    """A lossy animated WebP of about ``total`` bytes: two encoded frames of noise, the second's
    ANMF chunk repeated (each frame decodes on its own, so the file stays valid)."""
    frames = [noise(size, 1), noise(size, 2)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "WEBP", save_all=True, append_images=frames[1:], quality=90, method=0, duration=40
    )
    data = buffer.getvalue()
    chunks = _riff_chunks(data, 12, len(data))
    frame = [whole for fourcc, whole in chunks if fourcc == b"ANMF"][-1]
    body = b"".join(whole for _, whole in chunks)
    body += frame * max(0, (total - len(data)) // len(frame))
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def with_icc(format_: str, size: tuple[int, int], icc: bytes, **options: object) -> bytes:
    """A small image of ``format_`` carrying ``icc`` as its encoder writes it (JPEG: an APP2
    chain; TIFF: tag 34675; AVIF: a colr box of type prof)."""
    return hostile.encoded(hostile.gradient(size), format_, icc_profile=icc, **options)


def heic_with_icc(size: tuple[int, int], icc: bytes) -> bytes:
    """A HEIC whose colr box is a ``prof`` of ``icc`` (pillow-heif's own API)."""
    import pillow_heif

    buffer = io.BytesIO()
    image = hostile.gradient(size)
    image.info["icc_profile"] = icc
    pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=50)
    return buffer.getvalue()


def near_cap_png(total: int) -> bytes:
    """A small PNG padded to ``total`` bytes by a private ancillary chunk Pillow keeps."""
    small = hostile.png((64, 64))
    pad = total - len(small) - 12
    chunk = hostile.png_chunk(b"prVt", bytes(pad))
    return small[:-12] + chunk + small[-12:]


def near_cap_jpeg(total: int) -> bytes:
    """A baseline JPEG whose scan data is padded to ``total`` bytes (restart-free stuffing)."""
    small = hostile.jpeg((64, 64), progressive=False)
    pad = total - len(small)
    return small[:-2] + bytes(pad) + small[-2:]


def sample(name: str) -> Callable[[], bytes]:
    def load() -> bytes:
        from devstack import samples

        return samples.load(name)

    return load


# --- the classes ---------------------------------------------------------------------------------

CLASSES: Final[dict[str, list[ClassInput]]] = {
    # 1. HEIF metadata items pointing at one large extent: libheif and pillow-heif copy each.
    "heif-items": [
        ClassInput(
            "heif-items", "heic-60-exif-items-over-one-8mb-region.heic",
            lambda: hostile.heif_with_metadata_items(60, 8 * MB), (TOO_LARGE, TOO_LARGE),
        ),
        ClassInput(
            "heif-items", "heic-900-xmp-items-over-one-4mb-region.heic",
            lambda: hostile.heif_with_metadata_items(900, 4 * MB, b"mime"),
            (TOO_LARGE, TOO_LARGE),
        ),
        ClassInput(
            "heif-items", "heic-4-exif-items-over-one-8mb-region.heic",
            lambda: hostile.heif_with_metadata_items(4, 8 * MB), (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "heif-items", "heic-xmp-of-2mb.heic",
            lambda: hostile.heif_with_metadata_items(1, 2 * MB, b"mime"), ("ok", "ok"),
        ),
    ],
    # 2. Large ICC profiles in every container that carries one: honoured up to MAX_ICC_BYTES,
    # dropped past it, refused only as too large for the memory, never as corrupt. At 128 MB a
    # file that is mostly a 16 MB or larger profile is over the decode budget (the decoders copy
    # the profile out of the file before it can be dropped).
    "icc": [
        ClassInput(
            "icc", "jpeg-app2-chain-3mb-icc.jpg",
            lambda: with_icc("JPEG", (1600, 1200), hostile.icc_profile(3 * MB)), ("ok", "ok"),
        ),
        ClassInput(
            "icc", "jpeg-app2-chain-16mb-icc.jpg",
            lambda: with_icc("JPEG", (1600, 1200), hostile.icc_profile(16 * MB - 4096)),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "icc", "png-iccp-40mb-icc.png",
            lambda: hostile.png_with_icc((640, 480), hostile.icc_profile(40 * MB), depth=8),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            # libvips holds a WebP's metadata chunks four times over: 200 MB for this one
            "icc", "webp-iccp-40mb-icc.webp",
            lambda: hostile.webp_with_icc((640, 480), hostile.icc_profile(40 * MB)),
            (TOO_LARGE, TOO_LARGE),
        ),
        ClassInput(
            "icc", "webp-lossless-iccp-20mb-icc.webp",
            lambda: hostile.webp_with_icc((640, 480), hostile.icc_profile(20 * MB), lossless=True),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "icc", "tiff-16mb-icc.tif",
            lambda: with_icc("TIFF", (640, 480), hostile.icc_profile(16 * MB), compression="raw"),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "icc", "avif-colr-16mb-icc.avif",
            lambda: with_icc("AVIF", (640, 480), hostile.icc_profile(16 * MB), quality=50),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "icc", "heic-colr-16mb-icc.heic",
            lambda: heic_with_icc((640, 480), hostile.icc_profile(16 * MB)), (TOO_LARGE, "ok"),
        ),
    ],
    # 3. Inputs near the input cap at 128 MB (44 MB there): refused, the download held once.
    "near-cap": [
        ClassInput(
            "near-cap", "png-40mb-private-chunk.png", lambda: near_cap_png(40 * MB),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "near-cap", "png-44mb-private-chunk.png", lambda: near_cap_png(44 * MB - 4096),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "near-cap", "jpeg-44mb-of-scan-data.jpg", lambda: near_cap_jpeg(44 * MB - 4096),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "near-cap", "png-45mb-private-chunk.png", lambda: near_cap_png(45 * MB),
            (TOO_LARGE, "ok"),
        ),
    ],
    # 4. A 32 MB animated WebP (Pillow's animation decoder copies the file while opening).
    "animated-webp": [
        ClassInput(
            "animated-webp", "webp-animated-32mb-1920x1080.webp",
            lambda: animated_webp(32 * MB), (TOO_LARGE, TOO_LARGE),
        ),
    ],
    # 5. A legitimate 16-bit PNG with a 2 MB profile: thumbnailed.
    "png16-icc": [
        ClassInput(
            "png16-icc", "png-16-bit-2000x1500-2mb-icc.png",
            lambda: hostile.png_with_icc((2000, 1500), hostile.icc_profile(2 * MB)),
            ("ok", "ok"),
        ),
    ],
    # 6. Large photos: 48 MP, progressive (a 24 MP one's coefficient buffers, 72 MB, are over
    # the decode budget at 128 MB), and a 1600 px AVIF rendition of 24 MP (refused at cold start
    # at 128 MB: its encoder alone would take the decode budget).
    "photos": [
        ClassInput("photos", "photo-48mp.jpg", sample("photo-48mp"), ("ok", "ok")),
        ClassInput(
            "photos", "photo-12mp-progressive.jpg", sample("photo-12mp-progressive"), ("ok", "ok")
        ),
        ClassInput(
            "photos", "photo-24mp-progressive.jpg", sample("photo-24mp-progressive-heldout"),
            (TOO_LARGE, "ok"),
        ),
        ClassInput(
            "photos", "photo-24mp-progressive-1024px.jpg",
            sample("photo-24mp-progressive-heldout"), (TOO_LARGE, "ok"), "1024:jpeg",
        ),
        ClassInput(
            "photos", "photo-24mp-1600px-avif.jpg", sample("photo-24mp"),
            ("config-refused", "ok"), "1600:avif",
        ),
    ],
}  # fmt: skip


def inputs(classes: Sequence[str] = ()) -> list[ClassInput]:
    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise SystemExit(f"unknown classes: {', '.join(sorted(unknown))}")
    return [item for name in classes or CLASSES for item in CLASSES[name]]


def write(folder: Path, chosen: Sequence[ClassInput]) -> None:
    """Each input's file in ``folder``, and the manifest bench.memory_classes reads."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for item in chosen:
        (folder / item.name).write_bytes(item.build())
        manifest.append(
            {
                "klass": item.klass,
                "name": item.name,
                "path": item.name,
                "renditions": item.renditions,
                "expect": {"128": item.expect[0], "256": item.expect[1]},
            }
        )
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--classes", default="", help="comma-separated (default: every class)")
    args = parser.parse_args()
    write(args.folder, inputs([c for c in args.classes.split(",") if c]))


if __name__ == "__main__":
    main()
