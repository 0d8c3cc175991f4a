"""Build both images from their Dockerfiles with podman and run them through the Lambda Runtime API.

    python -m infra.image_check                  (make image-check: amd64, in CI)
    python -m infra.image_check --arch arm64     (make image-check-arm64: a smoke test, emulated)

No registry is reachable here, so the base image and the wheels are made locally, and the
Dockerfiles are built unchanged, as users build them:

- ``python:3.12-slim-bookworm`` is a stand-in: ``debootstrap --variant=minbase bookworm`` with
  the shared libraries CPython's modules need, this machine's own CPython 3.12 copied into
  /usr/local (arm64: Debian's python3, 3.11, as no arm64 3.12 is on the machine), pip, the
  ``python``/``pip`` links, the standard library precompiled. It is imported under the official
  name, so ``FROM python:3.12-slim-bookworm`` resolves locally (``--pull=never``).
- Wheels are downloaded on the host for the image's platform and handed to the build through a
  build-time ``/etc/pip.conf`` (``no-index``, ``find-links``) mounted with ``-v``.

Each image then runs under the project's own Runtime API (devstack/runtime.py) against
moto's server: an upload is thumbnailed and indexed, readings are stored and read back. The
checks: non-root, no compiler, Pillow only in resize, bytecode precompiled; reported: size and
cold start inside the container. Caches (base tarball, wheels) are keyed by their inputs.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from devstack.containers import ensure_podman_conf

ROOT: Final = Path(__file__).resolve().parent.parent
CACHE: Final = Path(
    os.environ.get(
        "THUMBSTAT_IMAGE_CHECK_CACHE", Path.home() / ".cache" / "thumbstat" / "image-check"
    )
)
BASE_IMAGE: Final = "docker.io/library/python:3.12-slim-bookworm"
MIRROR: Final = "http://deb.debian.org/debian"
# The shared libraries CPython's extension modules load (ssl, sqlite3, ctypes, lzma, ...).
BASE_PACKAGES: Final = (
    "libssl3",
    "libsqlite3-0",
    "libffi8",
    "liblzma5",
    "libbz2-1.0",
    "libuuid1",
    "libreadline8",
    "libncursesw6",
    "zlib1g",
    "libexpat1",
    "ca-certificates",
    "tzdata",
)
_RECIPE_VERSION: Final = 2  # bump when the base recipe changes


@dataclass(frozen=True)
class Arch:
    name: str  # amd64 or arm64
    debian: str
    wheel_platforms: tuple[str, ...]
    python_version: str  # of the stand-in base


ARCHES: Final = {
    "amd64": Arch(
        "amd64",
        "amd64",
        ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"),
        "3.12",
    ),
    "arm64": Arch(
        "arm64",
        "arm64",
        ("manylinux_2_28_aarch64", "manylinux2014_aarch64", "manylinux_2_17_aarch64"),
        "3.11",
    ),
}


class CheckFailed(Exception):
    pass


def run(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        raise CheckFailed(
            f"{' '.join(command[:4])} ... failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([_RECIPE_VERSION, *parts], default=str).encode()).hexdigest()[
        :12
    ]


# --- the stand-in base image ---------------------------------------------------------------
def _host_python_312() -> Path:
    found = sorted(glob.glob("/root/.pyenv/versions/3.12.*"))
    if not found:
        raise CheckFailed("no CPython 3.12 under /root/.pyenv/versions to put in the base")
    return Path(found[-1])


def _base_rootfs(arch: Arch, rootfs: Path) -> None:
    packages = list(BASE_PACKAGES)
    if arch.name == "arm64":
        packages += ["python3", "python3-pip", "python3-venv"]
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--arch={arch.debian}",
            f"--include={','.join(packages)}",
            "bookworm",
            str(rootfs),
            MIRROR,
        ],
        timeout=1800,
    )
    for junk in (
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
    ):
        shutil.rmtree(rootfs / junk, ignore_errors=True)
    local_bin = rootfs / "usr/local/bin"
    if arch.name == "amd64":
        source = _host_python_312()
        excluded = (
            "site-packages",
            "test",
            "idlelib",
            "tkinter",
            "turtledemo",
            "__pycache__",
            "*.a",
        )  # static libraries: the official image has none
        shutil.copytree(
            source,
            rootfs / "usr/local",
            dirs_exist_ok=True,
            symlinks=True,
            ignore=shutil.ignore_patterns(*excluded),
        )
        (rootfs / "usr/local/lib/python3.12/site-packages").mkdir(exist_ok=True)
        run(["chroot", str(rootfs), "/sbin/ldconfig"])
        run(
            ["chroot", str(rootfs), "/usr/local/bin/python3.12", "-m", "ensurepip", "--default-pip"]
        )
        for link, target in (
            ("python", "python3.12"),
            ("python3", "python3.12"),
            ("pip", "pip3.12"),
        ):
            (local_bin / link).unlink(missing_ok=True)
            (local_bin / link).symlink_to(target)
        python = "/usr/local/bin/python3.12"
    else:
        local_bin.mkdir(parents=True, exist_ok=True)
        for link, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
            (local_bin / link).symlink_to(target)
        # Debian marks its Python externally managed; the official image's pip is not.
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        python = "/usr/bin/python3"
    run(
        [
            "chroot",
            str(rootfs),
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "/usr/local/lib" if arch.name == "amd64" else "/usr/lib/python3.11",
        ],
        timeout=900,
    )
    run(
        [
            "chroot",
            str(rootfs),
            python,
            "-c",
            "import ssl, sqlite3, ctypes, lzma, bz2, uuid, zlib, pyexpat",
        ]
    )


def ensure_base(arch: Arch) -> str:
    """The stand-in base under the official name; returns its cache key."""
    key = _key(
        "base", arch, BASE_PACKAGES, _host_python_312().name if arch.name == "amd64" else "debian"
    )
    label = (
        run(
            [
                "podman",
                "image",
                "inspect",
                "--format",
                '{{index .Labels "thumbstat.base"}}',
                f"{BASE_IMAGE}-{arch.name}",
            ],
            timeout=60,
        )
        if _image_exists(f"{BASE_IMAGE}-{arch.name}")
        else None
    )
    if label is None or label.stdout.strip() != key:
        tarball = CACHE / f"base-{arch.name}-{key}.tar"
        if not tarball.exists():
            say(f"  building the stand-in base for {arch.name} (debootstrap, once per recipe)")
            CACHE.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=CACHE) as work:
                rootfs = Path(work) / "rootfs"
                _base_rootfs(arch, rootfs)
                run(
                    ["tar", "-C", str(rootfs), "-cf", str(tarball.with_suffix(".part")), "."],
                    timeout=600,
                )
            tarball.with_suffix(".part").replace(tarball)
        run(
            [
                "podman",
                "import",
                f"--arch={arch.name}",
                "--change",
                "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                'CMD ["python3"]',
                "--change",
                f"LABEL thumbstat.base={key}",
                str(tarball),
                f"{BASE_IMAGE}-{arch.name}",
            ],
            timeout=600,
        )
    _point_official_name(arch)
    return key


def _point_official_name(arch: Arch) -> None:
    """FROM python:3.12-slim-bookworm must resolve to this architecture's stand-in."""
    if _image_exists(BASE_IMAGE):
        run(["podman", "untag", BASE_IMAGE, BASE_IMAGE], timeout=60)
    run(["podman", "tag", f"{BASE_IMAGE}-{arch.name}", BASE_IMAGE], timeout=60)


