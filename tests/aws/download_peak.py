"""Download one object as the resize function does and print the peak RSS it added, in MB.

python -m tests.aws.download_peak BUCKET KEY ETAG SIZE   (AWS_ENDPOINT_URL and keys from the env)
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

from bench.peak_rss import max_rss_mb
from handlers.common import aws
from handlers.imaging import OutputFormat, RenditionSpec
from handlers.index import objects
from handlers.index.events import ObjectCreated


def main(bucket: str, key: str, etag: str, size: str) -> None:
    aws.s3().list_buckets()  # the client and its connection made before the peak is reset
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    before = max_rss_mb()
    obj = ObjectCreated(bucket, key, size=int(size), etag=etag, sequencer="1")
    downloaded = objects.download(obj, (RenditionSpec(200, OutputFormat.AUTO),))
    assert downloaded is not None and len(downloaded.data) == int(size)
    sys.stdout.write(f"{max_rss_mb() - before:.1f}\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
