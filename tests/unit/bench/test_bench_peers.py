"""The benchmark peers in worker processes (bench/peers): sharp and the original's Rust thumbnailer.

Each runs on real images where its tools are here, and is skipped with the reason (what to
install) where they are not. The worker protocol's failures are checked with stand-in workers.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bench import methods
from bench.peers import PEERS, Peer, PeerUnavailable, WorkerDied, WorkerError, build
from bench.peers.protocol import Worker
from devstack import samples
from handlers.imaging import fit_within

ROOT = Path(__file__).resolve().parents[3]
METHODS = {"sharp": methods.sharp, "rust-image": methods.rust_image}  # as bench.methods registers

# name -> where it comes from: a JPEG photo, a greyscale JPEG, an RGBA PNG, a generated screenshot
IMAGES = {
    "flowers.jpeg": "fixture",
    "concert.jpg": "fixture",
    "with-alpha.png": "fixture",
    "screenshot-small": "samples",
}


def peer_or_skip(name: str) -> Peer:
    reason = methods.unavailable(name)
    if reason is not None:
        pytest.skip(reason)
    return PEERS[name]


@pytest.fixture
def image_bytes(read_image: Callable[[str], bytes]) -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return samples.load(name) if IMAGES[name] == "samples" else read_image(name)

    return read


@pytest.mark.slow  # the first run builds the Rust binary (about 30 s on 2 cores); then a no-op
def test_rust_image_builds_offline_against_debians_crates() -> None:
    peer_or_skip("rust-image")
    (binary,) = build.rust_command()
    assert Path(binary).is_file()
    version = build.image_crate_version()
    assert version is not None and version.startswith("0.24.")


@pytest.mark.parametrize("max_size", [200, 1024])
@pytest.mark.parametrize("image", list(IMAGES))
@pytest.mark.parametrize("name", list(PEERS))
def test_peer_makes_a_jpeg_of_the_fitted_size(
    image_bytes: Callable[[str], bytes], name: str, image: str, max_size: int
) -> None:
    peer = peer_or_skip(name)
    data = image_bytes(image)
    source = Image.open(io.BytesIO(data)).size

    out = METHODS[name](data, max_size)

    thumbnail = Image.open(io.BytesIO(out))
    assert thumbnail.format == "JPEG"
    thumbnail.load()  # decodes whole
    assert thumbnail.size == fit_within(source, max_size)  # never enlarged either
    assert peer.last_cpu_s is not None and 0 < peer.last_cpu_s < 5


def test_sharp_applies_the_exif_orientation(read_image: Callable[[str], bytes]) -> None:
    peer_or_skip("sharp")
    data = read_image("Landscape_6.jpg")  # stored 450x600, shown 600x450
    assert Image.open(io.BytesIO(methods.sharp(data, 200))).size == (200, 150)


@pytest.mark.parametrize("name", list(PEERS))
def test_the_round_trip_alone_is_measured_and_small(name: str) -> None:
    overhead_s = peer_or_skip(name).ipc_overhead_s(rounds=50)
    assert 0 < overhead_s < 0.005


@pytest.mark.parametrize("name", list(PEERS))
def test_a_request_the_worker_cannot_serve_is_an_error_and_it_lives_on(name: str) -> None:
    worker = peer_or_skip(name).worker()
    worker.load(b"not an image")
    with pytest.raises(WorkerError, match=rf"^{name} worker: "):
        worker.run(200)
    with pytest.raises(WorkerError, match="bad request"):
        worker.request("resize 200")
    assert worker.alive()
    worker.noop()


def test_peak_memory_of_a_worker_method_is_the_workers() -> None:
    """The Rust binary's own peak is a few MB; this interpreter's would be 50 or more."""
    peer_or_skip("rust-image")
    build.rust_command()  # built here, not in the subprocess
    result = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", "rust-image", "screenshot-small"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    measured = json.loads(result.stdout)
    assert 0 < measured["max_rss_mb"] < 30


# The protocol's failures, with stand-in workers: a Python one-liner is enough.


def stand_in(name: str, script: str) -> Worker:
    return Worker(name, [sys.executable, "-c", script])


def test_a_worker_that_dies_is_a_clear_error() -> None:
    script = "import sys; sys.stdin.readline(); sys.stderr.write('decoder exploded'); sys.exit(3)"
    worker = stand_in("fake", script)
    with pytest.raises(WorkerDied) as died:
        worker.noop()
    message = str(died.value)
    assert f"the fake worker (pid {worker.pid}) died before answering 'noop'" in message
    assert "exit status 3" in message
    assert message.endswith("decoder exploded")
    with pytest.raises(WorkerDied, match="while sending 'run'"):
        worker.run(200)  # its pipe is closed now
    worker.close()


def test_a_worker_killed_mid_reply_is_a_clear_error() -> None:
    script = (
        "import os, signal, sys; sys.stdin.readline()\n"
        "sys.stdout.write('ok 10 1000\\nabc'); sys.stdout.flush()\n"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    worker = stand_in("fake", script)
    with pytest.raises(WorkerDied, match="died 3 bytes into a 1000-byte reply: killed by signal 9"):
        worker.run(200)
    worker.close()


def test_a_malformed_reply_is_a_clear_error() -> None:
    worker = stand_in("fake", "import sys; sys.stdin.readline(); print('hello there')")
    with pytest.raises(WorkerDied, match="after a malformed reply b'hello there"):
        worker.noop()
    worker.close()


def test_a_peer_starts_a_fresh_worker_after_a_death(tmp_path: Path) -> None:
    count = tmp_path / "started"
    script = (
        "import sys\n"
        f"open({str(count)!r}, 'a').write('x')\n"
        "for line in sys.stdin:\n"
        "    if line.startswith('load'):\n"
        "        sys.stdin.read(int(line.split()[1]))\n"
        "        sys.stdout.write('ok 0 0\\n'); sys.stdout.flush()\n"
        "    elif line.startswith('run'):\n"
        "        sys.exit(1)\n"
    )
    peer = Peer("fake", lambda: None, lambda: [sys.executable, "-c", script])
    for _ in range(2):
        with pytest.raises(WorkerDied, match="exit status 1"):
            peer.thumbnail(b"image", 200)
    assert count.read_text() == "xx"
    peer.close()


def test_a_peer_whose_tool_is_missing_says_what_to_install() -> None:
    peer = Peer("fake", lambda: "fake needs a tool: apt-get install tool", lambda: ["false"])
    with pytest.raises(PeerUnavailable, match="apt-get install tool"):
        peer.thumbnail(b"image", 200)


# The reasons the benchmarks print when they skip a peer.


def test_without_cargo_rust_image_is_skipped_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    reason = methods.unavailable("rust-image")
    assert reason is not None
    assert "apt-get install cargo librust-image-dev" in reason


def test_without_debians_image_crate_rust_image_is_skipped_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(build, "DEBIAN_REGISTRY", tmp_path)
    reason = methods.unavailable("rust-image")
    assert reason is not None
    assert reason.endswith("apt-get install librust-image-dev")


def test_without_node_sharp_is_skipped_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(build, "node_version", lambda: None)
    assert methods.unavailable("sharp") == (
        "sharp needs Node.js 20.9 or later on PATH (apt-get install nodejs)"
    )
    monkeypatch.setattr(build, "node_version", lambda: (18, 19, 0))
    assert "this is Node.js 18.19.0" in (methods.unavailable("sharp") or "")


def test_python_methods_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(methods, "_available", lambda module: False)
    assert methods.unavailable("pyvips") == "pyvips needs pyvips: pip install -e '.[bench]'"
    assert not methods.available("floor")
    assert methods.available("tuned")
