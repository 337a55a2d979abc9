"""The worker's health check: one HTTP GET that must return 200 within the timeout."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthResult:
    """The outcome of one health check; ``detail`` gives the reason for a failure."""

    ok: bool
    detail: str


class HealthProbe:
    """Checks a health URL with a shared ``httpx.Client``.

    A failed check is a normal outcome, returned as a ``HealthResult``
    rather than raised: the supervisor counts failures and decides.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        # No keep-alive: each check opens a fresh connection, as a client would,
        # so a worker that stopped accepting connections fails the check.
        self._client = httpx.Client(
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            trust_env=False,
        )

    def check(self, url: str, timeout: float) -> HealthResult:
        """GET ``url`` and return whether it returned 200 within ``timeout`` seconds."""
        try:
            response = self._client.get(url, timeout=timeout)
        except httpx.TimeoutException:
            return HealthResult(False, f"timed out after {timeout:g}s")
        except httpx.TransportError as exc:
            return HealthResult(False, f"connection failed: {type(exc).__name__}")
        if response.status_code != httpx.codes.OK:
            return HealthResult(False, f"HTTP {response.status_code}")
        return HealthResult(True, "HTTP 200")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
