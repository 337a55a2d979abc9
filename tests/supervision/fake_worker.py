"""A small worker for supervision tests: a stdlib HTTP server with switchable faults.

It serves ``GET /healthz`` (200 when healthy) and ``GET /metrics``, and can
exit at once, hang, leak memory, allocate a block at once, ignore SIGTERM
or start a grandchild, so that tests run real processes without loading a
model.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = 4096


def touch(size: int) -> bytearray:
    """Allocate ``size`` bytes and write every page, so that they are resident."""
    block = bytearray(size)
    for offset in range(0, size, PAGE):
        block[offset] = 1
    return block


class Handler(BaseHTTPRequestHandler):
    """Serves /healthz and /metrics; hangs on /healthz once told to."""

    server: WorkerServer

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.server.health_requests += 1
            hang_after = self.server.options.hang_after
            if hang_after is not None and self.server.health_requests > hang_after:
                time.sleep(3600)
            self._reply(200, b"ok\n")
        elif self.path == "/metrics":
            resident = sum(len(block) for block in self.server.leaked)
            self._reply(200, f"process_resident_memory_bytes {resident}\n".encode())
        else:
            self._reply(404, b"not found\n")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class WorkerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], options: argparse.Namespace) -> None:
        super().__init__(address, Handler)
        self.options = options
        self.health_requests = 0
        self.leaked: list[bytearray] = []


def leak_forever(server: WorkerServer, size: int, interval: float) -> None:
    while True:
        server.leaked.append(touch(size))
        time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("--env-file", type=Path)
    parser.add_argument("--exit-status", type=int)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--hang-after", type=int)
    parser.add_argument("--leak-bytes", type=int, default=0)
    parser.add_argument("--leak-interval", type=float, default=0.1)
    parser.add_argument("--allocate", type=int, default=0)
    parser.add_argument("--allocate-after", type=float, default=0.5)
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--grandchild-pid-file", type=Path)
    options = parser.parse_args()

    if options.env_file is not None:
        options.env_file.write_text(json.dumps(dict(os.environ)), encoding="utf-8")
    if options.pid_file is not None:
        options.pid_file.write_text(str(os.getpid()), encoding="ascii")
    if options.exit_status is not None:
        sys.exit(options.exit_status)
    if options.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if options.grandchild_pid_file is not None:
        grandchild = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(3600)"], stdin=subprocess.DEVNULL
        )
        options.grandchild_pid_file.write_text(str(grandchild.pid), encoding="ascii")

    time.sleep(options.startup_delay)
    server = WorkerServer((options.host, options.port), options)
    if options.port_file is not None:
        options.port_file.write_text(str(server.server_address[1]), encoding="ascii")
    if options.leak_bytes:
        threading.Thread(
            target=leak_forever,
            args=(server, options.leak_bytes, options.leak_interval),
            daemon=True,
        ).start()
    if options.allocate:
        timer = threading.Timer(options.allocate_after, lambda: server.leaked.append(touch(options.allocate)))
        timer.daemon = True
        timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
