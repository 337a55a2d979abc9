"""The systemd notification protocol (sd_notify), written against the datagram socket.

With ``Type=notify`` systemd waits for ``READY=1``; with ``WatchdogSec=`` it
restarts the service when ``WATCHDOG=1`` stops arriving. ``NOTIFY_SOCKET`` is
a file path, or an abstract socket name when it starts with ``@``. Outside
systemd ``NOTIFY_SOCKET`` is unset and every call does nothing.

Reference: sd_notify(3) and the "Notify socket" section of systemd.exec(5).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

logger = logging.getLogger(__name__)

# Variables that systemd sets for the daemon alone. A child that inherits
# them could ping the daemon's watchdog or read its credentials.
SYSTEMD_PRIVATE_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY")


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``environ`` without the variables systemd meant for the daemon only."""
    return {
        name: value
        for name, value in environ.items()
        if name not in SYSTEMD_PRIVATE_VARIABLES and not name.startswith("WATCHDOG_")
    }


def _socket_address(value: str) -> str | bytes:
    if value.startswith("@"):
        # Abstract namespace: a leading NUL byte instead of the "@".
        return b"\0" + value[1:].encode()
    return value


class Notifier:
    """Sends state lines to systemd's notification socket, if there is one."""

    def __init__(self, address: str | None) -> None:
        self._address = _socket_address(address) if address else None
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Build a notifier from ``NOTIFY_SOCKET``; without it, the notifier does nothing."""
        environ = os.environ if environ is None else environ
        return cls(environ.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        """Whether a notification socket was given."""
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; return whether it was sent.

        A failure is logged once and never raised: systemd being gone must not
        stop the daemon's work.
        """
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.sendto(payload, self._address)
            except OSError as exc:
                if not self._warned:
                    logger.warning("sending %r to the systemd notify socket failed: %s", lines[0], exc)
                    self._warned = True
                return False
        return True

    def ready(self, status: str) -> bool:
        """Tell systemd the daemon works: ``READY=1`` with a one-line status."""
        return self.notify("READY=1", f"STATUS={_one_line(status)}")

    def watchdog(self) -> bool:
        """Reset systemd's watchdog timer."""
        return self.notify("WATCHDOG=1")

    def status(self, status: str) -> bool:
        """Set the one-line status shown by ``systemctl status``."""
        return self.notify(f"STATUS={_one_line(status)}")

    def stopping(self, status: str = "stopping") -> bool:
        """Tell systemd the daemon is shutting down."""
        return self.notify("STOPPING=1", f"STATUS={_one_line(status)}")

    def close(self) -> None:
        """Close the socket."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Return systemd's watchdog timeout in seconds, if this process is the one it watches."""
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        return int(usec) / 1_000_000
    except ValueError:
        logger.warning("ignoring WATCHDOG_USEC=%r: not a whole number of microseconds", usec)
        return None
