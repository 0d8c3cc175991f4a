"""What each decoder will allocate, read from the file's own structure before Pillow opens it.

Checking the pixel budget on the decoded size, after ``Image.open``, would miss what the decoders
allocate beside the decoded image, some of it while opening: a progressive JPEG's coefficient
buffers, a GIF frame larger than its canvas, WebP's animation canvases, AVIF's YUV planes, a
TIFF tile of any declared size, Python-level loops over chunks, markers and run-length codes.
Each module here holds one format's reading of that (``jpeg``, ``png``, ``gif``, ``webp``,
``tiff``, ``bmp``, ``isobmff`` for AVIF and HEIF, with ``av1`` for AV1's sequence header);
``check`` holds what they share and the check itself.

Each readable format has an estimator (``ESTIMATORS``, keyed by Pillow's format name) that walks
the headers (markers, chunks, boxes, tags; never a pixel) and answers an ``Estimate``. ``check``
adds the pipeline's working copies for that mode and refuses, as ``too-large``, what would not
fit the budget or would take more than ``MAX_CPU_SECONDS``. Where a structure can be read two
ways the estimators take the larger reading: an estimate may refuse a file its decoder would have
managed, never the reverse. The costs were measured with Pillow 13 on x86-64;
tests/unit/imaging/test_hostile_input.py holds files sized to each limit against the memory sizes.

Adding a format (say JPEG XL) means registering ``ESTIMATORS["JXL"]`` below: ``check`` refuses a
readable format it has no estimator for.
"""

from handlers.imaging.budget import bmp, gif, isobmff, jpeg, png, tiff, webp
from handlers.imaging.budget.check import (
    ESTIMATORS,
    MAX_CPU_SECONDS,
    Estimate,
    Estimator,
    check,
    decoded_size,
    peak_bytes,
    refuse_degenerate,
    working_bytes,
)

__all__ = [
    "ESTIMATORS",
    "MAX_CPU_SECONDS",
    "Estimate",
    "Estimator",
    "check",
    "decoded_size",
    "peak_bytes",
    "refuse_degenerate",
    "working_bytes",
]

ESTIMATORS.update(
    {
        "JPEG": jpeg.estimate,
        "PNG": png.estimate,
        "GIF": gif.estimate,
        "WEBP": webp.estimate,
        "TIFF": tiff.estimate,
        "BMP": bmp.estimate,
        "AVIF": isobmff.estimate_avif,
        "HEIF": isobmff.estimate_heif,
    }
)
