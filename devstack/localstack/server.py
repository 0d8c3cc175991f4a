"""Running LocalStack 4.14 in host mode: no Docker, one process of this user.

Host mode keeps LocalStack's container file system under ``FILESYSTEM_ROOT`` (a fresh temporary
directory per run here). Before starting, two things are laid there, where the container would
have them:

- ``etc/localstack/init/ready.d/thumbstat.sh``: the generated ready hook, unchanged, as
  docker-compose.yml mounts it. LocalStack runs it when ready, as in its container; it reaches
  LocalStack at ``AWS_ENDPOINT_URL``, set to the port chosen here.
- ``var/lib/localstack/lib/dynamodb-local/2/``: DynamoDB Local (from npm) and the no-op agent,
  where LocalStack's package manager finds an installed DynamoDB Local and so downloads nothing
  (localstack/services/dynamodb/packages.py; it then runs the ``java`` on PATH).

Ready means what compose's healthcheck waits for: ``/_localstack/init/ready`` completed, and here
also that the hook succeeded.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from devstack.localstack.install import HERE, Layout, default_venv
from devstack.ports import Port, check_free, free_port
from devstack.processes import stop_group

HOOK: Final = HERE / "ready.sh"
# docker-compose.yml's, and SNS: the tier checks S3 -> SNS -> SQS delivery too.
SERVICES: Final = "s3,sqs,sns,dynamodb"
# Inside FILESYSTEM_ROOT (localstack/config.py, Directories.for_host).
READY_DIR: Final = "etc/localstack/init/ready.d"
DYNAMODB_LOCAL_DIR: Final = "var/lib/localstack/lib/dynamodb-local/2"
AGENT_NAME: Final = "ddb-local-loader-0.1.jar"


class Unavailable(Exception):
    """LocalStack cannot run here, or did not get ready; the message says why."""


@dataclass
class LocalStack:
    endpoint: str
    root: Path  # FILESYSTEM_ROOT
    ready_s: float  # start to ready, the hook included
    hook: dict[str, Any]  # /_localstack/init/ready


def prepare(root: Path, layout: Layout) -> None:
    """Lay the ready hook and DynamoDB Local under ``root`` (see the module's docstring)."""
    dynamodb = root / DYNAMODB_LOCAL_DIR
    dynamodb.mkdir(parents=True)
    for name in ("DynamoDBLocal.jar", "DynamoDBLocal_lib"):
        (dynamodb / name).symlink_to(layout.dynamodb_local / name)
    (dynamodb / AGENT_NAME).symlink_to(layout.agent)
    ready = root / READY_DIR
    ready.mkdir(parents=True)
    (ready / "thumbstat.sh").symlink_to(HOOK)


def environment(layout: Layout, root: Path, port: int, base: Mapping[str, str]) -> dict[str, str]:
    # The user's AWS settings stay out: the hook uses its own defaults, as in the container.
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update(
        {
            # These machines look like a container to LocalStack: host mode must be forced.
            "OVERRIDE_IN_DOCKER": "0",
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "DNS_ADDRESS": "0",  # no DNS server (it would want port 53)
            "DISABLE_EVENTS": "1",  # no analytics calls out
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "FILESYSTEM_ROOT": str(root),
            "SERVICES": SERVICES,
            "PATH": f"{layout.bin}{os.pathsep}{base.get('PATH', os.defpath)}",  # the hook's aws
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",  # for the hook only
        }
    )
    return env


def _init_state(endpoint: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/init/ready", timeout=2) as response:
            state: dict[str, Any] = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None  # not listening yet
    return state


def log_tail(log_path: Path | None, lines: int = 30) -> str:
    if log_path is None or not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n  ".join(["", *text])


def wait_ready(
    endpoint: str, process: subprocess.Popen[bytes], timeout_s: float, log_path: Path | None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(
                f"LocalStack exited with {process.returncode} while starting{log_tail(log_path)}"
            )
        state = _init_state(endpoint)
        if state and state.get("completed"):
            failed = [s for s in state.get("scripts", []) if s.get("state") != "SUCCESSFUL"]
            if failed or not state.get("scripts"):
                raise Unavailable(f"the ready hook did not succeed: {state}{log_tail(log_path)}")
            return state
        time.sleep(0.25)
    raise Unavailable(f"LocalStack was not ready after {timeout_s:.0f} s{log_tail(log_path)}")


@contextmanager
def running(
    *,
    venv: Path | None = None,
    port: int = 0,
    log: IO[bytes] | None = None,
    log_path: Path | None = None,
    timeout_s: float = 180,
) -> Iterator[LocalStack]:
    """Start LocalStack on 127.0.0.1:``port`` (0: a free one), wait until the ready hook has run,
    stop it on exit. ``log`` receives LocalStack's output (``log_path``: its file, quoted in
    errors). Raises Unavailable when it is not installed, or fails to get ready."""
    layout = Layout(venv or default_venv())
    missing = layout.missing()
    if missing:
        raise Unavailable(
            f"LocalStack is not installed in {layout.venv} (missing: {', '.join(missing)}):"
            " `make localstack-install` installs it (needs Python 3.13, npm and a JDK 17)"
        )
    port = port or free_port()
    check_free([Port(port, "LocalStack's gateway", "make localstack LOCALSTACK_PORT=<port>")])
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="thumbstat-localstack-") as directory:
        root = Path(directory)
        prepare(root, layout)
        started = time.monotonic()
        process = subprocess.Popen(
            [str(layout.python), "-m", "localstack.runtime.main"],
            env=environment(layout, root, port, os.environ),
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,  # one group to stop: LocalStack and DynamoDB Local's JVM
        )
        try:
            state = wait_ready(endpoint, process, timeout_s, log_path)
            yield LocalStack(endpoint, root, time.monotonic() - started, state)
        finally:
            stop_group(process, timeout_s=30)  # LocalStack stops DynamoDB Local itself first
