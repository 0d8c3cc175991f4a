"""Running MiniStack: one process of this user on 127.0.0.1, a fresh temporary directory per run.

MiniStack runs init hooks only from fixed paths (``/etc/localstack/init/ready.d`` and
``/docker-entrypoint-initaws.d/ready.d``, where its container has them mounted), so on a host
this launcher runs the generated ready hook itself, once MiniStack is ready:

1. MiniStack is started with ``GATEWAY_PORT`` and ``BIND_HOST=127.0.0.1`` (it binds every
   interface by default), ``TMPDIR`` and its working directory in the run's directory (its pid
   file goes there);
2. ready is its own ``/_ministack/ready`` answering 200 (its own ready scripts completed; it does
   not serve LocalStack's ``/_localstack/init/ready``);
3. ``devstack/localstack/ready.sh``, unchanged, is run with bash against it, as LocalStack runs
   it: the ``aws`` CLI of MiniStack's virtualenv on PATH, ``AWS_ENDPOINT_URL`` its endpoint.
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
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from devstack.localstack.server import HOOK, log_tail
from devstack.ministack.install import Layout, default_venv
from devstack.ports import Port, check_free, free_port
from devstack.processes import stop_group

READY_PATH: Final = "/_ministack/ready"
HEALTH_PATH: Final = "/_ministack/health"
HOOK_TIMEOUT_S: Final = 120.0


class Unavailable(Exception):
    """MiniStack cannot run here, or did not get ready; the message says why."""


@dataclass
class MiniStack:
    endpoint: str
    root: Path  # its TMPDIR and working directory
    started_s: float  # start to /_ministack/ready answering 200
    ready_s: float  # start to ready, the hook included
    health: dict[str, Any]  # /_ministack/health, once ready (its version among it)
    hook_output: str  # what the ready hook printed


def environment(layout: Layout, root: Path, port: int, base: Mapping[str, str]) -> dict[str, str]:
    # The user's AWS settings stay out, as for LocalStack: the hook uses its own defaults.
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update(
        {
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "TMPDIR": str(root),
            "PATH": f"{layout.bin}{os.pathsep}{base.get('PATH', os.defpath)}",  # the hook's aws
        }
    )
    return env


def _get(url: str) -> tuple[int, dict[str, Any]] | None:
    """The status and JSON body, or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 until its ready scripts completed
        with suppress(ValueError):
            return exc.code, json.loads(exc.read())
        return exc.code, {}
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_ready(
    endpoint: str, process: subprocess.Popen[bytes], timeout_s: float, log_path: Path | None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(
                f"MiniStack exited with {process.returncode} while starting{log_tail(log_path)}"
            )
        answer = _get(endpoint + READY_PATH)
        if answer and answer[0] == 200:
            if answer[1].get("failed"):
                raise Unavailable(f"MiniStack's own ready scripts failed: {answer[1]}")
            return
        time.sleep(0.05)
    raise Unavailable(f"MiniStack was not ready after {timeout_s:.0f} s{log_tail(log_path)}")


def run_hook(layout: Layout, endpoint: str, env: Mapping[str, str]) -> str:
    """The generated ready hook against ``endpoint``; its output. Raises Unavailable on failure."""
    try:
        result = subprocess.run(
            ["bash", str(HOOK)],
            env={**env, "AWS_ENDPOINT_URL": endpoint},
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"the ready hook did not finish in {HOOK_TIMEOUT_S:.0f} s") from exc
    if result.returncode != 0:
        raise Unavailable(
            f"the ready hook exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


@contextmanager
def running(
    *,
    venv: Path | None = None,
    port: int = 0,
    log: IO[bytes] | None = None,
    log_path: Path | None = None,
    timeout_s: float = 60,
) -> Iterator[MiniStack]:
    """Start MiniStack on 127.0.0.1:``port`` (0: a free one), wait until it is ready and the
    ready hook has run, stop it on exit. ``log`` receives MiniStack's output (``log_path``: its
    file, quoted in errors). Raises Unavailable when it is not installed, or fails to get ready."""
    layout = Layout(venv or default_venv())
    missing = layout.missing()
    if missing:
        raise Unavailable(
            f"MiniStack is not installed in {layout.venv} (missing: {', '.join(missing)}):"
            " `make ministack-install` installs it"
        )
    port = port or free_port()
    check_free([Port(port, "MiniStack's gateway", "make ministack MINISTACK_PORT=<port>")])
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="thumbstat-ministack-") as directory:
        root = Path(directory)
        env = environment(layout, root, port, os.environ)
        started = time.monotonic()
        process = subprocess.Popen(
            [str(layout.python), "-m", "ministack"],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,
        )
        try:
            wait_ready(endpoint, process, timeout_s, log_path)
            up_s = time.monotonic() - started
            output = run_hook(layout, endpoint, env)
            ready_s = time.monotonic() - started
            health = _get(endpoint + HEALTH_PATH)
            yield MiniStack(endpoint, root, up_s, ready_s, health[1] if health else {}, output)
        finally:
            stop_group(process, timeout_s=10)
