"""HTTP adapter that fetches the worker's ``/metrics`` with a time limit and a size cap.

httpx's timeout applies to each network operation, so a server that drips
bytes slowly could hold a scrape open forever; the body is read in chunks
against a total deadline as well. Failures are translated into the
project's errors: ``TransientServiceError`` when the worker could not be
reached or timed out, ``InputError`` when the body is too large or not text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from watchdog.errors import InputError, TransientServiceError

logger = logging.getLogger(__name__)

# Ask for the classic text format, which prometheus_client.parser reads.
_ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"


class MetricsScraper:
    """Fetches a Prometheus endpoint's body as text."""

    def __init__(
        self,
        timeout: float,
        max_bytes: int,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._monotonic = monotonic
        # NOTE: environment proxies are ignored: the worker is on this host.
        self._client = httpx.Client(
            timeout=timeout, transport=transport, trust_env=False, headers={"Accept": _ACCEPT}
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def fetch(self, url: str) -> str:
        """Return the body of ``url``; raise ``TransientServiceError`` or ``InputError``."""
        deadline = self._monotonic() + self._timeout
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != httpx.codes.OK:
                    raise TransientServiceError(
                        "worker", f"GET {url}", f"HTTP status {response.status_code}, expected 200"
                    )
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                    raise InputError(
                        f"/metrics body of {declared} bytes at {url} is over the "
                        f"{self._max_bytes}-byte limit (metrics.scrape_max_bytes)"
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self._max_bytes:
                        raise InputError(
                            f"/metrics body at {url} is over the {self._max_bytes}-byte limit "
                            "(metrics.scrape_max_bytes)"
                        )
                    if self._monotonic() > deadline:
                        raise TransientServiceError(
                            "worker", f"GET {url}", f"timed out after {self._timeout:g}s"
                        )
        except httpx.TimeoutException as exc:
            raise TransientServiceError(
                "worker", f"GET {url}", f"timed out after {self._timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransientServiceError("worker", f"GET {url}", f"{type(exc).__name__}: {exc}") from exc

        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"/metrics body at {url} is not UTF-8 text: {exc.reason}") from exc
