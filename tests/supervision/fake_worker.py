"""A small worker for supervision tests: a stdlib HTTP server with switchable misbehaviour.

It serves ``GET /healthz`` (200) and can exit at once, start late, ignore
SIGTERM, start a grandchild or record its environment, so that tests run
real processes in well under a second. The fault modes of the reference
worker (leak, hang) are tested against the reference worker itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Handler(BaseHTTPRequestHandler):
    """Serves /healthz."""

    def do_GET(self) -> None:
        status, body = (200, b"ok\n") if self.path == "/healthz" else (404, b"not found\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("--env-file", type=Path)
    parser.add_argument("--exit-status", type=int)
    parser.add_argument("--startup-delay", type=float, default=0.0)
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
    server = ThreadingHTTPServer((options.host, options.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
