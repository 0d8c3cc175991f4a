"""Fixed local ports, checked before anything starts: a taken port is named with the setting that
moves it, instead of a hang (moto's server thread dies and its start waits for ever) or a
traceback (the Function URL's bind)."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    number: int  # 0: any free port, never taken
    what: str  # "moto's server"
    setting: str  # how to choose another: "make up MOTO_PORT=<port>"


class PortTaken(Exception):
    """A port the local stack needs is in use by another process."""

    def __init__(self, port: Port) -> None:
        self.port = port
        super().__init__(
            f"port {port.number} ({port.what}) is taken by another process: stop it, or choose"
            f" another port with {port.setting.replace('<port>', str(port.number + 1))}"
        )


def is_free(number: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port left in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, number))
        except OSError:
            return False
    return True


def check_free(ports: Iterable[Port], host: str = "127.0.0.1") -> None:
    """Raise PortTaken for the first fixed port already in use."""
    for port in ports:
        if port.number and not is_free(port.number, host):
            raise PortTaken(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, for a server started by another process (which cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