def _image_exists(name: str) -> bool:
    return (
        subprocess.run(
            ["podman", "image", "exists", name], check=False, capture_output=True
        ).returncode
        == 0
    )


# --- wheels and builds ---------------------------------------------------------------------
def ensure_wheels(function: str, arch: Arch) -> Path:
    requirements = ROOT / f"requirements/{function}.txt"
    folder = CACHE / f"wheels-{function}-{arch.name}-{_key(requirements.read_text(), arch)}"
    if not folder.exists():
        partial = folder.with_suffix(".part")
        shutil.rmtree(partial, ignore_errors=True)
        platforms = [flag for p in arch.wheel_platforms for flag in ("--platform", p)]
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                *platforms,
                "--python-version",
                arch.python_version,
                "--implementation",
                "cp",
                "--dest",
                str(partial),
                "-r",
                str(requirements),
            ],
            timeout=900,
        )
        partial.replace(folder)
    return folder


def build(function: str, arch: Arch, wheels: Path) -> str:
    image = f"localhost/thumbstat-{function}:check-{arch.name}"
    pip_conf = CACHE / "pip.conf"
    pip_conf.write_text("[global]\nno-index = true\nfind-links = /wheels\n")
    run(
        [
            "podman",
            "build",
            "--pull=never",
            f"--platform=linux/{arch.name}",
            "--file",
            f"Dockerfile.{function}",
            "--tag",
            image,
            "--volume",
            f"{wheels}:/wheels:ro",
            "--volume",
            f"{pip_conf}:/etc/pip.conf:ro",
            ".",
        ],
        cwd=ROOT,
        timeout=1800,
    )
    return image


