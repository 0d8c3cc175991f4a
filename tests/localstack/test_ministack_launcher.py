"""The MiniStack launcher's choices, in the default run (no MiniStack needed). The interpreters
are stand-ins answering a version, as a real one answers ``print(*sys.version_info[:2])``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack.ministack.install import VERSION, Layout, find_python
from devstack.ministack.server import Unavailable, environment, running
from tests.localstack.test_install import fake_python


def test_this_interpreter_is_used_unless_ministack_python_names_another(tmp_path: Path) -> None:
    assert find_python({}) == sys.executable
    chosen = fake_python(tmp_path / "python", "3 10")  # the oldest MiniStack supports
    assert find_python({"MINISTACK_PYTHON": chosen}) == chosen


def test_a_python_older_than_310_is_refused(tmp_path: Path) -> None:
    assert find_python({"MINISTACK_PYTHON": fake_python(tmp_path / "python", "3 9")}) is None
    assert find_python({"MINISTACK_PYTHON": str(tmp_path / "none")}) is None


def test_an_empty_virtualenv_lacks_ministack_and_the_cli(tmp_path: Path) -> None:
    assert Layout(tmp_path).missing() == [f"ministack {VERSION}", "the aws CLI"]
    with pytest.raises(Unavailable, match="make ministack-install"), running(venv=tmp_path):
        pass


def test_it_listens_on_loopback_only_and_the_users_aws_settings_stay_out(tmp_path: Path) -> None:
    user = {
        "PATH": "/usr/bin",
        "AWS_PROFILE": "prod",
        "AWS_ENDPOINT_URL": "https://x",
        "HOME": "/h",
    }
    env = environment(Layout(tmp_path / "venv"), tmp_path, 4567, user)
    assert (env["GATEWAY_PORT"], env["BIND_HOST"]) == ("4567", "127.0.0.1")
    assert env["TMPDIR"] == str(tmp_path)  # its pid file: this run's directory, not /tmp
    assert not [name for name in env if name.startswith("AWS_")]
    assert env["PATH"] == f"{tmp_path / 'venv' / 'bin'}:/usr/bin" and env["HOME"] == "/h"
