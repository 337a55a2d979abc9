"""moto's server as the embedded AWS: CloudWatch and Cost Explorer on 127.0.0.1."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

BIND_HOST = "127.0.0.1"

# Credentials that the embedded clients pass explicitly, so that no real
# credentials from the environment are ever sent to the local server.
EMBEDDED_ACCESS_KEY_ID = "embedded"
EMBEDDED_SECRET_ACCESS_KEY = "embedded"  # noqa: S105 - placeholder for the local moto server


class EmbeddedAws:
    """moto's threaded server, bound to 127.0.0.1 only (its default is every interface)."""

    def __init__(self, port: int = 0) -> None:
        # Imported here: moto takes a noticeable part of a second to import,
        # and only the embedded default and the tests need it.
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=BIND_HOST, port=port, verbose=False)
        self._started = False

    def start(self) -> None:
        """Start the server in a background thread."""
        self._server.start()
        self._started = True
        logger.info("embedded AWS (moto) listening on %s", self.endpoint_url)

    def stop(self) -> None:
        """Stop the server."""
        if self._started:
            self._server.stop()
            self._started = False

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the server is bound to."""
        return self._server.get_host_and_port()

    @property
    def endpoint_url(self) -> str:
        """The endpoint URL for boto3 clients."""
        host, port = self.address
        return f"http://{host}:{port}"
