"""Loopback TCP ports: finding a free one, telling whether one is taken, waiting for one.

Every embedded server listens on 127.0.0.1 only: the embedded platform is a developer's
machine or a CI run, never something reachable from the network.
"""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


class PortInUseError(RuntimeError):
    """A port the caller asked for explicitly is already taken by another process.

    Raised instead of silently moving to another port: the services and the developer's
    tools are configured with these numbers, so a quiet change would break them later and
    far from the cause.
    """

    def __init__(self, port: int, what: str, host: str = LOOPBACK) -> None:
        self.port = port
        self.what = what
        self.host = host
        super().__init__(
            f"port {port} ({what}) on {host} is already in use; stop whatever holds it "
            f"(`ss -ltnp 'sport = :{port}'` shows who) or choose another port"
        )


def free_port(host: str = LOOPBACK) -> int:
    """Return a port that was free on ``host`` a moment ago (the kernel picks it).

    There is an unavoidable race between this call and the server binding the port; the
    kernel hands out ephemeral ports round-robin, so in practice the window is harmless.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could bind ``host:port`` right now.

    ``SO_REUSEADDR`` is set as every server we start sets it, so a port whose last
    connection lingers in TIME_WAIT counts as free, as it is for them.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def ensure_port_free(port: int, what: str, host: str = LOOPBACK) -> None:
    """Raise :class:`PortInUseError` naming ``what`` when ``host:port`` is taken."""
    if not port_is_free(port, host):
        raise PortInUseError(port, what, host)


def port_accepts(port: int, host: str = LOOPBACK, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_for_port(port: int, host: str = LOOPBACK, timeout_s: float = 30.0) -> bool:
    """Poll until ``host:port`` accepts connections; False when ``timeout_s`` passed first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_accepts(port, host, timeout_s=0.5):
            return True
        time.sleep(0.05)
    return False
