"""Running the worker app on uvicorn: binding, the port file, SIGTERM and the exit status.

SIGTERM (or Ctrl-C) closes the listening socket at once, lets in-flight
requests finish for up to ``worker.shutdown_timeout``, stops the inference
threads and returns 0. A model that cannot be loaded stops the server and
returns 1, so that a supervisor detects a failed start instead of waiting
for a worker that is never ready.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
from pathlib import Path
from types import FrameType

import uvicorn

from watchdog.errors import WorkerError
from watchdog.worker.app import create_app
from watchdog.worker.service import WorkerService

logger = logging.getLogger(__name__)


def write_port_file(path: Path, port: int) -> None:
    """Write ``port`` and a newline to ``path`` through a rename, so a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{port}\n", encoding="ascii")
    os.replace(temporary, path)


class _WorkerServer(uvicorn.Server):
    """A uvicorn server that reports its bound port and logs the signal that stops it."""

    def __init__(self, config: uvicorn.Config, port_file: Path | None) -> None:
        super().__init__(config)
        self.port_file = port_file
        self.port: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        bound = self.servers[0].sockets[0].getsockname()
        self.port = int(bound[1])
        if self.port_file is not None:
            write_port_file(self.port_file, self.port)
        logger.info("worker listening on http://%s:%s (pid %s)", self.config.host, self.port, os.getpid())

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        logger.info("received %s, finishing in-flight requests", signal.Signals(sig).name)
        super().handle_exit(sig, frame)


def _ignore_replayed_signal(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the stopping signal once it has shut down. By then the work
    # is done, and the default action would turn exit status 0 into death by signal.
    logger.debug("shutdown complete after %s", signal.Signals(signum).name)


def run_server(service: WorkerService, host: str, port: int, port_file: Path | None = None) -> int:
    """Serve ``service`` on ``host:port`` (0 picks a free port) until SIGTERM; return the exit status."""
    load_failed: list[WorkerError] = []
    config = uvicorn.Config(
        create_app(service),
        host=host,
        port=port,
        lifespan="on",
        ws="none",
        log_config=None,
        access_log=False,
        # uvicorn takes whole seconds here.
        timeout_graceful_shutdown=math.ceil(service.settings.shutdown_timeout.total_seconds()),
    )
    server = _WorkerServer(config, port_file)

    def stop_on_load_failure(error: WorkerError) -> None:
        load_failed.append(error)
        server.should_exit = True

    service.set_load_failure_handler(stop_on_load_failure)
    signal.signal(signal.SIGTERM, _ignore_replayed_signal)
    signal.signal(signal.SIGINT, _ignore_replayed_signal)

    # uvicorn itself exits with status 3 when it cannot bind the address.
    server.run()
    if load_failed:
        logger.error("worker stopped: the model could not be loaded")
        return 1
    logger.info("worker stopped")
    return 0
