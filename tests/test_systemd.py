"""The sd_notify protocol against a real Unix datagram socket, file path and abstract name."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from watchdog.scheduler import JobLoop, JobSpec
from watchdog.systemd import Notifier, child_environment, watchdog_interval


class NotifyListener:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bind_to = b"\0" + address[1:].encode() if address.startswith("@") else address
        self.sock.bind(bind_to)
        self.sock.settimeout(0.05)

    def drain(self) -> list[str]:
        """Return every datagram received so far."""
        received = []
        while True:
            try:
                received.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return received

    def wait_for(self, line: str, timeout: float = 10.0) -> list[str]:
        """Collect datagrams until one contains ``line``; fail after ``timeout`` seconds."""
        received: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received.extend(self.drain())
            if any(line in datagram.splitlines() for datagram in received):
                return received
        raise AssertionError(f"no {line!r} within {timeout}s; got {received!r}")


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifyListener]:
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
    else:
        address = f"@inference-watchdog-test-{os.getpid()}-{id(request)}"
    opened = NotifyListener(address)
    yield opened
    opened.sock.close()


def make_loop(listener: NotifyListener, stall_timeout: float = 60.0) -> JobLoop:
    return JobLoop(
        None,
        Notifier(listener.address),
        heartbeat_interval=timedelta(seconds=0.1),
        stall_timeout=timedelta(seconds=stall_timeout),
    )


def test_ready_comes_after_scheduler_starts(listener: NotifyListener) -> None:
    loop = make_loop(listener)
    loop.add(JobSpec("tick", lambda: None, "interval", {"seconds": 1}, record=False))

    before = listener.drain()
    loop.start()
    received = listener.wait_for("READY=1")
    running_at_ready = loop.scheduler.running
    loop.stop(timedelta(seconds=5))

    assert before == []
    assert running_at_ready is True
    first = received[0].splitlines()
    assert first[0] == "READY=1"
    assert first[1].startswith("STATUS=")


def test_watchdog_pings_stop_when_scheduler_paused(listener: NotifyListener) -> None:
    loop = make_loop(listener)
    loop.start()
    listener.wait_for("WATCHDOG=1")

    loop.scheduler.pause()
    time.sleep(0.3)  # a heartbeat already dispatched may still arrive
    listener.drain()
    time.sleep(1.0)
    after_pause = listener.drain()
    loop.scheduler.resume()
    resumed = listener.wait_for("WATCHDOG=1")
    loop.stop(timedelta(seconds=5))

    assert [d for d in after_pause if "WATCHDOG=1" in d] == []
    assert any("WATCHDOG=1" in d for d in resumed)


def test_watchdog_pings_stop_while_a_job_is_stuck(listener: NotifyListener) -> None:
    release = threading.Event()
    loop = make_loop(listener, stall_timeout=0.3)
    loop.add(JobSpec("stuck", lambda: release.wait(30), "date", {}, record=False))
    loop.start()

    time.sleep(0.8)  # past the stall timeout
    listener.drain()
    time.sleep(1.0)
    while_stuck = listener.drain()
    stalled = loop.stalled_jobs()
    release.set()
    after_release = listener.wait_for("WATCHDOG=1")
    loop.stop(timedelta(seconds=5))

    assert stalled == ["stuck"]
    assert [d for d in while_stuck if "WATCHDOG=1" in d] == []
    assert any("WATCHDOG=1" in d for d in after_release)


def test_stopping_is_sent_on_stop(listener: NotifyListener) -> None:
    loop = make_loop(listener)
    loop.start()
    listener.wait_for("READY=1")

    clean = loop.stop(timedelta(seconds=5))

    assert clean is True
    assert any("STOPPING=1" in d for d in listener.wait_for("STOPPING=1"))


def test_notifier_without_socket_does_nothing() -> None:
    notifier = Notifier.from_environment({})

    assert notifier.enabled is False
    assert notifier.ready("x") is False


def test_notifier_survives_missing_socket(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))

    assert notifier.watchdog() is False
    assert notifier.watchdog() is False


def test_child_environment_drops_systemd_variables() -> None:
    environ = {
        "PATH": "/usr/bin",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": "1",
        "CREDENTIALS_DIRECTORY": "/run/credentials/x",
        "INFERENCE_WATCHDOG_MODE": "production",
    }

    assert child_environment(environ) == {
        "PATH": "/usr/bin",
        "INFERENCE_WATCHDOG_MODE": "production",
    }


def test_watchdog_interval_only_for_this_process() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None
