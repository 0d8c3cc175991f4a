"""Functions as containers: the router's third way to start a function (``make demo IMAGES=1``,
``make image-check``). The image's own entrypoint (``python -m awslambdaric``) runs against this
machine's Runtime API, reached over the host network."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from typing import Final

from infra.podman import ensure_podman_conf

# Passed from this process into the container: where AWS is, and as whom.
_PASSED_THROUGH: Final = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


class Container:
    """A Launcher running ``image`` with ``podman run`` (or ``docker run``)."""

    def __init__(self, image: str, engine: str = "podman") -> None:
        self.image, self.engine = image, engine
        self.name = ""
        if engine == "podman":
            ensure_podman_conf()

    def command(self, handler: str, environment: Mapping[str, str]) -> Sequence[str]:
        self.name = f"thumbstat-{uuid.uuid4().hex[:12]}"
        passed = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        flags = [f"--env={k}={v}" for k, v in {**passed, **environment}.items()]
        return [
            self.engine,
            "run",
            "--rm",
            f"--name={self.name}",
            "--network=host",
            "--pull=never",
            *flags,
            self.image,
            handler,
        ]

    def runtime_pid(self, process: subprocess.Popen[bytes]) -> int | None:
        inspected = subprocess.run(
            [self.engine, "inspect", "--format", "{{.State.Pid}}", self.name],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        pid = inspected.stdout.strip()
        return int(pid) if pid.isdigit() and pid != "0" else None

    def stopped(self) -> None:
        if self.name:
            subprocess.run(
                [self.engine, "rm", "--force", "--ignore", self.name],
                capture_output=True,
                check=False,
                timeout=60,
            )
