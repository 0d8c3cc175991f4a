"""podman's configuration for the machines building and running this project's images, shared by
the image builds (infra.image_build, infra.runtime_cost) and the local stack's containers
(devstack.containers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

# podman settings that work on machines like the ones building this project (crun fails on
# their hybrid cgroups; podman's default rlimits are refused). Used when CONTAINERS_CONF is unset.
PODMAN_CONF: Final = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
CACHE: Final = Path.home() / ".cache" / "thumbstat"


def ensure_podman_conf() -> None:
    """Point podman at PODMAN_CONF unless the user chose a configuration."""
    if "CONTAINERS_CONF" not in os.environ:
        conf = CACHE / "containers.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(PODMAN_CONF)
        os.environ["CONTAINERS_CONF"] = str(conf)