# --- checks ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    image: str
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.results.append((name, ok, detail))
        say(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def _in_image(image: str, entrypoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "run", "--rm", "--pull=never", f"--entrypoint={entrypoint}", image, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def static_checks(function: str, image: str, outcome: Outcome) -> None:
    uid = _in_image(image, "id", "-u").stdout.strip()
    outcome.check("runs as non-root", uid.isdigit() and uid != "0", f"uid {uid}")
    compilers = _in_image(image, "sh", "-c", "command -v gcc cc c++ clang || true").stdout.split()
    outcome.check("no compiler", not compilers, ", ".join(compilers))
    has_pil = _in_image(
        image, "python", "-c", "import importlib.util as u; print(u.find_spec('PIL') is not None)"
    )
    wanted = function == "resize"
    outcome.check(
        "Pillow only where needed",
        has_pil.stdout.strip() == str(wanted),
        f"Pillow {'present' if wanted else 'absent'} expected, "
        f"found {has_pil.stdout.strip() or has_pil.stderr.strip()[-200:]}",
    )
    compiled = _in_image(
        image, "sh", "-c", "ls /opt/function/handlers/__pycache__/*.pyc | wc -l"
    ).stdout.strip()
    outcome.check(
        "bytecode precompiled",
        compiled.isdigit() and int(compiled) > 5,
        f"{compiled} .pyc files in handlers/",
    )
    size = run(["podman", "image", "inspect", "--format", "{{.Size}}", image]).stdout.strip()
    outcome.check("size", True, f"{int(size) / 1e6:.0f} MB")


@contextmanager
def moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "check",
            "AWS_SECRET_ACCESS_KEY": "check",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    try:
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def invoke_checks(function: str, image: str, outcome: Outcome) -> None:

    import boto3

    from devstack.containers import Container
    from devstack.runtime import FunctionProcess, InvocationFailed
    from handlers import tables
    from handlers.readings import Reading

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    log_path = CACHE / f"{function}-container.log"
    with moto(), log_path.open("wb") as log:
        dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
        process = FunctionProcess(
            f"check-{function}",
            f"handlers.{function}.handler",
            launcher=Container(image),
            memory_mb=256,
            timeout_s=120,
            log=log,
        )
        try:
            if function == "resize":
                from devstack import samples

                dynamodb.create_table(**tables.IMAGE_INDEX)
                s3.create_bucket(Bucket="image-check")
                data = samples.load("cat-2mb")
                s3.put_object(Bucket="image-check", Key="uploads/cat.jpg", Body=data)
                head = s3.head_object(Bucket="image-check", Key="uploads/cat.jpg")
                record = {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": "image-check"},
                        "object": {
                            "key": "uploads/cat.jpg",
                            "size": head["ContentLength"],
                            "eTag": head["ETag"].strip('"'),
                            "sequencer": "01",
                        },
                    },
                }
                calls: list[Callable[[], Any]] = [
                    lambda: process.invoke({"Records": [record]}),
                    lambda: process.invoke({"Records": [record]}),
                ]
            else:
                dynamodb.create_table(**tables.READINGS)
                body = json.dumps(
                    [
                        Reading(f"2026-11-21T10:0{m}:00Z", True, 65.0 + m, 64).to_json()
                        for m in range(3)
                    ]
                )
                post = {
                    "version": "2.0",
                    "rawPath": "/",
                    "headers": {"content-type": "application/json"},
                    "body": body,
                    "requestContext": {
                        "requestId": "check",
                        "http": {"method": "POST", "path": "/"},
                    },
                }
                get = {
                    "version": "2.0",
                    "rawPath": "/readings",
                    "queryStringParameters": {"day": "2026-11-21"},
                    "requestContext": {
                        "requestId": "check",
                        "http": {"method": "GET", "path": "/readings"},
                    },
                }
                calls = [lambda: process.invoke(post), lambda: process.invoke(get)]
            answers, reports = [], []
            for call in calls:
                answer, report = call()
                answers.append(answer)
                reports.append(report)
        except InvocationFailed as exc:
            outcome.check(
                "invocation through the Runtime API",
                False,
                f"{str(exc)[:500]} (container output: {log_path})",
            )
            return
        finally:
            process.close()
        if function == "resize":
            row = dynamodb.get_item(
                TableName="image_metadata", Key={"id": {"S": "uploads/cat.jpg"}}
            ).get("Item", {})
            thumb = s3.head_object(Bucket="image-check", Key="thumbnails/200/cat.jpg.jpg")
            outcome.check(
                "upload thumbnailed and indexed",
                row.get("status", {}).get("S") == "ok" and thumb["ContentType"] == "image/jpeg",
                f"{row.get('width', {}).get('N')}x{row.get('height', {}).get('N')}",
            )
        else:
            stored = json.loads(answers[0]["body"])["stored"]
            listed = json.loads(answers[1]["body"])["readings"]
            outcome.check(
                "readings stored and read back",
                stored == 3 and len(listed) == 3,
                f"{stored} stored, {len(listed)} listed",
            )
        cold, warm = reports
        outcome.check(
            "cold start inside the container",
            cold.init_duration_ms is not None,
            f"Init Duration {cold.init_duration_ms or 0:.0f} ms (container start "
            f"included), first Duration {cold.duration_ms:.0f} ms, warm "
            f"{warm.duration_ms:.0f} ms, Max Memory Used {warm.max_memory_used_mb} MB",
        )


def preflight(arch: Arch) -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise CheckFailed(f"missing {', '.join(missing)}: apt-get install podman runc debootstrap")
    if arch.name == "arm64":
        _enable_arm64_emulation()
    CACHE.mkdir(parents=True, exist_ok=True)
    ensure_podman_conf()


def _enable_arm64_emulation() -> None:
    """arm64 binaries run through qemu-user-static, registered with binfmt_misc (flag F, so it
    works inside chroots and containers)."""
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if entry.exists() and entry.read_text().startswith("enabled"):
        return
    if shutil.which("update-binfmts") is None or not Path("/usr/bin/qemu-aarch64-static").exists():
        raise CheckFailed("arm64 emulation: apt-get install qemu-user-static binfmt-support")
    if not Path("/proc/sys/fs/binfmt_misc/register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"])
    run(["update-binfmts", "--enable", "qemu-aarch64"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(ARCHES), default="amd64")
    args = parser.parse_args(argv)
    arch = ARCHES[args.arch]
    outcomes = []
    try:
        preflight(arch)
        say(
            f"image-check for linux/{arch.name}"
            + (
                " (smoke test under emulation, base with Debian's Python 3.11)"
                if arch.name == "arm64"
                else ""
            )
        )
        ensure_base(arch)
        for function in ("resize", "ingest"):
            say(f"\n{function}: building Dockerfile.{function}")
            image = build(function, arch, ensure_wheels(function, arch))
            outcome = Outcome(image)
            outcomes.append(outcome)
            static_checks(function, image, outcome)
            invoke_checks(function, image, outcome)
    except CheckFailed as exc:
        say(f"image-check: {exc}")
        return 1
    results = [ok for outcome in outcomes for _, ok, _ in outcome.results]
    say(f"\nimage-check: {results.count(True)} passed, {results.count(False)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
