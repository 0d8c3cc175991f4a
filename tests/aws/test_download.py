"""The download holds the object once: a large object read to its end is read again whole (one
more GET, pinned to the ETag of the first) rather than joined to the head already scanned."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from typing import Any

import boto3
import pytest

from handlers.imaging import OutputFormat, RenditionSpec
from handlers.index import objects
from handlers.index.events import ObjectCreated
from tests.aws.conftest import Bucket
from tests.conftest import ROOT

SPECS = (RenditionSpec(200, OutputFormat.AUTO),)


def _put(bucket: Bucket, key: str, data: bytes) -> ObjectCreated:
    etag = bucket.s3.put_object(Bucket=bucket.name, Key=key, Body=data)["ETag"].strip('"')
    return ObjectCreated(bucket.name, key, size=len(data), etag=etag, sequencer="1")


def _gets(bucket: Bucket) -> list[dict[str, Any]]:
    """Every GetObject request our client makes from now on."""
    from handlers.common import aws

    requests: list[dict[str, Any]] = []
    aws.s3().meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: requests.append(dict(params))
    )
    return requests


@pytest.mark.parametrize(
    ("size", "requests"),
    [(objects.REFETCH_FROM - 1, 1), (objects.REFETCH_FROM, 2)],
    ids=["under-the-size-joined", "at-the-size-read-again"],
)
def test_an_object_is_read_whole_again_from_the_refetch_size(
    bucket: Bucket, size: int, requests: int
) -> None:
    data = random.Random(size).randbytes(size)  # no image: the head scan gives up at once
    obj = _put(bucket, "uploads/blob.bin", data)
    made = _gets(bucket)

    downloaded = objects.download(obj, SPECS)

    assert downloaded is not None and downloaded.data == data and downloaded.size == size
    assert len(made) == requests
    assert all(request["IfMatch"].strip('"') == obj.etag for request in made)


def test_an_object_replaced_between_the_two_reads_is_not_read(bucket: Bucket) -> None:
    """The second read names the first's ETag: a newer version is left to its own event."""
    from handlers.common import aws

    obj = _put(bucket, "uploads/replaced.bin", bytes(objects.REFETCH_FROM))
    other = boto3.client("s3")

    def replace(**_: Any) -> None:
        aws.s3().meta.events.unregister("after-call.s3.GetObject", replace)
        other.put_object(Bucket=bucket.name, Key=obj.key, Body=b"a newer version")

    aws.s3().meta.events.register("after-call.s3.GetObject", replace)
    assert objects.download(obj, SPECS) is None


def test_a_40_mb_download_holds_the_object_once(bucket: Bucket) -> None:
    """Measured in a fresh interpreter (moto's server holds copies in this one)."""
    size = 40 * 2**20
    obj = _put(bucket, "uploads/large.bin", os.urandom(size))
    result = subprocess.run(
        [sys.executable, "-m", "tests.aws.download_peak", obj.bucket, obj.key, obj.etag, str(size)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    added_mb = float(result.stdout.split()[-1])
    # The object once (40 MB), plus the HTTP stack's buffers; joined to its head it took 81 MB.
    assert added_mb < 1.25 * size / 2**20, result.stdout
