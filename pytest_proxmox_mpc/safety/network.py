"""Blocking the network: while replaying, no socket may connect anywhere but loopback.

Nothing here imports pytest.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from ..errors import NetworkBlocked


def is_loopback_host(host: str) -> bool:
    """True for a loopback IP address (an IPv6 scope left aside) and for ``localhost``."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _loopback(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    return is_loopback_host(str(address[0] if isinstance(address, tuple) else address))


def block_non_loopback() -> Callable[[], None]:
    """Make every non-loopback ``connect`` raise ``NetworkBlocked``; returns the function that undoes it."""
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _loopback(self.family, address):
            raise NetworkBlocked(f"replay blocks the network: refused a connection to {address!r}")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(self.family, address):
            raise NetworkBlocked(f"replay blocks the network: refused a connection to {address!r}")
        return original_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]

    def undo() -> None:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
    return undo
